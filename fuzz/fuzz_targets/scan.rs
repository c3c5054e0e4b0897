//! The NDJSON scanner on arbitrary streams: never panics, counts add up, the prefilter never
//! changes a match (sound) whatever the bytes, and every rejection it reports is one the
//! unfiltered scan reports too.
#![no_main]

use std::ops::ControlFlow;
use std::sync::OnceLock;

use dcom_detect_core::{scan_ndjson, CaseFolding, Found, Options, Outcome, Position, Rule, ScanOptions};
use libfuzzer_sys::fuzz_target;

/// The matches (line, branch bits) and the rejections (line, error) of a scan.
fn scan(rule: &Rule, options: &ScanOptions, data: &[u8]) -> (Vec<(u64, u8)>, Vec<(u64, String)>) {
    let (mut matches, mut rejections) = (Vec::new(), Vec::new());
    let stats = scan_ndjson(rule, options, data, |found| {
        match found {
            Found { position: Position::Line { line, .. }, outcome: Outcome::Matched(branches), .. } => {
                matches.push((line, branches.bits()))
            }
            Found { position: Position::Line { line, .. }, outcome: Outcome::Rejected(error), .. } => {
                rejections.push((line, error.to_string()))
            }
            _ => {}
        }
        ControlFlow::Continue(())
    })
    .expect("in-memory input cannot fail");
    assert_eq!(stats.records, stats.matched + stats.suppressed + stats.not_matched + stats.rejected);
    assert_eq!(stats.bytes, data.len() as u64);
    (matches, rejections)
}

fuzz_target!(|data: &[u8]| {
    static RULES: OnceLock<[Rule; 2]> = OnceLock::new();
    let rules = RULES.get_or_init(|| {
        [CaseFolding::Ascii, CaseFolding::UnicodeSimple].map(|case_folding| Rule::new(Options { case_folding }))
    });
    let rule = &rules[usize::from(data.first().is_some_and(|b| b & 1 == 1))];
    let small = ScanOptions { chunk_bytes: 64, ..ScanOptions::default() };
    let with = scan(rule, &small, data);
    let without = scan(rule, &ScanOptions { prefilter: false, ..small }, data);
    assert_eq!(with.0, without.0, "the prefilter changed a match");
    // The prefilter may skip a well-framed broken line, never invent or alter a rejection.
    let mut strict = without.1.iter();
    for rejection in &with.1 {
        assert!(strict.any(|r| r == rejection), "a rejection the strict scan does not report: {rejection:?}");
    }
});
