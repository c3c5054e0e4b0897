//! The stateful profiles on arbitrary streams: a scan that observes and a session fed from it
//! never panic, whatever the bytes (network, logon and process events in every accepted form,
//! odd times, hosts and addresses); every alert is written (none lost to an anchor record the
//! session let go too early) and anchored on a line the scan reported; the `extended` profile's
//! byte prefilter (the rule's prefilter with `may_observe`'s words) changes no alert; and the
//! seed rule's verdicts are the same with and without a profile.
#![no_main]

use std::ops::ControlFlow;
use std::sync::OnceLock;

use dcom_detect_core::correlate::{Limits, Profile, Session};
use dcom_detect_core::{scan_ndjson, AlertOptions, Outcome, Position, Rule, ScanOptions};
use libfuzzer_sys::fuzz_target;

/// The seed rule's matches (line, bits) and the profile's alerts (line, JSON) of one scan.
fn run(rule: &Rule, profile: Profile, prefilter: bool, data: &[u8]) -> (Vec<(u64, u8)>, Vec<(u64, String)>) {
    let options = ScanOptions { profile, prefilter, chunk_bytes: 64, ..ScanOptions::default() };
    // Small bounds, so evictions and early releases run too.
    let limits = Limits { hosts: 3, pending: 4, ..Limits::default() };
    let mut session = Session::new(rule, profile, AlertOptions::default()).with_limits(limits);
    let (mut matches, mut alerts, mut reported) = (Vec::new(), Vec::new(), Vec::new());
    let line = |p: Position| match p {
        Position::Line { line, .. } => line,
        other => panic!("an NDJSON scan reports lines, not {other:?}"),
    };
    let stats = scan_ndjson(rule, &options, data, |found| {
        reported.push(line(found.position));
        if let Outcome::Matched(branches) = found.outcome {
            matches.push((line(found.position), branches.bits()));
        }
        session.feed_found(&found, None, |alert, _, p| alerts.push((line(p), alert.into_json())));
        ControlFlow::Continue(())
    })
    .expect("in-memory input cannot fail");
    session.finish(|alert, _, p| alerts.push((line(p), alert.into_json())));
    assert_eq!(stats.records, stats.matched + stats.suppressed + stats.not_matched + stats.rejected);
    assert_eq!(session.stats().unwritten, 0, "an anchor record was let go before its alert");
    for (anchor, _) in &alerts {
        assert!(reported.contains(anchor), "alert anchored on line {anchor}, which the scan never reported");
    }
    alerts.sort();
    (matches, alerts)
}

fuzz_target!(|data: &[u8]| {
    static RULE: OnceLock<Rule> = OnceLock::new();
    let rule = RULE.get_or_init(Rule::default);
    let (seed, none) = run(rule, Profile::Seed, false, data);
    assert!(none.is_empty(), "the seed profile raises no stateful alert");
    let (elastic, _) = run(rule, Profile::Elastic, true, data);
    assert_eq!(elastic, seed, "observing changed a seed verdict");
    let (filtered_seed, filtered) = run(rule, Profile::Extended, true, data);
    let (_, unfiltered) = run(rule, Profile::Extended, false, data);
    assert_eq!(filtered_seed, seed, "observing changed a seed verdict");
    assert_eq!(filtered, unfiltered, "the observing prefilter changed an extended alert");
});
