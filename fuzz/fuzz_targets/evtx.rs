//! The EVTX reader on arbitrary files (seeded with a real one): never panics or hangs, and
//! every record is accounted for.
#![no_main]

use std::ops::ControlFlow;

use dcom_detect_core::source::evtx::scan_evtx_reader;
use dcom_detect_core::{Rule, ScanOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static RULE: std::sync::OnceLock<Rule> = std::sync::OnceLock::new();
    let rule = RULE.get_or_init(Rule::default);
    let options = ScanOptions { threads: 1, ..ScanOptions::default() };
    if let Ok(stats) = scan_evtx_reader(rule, &options, std::io::Cursor::new(data), |_| ControlFlow::Continue(())) {
        assert_eq!(stats.records, stats.matched + stats.suppressed + stats.not_matched + stats.rejected);
    }
});
