//! The `extended` profile's correlation rules on real recordings: the anchors
//! `labels.json` lists under `correlation_anchors` (D2, D2L, D3), and nothing else, on every
//! file of `../shared/realdata` and `../shared/netdata`. Skipped, with a message, only when
//! those folders are absent. Also: hand-made streams for each join, order and guard.

#![cfg(feature = "evtx")]

mod recorded;

use std::collections::BTreeSet;
use std::path::Path;

use recorded::{files, records, shared};

use dcom_detect_core::correlate::{observe, Correlation, CorrelationRule, Correlator, Event, Limits};
use dcom_detect_core::view::ecs::Paths;
use dcom_detect_core::{Decoder, Rule};

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
    correlator.finish(|c| out.push(c));
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

// ---- Hand-made and generated streams of observations --------------------------------------

use std::net::{IpAddr, Ipv4Addr};

use dcom_detect_core::correlate::{
    Clock, CorrelationStats, EntityKey, Fact, HostKey, Inbound, Logon, Observation, Outbound, Start,
};
use dcom_detect_core::Timestamp;

const S: i64 = 1_000_000_000;
const T0: i64 = 1_600_000_000 * S;
const REMOTE: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5));
const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 6));

fn at(host: u64, nanos: i64, fact: Fact) -> Observation {
    Observation { host: HostKey(host), time: Timestamp::from_unix_nanos(T0 + nanos), clock: Clock::Utc, fact }
}

fn server(entity: Option<u128>, pid: u64, logon: u64) -> Fact {
    Fact::Start(Start {
        entity: entity.map(EntityKey),
        pid: Some(pid),
        parent_entity: None,
        parent_pid: Some(4),
        logon_id: Some(logon),
        com_server: true,
        explorer_child: false,
        utc_and_local: None,
    })
}

fn child(parent_entity: Option<u128>, parent_pid: u64, pid: u64) -> Fact {
    Fact::Start(Start {
        entity: None,
        pid: Some(pid),
        parent_entity: parent_entity.map(EntityKey),
        parent_pid: Some(parent_pid),
        logon_id: None,
        com_server: false,
        explorer_child: true,
        utc_and_local: None,
    })
}

fn plain(pid: u64) -> Fact {
    Fact::Start(Start {
        entity: None,
        pid: Some(pid),
        parent_entity: None,
        parent_pid: None,
        logon_id: None,
        com_server: false,
        explorer_child: false,
        utc_and_local: None,
    })
}

fn inbound(entity: Option<u128>, pid: u64, explorer: bool, remote: IpAddr, local_port: u16) -> Fact {
    Fact::Inbound(Inbound {
        entity: entity.map(EntityKey),
        pid: Some(pid),
        explorer,
        com_server: true,
        ends: [(remote, Some(50_000)), (LOCAL, Some(local_port))],
        local: Some(1),
    })
}

fn logon(id: u64, source: IpAddr) -> Fact {
    Fact::Logon(Logon { logon_id: id, source })
}

/// (rule, anchor mark) of every correlation of `stream` (marks are indexes), and the stats.
fn run(limits: Limits, stream: &[Observation]) -> (BTreeSet<(CorrelationRule, usize)>, CorrelationStats) {
    let mut correlator = Correlator::new(limits);
    let mut out = BTreeSet::new();
    // Every anchor candidate is reported done exactly once, after its correlations.
    let mut done = BTreeSet::new();
    let mut add = |e: Event<usize>| match e {
        Event::Correlation(c) => {
            assert!(!done.contains(&c.anchor), "a correlation after its anchor was done");
            assert!(out.insert((c.rule, c.anchor)), "one correlation per anchor and rule");
        }
        Event::Done(mark) => assert!(done.insert(mark), "done twice: {mark}"),
    };
    for (i, o) in stream.iter().enumerate() {
        correlator.observe_events(o, i, &mut add);
    }
    correlator.finish_events(&mut add);
    let candidates: BTreeSet<usize> = stream
        .iter()
        .enumerate()
        .filter(|(_, o)| matches!(o.fact, Fact::Start(s) if s.com_server || s.explorer_child))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(done, candidates, "each anchor candidate is done once");
    (out, correlator.stats())
}

fn fired(stream: &[Observation]) -> BTreeSet<(CorrelationRule, usize)> {
    run(Limits::default(), stream).0
}

#[test]
fn d2_joins_in_either_order_within_sixty_seconds_inclusive() {
    use CorrelationRule::D2;
    let start = at(1, 0, server(Some(7), 100, 0x10));
    for gap in [-60 * S, -1, 0, 1, 60 * S] {
        let conn = at(1, gap, inbound(Some(7), 100, false, REMOTE, 49_700));
        let stream = if gap < 0 { [conn, start] } else { [start, conn] };
        let anchor = usize::from(gap < 0);
        assert_eq!(fired(&stream), BTreeSet::from([(D2, anchor)]), "gap {gap}");
    }
    for gap in [-60 * S - 1, 60 * S + 1] {
        let conn = at(1, gap, inbound(Some(7), 100, false, REMOTE, 49_700));
        let stream = if gap < 0 { [conn, start] } else { [start, conn] };
        assert!(fired(&stream).is_empty(), "gap {gap}");
    }
    // Another process, another host, a loopback peer: nothing.
    for decoy in [
        at(1, S, inbound(Some(8), 100, false, REMOTE, 49_700)),
        at(2, S, inbound(Some(7), 100, false, REMOTE, 49_700)),
        at(1, S, inbound(Some(7), 100, false, IpAddr::V4(Ipv4Addr::LOCALHOST), 49_700)),
    ] {
        assert!(fired(&[start, decoy]).is_empty(), "{decoy:?}");
    }
}

#[test]
fn without_entity_ids_pids_join_with_a_reuse_guard() {
    use CorrelationRule::D2;
    let start = at(1, 0, server(None, 0x52c, 0x10));
    let conn = |t| at(1, t, inbound(None, 0x52c, false, REMOTE, 49_603));
    assert_eq!(fired(&[start, conn(7 * S)]), BTreeSet::from([(D2, 0)]));
    // The connection may precede the start by 2 s (one-second clocks), not more.
    assert_eq!(fired(&[conn(-2 * S), start]), BTreeSet::from([(D2, 1)]));
    assert!(fired(&[conn(-3 * S), start]).is_empty());
    // The pid was reused by a later process before the connection: not this start's.
    assert!(fired(&[start, at(1, 3 * S, plain(0x52c)), conn(7 * S)]).is_empty());
    // A start of the pid within 2 s is the same process from another log (Sysmon 1 beside a
    // 4688 stamped to the second): no reuse.
    assert_eq!(fired(&[start, at(1, S, plain(0x52c)), conn(7 * S)]), BTreeSet::from([(D2, 0)]));
}

#[test]
fn d2l_takes_a_network_logon_up_to_sixty_seconds_before_or_two_after() {
    use CorrelationRule::D2L;
    let start = at(1, 0, server(Some(1), 5, 0x153ec2b));
    for (gap, fires) in [(-60 * S, true), (-60 * S - 1, false), (2 * S, true), (2 * S + 1, false)] {
        let l = at(1, gap, logon(0x153ec2b, REMOTE));
        let stream = if gap < 0 { [l, start] } else { [start, l] };
        let expected = if fires { BTreeSet::from([(D2L, usize::from(gap < 0))]) } else { BTreeSet::new() };
        assert_eq!(fired(&stream), expected, "gap {gap}");
    }
    assert!(fired(&[at(1, -S, logon(0x999, REMOTE)), start]).is_empty(), "another session");
}

#[test]
fn d3_needs_explorer_a_high_local_port_and_ten_seconds() {
    use CorrelationRule::D3;
    let kid = at(1, 0, child(Some(9), 8200, 6108));
    let conn = |t, port| at(1, t, inbound(Some(9), 8200, true, REMOTE, port));
    assert_eq!(fired(&[conn(-10 * S, 49_913), kid]), BTreeSet::from([(D3, 1)]));
    assert_eq!(fired(&[kid, conn(10 * S, 49_152)]), BTreeSet::from([(D3, 0)]));
    assert!(fired(&[kid, conn(10 * S + 1, 49_913)]).is_empty(), "outside the window");
    assert!(fired(&[kid, conn(S, 49_151)]).is_empty(), "a low local port is no ShellWindows listener");
    let not_explorer = at(1, S, inbound(Some(9), 8200, false, REMOTE, 49_913));
    assert!(fired(&[kid, not_explorer]).is_empty());
    // 4688 children join the explorer's 5156 by pid.
    let kid = at(1, 0, child(None, 0x2008, 6108));
    assert_eq!(fired(&[at(1, -S, inbound(None, 0x2008, true, REMOTE, 49_913)), kid]), BTreeSet::from([(D3, 1)]));
}

#[test]
fn bounded_state_counts_what_it_drops() {
    let limits = Limits { pending: 2, ..Limits::default() };
    let stream = [
        at(1, 0, server(Some(1), 1, 1)),
        at(1, S, server(Some(2), 2, 2)),
        at(1, 2 * S, server(Some(3), 3, 3)),
        at(1, 3 * S, inbound(Some(1), 1, false, REMOTE, 49_700)),
    ];
    let (found, stats) = run(limits, &stream);
    assert!(found.is_empty(), "the first anchor was pushed out");
    assert_eq!(stats.evicted_pending, 1);
    let limits = Limits { hosts: 1, ..Limits::default() };
    let stream =
        [at(1, 0, server(Some(1), 1, 1)), at(2, S, plain(5)), at(1, 2 * S, inbound(Some(1), 1, false, REMOTE, 49_700))];
    let (found, stats) = run(limits, &stream);
    assert!(found.is_empty());
    assert_eq!((stats.evicted_hosts, stats.evicted_pending), (2, 2), "each host held one observation");
    // Late: older than what was already evaluated (beyond the lateness): counted.
    let stream = [
        at(1, 0, server(Some(1), 1, 1)),
        at(1, 200 * S, plain(2)),
        at(1, 300 * S, plain(3)),
        at(1, 30 * S, inbound(Some(1), 1, false, REMOTE, 49_700)),
    ];
    let (found, stats) = run(Limits::default(), &stream);
    assert_eq!((found.len(), stats.late), (0, 1), "the anchor expired: the late partner is counted");
    // Within the lateness, order does not matter: the same partner 30 s late in the input.
    let stream = [
        at(1, 0, server(Some(1), 1, 1)),
        at(1, 80 * S, plain(2)),
        at(1, 30 * S, inbound(Some(1), 1, false, REMOTE, 49_700)),
    ];
    let (found, stats) = run(Limits::default(), &stream);
    assert_eq!((found.len(), stats.late), (1, 0));
    // A jump back by more than an hour (concatenated recordings) starts the host afresh:
    // the older recording still correlates, and nothing is late.
    let day = 86_400 * S;
    let stream = [
        at(1, day, server(Some(1), 1, 1)),
        at(1, day + S, inbound(Some(1), 1, false, REMOTE, 49_700)),
        at(1, 0, server(Some(2), 2, 2)),
        at(1, S, inbound(Some(2), 2, false, REMOTE, 49_700)),
    ];
    let (found, stats) = run(Limits::default(), &stream);
    assert_eq!(found, BTreeSet::from([(CorrelationRule::D2, 0), (CorrelationRule::D2, 2)]));
    assert_eq!((stats.rewinds, stats.late), (1, 0));
    // A full reorder buffer releases early, and says so.
    let limits = Limits { pending: 1, ..Limits::default() };
    let stream: Vec<_> = (0..6).map(|i| at(1, i * S, plain(i as u64))).collect();
    assert_eq!(run(limits, &stream).1.released_early, 2);
}

#[test]
fn outbound_connections_teach_which_end_of_a_sysmon_3_connection_is_local() {
    // Sysmon 2019 wrote an inbound connection with the local listener as its source.
    let start = at(1, 0, server(Some(7), 100, 1));
    let sysmon3 = |local: Option<usize>| {
        at(
            1,
            S,
            Fact::Inbound(Inbound {
                entity: Some(EntityKey(9)),
                pid: Some(100),
                explorer: true,
                com_server: true,
                ends: [(LOCAL, Some(49_163)), (REMOTE, Some(33_474))],
                local,
            }),
        )
    };
    let kid = at(1, 2 * S, child(Some(9), 100, 5));
    // Without knowledge the destination is taken as local (port 33474 < 49152: no D3) ...
    let (found, stats) = run(Limits::default(), &[start, sysmon3(None), kid]);
    assert!(found.is_empty());
    assert_eq!(stats.side_guessed, 1);
    // ... after an outbound connection from LOCAL, the source is known to be local.
    let out = at(1, 0, Fact::Outbound(Outbound { local: LOCAL }));
    let (found, stats) = run(Limits::default(), &[out, sysmon3(None), kid]);
    assert_eq!((found, stats.side_guessed), (BTreeSet::from([(CorrelationRule::D3, 2)]), 0));
}

/// A naive evaluator: every pair of observations of a host, whole stream at once, sorted by
/// nothing; the rules' conditions written out again from docs/correlation.md.
fn oracle(stream: &[Observation]) -> BTreeSet<(CorrelationRule, usize)> {
    let mut out = BTreeSet::new();
    let t = |o: &Observation| o.time.unix_nanos();
    for (a, anchor) in stream.iter().enumerate() {
        let Fact::Start(s) = anchor.fact else { continue };
        for (p, partner) in stream.iter().enumerate() {
            if partner.host != anchor.host {
                continue;
            }
            let gap = t(partner) - t(anchor);
            match partner.fact {
                Fact::Inbound(i) if i.ends[0].0 != IpAddr::V4(Ipv4Addr::LOCALHOST) => {
                    let reused = |pid: u64| {
                        stream.iter().any(|o| {
                            o.host == anchor.host
                                && matches!(o.fact, Fact::Start(x) if x.pid == Some(pid))
                                && t(o) > t(anchor) + 2 * S
                                && t(o) <= t(partner)
                        })
                    };
                    let d2 = s.com_server
                        && i.com_server
                        && gap.abs() <= 60 * S
                        && match (s.entity, i.entity) {
                            (Some(x), Some(y)) => x == y,
                            _ => s.pid == i.pid && gap >= -2 * S && !reused(s.pid.unwrap()),
                        };
                    let d3 = s.explorer_child
                        && i.explorer
                        && i.ends[1].1.unwrap() >= 49_152
                        && gap.abs() <= 10 * S
                        && match (s.parent_entity, i.entity) {
                            (Some(x), Some(y)) => x == y,
                            _ => s.parent_pid == i.pid,
                        };
                    if d2 {
                        out.insert((CorrelationRule::D2, a));
                    }
                    if d3 {
                        out.insert((CorrelationRule::D3, a));
                    }
                }
                Fact::Logon(l)
                    if s.com_server && s.logon_id == Some(l.logon_id) && (-60 * S..=2 * S).contains(&gap) =>
                {
                    out.insert((CorrelationRule::D2L, a));
                }
                _ => {}
            }
            let _ = p;
        }
    }
    out
}

/// xorshift64*: a small deterministic generator for the streams.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Streams with interleaved hosts, few entity ids and pids (collisions, reuse), decoys
/// (loopback peers, low ports, non-explorer owners), times around the window edges and
/// reordering within the allowed lateness.
fn generated(seed: u64) -> Vec<Observation> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut clock = 0i64;
    let mut out = Vec::new();
    for _ in 0..rng.below(60) + 5 {
        clock += [0, S, 2 * S, 9 * S, 10 * S, 11 * S, 59 * S, 61 * S][rng.below(8) as usize] / 3;
        let jitter = rng.below(20 * S as u64) as i64 - 10 * S;
        let host = rng.below(3);
        let entity = (rng.below(3) > 0).then(|| u128::from(rng.below(4)));
        let pid = rng.below(4);
        let remote = if rng.below(6) == 0 { IpAddr::V4(Ipv4Addr::LOCALHOST) } else { REMOTE };
        let port = [135, 49_151, 49_152, 50_000][rng.below(4) as usize];
        let fact = match rng.below(6) {
            0 => server(entity, pid, rng.below(3)),
            1 => child(entity, pid, rng.below(4)),
            2 => plain(pid),
            3 | 4 => {
                let mut f = inbound(entity, pid, rng.below(2) == 0, remote, port);
                if let Fact::Inbound(i) = &mut f {
                    i.com_server = rng.below(3) > 0;
                }
                f
            }
            _ => logon(rng.below(3), remote),
        };
        // Logons from loopback are not observations (observe() drops them).
        if matches!(fact, Fact::Logon(l) if l.source.is_loopback()) {
            continue;
        }
        out.push(at(host, clock + jitter, fact));
    }
    out
}

#[test]
fn the_streaming_engine_agrees_with_the_naive_evaluator_on_generated_streams() {
    let mut total = 0;
    for seed in 0..3000 {
        let stream = generated(seed);
        let (streamed, stats) = run(Limits::default(), &stream);
        assert_eq!(
            stats.late + stats.evicted_pending + stats.evicted_hosts + stats.released_early,
            0,
            "seed {seed}: {stats:?}"
        );
        let naive = oracle(&stream);
        assert_eq!(streamed, naive, "seed {seed}: {stream:#?}");
        total += naive.len();
    }
    assert!(total > 500, "the generator must exercise the rules: {total} correlations");
}

// ---- Shipped fixtures: correlations and their alerts ---------------------------------------

use dcom_detect_core::alert::{AlertOptions, AlertWriter, Origin};
use dcom_detect_core::correlate::{Profile, ProfileRule};
use dcom_detect_core::Position;

fn fixture(name: &str) -> Vec<(u64, String)> {
    records(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/correlation").join(name))
}

#[test]
fn the_fixtures_raise_their_anchors_with_alerts_that_name_the_partner() {
    let excel = fixture("otrf_excel4macro.ndjson");
    let found: BTreeSet<_> = correlate(&excel, false).iter().map(|c| (c.rule, c.anchor, c.partner)).collect();
    use CorrelationRule::*;
    // Lines: 1 = 4624, 2 = 4688 EXCEL, 3 = Sysmon 1 EXCEL, 4 = 5156, 5 = Sysmon 3.
    // Each anchor names its first partner: the Sysmon 1 start (line 3) joins the 5156 by pid
    // (the 5156 carries no GUID), before the Sysmon 3 of the same connection.
    assert_eq!(found, BTreeSet::from([(D2, 2, 4), (D2, 3, 4), (D2L, 2, 1), (D2L, 3, 1)]));
    let shell = fixture("otrf_shellwindows.ndjson");
    let found: BTreeSet<_> = correlate(&shell, false).iter().map(|c| (c.rule, c.anchor)).collect();
    assert_eq!(found, BTreeSet::from([(D3, 3), (D3, 4)]));

    let rule = Rule::default();
    let mut writer = AlertWriter::new(&rule, AlertOptions::default());
    for c in correlate(&excel, false) {
        let origin =
            |line: u64| Origin { file: Some("excel.ndjson"), position: Some(Position::Line { line, offset: 0 }) };
        let anchor = &excel[c.anchor as usize - 1].1;
        let alert = writer.correlation(&c, anchor.as_bytes(), &origin(c.anchor), &origin(c.partner)).unwrap();
        assert_eq!(alert.correlation(), Some(ProfileRule::Extended(c.rule)));
        assert_eq!(alert.host(), Some("WORKSTATION6.theshire.local"));
        let v: serde_json::Value = serde_json::from_str(alert.json()).unwrap();
        assert_eq!(v["rule"]["id"], c.rule.id());
        assert_eq!(v["event"]["kind"], "alert");
        assert_eq!(v["threat"]["technique"]["subtechnique"]["id"], "T1021.003");
        assert_eq!(v["dcom_detect"]["source"]["line"], c.anchor, "anchored on the process start");
        let found = &v["dcom_detect"]["correlation"];
        assert_eq!(found["rule"], c.rule.name());
        assert_eq!(found["partner"]["source"]["line"], c.partner);
        assert_eq!(found["partner"]["remote"]["ip"], "172.18.39.5");
        let gap = found["gap_seconds"].as_f64().unwrap();
        assert!(gap.abs() < 10.0, "{gap}");
        assert_eq!(v["process"]["name"], "EXCEL.EXE");
        if c.rule == D2L {
            assert_eq!(found["partner"]["logon_id"], "0x153ec2b");
        } else {
            assert_eq!(found["partner"]["local"]["port"], 49603);
        }
    }
}

/// What a scan with the extended profile does: a session fed every decoded record in order.
fn session_alerts(records: &[(u64, String)], file: &str) -> Vec<serde_json::Value> {
    let rule = Rule::default();
    let mut session = dcom_detect_core::correlate::Session::new(&rule, Profile::Extended, AlertOptions::default());
    let mut decoder = Decoder::new();
    let mut alerts = Vec::new();
    for (line, record) in records {
        let Ok(doc) = decoder.decode(session.paths(), record.as_bytes()) else { continue };
        let position = Position::Line { line: *line, offset: 0 };
        session.feed(&doc, record.as_bytes(), Some(file), position, |a, _, _| alerts.push(a));
    }
    session.finish(|a, _, _| alerts.push(a));
    assert_eq!(session.stats().unwritten, 0, "every alert was written");
    alerts.iter().map(|a| serde_json::from_str(a.json()).unwrap()).collect()
}

#[test]
fn a_session_writes_one_alert_per_correlation_from_the_anchor_record() {
    let alerts = session_alerts(&fixture("otrf_excel4macro.ndjson"), "excel.ndjson");
    let mut seen: Vec<(String, u64, u64)> = alerts
        .iter()
        .map(|a| {
            let c = &a["dcom_detect"]["correlation"];
            (
                c["rule"].as_str().unwrap().to_owned(),
                a["dcom_detect"]["source"]["line"].as_u64().unwrap(),
                c["partner"]["source"]["line"].as_u64().unwrap(),
            )
        })
        .collect();
    seen.sort();
    let expected = [("D2", 2, 4), ("D2", 3, 4), ("D2L", 2, 1), ("D2L", 3, 1)].map(|(r, a, p)| (r.to_owned(), a, p));
    assert_eq!(seen, expected);
    for a in &alerts {
        assert_eq!(a["dcom_detect"]["source"]["file"], "excel.ndjson");
        assert_eq!(a["process"]["name"], "EXCEL.EXE");
        assert!(a["@timestamp"].as_str().unwrap().starts_with("2020-09-17T"), "{}", a["@timestamp"]);
    }
}
