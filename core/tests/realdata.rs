//! Acceptance on real recordings: every file of `../shared/realdata` (26,655 events in
//! every schema), exactly the 9 matches `labels.json` expects, nothing else, nothing rejected.
//! Skipped, with a message, only when that folder is absent.

mod recorded;

use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use dcom_detect_core::{scan_path, Outcome, Position, Rule, ScanOptions};

fn realdata() -> Option<PathBuf> {
    recorded::shared("realdata")
}

/// Expected matches as (file relative to realdata, line or EventRecordID).
fn expected(dir: &Path) -> BTreeSet<(String, u64)> {
    let labels: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("labels.json")).unwrap()).unwrap();
    let mut out = BTreeSet::new();
    for (file, entry) in labels["files"].as_object().unwrap() {
        for m in entry["expected_match"].as_array().unwrap() {
            let key = m.get("line").or_else(|| m.get("event_record_id")).and_then(|v| v.as_u64()).unwrap();
            out.insert((file.clone(), key));
        }
    }
    out
}

fn scan_all(dir: &Path, threads: usize, prefilter: bool) -> (BTreeSet<(String, u64)>, u64, u64) {
    let rule = Rule::default();
    let options = ScanOptions { threads, prefilter, ..ScanOptions::default() };
    let mut matched = BTreeSet::new();
    let (mut records, mut rejected) = (0, 0);
    for file in recorded::files(dir) {
        let name = file.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
        let stats = scan_path(&rule, &options, &file, |found| {
            let position = found.position;
            match (found.outcome, position) {
                (Outcome::Matched(_), Position::Line { line, .. }) => {
                    matched.insert((name.clone(), line));
                }
                (Outcome::Matched(_), Position::Evtx { record_id, .. }) => {
                    matched.insert((name.clone(), record_id.expect("EventRecordID")));
                }
                (Outcome::Matched(_), Position::Row { .. }) => unreachable!("no tables here"),
                (Outcome::Rejected(error), _) => panic!("{name}: {position}: {error}"),
                (Outcome::Suppressed { .. }, _) => panic!("{name}: {position}: suppressed without exceptions"),
                (Outcome::NotMatched, _) => panic!("{name}: {position}: a record that did not match was reported"),
            }
            ControlFlow::Continue(())
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(stats.records, stats.matched + stats.suppressed + stats.not_matched + stats.rejected, "{name}");
        records += stats.records;
        rejected += stats.rejected;
    }
    (matched, records, rejected)
}

#[test]
fn exactly_the_labelled_matches_in_every_real_file() {
    let Some(dir) = realdata() else {
        eprintln!("SKIPPED: ../shared/realdata is absent; the acceptance test needs it");
        return;
    };
    let expected = expected(&dir);
    assert_eq!(expected.len(), 9);
    for (threads, prefilter) in [(1, true), (1, false), (2, true)] {
        let (matched, records, rejected) = scan_all(&dir, threads, prefilter);
        assert_eq!(records, 26_655, "every event read (threads {threads}, prefilter {prefilter})");
        assert_eq!(rejected, 0);
        assert_eq!(matched, expected, "threads {threads}, prefilter {prefilter}");
    }
}
