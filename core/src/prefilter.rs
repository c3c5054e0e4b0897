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
//! `k` and `s` can also be spelled U+212A and U+017F, so those variants are searched too
//! ([`CaseFolding::has_only_ascii_equivalents`] names exactly these). A line is therefore a
//! **candidate** when it contains (ASCII case-insensitively) a parent name, or `dcom`
//! together with `dcomcnfg.exe` or `-exec`, or a real `\u` escape (one preceded by an even
//! number of backslashes: `"C:\\Users"` holds the bytes `\\U`, which is not an escape).
//! Every other line cannot match and is not parsed. A property test compares prefiltered
//! and unfiltered scans on generated records.
//!
//! # Cost
//! One pass of the `regex` crate's literal search (Teddy, SIMD) over the input, plus a short
//! check of the rest of the line for each `dcom` or `\u` hit. No allocation once the regex's
//! per-thread cache exists.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::bytes::{Regex, RegexBuilder};

use crate::fold::CaseFolding;
use crate::rule::{COMMAND_LINE_PATTERNS, COM_HOST_PARENTS, DCOMCNFG};

/// The prefilter for one case folding. Immutable; share it between threads.
#[derive(Clone, Debug)]
pub struct Prefilter {
    /// Parent names, `dcom`, and `\u`.
    first: Regex,
    /// What a `dcom` hit also needs: `dcomcnfg.exe` or `-exec`.
    second: AhoCorasick,
}

/// Why a line is a candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hit {
    Parent,
    Dcom,
    Escape,
}

impl Prefilter {
    /// Builds the prefilter for `folding`.
    pub fn new(folding: CaseFolding) -> Prefilter {
        let mut alternatives: Vec<String> = Vec::new();
        for parent in COM_HOST_PARENTS {
            for spelling in spellings(parent, folding) {
                alternatives.push(byte_literal(&spelling));
            }
        }
        let dcom = dcom_needle();
        alternatives.push(byte_literal(dcom));
        let pattern = format!(r"(?i-u:{})|\\u", alternatives.join("|"));
        let first = RegexBuilder::new(&pattern)
            .unicode(false)
            .build()
            .expect("the prefilter pattern is valid");
        let exec = COMMAND_LINE_PATTERNS[1].trim_matches('*');
        let second = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostFirst)
            .kind(Some(AhoCorasickKind::DFA))
            .build([DCOMCNFG, exec])
            .expect("two short literals always build");
        Prefilter { first, second }
    }

    /// Whether `line` (one record, without its newline) could match.
    pub fn is_candidate(&self, line: &[u8]) -> bool {
        self.next_candidate(line, 0).is_some()
    }

    /// The start of the first candidate line at or after `from` in `haystack` (many lines,
    /// separated by `\n`), or None. The returned position is somewhere inside that line; use
    /// it to find the line's bounds.
    pub fn next_candidate(&self, haystack: &[u8], mut from: usize) -> Option<usize> {
        while let Some(m) = self.first.find_at(haystack, from) {
            let hit = classify(&haystack[m.start()..m.end()]);
            let line_end = memchr::memchr(b'\n', &haystack[m.end()..]).map_or(haystack.len(), |i| m.end() + i);
            match hit {
                Hit::Parent => return Some(m.start()),
                Hit::Escape if is_real_escape(haystack, m.start()) => return Some(m.start()),
                Hit::Escape => from = m.end(),
                Hit::Dcom => {
                    let line_start = memchr::memrchr(b'\n', &haystack[..m.start()]).map_or(0, |i| i + 1);
                    let line = &haystack[line_start..line_end];
                    if self.second.is_match(line) || self.has_parent_or_escape(line) {
                        return Some(m.start());
                    }
                    // Nothing else in this line can make it a candidate.
                    from = line_end;
                }
            }
        }
        None
    }

    /// Whether `line` holds a parent name or a real `\u` escape (after a `dcom` hit).
    fn has_parent_or_escape(&self, line: &[u8]) -> bool {
        let mut from = 0;
        while let Some(m) = self.first.find_at(line, from) {
            match classify(&line[m.start()..m.end()]) {
                Hit::Parent => return true,
                Hit::Escape if is_real_escape(line, m.start()) => return true,
                _ => from = m.end(),
            }
        }
        false
    }
}

fn dcom_needle() -> &'static str {
    // The literal common to `dcomcnfg.exe` and `*DCOM*`.
    let needle = COMMAND_LINE_PATTERNS[0].trim_matches('*');
    debug_assert!(DCOMCNFG.to_ascii_lowercase().starts_with(&needle.to_ascii_lowercase()));
    needle
}

fn classify(found: &[u8]) -> Hit {
    if found[0] == b'\\' {
        Hit::Escape
    } else if found.eq_ignore_ascii_case(dcom_needle().as_bytes()) {
        Hit::Dcom
    } else {
        Hit::Parent
    }
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
        out = out
            .iter()
            .flat_map(|prefix| options.iter().map(move |o| format!("{prefix}{o}")))
            .collect();
    }
    out
}

/// A regex (bytes mode) matching exactly these UTF-8 bytes.
fn byte_literal(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!(r"\x{b:02X}") })
        .collect()
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
    fn candidates() {
        let p = Prefilter::new(CaseFolding::Ascii);
        assert!(p.is_candidate(br#"{"process":{"parent":{"name":"MMC.EXE"}}}"#));
        assert!(p.is_candidate(br#"{"ParentImage":"C:\\Windows\\System32\\mmc.exe"}"#));
        assert!(p.is_candidate(br#"{"process":{"name":"dcomcnfg.exe"}}"#));
        assert!(p.is_candidate(br#"{"c":"a DCOM b -EXEC"}"#));
        assert!(p.is_candidate(br#"{"c":"-exec x","d":"dcom"}"#));
        assert!(p.is_candidate(br#"{"c":"\u0044COM"}"#));
        assert!(p.is_candidate(br#"{"c":"\\\u0044COM"}"#), "escaped backslash then a real escape");
        assert!(!p.is_candidate(br#"{"c":"svchost.exe -k DcomLaunch -p"}"#));
        assert!(!p.is_candidate(br#"{"c":"C:\\Users\\x","d":"\\u"}"#), "\\\\u is not an escape");
        assert!(!p.is_candidate(br#"{"c":"powershell -ExecutionPolicy Bypass"}"#));
        assert!(!p.is_candidate(b"outloo\xE2\x84\xAA.exe"));
        assert!(Prefilter::new(CaseFolding::UnicodeSimple).is_candidate(b"OUTLOO\xE2\x84\xAA.EXE"));
    }

    #[test]
    fn dcom_hits_look_only_within_their_line() {
        let p = Prefilter::new(CaseFolding::Ascii);
        let two = b"{\"a\":\"DcomLaunch\"}\n{\"b\":\"-Exec\"}\n";
        assert_eq!(p.next_candidate(two, 0), None);
        let later = b"{\"a\":\"DcomLaunch\"}\n{\"b\":\"x\"}\n{\"p\":\"excel.exe\"}\n";
        let excel = later.windows(9).position(|w| w == b"excel.exe");
        assert_eq!(p.next_candidate(later, 0), excel);
    }
}
