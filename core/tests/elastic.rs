//! The `elastic` profile: Elastic's three DCOM sequence rules with Elasticsearch's sequence
//! semantics. On `../shared/realdata` they raise exactly ShellWindows on line 2434 of the
//! OTRF Empire ShellWindows recording (CORRELATION.md §2); on `../shared/netdata` exactly the
//! `elastic_shellwindows` anchors of its `labels.json`, and nothing on `benign/`. Skipped,
//! with a message, only when those folders are absent. Also: hand-made ECS and raw streams
//! for each condition, maxspan edge, stage order, replacement, key and bound.

mod recorded;

use std::collections::HashMap;

use dcom_detect_core::correlate::{
    ElasticLimits, ElasticMatch, ElasticReader, ElasticRule, ElasticStats, RawHost, Sequences, Step, TimeSource,
};
use dcom_detect_core::view::ecs::Paths;
use dcom_detect_core::{Decoder, Rule};

/// Decodes and sequences JSON records (marks are given); returns the matches and the stats.
fn sequence(
    records: &[(u64, String)],
    evtx: bool,
    raw_host: RawHost,
    time: TimeSource,
    limits: ElasticLimits,
) -> (Vec<ElasticMatch<u64>>, ElasticStats) {
    let reader = ElasticReader::new(raw_host, time);
    let paths = Paths::new(Rule::default().fields()).with_view();
    let mut decoder = Decoder::new();
    let mut sequences = Sequences::new(limits);
    let mut out = Vec::new();
    // Step::Done: once per event pushed, never before a sequence the event is part of.
    let mut pushed: HashMap<u64, usize> = HashMap::new();
    let mut done: HashMap<u64, usize> = HashMap::new();
    let mut step = |s: Step<u64>| match s {
        Step::Match(m) => {
            for e in m.events {
                assert!(!done.contains_key(&e.mark), "{} was reported done before {m:?}", e.mark);
            }
            out.push(m);
        }
        Step::Done(mark) => *done.entry(mark).or_default() += 1,
    };
    for (mark, record) in records {
        let Ok(document) = decoder.decode(&paths, record.as_bytes()) else { continue };
        let mark = if evtx { document.record_id().unwrap_or(*mark) } else { *mark };
        if let Some(event) = reader.read(&document) {
            *pushed.entry(mark).or_default() += 1;
            sequences.push_steps(&event, mark, &mut step);
        }
    }
    sequences.finish_steps(&mut step);
    assert_eq!(done, pushed, "every event pushed is reported done exactly once");
    (out, sequences.stats())
}

#[cfg(feature = "evtx")]
mod recordings {
    use super::*;
    use crate::recorded::{files, records, shared};
    use std::collections::BTreeSet;
    use std::path::Path;

    /// (file, rule, anchor) of every sequence on every file of `dir`.
    fn found(dir: &Path, time: TimeSource) -> BTreeSet<(String, ElasticRule, u64)> {
        let mut out = BTreeSet::new();
        for file in files(dir) {
            let name = file.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            let evtx = file.extension().is_some_and(|e| e == "evtx");
            let (matches, stats) = sequence(&records(&file), evtx, RawHost::Computer, time, ElasticLimits::default());
            for m in matches {
                eprintln!(
                    "{name}: {} anchor {} partner {} span {} ms",
                    m.rule.short_name(),
                    m.anchor().mark,
                    m.partner().mark,
                    m.span_ms()
                );
                out.insert((name.clone(), m.rule, m.anchor().mark));
            }
            assert_eq!((stats.evicted_pending, stats.keys_truncated), (0, 0), "{name}: {stats:?}");
        }
        out
    }

    const SHELLWINDOWS_2434: (&str, ElasticRule, u64) =
        ("otrf_dcom/empire_dcom_shellwindows_stager.filtered.ndjson", ElasticRule::ShellWindows, 2434);
    const LETHALHTA_17589: (&str, ElasticRule, u64) =
        ("evtx/dcom/LM_DCOM_MSHTA_LethalHTA_Sysmon_3_1.evtx", ElasticRule::Hta, 17589);

    fn owned(set: &[(&str, ElasticRule, u64)]) -> BTreeSet<(String, ElasticRule, u64)> {
        set.iter().map(|(f, r, p)| ((*f).to_owned(), *r, *p)).collect()
    }

    #[test]
    fn on_realdata_only_shellwindows_fires_on_line_2434_with_sysmon_utc_time() {
        let Some(dir) = shared("realdata") else {
            eprintln!("skipped: ../shared/realdata is absent");
            return;
        };
        // CORRELATION.md's expectation, measured with Sysmon's UtcTime as the event time.
        assert_eq!(found(&dir, TimeSource::SysmonUtcTime), owned(&[SHELLWINDOWS_2434]));
    }

    #[test]
    fn on_realdata_with_winlogbeat_time_hta_also_fires_on_lethalhta() {
        let Some(dir) = shared("realdata") else {
            eprintln!("skipped: ../shared/realdata is absent");
            return;
        };
        // With EVTX's TimeCreated (Winlogbeat's @timestamp) the LethalHTA Sysmon 3 event is
        // logged 1.228 s after mshta starts (its UtcTime is 3.975 s before): Elastic's HTA
        // rule, as written, fires there too.
        assert_eq!(found(&dir, TimeSource::View), owned(&[SHELLWINDOWS_2434, LETHALHTA_17589]));
    }

    /// What `scan --profile elastic` does: every file scanned (its own state, as the
    /// recordings are separate), each record observed, a session per file writing alerts.
    /// Returns (file, rule, anchor) per alert, with the anchor as the alert's source says.
    fn scanned(dir: &Path) -> BTreeSet<(String, ElasticRule, u64)> {
        use dcom_detect_core::alert::AlertOptions;
        use dcom_detect_core::correlate::{Profile, ProfileRule, Session};
        use dcom_detect_core::{scan_path, ScanOptions};

        let rule = Rule::default();
        let options = ScanOptions { profile: Profile::Elastic, ..ScanOptions::default() };
        let mut out = BTreeSet::new();
        for file in files(dir) {
            let name = file.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            let mut session = Session::new(&rule, Profile::Elastic, AlertOptions::default());
            let mut alerts = Vec::new();
            scan_path(&rule, &options, &file, |found| {
                session.feed_found(&found, Some(&name), |a, _, _| alerts.push(a));
                std::ops::ControlFlow::Continue(())
            })
            .unwrap();
            session.finish(|a, _, _| alerts.push(a));
            assert_eq!(session.stats().unwritten, 0);
            for alert in alerts {
                let Some(ProfileRule::Elastic(r)) = alert.correlation() else { panic!("{alert:?}") };
                let v: serde_json::Value = serde_json::from_str(alert.json()).unwrap();
                assert_eq!(v["rule"]["id"], r.id());
                assert_eq!(v["rule"]["name"], r.name());
                assert_eq!(v["dcom_detect"]["correlation"]["rule"], r.short_name());
                let partner = &v["dcom_detect"]["correlation"]["partner"];
                assert_eq!(partner["kind"], "inbound_connection");
                // The incoming connection's ends, as its event names them.
                let end = |name: &str| &partner["network"][name];
                let ip = |name: &str| end(name)["ip"].as_str().and_then(|a| a.parse::<std::net::IpAddr>().ok());
                let (source, destination) = (ip("source").expect("source ip"), ip("destination").expect("dest ip"));
                assert!(!source.is_loopback() && source != destination, "{partner}");
                assert!(end("destination")["port"].as_u64().is_some_and(|p| p > 0), "{partner}");
                let gap = v["dcom_detect"]["correlation"]["gap_seconds"].as_f64().unwrap();
                assert!(gap.abs() * 1000.0 <= r.maxspan_millis() as f64, "{gap}");
                let source = &v["dcom_detect"]["source"];
                let anchor = source["line"].as_u64().or(source["event_record_id"].as_u64()).unwrap();
                assert_eq!(v["event"]["category"][0], "process", "anchored on the process start");
                out.insert((name.clone(), r, anchor));
            }
        }
        out
    }

    #[test]
    fn scanning_with_the_elastic_profile_raises_the_same_sequences_as_alerts() {
        let Some(dir) = shared("realdata") else {
            eprintln!("skipped: ../shared/realdata is absent");
            return;
        };
        assert_eq!(scanned(&dir), owned(&[SHELLWINDOWS_2434]));
    }

    #[test]
    fn on_netdata_exactly_the_labelled_shellwindows_anchors() {
        let Some(dir) = shared("netdata") else {
            eprintln!("skipped: ../shared/netdata is absent");
            return;
        };
        let labels: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("labels.json")).unwrap()).unwrap();
        let mut expected = BTreeSet::new();
        for (file, entry) in labels["files"].as_object().unwrap() {
            let anchors = entry.pointer("/correlation_anchors/elastic_shellwindows").and_then(|a| a.as_array());
            for p in anchors.into_iter().flatten() {
                expected.insert((file.clone(), ElasticRule::ShellWindows, p.as_u64().unwrap()));
            }
        }
        assert_eq!(expected.len(), 1, "dcom/ line 136");
        for time in [TimeSource::View, TimeSource::SysmonUtcTime] {
            let found = found(&dir, time);
            assert_eq!(found, expected, "{time:?}");
            assert!(found.iter().all(|(f, _, _)| !f.starts_with("benign")));
        }
    }

    #[test]
    fn without_a_host_id_raw_events_join_nothing() {
        let Some(dir) = shared("realdata") else {
            eprintln!("skipped: ../shared/realdata is absent");
            return;
        };
        let file = dir.join("otrf_dcom/empire_dcom_shellwindows_stager.filtered.ndjson");
        let (matches, stats) =
            sequence(&records(&file), false, RawHost::Absent, TimeSource::View, ElasticLimits::default());
        assert!(matches.is_empty());
        assert_eq!(stats.events, 0, "host.os.type is absent: no stage is satisfied");
    }
}

// ---- Hand-made streams ----------------------------------------------------------------------

const T0: i64 = 1_600_000_000_000;

/// `@timestamp` of `T0 + ms` (with microseconds, to show they are dropped).
fn stamp(ms: i64, micros: i64) -> String {
    let t = T0 + ms;
    let secs = t.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    assert_eq!(days, 18_518, "the hand-made streams stay on 2020-09-13");
    let s = secs.rem_euclid(86_400);
    format!("2020-09-13T{:02}:{:02}:{:02}.{:03}{:03}Z", s / 3600, s / 60 % 60, s % 60, t.rem_euclid(1000), micros)
}

/// An ECS inbound connection to `name` (`entity`) on `host`.
fn conn(ms: i64, host: &str, name: &str, entity: &str, ports: (u32, u32), src: &str) -> String {
    format!(
        r#"{{"@timestamp":"{}","host":{{"id":"{host}","os":{{"type":"windows"}}}},"event":{{"category":["network"],"type":["start"]}},"network":{{"direction":"incoming","transport":"tcp"}},"process":{{"name":"{name}","entity_id":"{entity}"}},"source":{{"ip":"{src}","port":{}}},"destination":{{"ip":"10.0.0.6","port":{}}}}}"#,
        stamp(ms, 0),
        ports.0,
        ports.1
    )
}

/// An ECS process start of `name` whose parent is `parent` (`parent_entity`) on `host`.
fn start(ms: i64, host: &str, parent: &str, parent_entity: &str, name: &str, entity: &str, args: &str) -> String {
    format!(
        r#"{{"@timestamp":"{}","host":{{"id":"{host}","os":{{"type":"windows"}}}},"event":{{"category":["process"],"type":["start"]}},"process":{{"name":"{name}","entity_id":"{entity}","args":{args},"parent":{{"name":"{parent}","entity_id":"{parent_entity}"}}}}}}"#,
        stamp(ms, 0)
    )
}

fn explorer_conn(ms: i64) -> String {
    conn(ms, "h1", "explorer.exe", "E", (50_000, 49_913), "10.0.0.5")
}

fn explorer_child(ms: i64) -> String {
    start(ms, "h1", "explorer.exe", "E", "cmd.exe", "C", r#"["cmd.exe"]"#)
}

/// (rule, anchor index, partner index) of each sequence of `records` (marks are indexes).
fn run_with(
    records: &[String],
    raw_host: RawHost,
    limits: ElasticLimits,
) -> (Vec<(ElasticRule, u64, u64)>, ElasticStats) {
    let numbered: Vec<_> = records.iter().cloned().enumerate().map(|(i, r)| (i as u64, r)).collect();
    let (matches, stats) = sequence(&numbered, false, raw_host, TimeSource::View, limits);
    (matches.iter().map(|m| (m.rule, m.anchor().mark, m.partner().mark)).collect(), stats)
}

fn run(records: &[String]) -> Vec<(ElasticRule, u64, u64)> {
    run_with(records, RawHost::Computer, ElasticLimits::default()).0
}

use ElasticRule::{Hta, Mmc20, ShellWindows};

#[test]
fn shellwindows_anchors_on_the_child_within_five_seconds_inclusive() {
    assert_eq!(run(&[explorer_conn(0), explorer_child(0)]), [(ShellWindows, 1, 0)]);
    assert_eq!(run(&[explorer_conn(0), explorer_child(5_000)]), [(ShellWindows, 1, 0)]);
    let (found, stats) =
        run_with(&[explorer_conn(0), explorer_child(5_001)], RawHost::Computer, ElasticLimits::default());
    assert!(found.is_empty());
    assert_eq!(stats.rejected_maxspan, 1);
}

#[test]
fn maxspan_is_measured_in_whole_milliseconds() {
    // `@timestamp` is a `date`: 5000.999 ms after the connection is 5000 ms.
    let child = explorer_child(5_000).replace(&stamp(5_000, 0), &stamp(5_000, 999));
    assert_eq!(run(&[explorer_conn(0), child]), [(ShellWindows, 1, 0)]);
}

#[test]
fn the_stages_must_come_in_order() {
    // The child before the connection: the sequence is connection then child.
    assert!(run(&[explorer_child(0), explorer_conn(1)]).is_empty());
    // Input order does not matter, time order does (within the lateness).
    assert_eq!(run(&[explorer_child(1_000), explorer_conn(0)]), [(ShellWindows, 0, 1)]);
    // At the same millisecond, the input position breaks the tie.
    assert_eq!(run(&[explorer_conn(7), explorer_child(7)]), [(ShellWindows, 1, 0)]);
    assert!(run(&[explorer_child(7), explorer_conn(7)]).is_empty());
}

#[test]
fn a_newer_stage_0_event_of_the_same_key_replaces_the_pending_one() {
    // The child takes the latest connection before it (span 3 s, not 6 s).
    let (found, stats) = run_with(
        &[explorer_conn(0), explorer_conn(3_000), explorer_child(6_000)],
        RawHost::Computer,
        ElasticLimits::default(),
    );
    assert_eq!(found, [(ShellWindows, 2, 1)]);
    assert_eq!(stats.replaced, 1);
    // A completed sequence consumes its connection: a second child finds nothing.
    assert_eq!(run(&[explorer_conn(0), explorer_child(1_000), explorer_child(2_000)]), [(ShellWindows, 1, 0)]);
    // A child that fails the maxspan consumes the connection too: a later one finds nothing.
    assert!(run(&[explorer_conn(0), explorer_child(6_000), explorer_child(6_500)]).is_empty());
    // A new connection after a completed sequence starts another.
    assert_eq!(
        run(&[explorer_conn(0), explorer_child(1), explorer_conn(2), explorer_child(3)]),
        [(ShellWindows, 1, 0), (ShellWindows, 3, 2)]
    );
}

#[test]
fn different_keys_do_not_join() {
    let other_host = conn(0, "h2", "explorer.exe", "E", (50_000, 49_913), "10.0.0.5");
    assert!(run(&[other_host, explorer_child(1)]).is_empty());
    let other_process = conn(0, "h1", "explorer.exe", "E2", (50_000, 49_913), "10.0.0.5");
    assert!(run(&[other_process, explorer_child(1)]).is_empty());
    // Keywords join case-sensitively.
    let other_case = conn(0, "H1", "explorer.exe", "E", (50_000, 49_913), "10.0.0.5");
    assert!(run(&[other_case, explorer_child(1)]).is_empty());
    // Pending events of other keys stay pending.
    assert_eq!(run(&[explorer_conn(0), other_process_conn(1), explorer_child(2)]), [(ShellWindows, 2, 0)]);
}

fn other_process_conn(ms: i64) -> String {
    conn(ms, "h1", "explorer.exe", "E2", (50_000, 49_913), "10.0.0.5")
}

#[test]
fn events_without_a_join_key_join_nothing() {
    let no_host = explorer_conn(0).replace(r#""id":"h1","#, "");
    let (found, stats) = run_with(&[no_host, explorer_child(1)], RawHost::Computer, ElasticLimits::default());
    assert!(found.is_empty());
    assert_eq!(stats.keyless, 1);
    let no_entity = explorer_conn(0).replace(r#","entity_id":"E""#, "");
    assert!(run(&[no_entity, explorer_child(1)]).is_empty());
    // An ECS document without host.id does not fall back to host.name.
    let named = explorer_conn(0).replace(r#""id":"h1","#, r#""name":"h1","#);
    let child = explorer_child(1).replace(r#""id":"h1","#, r#""name":"h1","#);
    assert!(run(&[named, child]).is_empty());
}

#[test]
fn each_comparison_follows_eql() {
    let ok = |c: String| !run(&[c, explorer_child(1)]).is_empty();
    assert!(ok(explorer_conn(0)));
    // `:` ignores ASCII case; `==` does not.
    assert!(ok(explorer_conn(0).replace("explorer.exe", "EXPLORER.EXE")));
    assert!(ok(explorer_conn(0).replace("incoming", "Ingress")));
    assert!(!ok(explorer_conn(0).replace(r#""transport":"tcp""#, r#""transport":"TCP""#)));
    assert!(!ok(explorer_conn(0).replace(r#""type":"windows""#, r#""type":"Windows""#)));
    assert!(!ok(explorer_conn(0).replace(r#""os":{"type":"windows"}"#, r#""os":{"family":"windows"}"#)));
    assert!(!ok(explorer_conn(0).replace("incoming", "outgoing")));
    // Ports: > 49151 on both ends.
    assert!(ok(conn(0, "h1", "explorer.exe", "E", (49_152, 49_152), "10.0.0.5")));
    assert!(!ok(conn(0, "h1", "explorer.exe", "E", (49_151, 49_913), "10.0.0.5")));
    assert!(!ok(conn(0, "h1", "explorer.exe", "E", (50_000, 49_151), "10.0.0.5")));
    // `!=` on an ip field: addresses, not texts; no value may equal.
    for loopback in ["127.0.0.1", "::1", "::ffff:127.0.0.1", "0:0:0:0:0:0:0:1"] {
        assert!(!ok(conn(0, "h1", "explorer.exe", "E", (50_000, 49_913), loopback)), "{loopback}");
    }
    assert!(ok(conn(0, "h1", "explorer.exe", "E", (50_000, 49_913), "127.0.0.2")));
    let multi = explorer_conn(0).replace(r#""ip":"10.0.0.5""#, r#""ip":["10.0.0.5","127.0.0.1"]"#);
    assert!(!ok(multi));
    // Multi-valued fields: any value.
    assert!(ok(explorer_conn(0).replace(r#""type":["start"]"#, r#""type":["connection","start"]"#)));
    assert!(!ok(explorer_conn(0).replace(r#""type":["start"]"#, r#""type":["connection"]"#)));
    // `network where`: the category is compared exactly.
    assert!(!ok(explorer_conn(0).replace(r#"["network"]"#, r#"["Network"]"#)));
}

#[test]
fn mmc20_needs_ports_of_at_least_49152_and_a_minute() {
    let c = |ports| conn(0, "h1", "mmc.exe", "M", ports, "10.0.0.5");
    let kid = |ms| start(ms, "h1", "mmc.exe", "M", "cmd.exe", "C", r#"["cmd.exe","/Q","/c"]"#);
    assert_eq!(run(&[c((49_152, 49_163)), kid(60_000)]), [(Mmc20, 1, 0)]);
    assert!(run(&[c((49_152, 49_163)), kid(60_001)]).is_empty());
    // impacket from Linux: client port 33474.
    assert!(run(&[c((33_474, 49_163)), kid(1)]).is_empty());
    assert!(run(&[c((49_151, 49_163)), kid(1)]).is_empty());
}

#[test]
fn hta_is_the_start_then_the_connection_anchored_on_the_start() {
    let mshta = |ms, args: &str| start(ms, "h1", "svchost.exe", "S", "mshta.exe", "H", args);
    let c = |ms| conn(ms, "h1", "mshta.exe", "H", (50_000, 49_700), "10.0.0.5");
    let embedding = r#"["C:\\Windows\\System32\\mshta.exe","-Embedding"]"#;
    assert_eq!(run(&[mshta(0, embedding), c(60_000)]), [(Hta, 0, 1)]);
    assert!(run(&[mshta(0, embedding), c(60_001)]).is_empty());
    // LethalHTA as recorded: the connection logged before mshta starts.
    assert!(run(&[c(0), mshta(3_975, embedding)]).is_empty());
    assert_eq!(run(&[mshta(0, r#"["mshta.exe","-EMBEDDING"]"#), c(1)]), [(Hta, 0, 1)]);
    assert!(run(&[mshta(0, r#"["mshta.exe"]"#), c(1)]).is_empty());
}

#[test]
fn raw_windows_events_map_as_winlogbeat_would() {
    // Sysmon 3 `Initiated: false` is `ingress`; the Computer stands in for host.id.
    let sysmon3 = |computer: &str| {
        format!(
            r#"{{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":3,"Hostname":"{computer}","UtcTime":"2020-09-18 17:08:35.806","ProcessGuid":"{{d273d0f0-e905-5f64-1701-000000000800}}","Image":"C:\\Windows\\explorer.exe","Initiated":"false","Protocol":"tcp","SourceIp":"172.18.39.5","SourcePort":"58406","DestinationIp":"172.18.39.6","DestinationPort":"49913"}}"#
        )
    };
    let sysmon1 = r#"{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Hostname":"WS6","UtcTime":"2020-09-18 17:08:36.030","ProcessGuid":"{d273d0f0-e994-5f64-4b01-000000000800}","Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd.exe /c x","ParentImage":"C:\\Windows\\explorer.exe","ParentProcessGuid":"{d273d0f0-e905-5f64-1701-000000000800}"}"#;
    assert_eq!(run(&[sysmon3("WS6"), sysmon1.to_owned()]), [(ShellWindows, 1, 0)]);
    assert!(run(&[sysmon3("WS7"), sysmon1.to_owned()]).is_empty(), "another computer");
    let (found, _) = run_with(&[sysmon3("WS6"), sysmon1.to_owned()], RawHost::Absent, ElasticLimits::default());
    assert!(found.is_empty(), "without host.id and host.os.type");
}

#[test]
fn lateness_and_bounds_are_counted() {
    // Beyond the lateness: the connection comes 70 s late in the input.
    let (found, stats) = run_with(
        &[explorer_child(1_000), explorer_conn(71_000), explorer_conn(0)],
        RawHost::Computer,
        ElasticLimits::default(),
    );
    assert!(found.is_empty());
    assert_eq!(stats.late, 1);
    // A late stage-0 event does not replace a newer pending one of its key.
    let (found, stats) = run_with(
        &[explorer_conn(10_000), explorer_conn(75_000), explorer_conn(9_000), explorer_child(12_000)],
        RawHost::Computer,
        ElasticLimits::default(),
    );
    assert_eq!(found, [(ShellWindows, 3, 0)]);
    assert_eq!((stats.late, stats.replaced), (1, 1));
    // A full reorder buffer releases its oldest early.
    let limits = ElasticLimits { buffer: 1, ..ElasticLimits::default() };
    let (found, stats) = run_with(&[explorer_conn(0), explorer_child(1), explorer_child(2)], RawHost::Computer, limits);
    assert_eq!(found, [(ShellWindows, 1, 0)]);
    assert_eq!(stats.released_early, 2);
    // A full pending map drops what has expired first, then evicts the oldest (counted).
    let limits = ElasticLimits { pending: 1, ..ElasticLimits::default() };
    let (found, stats) =
        run_with(&[explorer_conn(0), other_process_conn(1), explorer_child(2)], RawHost::Computer, limits);
    assert!(found.is_empty());
    assert_eq!((stats.evicted_pending, stats.expired), (1, 0));
    let (found, stats) =
        run_with(&[explorer_conn(0), other_process_conn(9_000), explorer_child(9_001)], RawHost::Computer, limits);
    assert!(found.is_empty());
    assert_eq!((stats.evicted_pending, stats.expired), (0, 1));
}

#[test]
fn a_multi_valued_key_joins_under_each_value() {
    // Elasticsearch (#89965): each value of a multi-valued join key is its own key.
    let c = explorer_conn(0).replace(r#""entity_id":"E""#, r#""entity_id":["E0","E"]"#);
    assert_eq!(run(&[c, explorer_child(1)]), [(ShellWindows, 1, 0)]);
}

#[test]
fn the_rules_are_verbatim() {
    for rule in ElasticRule::ALL {
        let q = rule.query();
        assert!(q.starts_with("sequence "), "{q}");
        assert!(q.contains("host.os.type == \"windows\""));
        assert_eq!(rule.id().len(), 36);
    }
    assert!(ElasticRule::ShellWindows.query().contains("maxspan=5s"));
    assert!(ElasticRule::Mmc20.query().contains("source.port >= 49152"));
    assert!(ElasticRule::Hta.query().contains("by host.id, process.entity_id"));
}

/// Elasticsearch's matcher as written (`SequenceMatcher.match` with `OrdinalGroup`): every
/// stage-0 event stays in its key's group until a stage-1 event takes the latest earlier one
/// and drops it with every older one; no bound, no buffer. The engine keeps one pending event
/// per key and streams through a reorder buffer: both must agree.
#[test]
fn the_streaming_engine_agrees_with_elasticsearchs_matcher_on_generated_streams() {
    use std::collections::HashMap;

    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let rules = [ShellWindows, Mmc20, Hta];
    let (mut total, mut exact) = (0, 0);
    for _ in 0..400 {
        // (time, kind, host, entity): kinds 0..6 are the stages of the three rules (stage 0,
        // then 1, per rule), 6 a decoy connection (low port).
        let len = 2 + next(30) as usize;
        let mut t = 0i64;
        let mut events: Vec<(i64, u64, u64, u64)> = (0..len)
            .map(|_| {
                t += [0, 1, 700, 2_000, 4_000, 5_000, 30_000, 61_000][next(8) as usize];
                (t, next(7), next(2), next(3))
            })
            .collect();
        // Reorder: swap some neighbours.
        for i in 1..events.len() {
            if next(4) == 0 {
                events.swap(i - 1, i);
            }
        }
        // Within the lateness (60 s behind the newest time seen), nothing is late and the
        // engine is exact; beyond it, late events are counted and no sequence runs backwards.
        let mut newest = i64::MIN;
        let within = events.iter().all(|e| {
            newest = newest.max(e.0);
            e.0 >= newest - 60_000
        });
        let records: Vec<String> = events
            .iter()
            .map(|&(t, kind, host, entity)| {
                let (h, e) = (format!("h{host}"), format!("E{entity}"));
                match kind {
                    0 => conn(t, &h, "explorer.exe", &e, (50_000, 49_913), "10.0.0.5"),
                    1 => start(t, &h, "explorer.exe", &e, "cmd.exe", "C", r#"["cmd.exe"]"#),
                    2 => conn(t, &h, "mmc.exe", &e, (50_000, 49_913), "10.0.0.5"),
                    3 => start(t, &h, "mmc.exe", &e, "cmd.exe", "C", r#"["cmd.exe"]"#),
                    4 => start(t, &h, "svchost.exe", "S", "mshta.exe", &e, r#"["mshta.exe","-Embedding"]"#),
                    5 => conn(t, &h, "mshta.exe", &e, (50_000, 49_913), "10.0.0.5"),
                    _ => conn(t, &h, "explorer.exe", &e, (50_000, 135), "10.0.0.5"),
                }
            })
            .collect();
        let numbered: Vec<_> = records.iter().cloned().enumerate().map(|(i, r)| (i as u64, r)).collect();
        let (matches, stats) =
            sequence(&numbered, false, RawHost::Computer, TimeSource::View, ElasticLimits::default());
        assert!(matches.iter().all(|m| m.events[0].time_ms <= m.events[1].time_ms), "{matches:?}");
        // Within the lateness nothing is late; with no late event the result is exact.
        assert!(!within || stats.late == 0, "{events:?}");
        if stats.late > 0 {
            continue;
        }
        let mut found: Vec<_> = matches.iter().map(|m| (m.rule, m.anchor().mark, m.partner().mark)).collect();
        found.sort();
        // The reference, over time-sorted events (ties: input order).
        let mut order: Vec<usize> = (0..events.len()).collect();
        order.sort_by_key(|&i| (events[i].0, i));
        let mut expected = Vec::new();
        for (r, rule) in rules.iter().enumerate() {
            let mut groups: HashMap<(u64, u64), Vec<(i64, usize)>> = HashMap::new();
            for &i in &order {
                let (time, kind, host, entity) = events[i];
                if kind == 2 * r as u64 + 1 {
                    let group = groups.entry((host, entity)).or_default();
                    // trimBefore: the latest element strictly before (all are, in time order).
                    if let Some(&(first_time, first)) = group.last() {
                        group.clear();
                        if time - first_time <= rule.maxspan_millis() {
                            let (anchor, partner) = if rule.anchor_stage() == 1 { (i, first) } else { (first, i) };
                            expected.push((*rule, anchor as u64, partner as u64));
                        }
                    }
                }
                if kind == 2 * r as u64 {
                    groups.entry((host, entity)).or_default().push((time, i));
                }
            }
        }
        expected.sort();
        assert_eq!(found, expected, "{events:?}");
        total += found.len();
        exact += 1;
    }
    assert!(total > 100 && exact > 200, "{exact} streams within the lateness completed {total} sequences");
}
