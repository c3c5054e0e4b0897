//! Case folding for the case-insensitive operators `in~` and `:`.
//!
//! Elasticsearch builds a case-insensitive automaton for these operators. For years it folded
//! only ASCII letters (`A`–`Z` ↔ `a`–`z`; every other code point matches only itself); builds
//! that contain elastic/elasticsearch#153513 (Lucene 10.5) use Unicode *simple* case folding
//! (the `C` and `S` rows of `CaseFolding.txt`): U+212A KELVIN SIGN ≡ `k`, U+017F LONG S ≡ `s`,
//! `É` ≡ `é`, while `İ`, `ı` and `ß` fold to nothing new (their only foldings are Turkic or
//! full, multi-character ones).
//!
//! Two code points are equal under a [`CaseFolding`] when their foldings are equal. Folding one
//! code point costs a few comparisons (ASCII) or one trie lookup in ICU4X's compiled case
//! data (non-ASCII under [`CaseFolding::UnicodeSimple`]); nothing allocates.

use icu_casemap::CaseMapper;

/// How the case-insensitive operators (`in~`, `:`) compare letters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CaseFolding {
    /// ASCII letters only, as Elasticsearch has done for years (the default).
    #[default]
    Ascii,
    /// Unicode simple case folding, as Elasticsearch builds with Lucene 10.5 do.
    UnicodeSimple,
}

impl CaseFolding {
    /// The name used in options and documentation (`"ascii"` or `"unicode_simple"`).
    pub fn name(self) -> &'static str {
        match self {
            CaseFolding::Ascii => "ascii",
            CaseFolding::UnicodeSimple => "unicode_simple",
        }
    }

    /// Parses the name given by [`CaseFolding::name`].
    pub fn from_name(name: &str) -> Option<CaseFolding> {
        match name {
            "ascii" => Some(CaseFolding::Ascii),
            "unicode_simple" => Some(CaseFolding::UnicodeSimple),
            _ => None,
        }
    }

    /// The folding of one code point.
    #[inline]
    pub fn fold(self, c: char) -> char {
        if c.is_ascii() {
            return c.to_ascii_lowercase();
        }
        match self {
            CaseFolding::Ascii => c,
            CaseFolding::UnicodeSimple => CaseMapper::new().simple_fold(c),
        }
    }

    /// Whether two code points are equal under this folding.
    #[inline]
    pub fn eq(self, a: char, b: char) -> bool {
        a == b || self.fold(a) == self.fold(b)
    }

    /// Whether every code point equal to `c` under this folding is ASCII.
    ///
    /// When this holds for every character of a pattern, comparing the pattern with UTF-8 text
    /// byte by byte, ignoring ASCII case, gives exactly the folded comparison: a byte of a
    /// multi-byte sequence can never equal an ASCII byte. It fails only for non-ASCII
    /// characters and, under Unicode folding, for `k` and `s` (KELVIN SIGN and LONG S fold to
    /// them); a test checks that claim against every code point.
    #[inline]
    pub fn has_only_ascii_equivalents(self, c: char) -> bool {
        c.is_ascii()
            && match self {
                CaseFolding::Ascii => true,
                CaseFolding::UnicodeSimple => !matches!(c, 'k' | 'K' | 's' | 'S'),
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_folding_touches_only_ascii_letters() {
        let f = CaseFolding::Ascii;
        assert!(f.eq('A', 'a'));
        assert!(f.eq('z', 'Z'));
        assert!(!f.eq('É', 'é'));
        assert!(!f.eq('\u{212A}', 'k'));
        assert!(!f.eq('@', '`'));
    }

    #[test]
    fn unicode_simple_folding_follows_case_folding_txt() {
        let f = CaseFolding::UnicodeSimple;
        assert!(f.eq('\u{212A}', 'k'));
        assert!(f.eq('\u{212A}', 'K'));
        assert!(f.eq('\u{017F}', 's'));
        assert!(f.eq('É', 'é'));
        assert!(f.eq('Σ', 'ς'));
        // Only Turkic or full foldings exist for these: nothing new.
        assert!(!f.eq('İ', 'i'));
        assert!(!f.eq('ı', 'i'));
        assert!(!f.eq('ı', 'I'));
        assert!(!f.eq('ß', 's'));
    }

    #[test]
    fn only_k_and_s_have_non_ascii_equivalents() {
        // Every non-ASCII code point whose simple folding is ASCII.
        let mut folding_to_ascii: Vec<char> = (0u32..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter(|c| !c.is_ascii() && CaseFolding::UnicodeSimple.fold(*c).is_ascii())
            .map(|c| CaseFolding::UnicodeSimple.fold(c))
            .collect();
        folding_to_ascii.sort();
        folding_to_ascii.dedup();
        assert_eq!(folding_to_ascii, vec!['k', 's']);
        for c in (0u8..128).map(char::from) {
            let expected = !matches!(c.to_ascii_lowercase(), 'k' | 's');
            assert_eq!(CaseFolding::UnicodeSimple.has_only_ascii_equivalents(c), expected);
            assert!(CaseFolding::Ascii.has_only_ascii_equivalents(c));
        }
    }
}
