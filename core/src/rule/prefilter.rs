//! A sound raw-byte prefilter: finds the NDJSON lines that could match, without parsing.
//!
//! # Why it is sound
//! Every branch of the rule needs a literal in the raw bytes of the record, unless a JSON
//! `\uXXXX` escape spells part of it:
//! - `office_child` needs a COM host parent name (`mmc.exe`, …, compared with `in~`), which
//!   appears in the record either as the ECS value or as the tail of a raw `ParentImage` /
//!   `ParentProcessName` path;
//! - `dcomcnfg` needs `dcomcnfg.exe` exactly;
//! - `dcom_command_line` needs `DCOM` and `-Exec`, case-insensitively.
//!
//! The other JSON escapes (`\\`, `\"`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`) decode to characters
//! that occur in none of these literals, so they cannot hide one. Under ASCII folding the
//! literals' letters can only be spelled by ASCII letters; under Unicode simple folding,
//! `k` and `s` can also be spelled U+212A and U+017F, so those spellings are searched too
//! ([`CaseFolding::has_only_ascii_equivalents`] names exactly these). A line is therefore a
//! **candidate** when it contains (ASCII case-insensitively) a parent name, or `dcom`
//! together with `dcomcnfg.exe` or `-exec`, or a real `\u` escape (one preceded by an even
//! number of backslashes: `"C:\\users"` holds the bytes `\\u`, which is not an escape).
//! Every other line cannot match and is not parsed. A property test compares prefiltered
//! and unfiltered scans on generated records.
//!
//! # How it searches (measured by `examples/prefilter_choice.rs`)
//! On 400 MB of generated Elastic Defend events, the `regex` crate finds the needles
//! case-insensitively (`(?i)mmc\.exe|…|dcom`) at ~1.8 GB/s; searching distinctive inner pieces
//! (`xcel.` rather than `excel.exe`, whose `ex` starts every `.exe`) lifts that to ~2.5 GB/s;
//! adding `\\u` to the same regex drops it to ~0.5 GB/s; `aho-corasick` with ASCII case
//! folding runs at ~0.9 GB/s. Case-insensitivity is what costs: every piece becomes dozens of
//! case variants. So the input is first copied with ASCII letters lowercased (~20 GB/s, a
//! loop the compiler vectorises), and `aho-corasick` (its packed Teddy searcher) finds the
//! lowercase pieces in the copy at ~7.5 GB/s; each hit is checked against its whole needle.
//! Real `\u` escapes are found in the original bytes (lowercasing would turn `\U` into
//! `\u`) with `memchr::memmem` (~25 GB/s) and a backslash-parity check.
//!
//! An `extended` scan also needs every line that may give an observation, found by words
//! (`start`, `network`, …: [`crate::correlate::may_observe`]).
//! [`Prefilter::with_words`] searches those words in the same pass, as pieces that need no
//! second look, instead of a second search over the same lowercase copy.
//!
//! # Cost
//! O(n) over the input plus, per `dcom` hit, one search of its line. The lowercase copy
//! lives in a buffer the caller owns and reuses; nothing else allocates.

use aho_corasick::{AhoCorasick, MatchKind};

use crate::rule::definition::{COMMAND_LINE_PATTERNS, COM_HOST_PARENTS, DCOMCNFG};
use crate::rule::fold::CaseFolding;

/// Where to search each parent name: its inner piece (start, length). A piece is chosen to
/// avoid prefixes common in Windows paths (`ex`, `wi`, `po`, `ou`); the test
/// `inner_pieces_are_inside_their_needles` keeps this table honest.
const INNER: [(usize, usize); 6] = [(0, 5), (1, 5), (3, 5), (3, 5), (4, 5), (0, 6)];

/// The prefilter for one case folding. Immutable; share it between threads.
#[derive(Clone, Debug)]
pub struct Prefilter {
    /// The words of [`Prefilter::with_words`] (lowercase), then inner pieces (lowercase) of
    /// the parent names' spellings, then `dcom`; pattern `i` is the piece of needle `i`.
    pieces: Pieces,
    /// Full spellings, with the place of the searched piece.
    needles: Vec<Needle>,
    /// What a `dcom` hit also needs in its line (lowercase): `dcomcnfg.exe` or `-exec`.
    second: AhoCorasick,
    escape: memchr::memmem::Finder<'static>,
}

#[derive(Clone, Debug)]
struct Needle {
    /// The whole spelling, ASCII letters lowercased.
    bytes: Box<[u8]>,
    /// Where the searched piece starts inside it.
    piece_at: usize,
    /// Whether this is `dcom` (which needs a second look) rather than a parent name or a
    /// word ([`Prefilter::with_words`]).
    dcom: bool,
}

impl Prefilter {
    /// Builds the prefilter for `folding`.
    pub fn new(folding: CaseFolding) -> Prefilter {
        Prefilter::with_words(folding, &[])
    }

    /// The prefilter for `folding` that also keeps every line holding one of `words` (ASCII
    /// case-insensitively; their letters must be ASCII), in the same single search: what an
    /// `extended` scan needs, whose observations are found by words
    /// ([`crate::correlate::may_observe`]). A word can be hidden from the bytes only by a
    /// real `\uXXXX` escape, which the prefilter keeps anyway. The words come first among
    /// the searched pieces, so a word wins over a piece found at the same place and needs no
    /// second look. Cost of a search: as [`Prefilter::new`]'s, with more pieces.
    pub fn with_words(folding: CaseFolding, words: &[&str]) -> Prefilter {
        let mut needles = Vec::new();
        for word in words {
            assert!(word.is_ascii() && !word.is_empty(), "an observation word is non-empty ASCII: {word:?}");
            needles.push((word.as_bytes().into(), 0, word.len(), false));
        }
        for (parent, (start, len)) in COM_HOST_PARENTS.iter().zip(INNER) {
            for spelling in spellings(parent, folding) {
                // Non-ASCII spellings are rare and distinctive: search them whole.
                let (piece_at, piece_len) = if spelling.is_ascii() { (start, len) } else { (0, spelling.len()) };
                needles.push((spelling.into_bytes().into_boxed_slice(), piece_at, piece_len, false));
            }
        }
        let dcom = dcom_needle();
        needles.push((dcom.as_bytes().into(), 0, dcom.len(), true));
        let pieces =
            Pieces::new(needles.iter().map(|(bytes, at, len, _)| lowercase(&bytes[*at..*at + *len])).collect());
        let exec = COMMAND_LINE_PATTERNS[1].trim_matches('*');
        let second = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .build([lowercase(DCOMCNFG.as_bytes()), lowercase(exec.as_bytes())])
            .expect("two short literals always build");
        Prefilter {
            pieces,
            needles: needles
                .into_iter()
                .map(|(bytes, piece_at, _, dcom)| Needle { bytes: lowercase(&bytes).into(), piece_at, dcom })
                .collect(),
            second,
            escape: memchr::memmem::Finder::new(b"\\u").into_owned(),
        }
    }

    /// Whether `line` (one record, without its newline) could match. Allocates a lowercase
    /// copy; scans use [`Prefilter::candidates`] with a reused buffer.
    pub fn is_candidate(&self, line: &[u8]) -> bool {
        let mut folded = Vec::new();
        self.candidates(line, &mut folded).next_from(0).is_some()
    }

    /// The candidate positions of a buffer of many `\n`-separated lines, for a forward walk.
    /// `folded` is scratch space for the lowercase copy (reused between calls).
    pub fn candidates<'p, 'h>(&'p self, haystack: &'h [u8], folded: &'h mut Vec<u8>) -> Candidates<'p, 'h> {
        folded.clear();
        folded.extend(haystack.iter().map(|&b| fold_ascii(b)));
        Candidates { prefilter: self, haystack, folded, needle: None, escape: None }
    }

    /// The next verified needle at or after `from` in a lowercase buffer: (position, is it
    /// `dcom`).
    fn next_needle(&self, folded: &[u8], mut from: usize) -> Option<(usize, bool)> {
        while from < folded.len() {
            let piece = self.pieces.find(folded, from)?;
            let needle = &self.needles[piece.pattern().as_usize()];
            if let Some(start) = piece.start().checked_sub(needle.piece_at) {
                if folded.get(start..start + needle.bytes.len()) == Some(&needle.bytes[..]) {
                    return Some((start, needle.dcom));
                }
            }
            from = piece.start() + 1;
        }
        None
    }

    /// The next real `\u` escape at or after `from`.
    fn next_escape(&self, haystack: &[u8], mut from: usize) -> Option<usize> {
        while let Some(i) = self.escape.find(&haystack[from..]) {
            let at = from + i;
            if is_real_escape(haystack, at) {
                return Some(at);
            }
            from = at + 1;
        }
        None
    }

    /// Whether the line holding a `dcom` hit at `at` (of a lowercase buffer) could match:
    /// it also holds `dcomcnfg.exe` or `-exec`, or a parent name (real escapes are found
    /// apart). Also returns where the line ends.
    fn dcom_line_is_candidate(&self, folded: &[u8], at: usize) -> (bool, usize) {
        let line_start = memchr::memrchr(b'\n', &folded[..at]).map_or(0, |i| i + 1);
        let line_end = memchr::memchr(b'\n', &folded[at..]).map_or(folded.len(), |i| at + i);
        let line = &folded[line_start..line_end];
        let mut from = 0;
        while let Some((pos, dcom)) = self.next_needle(line, from) {
            if !dcom {
                return (true, line_end);
            }
            from = pos + 1;
        }
        (self.second.is_match(line), line_end)
    }
}

/// The piece searcher: `aho-corasick`'s packed (Teddy, SIMD) searcher where the CPU has it,
/// its automaton otherwise (whose own prefilter picks rare bytes, several times slower here).
#[derive(Clone, Debug)]
enum Pieces {
    Packed(aho_corasick::packed::Searcher),
    Automaton(AhoCorasick),
}

impl Pieces {
    fn new(pieces: Vec<Vec<u8>>) -> Pieces {
        let mut config = aho_corasick::packed::Config::new();
        config.match_kind(aho_corasick::packed::MatchKind::LeftmostFirst);
        match config.builder().extend(&pieces).build() {
            Some(searcher) => Pieces::Packed(searcher),
            None => Pieces::Automaton(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostFirst)
                    .build(&pieces)
                    .expect("a few short pieces always build"),
            ),
        }
    }

    #[inline]
    fn find(&self, haystack: &[u8], from: usize) -> Option<aho_corasick::Match> {
        let span = aho_corasick::Span::from(from..haystack.len());
        match self {
            Pieces::Packed(s) => s.find_in(haystack, span),
            Pieces::Automaton(a) => a.find(aho_corasick::Input::new(haystack).span(span)),
        }
    }
}

/// A forward walk over the candidate positions of one buffer. Caches the next needle and
/// the next escape so that the whole walk is linear.
#[derive(Debug)]
pub struct Candidates<'p, 'h> {
    prefilter: &'p Prefilter,
    haystack: &'h [u8],
    /// `haystack` with ASCII letters lowercased.
    folded: &'h [u8],
    /// Cached result of the last needle search: (searched from, result).
    needle: Option<(usize, Option<usize>)>,
    escape: Option<(usize, Option<usize>)>,
}

impl<'h> Candidates<'_, 'h> {
    /// The buffer with ASCII letters lowercased (for other searches over the same bytes).
    pub fn folded(&self) -> &'h [u8] {
        self.folded
    }

    /// The first position at or after `from` inside a line that could match (or holds one
    /// of the prefilter's words); positions passed to successive calls must not decrease.
    pub fn next_from(&mut self, from: usize) -> Option<usize> {
        let hay = self.haystack;
        let folded = self.folded;
        let p = self.prefilter;
        let escape = match self.escape {
            Some((_, found)) if found.is_none_or(|f| f >= from) => found,
            _ => {
                let found = p.next_escape(hay, from);
                self.escape = Some((from, found));
                found
            }
        };
        let needle = match self.needle {
            Some((_, found)) if found.is_none_or(|f| f >= from) => found,
            _ => {
                let mut at = from;
                let found = loop {
                    match p.next_needle(folded, at) {
                        None => break None,
                        Some((pos, false)) => break Some(pos),
                        Some((pos, true)) => {
                            let (candidate, line_end) = p.dcom_line_is_candidate(folded, pos);
                            if candidate {
                                break Some(pos);
                            }
                            // Nothing else in this line needs a look (escapes are found apart).
                            at = line_end;
                        }
                    }
                };
                self.needle = Some((from, found));
                found
            }
        };
        match (escape, needle) {
            (Some(e), Some(n)) => Some(e.min(n)),
            (e, n) => e.or(n),
        }
    }
}

fn dcom_needle() -> &'static str {
    // The literal common to `dcomcnfg.exe` and `*DCOM*`.
    let needle = COMMAND_LINE_PATTERNS[0].trim_matches('*');
    debug_assert!(DCOMCNFG.to_ascii_lowercase().starts_with(&needle.to_ascii_lowercase()));
    needle
}

/// An ASCII capital letter lowercased; every other byte as it is (branch-free, so the
/// copying loop vectorises).
#[inline]
fn fold_ascii(b: u8) -> u8 {
    b | (u8::from(b.wrapping_sub(b'A') < 26) << 5)
}

fn lowercase(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().map(|&b| fold_ascii(b)).collect()
}

/// Whether the backslash at `at` starts an escape, i.e. is preceded by an even number of
/// backslashes.
fn is_real_escape(haystack: &[u8], at: usize) -> bool {
    let preceding = haystack[..at].iter().rev().take_while(|&&b| b == b'\\').count();
    preceding % 2 == 0
}

/// Every spelling of `word` that folds to it and is not pure ASCII-case variation (which the
/// case-insensitive search covers): `k` and `s` may be spelled U+212A and U+017F under
/// Unicode folding.
fn spellings(word: &str, folding: CaseFolding) -> Vec<String> {
    let mut out = vec![String::new()];
    for c in word.chars() {
        let mut options = vec![c];
        if !folding.has_only_ascii_equivalents(c) {
            options.extend(['\u{212A}', '\u{17F}'].into_iter().filter(|o| folding.eq(*o, c)));
        }
        out = out.iter().flat_map(|prefix| options.iter().map(move |o| format!("{prefix}{o}"))).collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needles_and_their_spellings() {
        assert_eq!(spellings("outlook.exe", CaseFolding::Ascii), ["outlook.exe"]);
        assert_eq!(spellings("outlook.exe", CaseFolding::UnicodeSimple), ["outlook.exe", "outloo\u{212A}.exe"]);
        assert_eq!(spellings("visio.exe", CaseFolding::UnicodeSimple), ["visio.exe", "vi\u{17F}io.exe"]);
    }

    #[test]
    fn folding_lowercases_exactly_the_ascii_capitals() {
        for b in 0..=255u8 {
            assert_eq!(fold_ascii(b), if b.is_ascii_uppercase() { b.to_ascii_lowercase() } else { b });
        }
    }

    #[test]
    fn inner_pieces_are_inside_their_needles() {
        for (parent, (start, len)) in COM_HOST_PARENTS.iter().zip(INNER) {
            assert!(start + len <= parent.len(), "{parent}");
            assert!(len >= 5, "{parent}: a piece this short would hit too often");
        }
    }

    #[test]
    fn candidates() {
        let p = Prefilter::new(CaseFolding::Ascii);
        assert!(p.is_candidate(br#"{"process":{"parent":{"name":"MMC.EXE"}}}"#));
        assert!(p.is_candidate(br#"{"ParentImage":"C:\\Windows\\System32\\mmc.exe"}"#));
        assert!(p.is_candidate(
            br#"{"p":"EXCEL.EXE","q":"winword.exe","r":"OUTLOOK.exe","s":"powerpnt.exe","t":"visio.exe"}"#
        ));
        for parent in COM_HOST_PARENTS {
            assert!(p.is_candidate(format!(r#"{{"p":"{}"}}"#, parent.to_uppercase()).as_bytes()), "{parent}");
        }
        assert!(!p.is_candidate(br#"{"p":"xcel.exe","q":"nword.exe","r":"mmc.ex"}"#), "pieces alone are not needles");
        assert!(p.is_candidate(br#"{"process":{"name":"dcomcnfg.exe"}}"#));
        assert!(p.is_candidate(br#"{"c":"a DCOM b -EXEC"}"#));
        assert!(p.is_candidate(br#"{"c":"-exec x","d":"dcom"}"#));
        assert!(p.is_candidate(br#"{"c":"DcomLaunch","p":"mmc.exe"}"#), "a parent after a dcom hit");
        assert!(p.is_candidate(br#"{"c":"\u0044COM"}"#));
        assert!(p.is_candidate(br#"{"c":"\\\u0044COM"}"#), "escaped backslash then a real escape");
        assert!(!p.is_candidate(br#"{"c":"svchost.exe -k DcomLaunch -p"}"#));
        assert!(!p.is_candidate(br#"{"c":"C:\\users\\x","d":"\\u"}"#), "\\\\u is not an escape");
        assert!(!p.is_candidate(br#"{"c":"powershell -ExecutionPolicy Bypass"}"#));
        assert!(!p.is_candidate(b"outloo\xE2\x84\xAA.exe"));
        assert!(Prefilter::new(CaseFolding::UnicodeSimple).is_candidate(b"OUTLOO\xE2\x84\xAA.EXE"));
        assert!(Prefilter::new(CaseFolding::UnicodeSimple).is_candidate("VI\u{17F}IO.EXE".as_bytes()));
    }

    #[test]
    fn words_make_lines_candidates_too() {
        let words = ["start", "network", "authentication", "sysmon", "security"];
        for folding in [CaseFolding::Ascii, CaseFolding::UnicodeSimple] {
            let (plain, with) = (Prefilter::new(folding), Prefilter::with_words(folding, &words));
            for line in [
                br#"{"event":{"type":"START"}}"#.as_slice(),
                br#"{"c":"NetWork"}"#,
                br#"{"Channel":"Microsoft-Windows-Sysmon/Operational"}"#,
                br#"{"c":"dcom x authentication"}"#,
                br#"{"c":"DcomLaunch","d":"security"}"#,
            ] {
                assert!(!plain.is_candidate(line) && with.is_candidate(line), "{}", String::from_utf8_lossy(line));
            }
            for line in [br#"{"c":"sta rt","d":"net work"}"#.as_slice(), br#"{"c":"DcomLaunch"}"#] {
                assert!(!with.is_candidate(line), "{}", String::from_utf8_lossy(line));
            }
            // The rule's own candidates stay candidates.
            for line in [br#"{"p":"MMC.EXE"}"#.as_slice(), br#"{"c":"a DCOM b -EXEC"}"#, br#"{"c":"\u0041"}"#] {
                assert!(with.is_candidate(line), "{}", String::from_utf8_lossy(line));
            }
        }
        // A word and a piece found at the same place: the word needs no second look.
        let p = Prefilter::with_words(CaseFolding::Ascii, &["visio"]);
        assert!(p.is_candidate(br#"{"c":"visionary"}"#));
        assert!(!Prefilter::new(CaseFolding::Ascii).is_candidate(br#"{"c":"visionary"}"#));
    }

    #[test]
    fn dcom_hits_look_only_within_their_line() {
        let p = Prefilter::new(CaseFolding::Ascii);
        let mut folded = Vec::new();
        let two = b"{\"a\":\"DcomLaunch\"}\n{\"b\":\"-Exec\"}\n";
        assert_eq!(p.candidates(two, &mut folded).next_from(0), None);
        let later = b"{\"a\":\"DcomLaunch\"}\n{\"b\":\"x\"}\n{\"p\":\"excel.exe\"}\n";
        let excel = later.windows(9).position(|w| w == b"excel.exe");
        assert_eq!(p.candidates(later, &mut folded).next_from(0), excel);
    }

    #[test]
    fn a_walk_finds_every_candidate_once_in_order() {
        let p = Prefilter::new(CaseFolding::Ascii);
        let hay =
            b"{\"a\":\"mmc.exe\"}\n{\"b\":\"x\"}\n{\"c\":\"\\u0041\",\"d\":\"visio.exe\"}\n{\"e\":\"dcom -exec\"}\n";
        let mut folded = Vec::new();
        let mut walk = p.candidates(hay, &mut folded);
        let mut found = Vec::new();
        let mut from = 0;
        while let Some(c) = walk.next_from(from) {
            let line_end = memchr::memchr(b'\n', &hay[c..]).map_or(hay.len(), |i| c + i);
            found.push(hay[..c].iter().filter(|&&b| b == b'\n').count());
            from = line_end + 1;
        }
        assert_eq!(found, [0, 2, 3]);
    }
}
