//! `correlate::may_observe`, the byte test that lets an `extended` scan skip records that can
//! give no observation, is sound: every record `observe` reads passes it (on the shared
//! recordings and on hand-made spellings: escapes, case, wrappers), and scans with and
//! without the prefilter report the same observations and raise the same alerts.

#[path = "recorded/mod.rs"]
mod recorded;

use std::ops::ControlFlow;

use dcom_detect_core::correlate::{may_observe, observe, Profile, Session};
use dcom_detect_core::view::ecs::Paths;
use dcom_detect_core::{scan_ndjson, AlertOptions, Decoder, Outcome, Rule, ScanOptions};

/// Whether `observe` reads the record (decoded with the event view).
fn observed(decoder: &mut Decoder, paths: &Paths, record: &str) -> bool {
    decoder.decode(paths, record.as_bytes()).ok().is_some_and(|doc| observe(&doc).is_some())
}

#[cfg(feature = "evtx")]
#[test]
fn every_record_the_recordings_observe_passes_the_byte_test() {
    let rule = Rule::default();
    let paths = Paths::new(rule.fields()).with_view();
    let mut decoder = Decoder::new();
    let (mut seen, mut kept, mut read) = (0, 0, 0);
    for dir in ["realdata", "netdata"].into_iter().filter_map(recorded::shared) {
        for file in recorded::files(&dir) {
            for (position, record) in recorded::records(&file) {
                seen += 1;
                let passes = may_observe(record.as_bytes());
                kept += usize::from(passes);
                if observed(&mut decoder, &paths, &record) {
                    read += 1;
                    assert!(passes, "{}:{position}: observed but ruled out", file.display());
                }
            }
        }
    }
    eprintln!("{seen} records, {read} observed, {kept} pass the byte test");
}

#[test]
fn every_spelling_of_an_observed_event_passes_and_others_do_not() {
    let rule = Rule::default();
    let paths = Paths::new(rule.fields()).with_view();
    let mut decoder = Decoder::new();
    let host = r#""host":{"name":"WS1"},"@timestamp":"2024-05-01T10:00:00Z""#;
    let observed_records = [
        format!(r#"{{{host},"event":{{"category":"process","type":"START"}},"process":{{"name":"cmd.exe","pid":4}}}}"#),
        format!(r#"{{{host},"event":{{"category":"process","type":"\u0073tart"}},"process":{{"name":"cmd.exe"}}}}"#),
        format!(
            r#"{{{host},"event":{{"category":"NetWork"}},"network":{{"direction":"egress"}},"source":{{"ip":"10.0.0.1"}}}}"#
        ),
        format!(
            r#"{{{host},"event":{{"category":"Authentication"}},"winlog":{{"logon":{{"type":"Network","id":"0x1"}}}},"source":{{"ip":"10.0.0.9"}}}}"#
        ),
        r#"{"winlog":{"channel":"SECURITY","event_id":4688,"computer_name":"WS1","event_data":{"NewProcessName":"C:\\x\\cmd.exe"}},"@timestamp":"2024-05-01T10:00:00Z"}"#.to_owned(),
        r#"{"Channel":"microsoft-windows-SYSMON/operational","EventID":1,"Hostname":"WS1","UtcTime":"2024-05-01 10:00:00.000","Image":"C:\\x\\cmd.exe"}"#.to_owned(),
    ];
    for record in &observed_records {
        assert!(observed(&mut decoder, &paths, record), "observed: {record}");
        assert!(may_observe(record.as_bytes()), "passes: {record}");
    }
    let ignored = [
        format!(r#"{{{host},"event":{{"category":"file","type":"change"}},"file":{{"path":"C:\\Windows\\x.tmp"}}}}"#),
        format!(r#"{{{host},"event":{{"category":"process","type":"end"}},"process":{{"name":"cmd.exe"}}}}"#),
        r#"{"winlog":{"channel":"Application","event_id":1000,"computer_name":"WS1"}}"#.to_owned(),
    ];
    for record in &ignored {
        assert!(!observed(&mut decoder, &paths, record), "not observed: {record}");
        assert!(!may_observe(record.as_bytes()), "ruled out: {record}");
    }
    // Any backslash before a `u` keeps the record (a superset of the real escapes).
    assert!(may_observe(br#"{"path":"C:\\users\\x"}"#));

    // The walk an `extended` scan runs over a whole chunk (the rule's prefilter with the
    // words) keeps every observed record, and agrees with its per-record test on each record,
    // whatever their order (words and escapes at either end of a record, empty lines).
    let prefilter = rule.observing_prefilter();
    for record in &observed_records {
        assert!(prefilter.is_candidate(record.as_bytes()), "kept by the scan: {record}");
    }
    let mut records: Vec<String> = observed_records.iter().chain(&ignored).cloned().collect();
    records.extend(["".to_owned(), "start".to_owned(), r#"{"a":"x\\u"}"#.to_owned(), "sysmo".to_owned()]);
    for rotation in 0..records.len() {
        records.rotate_left(1);
        let chunk = records.join("\n");
        let mut folded = Vec::new();
        let mut walk = prefilter.candidates(chunk.as_bytes(), &mut folded);
        let mut start = 0;
        for record in &records {
            let end = start + record.len();
            let walked = walk.next_from(start).is_some_and(|at| at < end);
            assert_eq!(walked, prefilter.is_candidate(record.as_bytes()), "rotation {rotation}: {record:?}");
            start = end + 1;
        }
    }
}

/// (line, observation, outcome) of every record a scan reports, and the alerts of a session
/// fed from it.
#[cfg_attr(not(feature = "evtx"), allow(dead_code))]
fn scan(text: &[u8], prefilter: bool) -> (Vec<String>, Vec<String>) {
    let rule = Rule::default();
    let options = ScanOptions { profile: Profile::Extended, prefilter, ..ScanOptions::default() };
    let mut session = Session::new(&rule, Profile::Extended, AlertOptions::default());
    let (mut reported, mut alerts) = (Vec::new(), Vec::new());
    scan_ndjson(&rule, &options, text, |found| {
        session.feed_found(&found, Some("input"), |alert, _, _| alerts.push(alert.json().to_string()));
        if found.observation.is_some() || !matches!(found.outcome, Outcome::NotMatched) {
            reported.push(format!("{:?} {:?} {:?}", found.position, found.observation, found.outcome));
        }
        ControlFlow::Continue(())
    })
    .expect("scan");
    session.finish(|alert, _, _| alerts.push(alert.json().to_string()));
    (reported, alerts)
}

#[cfg(feature = "evtx")]
#[test]
fn extended_scans_with_and_without_the_prefilter_agree_on_the_recordings() {
    let mut text = Vec::new();
    for dir in ["realdata", "netdata"].into_iter().filter_map(recorded::shared) {
        for file in recorded::files(&dir) {
            for (_, record) in recorded::records(&file) {
                text.extend_from_slice(record.as_bytes());
                text.push(b'\n');
            }
        }
    }
    let (with, alerts_with) = scan(&text, true);
    let (without, alerts_without) = scan(&text, false);
    assert!(!with.is_empty() && !alerts_with.is_empty(), "the recordings give observations and alerts");
    assert_eq!(with, without);
    assert_eq!(alerts_with, alerts_without);
}
