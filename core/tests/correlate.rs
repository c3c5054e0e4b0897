//! The `extended` profile's correlation rules on real recordings: the anchors
//! `labels.json` lists under `correlation_anchors` (D2, D2L, D3), and nothing else, on every
//! file of `../shared/realdata` and `../shared/netdata`. Skipped, with a message, only when
//! those folders are absent. Also: hand-made streams for each join, order and guard.

#![cfg(feature = "evtx")]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use dcom_detect_core::correlate::{observe, Correlation, CorrelationRule, Correlator, Limits};
use dcom_detect_core::view::ecs::Paths;
use dcom_detect_core::{Decoder, Rule};

fn shared(name: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared").join(name);
    dir.join("labels.json").exists().then_some(dir)
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if matches!(path.extension().and_then(|e| e.to_str()), Some("ndjson" | "evtx")) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Every record of a file as JSON text with its position (NDJSON line; EVTX EventRecordID).
fn records(path: &Path) -> Vec<(u64, String)> {
    if path.extension().is_some_and(|e| e == "evtx") {
        let mut parser = evtx::EvtxParser::from_path(path).unwrap();
        let settings = evtx::ParserSettings::new().num_threads(1).indent(false);
        parser = parser.with_configuration(settings);
        parser.records_json().filter_map(Result::ok).map(|r| (r.event_record_id, r.data)).collect()
    } else {
        let text = std::fs::read_to_string(path).unwrap();
        text.lines().enumerate().map(|(i, l)| (i as u64 + 1, l.to_owned())).collect()
    }
}

/// Correlations of a stream of JSON records, in input order; EVTX records are marked with
/// their own `EventRecordID` (the record header's is renumbered in exported files).
fn correlate(records: &[(u64, String)], evtx: bool) -> Vec<Correlation<u64>> {
    let rule = Rule::default();
    let paths = Paths::new(rule.fields()).with_view();
    let mut decoder = Decoder::new();
    let mut correlator = Correlator::new(Limits::default());
    let mut out = Vec::new();
    for (mark, record) in records {
        let Ok(document) = decoder.decode(&paths, record.as_bytes()) else { continue };
        let mark = if evtx { document.record_id().unwrap_or(*mark) } else { *mark };
        if let Some(observation) = observe(&document) {
            correlator.observe(&observation, mark, |c| out.push(c));
        }
    }
    out
}

fn rule_named(name: &str) -> Option<CorrelationRule> {
    CorrelationRule::ALL.into_iter().find(|r| r.name() == name)
}

/// (file, rule, anchor) expected by a labels file.
fn expected(dir: &Path) -> BTreeSet<(String, CorrelationRule, u64)> {
    let labels: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("labels.json")).unwrap()).unwrap();
    let mut out = BTreeSet::new();
    for (file, entry) in labels["files"].as_object().unwrap() {
        let Some(anchors) = entry.get("correlation_anchors").and_then(|a| a.as_object()) else { continue };
        for (name, positions) in anchors {
            let Some(rule) = rule_named(name) else { continue };
            for p in positions.as_array().unwrap() {
                out.insert((file.clone(), rule, p.as_u64().unwrap()));
            }
        }
    }
    out
}

fn found(dir: &Path) -> BTreeSet<(String, CorrelationRule, u64)> {
    let mut out = BTreeSet::new();
    for file in files(dir) {
        let name = file.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
        let evtx = file.extension().is_some_and(|e| e == "evtx");
        for c in correlate(&records(&file), evtx) {
            let gap = c.gap_nanos() as f64 / 1e9;
            eprintln!("{name}: {} anchor {} partner {} gap {gap:+.3} s", c.rule.name(), c.anchor, c.partner);
            out.insert((name.clone(), c.rule, c.anchor));
        }
    }
    out
}

#[test]
fn the_extended_rules_raise_exactly_the_labelled_anchors_on_realdata() {
    let Some(dir) = shared("realdata") else {
        eprintln!("skipped: ../shared/realdata is absent");
        return;
    };
    let (expected, found) = (expected(&dir), found(&dir));
    let missed: Vec<_> = expected.difference(&found).collect();
    let extra: Vec<_> = found.difference(&expected).collect();
    assert!(missed.is_empty() && extra.is_empty(), "missed {missed:#?}\nextra {extra:#?}");
    assert_eq!(found.len(), 19, "8 D2, 9 D2L and 2 D3 anchors: {found:#?}");
}

#[test]
fn the_extended_rules_raise_exactly_the_labelled_anchors_on_netdata() {
    let Some(dir) = shared("netdata") else {
        eprintln!("skipped: ../shared/netdata is absent");
        return;
    };
    let (expected, found) = (expected(&dir), found(&dir));
    let missed: Vec<_> = expected.difference(&found).collect();
    let extra: Vec<_> = found.difference(&expected).collect();
    assert!(missed.is_empty() && extra.is_empty(), "missed {missed:#?}\nextra {extra:#?}");
}
