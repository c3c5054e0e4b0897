//! The NDJSON scanner on arbitrary streams: never panics, counts add up, and the prefilter
//! never changes a match (sound) whatever the bytes.
#![no_main]

use std::ops::ControlFlow;
use std::sync::OnceLock;

use dcom_detect_core::{scan_ndjson, CaseFolding, Found, Options, Position, Rule, ScanOptions};
use libfuzzer_sys::fuzz_target;

fn matches(rule: &Rule, options: &ScanOptions, data: &[u8]) -> Vec<(u64, u8)> {
    let mut out = Vec::new();
    let stats = scan_ndjson(rule, options, data, |found| {
        if let Found::Match { position: Position::Line { line, .. }, branches, .. } = found {
            out.push((line, branches.bits()));
        }
        ControlFlow::Continue(())
    })
    .expect("in-memory input cannot fail");
    assert_eq!(stats.records, stats.matched + stats.suppressed + stats.not_matched + stats.rejected);
    assert_eq!(stats.bytes, data.len() as u64);
    out
}

fuzz_target!(|data: &[u8]| {
    static RULES: OnceLock<[Rule; 2]> = OnceLock::new();
    let rules = RULES.get_or_init(|| {
        [CaseFolding::Ascii, CaseFolding::UnicodeSimple].map(|case_folding| Rule::new(Options { case_folding }))
    });
    let rule = &rules[usize::from(data.first().is_some_and(|b| b & 1 == 1))];
    let small = ScanOptions { chunk_bytes: 64, ..ScanOptions::default() };
    let with = matches(rule, &small, data);
    let without = matches(rule, &ScanOptions { prefilter: false, ..small }, data);
    assert_eq!(with, without, "the prefilter changed a match");
});
