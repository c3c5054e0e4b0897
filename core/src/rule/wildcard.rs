//! The case-insensitive comparisons of EQL: `:` (anchored wildcard) and `in~` (equality).
//!
//! A [`Pattern`] is the right-hand side of `field : "..."`. It matches the **whole** value
//! (anchored at both ends). `*` matches any run of code points, including none and including
//! newlines; `?` matches exactly one code point (not one byte, and not one UTF-16 unit). There
//! is no escape: `\`, `%` and `_` are ordinary characters. Letters compare under the pattern's
//! [`CaseFolding`]. A pattern without `*` or `?` is case-insensitive equality, which is also
//! what `in~` does with each element of its list ([`Pattern::literal`]).
//!
//! # Cost
//! Compiling allocates; matching never does. The general algorithm is the classic greedy
//! matcher that backtracks to the last `*` it passed: O(n·m) in the worst case for a value of
//! n code points and a pattern of m tokens, O(n) for the shapes the rule uses. UTF-8 values get
//! byte-level fast paths (ASCII case-insensitive equality, prefix, suffix and substring search
//! with `aho-corasick`) whenever they are provably exact, which [`CaseFolding::has_only_ascii_equivalents`]
//! decides per pattern when it is compiled.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

use crate::rule::fold::CaseFolding;
use crate::view::text::Text;

/// A compiled case-insensitive pattern: the right side of `:`, or one element of `in~`.
#[derive(Clone, Debug)]
pub struct Pattern {
    source: Box<str>,
    tokens: Box<[Token]>,
    folding: CaseFolding,
    fast: Fast,
    /// The ASCII literal of a `*literal*` pattern (for UTF-16 values); empty otherwise.
    contains: Box<[u8]>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    Char(char),
    AnyOne,
    AnyRun,
}

/// A byte-level shortcut for UTF-8 values, used only when it is exact.
#[derive(Clone, Debug)]
enum Fast {
    None,
    /// `literal`: equal ignoring ASCII case.
    Equal(Box<[u8]>),
    /// `literal*`
    Prefix(Box<[u8]>),
    /// `*literal`
    Suffix(Box<[u8]>),
    /// `*literal*`
    Contains(AhoCorasick),
    /// `*`
    Everything,
}

impl Pattern {
    /// Compiles an EQL wildcard pattern (`*` and `?` are wildcards).
    pub fn wildcard(source: &str, folding: CaseFolding) -> Pattern {
        let tokens: Vec<Token> = source
            .chars()
            .map(|c| match c {
                '*' => Token::AnyRun,
                '?' => Token::AnyOne,
                c => Token::Char(c),
            })
            .collect();
        Pattern::new(source, tokens, folding)
    }

    /// Compiles a literal compared ignoring case, as each element of `in~ (...)` is.
    pub fn literal(source: &str, folding: CaseFolding) -> Pattern {
        Pattern::new(source, source.chars().map(Token::Char).collect(), folding)
    }

    fn new(source: &str, mut tokens: Vec<Token>, folding: CaseFolding) -> Pattern {
        // `**` is `*`; collapsing keeps the backtracking matcher's work bounded by the
        // number of distinct runs.
        tokens.dedup_by(|a, b| *a == Token::AnyRun && *b == Token::AnyRun);
        let fast = Fast::for_tokens(&tokens, folding);
        let contains = match (&fast, &tokens[..]) {
            (Fast::Contains(_), [_, middle @ .., _]) => {
                middle.iter().map(|t| if let Token::Char(c) = t { *c as u8 } else { 0 }).collect()
            }
            _ => Box::default(),
        };
        Pattern { source: source.into(), tokens: tokens.into(), folding, fast, contains }
    }

    /// The pattern as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The case folding the pattern compares with.
    pub fn folding(&self) -> CaseFolding {
        self.folding
    }

    /// Whether `value` matches the whole pattern. Never allocates.
    #[inline]
    pub fn matches(&self, value: Text<'_>) -> bool {
        if let Some(s) = value.as_str() {
            let b = s.as_bytes();
            match &self.fast {
                Fast::Equal(lit) => return b.eq_ignore_ascii_case(lit),
                Fast::Prefix(lit) => return b.len() >= lit.len() && b[..lit.len()].eq_ignore_ascii_case(lit),
                Fast::Suffix(lit) => return b.len() >= lit.len() && b[b.len() - lit.len()..].eq_ignore_ascii_case(lit),
                Fast::Contains(finder) => return finder.is_match(b),
                Fast::Everything => return true,
                Fast::None => {}
            }
        } else if let Some(u) = value.as_utf16() {
            // The same shortcuts on UTF-16 code units: a unit equals an ASCII pattern byte
            // ignoring ASCII case only if it is that ASCII letter (surrogates and other
            // non-ASCII units never are), so unit-wise comparison is exact here too.
            match &self.fast {
                Fast::Equal(lit) => return units_eq(u, lit),
                Fast::Prefix(lit) => return u.len() >= lit.len() && units_eq(&u[..lit.len()], lit),
                Fast::Suffix(lit) => return u.len() >= lit.len() && units_eq(&u[u.len() - lit.len()..], lit),
                Fast::Contains(_) => {
                    let lit = &*self.contains;
                    return lit.is_empty() || u.windows(lit.len()).any(|w| units_eq(w, lit));
                }
                Fast::Everything => return true,
                Fast::None => {}
            }
        }
        self.matches_chars(value)
    }

    /// The general matcher, over code points; the reference for every fast path.
    fn matches_chars(&self, value: Text<'_>) -> bool {
        let fold = self.folding;
        let tokens = &*self.tokens;
        let mut text = value.chars();
        let mut p = 0;
        // Where to resume after the last `*`: the token after it, and the text position
        // that `*` has absorbed up to.
        let mut resume: Option<(usize, crate::view::text::Chars<'_>)> = None;
        loop {
            let mut after = text.clone();
            match after.next() {
                None => return tokens[p..].iter().all(|t| *t == Token::AnyRun),
                Some(c) => {
                    match tokens.get(p) {
                        Some(Token::AnyRun) => {
                            p += 1;
                            resume = Some((p, text.clone()));
                            continue;
                        }
                        Some(Token::AnyOne) => {
                            p += 1;
                            text = after;
                            continue;
                        }
                        Some(Token::Char(pc)) if fold.eq(*pc, c) => {
                            p += 1;
                            text = after;
                            continue;
                        }
                        _ => {}
                    }
                    // Mismatch: let the last `*` absorb one more code point and retry.
                    match &mut resume {
                        Some((rp, rtext)) => {
                            if rtext.next().is_none() {
                                return false;
                            }
                            p = *rp;
                            text = rtext.clone();
                        }
                        None => return false,
                    }
                }
            }
        }
    }
}

/// UTF-16 units equal to ASCII bytes, ignoring ASCII case.
#[inline]
fn units_eq(units: &[u16], ascii: &[u8]) -> bool {
    units.len() == ascii.len() && units.iter().zip(ascii).all(|(&u, &a)| u < 0x80 && (u as u8).eq_ignore_ascii_case(&a))
}

/// The right side of `in~ (…)`: literals compared ignoring case, whole value, no wildcards.
///
/// When every literal is ASCII and has only ASCII equivalents under the folding, a UTF-8
/// value is first filtered by its byte length (one bit test), then compared with the
/// literals of that length; otherwise each literal's [`Pattern`] is tried.
#[derive(Clone, Debug)]
pub struct LiteralSet {
    patterns: Box<[Pattern]>,
    /// Bit `n` is set when some literal is `n` bytes long; None when the shortcut is not exact.
    ascii_lengths: Option<u64>,
}

impl LiteralSet {
    /// Compiles `in~ (literals…)` under `folding`.
    pub fn new(literals: &[&str], folding: CaseFolding) -> LiteralSet {
        let patterns: Box<[Pattern]> = literals.iter().map(|l| Pattern::literal(l, folding)).collect();
        let ascii_lengths = patterns.iter().try_fold(0u64, |bits, p| match p.fast {
            Fast::Equal(ref lit) if lit.len() < 64 => Some(bits | 1 << lit.len()),
            _ => None,
        });
        LiteralSet { patterns, ascii_lengths }
    }

    /// Whether `value` equals one of the literals. Never allocates.
    #[inline]
    pub fn matches(&self, value: Text<'_>) -> bool {
        if let (Some(lengths), Some(s)) = (self.ascii_lengths, value.as_str()) {
            let n = s.len();
            if n >= 64 || lengths & (1 << n) == 0 {
                return false;
            }
        }
        self.patterns.iter().any(|p| p.matches(value))
    }
}

impl Fast {
    fn for_tokens(tokens: &[Token], folding: CaseFolding) -> Fast {
        let literal_run = |ts: &[Token]| -> Option<Box<[u8]>> {
            let mut out = Vec::with_capacity(ts.len());
            for t in ts {
                match t {
                    Token::Char(c) if folding.has_only_ascii_equivalents(*c) => out.push(*c as u8),
                    _ => return None,
                }
            }
            Some(out.into())
        };
        let n = tokens.len();
        let starts = n > 0 && tokens[0] == Token::AnyRun;
        let ends = n > 0 && tokens[n - 1] == Token::AnyRun;
        match (starts, ends) {
            (true, true) if n == 1 => Fast::Everything,
            (true, true) => match literal_run(&tokens[1..n - 1]) {
                Some(lit) => Fast::Contains(
                    AhoCorasickBuilder::new()
                        .ascii_case_insensitive(true)
                        .match_kind(MatchKind::LeftmostFirst)
                        .kind(Some(AhoCorasickKind::DFA))
                        .build([&lit[..]])
                        .expect("a single short literal always builds"),
                ),
                None => Fast::None,
            },
            (false, false) => literal_run(tokens).map_or(Fast::None, Fast::Equal),
            (false, true) => literal_run(&tokens[..n - 1]).map_or(Fast::None, Fast::Prefix),
            (true, false) => literal_run(&tokens[1..]).map_or(Fast::None, Fast::Suffix),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(pattern: &Pattern, value: &str) -> bool {
        let fast = pattern.matches(Text::utf8(value));
        let slow = pattern.matches_chars(Text::utf8(value));
        let units: Vec<u16> = value.encode_utf16().collect();
        let utf16 = pattern.matches(Text::from_utf16(&units).unwrap());
        assert_eq!(fast, slow, "fast path disagrees for {:?} on {value:?}", pattern.source());
        assert_eq!(fast, utf16, "UTF-16 disagrees for {:?} on {value:?}", pattern.source());
        fast
    }

    fn m(pattern: &str, value: &str) -> bool {
        both(&Pattern::wildcard(pattern, CaseFolding::Ascii), value)
    }

    #[test]
    fn anchored_with_runs_and_single_code_points() {
        assert!(m("*DCOM*", "x dcom y"));
        assert!(m("*DCOM*", "DCOM"));
        assert!(!m("DCOM", "x dcom"));
        assert!(m("a?c", "abc"));
        assert!(m("a?c", "aéc"));
        assert!(m("a?c", "a😀c"));
        assert!(!m("a?c", "ac"));
        assert!(!m("a?c", "abbc"));
        assert!(m("*", ""));
        assert!(m("**", "anything\nat all"));
        assert!(m("a*b*c", "a\nxxb\nyyc"));
        assert!(!m("a*b*c", "a b c d"));
        assert!(m("*a*a*a*b", "aaaaaaaaab"));
        assert!(!m("*a*a*a*b", "aaaaaaaaaa"));
        assert!(m("", ""));
        assert!(!m("", "x"));
    }

    #[test]
    fn no_escapes_and_literal_specials() {
        assert!(m(r"*C:\Windows\*", r"c:\windows\system32"));
        assert!(m("100%_done", "100%_DONE"));
        assert!(!m("100%_done", "100xxdone"));
    }

    #[test]
    fn folding_modes() {
        let ascii = Pattern::literal("outlook.exe", CaseFolding::Ascii);
        let unicode = Pattern::literal("outlook.exe", CaseFolding::UnicodeSimple);
        assert!(both(&ascii, "OUTLOOK.EXE"));
        assert!(!both(&ascii, "outloo\u{212A}.exe"));
        assert!(both(&unicode, "outloo\u{212A}.exe"));
        let e = Pattern::wildcard("*é*", CaseFolding::UnicodeSimple);
        assert!(both(&e, "CAFÉ"));
        let e = Pattern::wildcard("*é*", CaseFolding::Ascii);
        assert!(!both(&e, "CAFÉ"));
        assert!(both(&e, "café"));
    }

    #[test]
    fn fast_paths_are_chosen_when_exact() {
        let p = Pattern::wildcard("*DCOM*", CaseFolding::UnicodeSimple);
        assert!(matches!(p.fast, Fast::Contains(_)));
        let p = Pattern::wildcard("*task*", CaseFolding::UnicodeSimple);
        assert!(matches!(p.fast, Fast::None));
        let p = Pattern::wildcard("*task*", CaseFolding::Ascii);
        assert!(matches!(p.fast, Fast::Contains(_)));
        let p = Pattern::wildcard("a?b", CaseFolding::Ascii);
        assert!(matches!(p.fast, Fast::None));
    }
}
