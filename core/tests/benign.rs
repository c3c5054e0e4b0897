//! Generated benign traffic raises no correlation (`docs/correlation.md`; issue 14, item 6).
//!
//! Each scenario below is a near miss: one attack shape (D2, D2L or D3) with exactly one
//! deciding condition turned benign (a loopback or other-process connection, a partner just
//! outside the window, a low local port, UDP, an outbound connection, a reused pid, a
//! network logon of another session or from loopback, an interactive logon, a process that is
//! no COM server, no `-Embedding`, a parent other than `svchost.exe`). Many instances of every
//! scenario, interleaved over several hosts and mixed with ordinary traffic (inbound
//! connections to services, network logons, outbound connections, process starts), in four
//! wrappers (Elastic Defend ECS, Winlogbeat Sysmon 1/3, Winlogbeat Security 4688/5156/4624),
//! go through the public API (decoder with the event view, `observe`, `Correlator`) and must
//! raise nothing. The control test turns each scenario's condition back to the attack and
//! expects exactly its rule, so every near miss is one condition away from an alert: removing
//! a check (the loopback test, the window, the port, the pid-reuse guard) fails the benign test.

use std::collections::BTreeSet;

use dcom_detect_core::correlate::{observe, CorrelationRule, CorrelationStats, Correlator, Limits};
use dcom_detect_core::view::ecs::Paths;
use dcom_detect_core::{Decoder, Rule};
use serde_json::{json, Value};

const S: i64 = 1000;
/// 2024-05-01T08:00:00Z in milliseconds.
const T0: i64 = 1_714_550_400_000;
const ATTACKER: &str = "10.20.7.66";

fn stamp(ms: i64) -> String {
    let rel = ms - 1_714_521_600_000;
    let (day, rest) = (rel / 86_400_000, rel % 86_400_000);
    format!(
        "2024-05-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        day + 1,
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000
    )
}

/// Deterministic xorshift.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One host's identity and the unique ids a scenario instance draws from.
struct Ctx<'a> {
    host: &'a str,
    ip: &'a str,
    /// Unique per instance: entity ids, pids and logon ids derive from it.
    n: u64,
    /// The instance's start time (ms).
    t: i64,
}

impl Ctx<'_> {
    fn entity(&self, k: u64) -> String {
        format!("{:016x}{:016x}", self.n, k)
    }
    fn guid(&self, k: u64) -> String {
        format!("{{{:08x}-0000-4000-8000-{:012x}}}", self.n, k)
    }
    fn pid(&self, k: u64) -> u64 {
        4 * (1000 + self.n * 8 + k)
    }
    fn logon(&self, k: u64) -> String {
        format!("0x{:x}", 0x10_0000 + self.n * 8 + k)
    }
}

/// An Elastic Defend process start.
fn defend_start(c: &Ctx, dt: i64, parent: &str, exe: &str, args: &[&str], entity: &str, parent_entity: &str) -> Value {
    let name = exe.rsplit('\\').next().unwrap();
    json!({
        "@timestamp": stamp(c.t + dt),
        "event": {"category": ["process"], "type": ["start"], "action": "start", "module": "endpoint"},
        "host": {"id": format!("id-{}", c.host), "name": c.host, "ip": [c.ip]},
        "process": {
            "args": args, "command_line": args.join(" "), "entity_id": entity, "executable": exe, "name": name,
            "pid": c.pid(7),
            "parent": {"entity_id": parent_entity, "name": parent, "executable": format!(r"C:\Windows\System32\{parent}"), "pid": 700},
        },
        "user": {"name": "jdoe", "domain": "CORP"},
    })
}

/// An Elastic Defend network event (`incoming`: source = remote, destination = local).
#[allow(clippy::too_many_arguments)]
fn defend_network(
    c: &Ctx,
    dt: i64,
    exe: &str,
    entity: &str,
    incoming: bool,
    transport: &str,
    remote: &str,
    local_port: u16,
) -> Value {
    let name = exe.rsplit('\\').next().unwrap();
    let (src, dst) = if incoming {
        (json!({"ip": remote, "port": 50_123}), json!({"ip": c.ip, "port": local_port}))
    } else {
        (json!({"ip": c.ip, "port": local_port}), json!({"ip": remote, "port": 443}))
    };
    json!({
        "@timestamp": stamp(c.t + dt),
        "event": {"category": ["network"], "type": ["start"], "action": if incoming { "connection_accepted" } else { "connection_attempted" }},
        "host": {"id": format!("id-{}", c.host), "name": c.host, "ip": [c.ip]},
        "network": {"direction": if incoming { "incoming" } else { "outgoing" }, "transport": transport},
        "process": {"entity_id": entity, "executable": exe, "name": name, "pid": c.pid(7)},
        "source": src,
        "destination": dst,
    })
}

/// A raw Windows event in the Winlogbeat 7+ wrapper.
fn winlog(c: &Ctx, dt: i64, channel: &str, id: u32, data: Value) -> Value {
    json!({
        "@timestamp": stamp(c.t + dt),
        "winlog": {"channel": channel, "event_id": id, "computer_name": c.host, "event_data": data},
    })
}

const SYSMON: &str = "Microsoft-Windows-Sysmon/Operational";
const SVCHOST: &str = r"C:\Windows\System32\svchost.exe";
const EXCEL: &str = r"C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE";
const MMC: &str = r"C:\Windows\System32\mmc.exe";
const EXPLORER: &str = r"C:\Windows\explorer.exe";

fn sysmon1(c: &Ctx, dt: i64, parent: &str, image: &str, command_line: &str, guid: &str, logon: &str) -> Value {
    winlog(
        c,
        dt,
        SYSMON,
        1,
        json!({
            "UtcTime": stamp(c.t + dt).replace('T', " ").trim_end_matches('Z'), "ProcessGuid": guid, "ProcessId": c.pid(1).to_string(),
            "Image": image, "CommandLine": command_line, "LogonId": logon, "ParentProcessGuid": c.guid(9),
            "ParentProcessId": "700", "ParentImage": parent, "User": r"CORP\jdoe",
        }),
    )
}

fn sysmon3(
    c: &Ctx,
    dt: i64,
    image: &str,
    guid: &str,
    initiated: bool,
    source: (&str, u16),
    dest: (&str, u16),
) -> Value {
    winlog(
        c,
        dt,
        SYSMON,
        3,
        json!({
            "UtcTime": stamp(c.t + dt).replace('T', " ").trim_end_matches('Z'), "ProcessGuid": guid, "ProcessId": c.pid(1).to_string(),
            "Image": image, "Protocol": "tcp", "Initiated": if initiated { "true" } else { "false" },
            "SourceIp": source.0, "SourcePort": source.1.to_string(), "DestinationIp": dest.0, "DestinationPort": dest.1.to_string(),
        }),
    )
}

fn security4688(c: &Ctx, dt: i64, parent: &str, image: &str, command_line: &str, pid: u64, logon: &str) -> Value {
    winlog(
        c,
        dt,
        "Security",
        4688,
        json!({
            "NewProcessName": image, "NewProcessId": format!("0x{pid:x}"), "CommandLine": command_line,
            "ParentProcessName": parent, "ProcessId": "0x2bc", "TargetLogonId": logon, "SubjectUserName": "WS$",
        }),
    )
}

fn security5156(c: &Ctx, dt: i64, application: &str, pid: u64, remote: &str, local_port: u16) -> Value {
    winlog(
        c,
        dt,
        "Security",
        5156,
        json!({
            "ProcessID": pid.to_string(), "Application": application, "Direction": "%%14592", "Protocol": "6",
            "SourceAddress": remote, "SourcePort": "50123", "DestAddress": c.ip, "DestPort": local_port.to_string(),
        }),
    )
}

fn security4624(c: &Ctx, dt: i64, logon_type: u8, logon: &str, source: &str) -> Value {
    winlog(
        c,
        dt,
        "Security",
        4624,
        json!({
            "LogonType": logon_type.to_string(), "TargetLogonId": logon, "IpAddress": source, "IpPort": "50124",
            "TargetUserName": "jdoe", "TargetDomainName": "CORP",
        }),
    )
}

/// A scenario: the records of one instance, with its deciding condition benign (`attack`
/// false) or turned to the attack; and the rule the attack raises.
type Scenario = (&'static str, CorrelationRule, fn(&Ctx, bool) -> Vec<Value>);

const SCENARIOS: [Scenario; 15] = [
    ("Sysmon: an inbound connection to the COM server from loopback", CorrelationRule::D2, |c, attack| {
        let g = c.guid(1);
        let remote = if attack { ATTACKER } else { "127.0.0.1" };
        let local = if attack { c.ip } else { "127.0.0.1" };
        vec![
            sysmon1(c, 0, SVCHOST, MMC, r"C:\Windows\system32\mmc.exe -Embedding", &g, &c.logon(0)),
            sysmon3(c, 700, MMC, &g, false, (remote, 50_123), (local, 49_800)),
        ]
    }),
    ("Sysmon: an inbound connection from ::1", CorrelationRule::D2, |c, attack| {
        let g = c.guid(1);
        let remote = if attack { "fd00::66" } else { "::1" };
        vec![
            sysmon1(c, 0, SVCHOST, MMC, r"C:\Windows\system32\mmc.exe -Embedding", &g, &c.logon(0)),
            sysmon3(c, 700, MMC, &g, false, (remote, 50_123), ("::1", 49_800)),
        ]
    }),
    ("Defend: the inbound connection goes to another process", CorrelationRule::D2, |c, attack| {
        let e = c.entity(1);
        let target = if attack { e.clone() } else { c.entity(2) };
        let exe = if attack { EXCEL } else { SVCHOST };
        vec![
            defend_start(c, 0, "svchost.exe", EXCEL, &[EXCEL, "/automation", "-Embedding"], &e, &c.entity(3)),
            defend_network(c, -2 * S, exe, &target, true, "tcp", ATTACKER, 135),
        ]
    }),
    ("Defend: the inbound connection is 75 s after the start", CorrelationRule::D2, |c, attack| {
        let e = c.entity(1);
        let dt = if attack { 60 * S } else { 75 * S };
        vec![
            defend_start(c, 0, "svchost.exe", EXCEL, &[EXCEL, "-Embedding"], &e, &c.entity(3)),
            defend_network(c, dt, EXCEL, &e, true, "tcp", ATTACKER, 49_800),
        ]
    }),
    ("Defend: the inbound connection is UDP", CorrelationRule::D2, |c, attack| {
        let e = c.entity(1);
        vec![
            defend_start(c, 0, "svchost.exe", EXCEL, &[EXCEL, "-Embedding"], &e, &c.entity(3)),
            defend_network(c, S, EXCEL, &e, true, if attack { "tcp" } else { "udp" }, ATTACKER, 49_800),
        ]
    }),
    ("Defend: the COM server's connection is outbound", CorrelationRule::D2, |c, attack| {
        let e = c.entity(1);
        vec![
            defend_start(c, 0, "svchost.exe", EXCEL, &[EXCEL, "-Embedding"], &e, &c.entity(3)),
            defend_network(c, S, EXCEL, &e, attack, "tcp", ATTACKER, 49_800),
        ]
    }),
    ("Defend: an -Embedding start that is no COM server of the list", CorrelationRule::D2, |c, attack| {
        let e = c.entity(1);
        let exe = if attack { MMC } else { r"C:\Windows\System32\wbem\WmiPrvSE.exe" };
        vec![
            defend_start(c, 0, "svchost.exe", exe, &[exe, "-secured", "-Embedding"], &e, &c.entity(3)),
            defend_network(c, S, exe, &e, true, "tcp", ATTACKER, 49_800),
        ]
    }),
    ("Defend: a COM server started without -Embedding or /automation", CorrelationRule::D2, |c, attack| {
        let e = c.entity(1);
        let flag = if attack { "-Embedding" } else { "/safe" };
        vec![
            defend_start(c, 0, "svchost.exe", EXCEL, &[EXCEL, flag], &e, &c.entity(3)),
            defend_network(c, S, EXCEL, &e, true, "tcp", ATTACKER, 49_800),
        ]
    }),
    ("Defend: a COM server started by a user, not svchost", CorrelationRule::D2, |c, attack| {
        let e = c.entity(1);
        let parent = if attack { "svchost.exe" } else { "cmd.exe" };
        vec![
            defend_start(c, 0, parent, EXCEL, &[EXCEL, "-Embedding"], &e, &c.entity(3)),
            defend_network(c, S, EXCEL, &e, true, "tcp", ATTACKER, 49_800),
        ]
    }),
    ("Security: the pid of the COM server was reused before the connection", CorrelationRule::D2, |c, attack| {
        let pid = c.pid(4);
        let mut records = vec![
            security4688(c, 0, SVCHOST, MMC, r"C:\Windows\system32\mmc.exe -Embedding", pid, &c.logon(0)),
            security5156(c, 20 * S, MMC, pid, ATTACKER, 49_800),
        ];
        if !attack {
            records.push(security4688(c, 10 * S, r"C:\Windows\System32\cmd.exe", MMC, "mmc.exe", pid, &c.logon(0)));
        }
        records
    }),
    ("Security: a network logon of another session", CorrelationRule::D2L, |c, attack| {
        let logon = if attack { c.logon(1) } else { c.logon(2) };
        vec![
            security4624(c, -5 * S, 3, &logon, ATTACKER),
            security4688(c, 0, SVCHOST, EXCEL, "EXCEL.EXE /automation -Embedding", c.pid(4), &c.logon(1)),
        ]
    }),
    ("Security: a network logon of the session, from loopback", CorrelationRule::D2L, |c, attack| {
        let source = if attack { ATTACKER } else { "127.0.0.1" };
        vec![
            security4624(c, -5 * S, 3, &c.logon(1), source),
            security4688(c, 0, SVCHOST, EXCEL, "EXCEL.EXE /automation -Embedding", c.pid(4), &c.logon(1)),
        ]
    }),
    ("Security: an interactive logon of the session", CorrelationRule::D2L, |c, attack| {
        vec![
            security4624(c, -5 * S, if attack { 3 } else { 2 }, &c.logon(1), ATTACKER),
            security4688(c, 0, SVCHOST, EXCEL, "EXCEL.EXE /automation -Embedding", c.pid(4), &c.logon(1)),
        ]
    }),
    ("Defend: an explorer child 15 s after an inbound connection to explorer", CorrelationRule::D3, |c, attack| {
        let x = c.entity(5);
        let dt = if attack { 10 * S } else { 15 * S };
        vec![
            defend_network(c, 0, EXPLORER, &x, true, "tcp", ATTACKER, 49_800),
            defend_start(c, dt, "explorer.exe", r"C:\Windows\System32\cmd.exe", &["cmd.exe"], &c.entity(1), &x),
        ]
    }),
    ("Defend: an inbound connection to explorer on a low port, or from loopback", CorrelationRule::D3, |c, attack| {
        let x = c.entity(5);
        let (remote, port) = match (attack, c.n % 2) {
            (true, _) => (ATTACKER, 49_152),
            (false, 0) => (ATTACKER, 49_151),
            (false, _) => ("127.0.0.1", 49_800),
        };
        vec![
            defend_network(c, 0, EXPLORER, &x, true, "tcp", remote, port),
            defend_start(c, 3 * S, "explorer.exe", r"C:\Windows\System32\cmd.exe", &["cmd.exe"], &c.entity(1), &x),
        ]
    }),
];

/// Ordinary traffic of an instance's host: an inbound connection to a service, a network
/// logon, an outbound connection, a process start.
fn background(c: &Ctx) -> Vec<Value> {
    vec![
        defend_network(c, 30 * S, r"C:\Windows\System32\lsass.exe", &c.entity(6), true, "tcp", ATTACKER, 49_667),
        security4624(c, 31 * S, 3, &c.logon(3), ATTACKER),
        sysmon3(c, 32 * S, SVCHOST, &c.guid(6), true, (c.ip, 50_000), ("10.20.0.10", 443)),
        defend_start(
            c,
            33 * S,
            "cmd.exe",
            r"C:\Windows\System32\git.exe",
            &["git", "fetch"],
            &c.entity(7),
            &c.entity(8),
        ),
    ]
}

/// Correlations (rule, record index) of the records in this order, and the counts.
fn correlate(records: &[Value]) -> (BTreeSet<(CorrelationRule, usize)>, CorrelationStats, usize) {
    let rule = Rule::default();
    let paths = Paths::new(rule.fields()).with_view();
    let mut decoder = Decoder::new();
    let mut correlator = Correlator::new(Limits::default());
    let mut fired = BTreeSet::new();
    let mut anchors = 0;
    for (i, record) in records.iter().enumerate() {
        let text = serde_json::to_vec(record).unwrap();
        let doc = decoder.decode(&paths, &text).unwrap_or_else(|e| panic!("record {i} decodes: {e}"));
        if let Some(o) = observe(&doc) {
            anchors += usize::from(o.is_anchor_candidate());
            correlator.observe(&o, i, |c| {
                fired.insert((c.rule, c.anchor));
            });
        }
    }
    correlator.finish(|c| {
        fired.insert((c.rule, c.anchor));
    });
    (fired, correlator.stats(), anchors)
}

const HOSTS: [(&str, &str); 5] = [
    ("WS-0042", "10.20.1.42"),
    ("ws-0117", "10.20.1.117"),
    ("SRV-SQL-03", "10.20.2.3"),
    ("ws-0901", "10.20.1.201"),
    ("dc-01", "10.20.0.11"),
];

/// `rounds` instances of every scenario (benign or attack), spread over the hosts two and a
/// half minutes apart per host, with ordinary traffic, interleaved and jittered by up to
/// ±1 s (within the correlator's allowed lateness).
fn stream(rounds: u64, attack: bool, seed: u64) -> Vec<Value> {
    let mut rng = Rng(seed | 1);
    let mut timed = Vec::new();
    let mut n = 0;
    for round in 0..rounds {
        for (s, (_, _, scenario)) in SCENARIOS.iter().enumerate() {
            let (host, ip) = HOSTS[(n % HOSTS.len() as u64) as usize];
            let slot = (round * SCENARIOS.len() as u64 + s as u64) / HOSTS.len() as u64;
            let c = Ctx { host, ip, n, t: T0 + slot as i64 * 150 * S };
            n += 1;
            for record in scenario(&c, attack).into_iter().chain(background(&c)) {
                let at = record_time(&record) + rng.below(2001) as i64 - 1000;
                timed.push((at, timed.len(), record));
            }
        }
    }
    timed.sort_by_key(|&(at, i, _)| (at, i));
    timed.into_iter().map(|(_, _, r)| r).collect()
}

fn record_time(record: &Value) -> i64 {
    let text = record["@timestamp"].as_str().unwrap();
    let t = dcom_detect_core::Timestamp::parse(text).unwrap();
    t.unix_nanos() / 1_000_000
}

#[test]
fn generated_benign_traffic_raises_no_correlation() {
    for seed in 1..=3 {
        let records = stream(20, false, seed);
        let (fired, stats, anchors) = correlate(&records);
        assert!(fired.is_empty(), "benign traffic raised {fired:?}");
        // The stream was read: every anchor candidate and most events were observed.
        assert!(anchors >= 20 * 12, "anchor candidates observed: {anchors}");
        assert!(stats.observations as usize > records.len() * 8 / 10, "{stats:?} of {}", records.len());
        assert_eq!((stats.late, stats.evicted_pending, stats.evicted_hosts, stats.released_early), (0, 0, 0, 0));
    }
}

#[test]
fn each_near_miss_is_one_condition_away_from_its_alert() {
    for (name, rule, scenario) in SCENARIOS {
        for n in 0..2 {
            let c = Ctx { host: "ws-0042", ip: "10.20.1.42", n, t: T0 };
            let records: Vec<Value> = scenario(&c, true).into_iter().chain(background(&c)).collect();
            let (fired, _, _) = correlate(&records);
            let rules: Vec<CorrelationRule> = fired.iter().map(|&(r, _)| r).collect();
            assert_eq!(rules, [rule], "{name} (instance {n}), as an attack: {fired:?}");
            let (fired, _, _) = correlate(&scenario(&c, false));
            assert!(fired.is_empty(), "{name} (instance {n}), benign: {fired:?}");
        }
    }
    // All attacks interleaved: one alert per instance, each of its scenario's rule.
    let records = stream(4, true, 7);
    let (fired, _, _) = correlate(&records);
    assert_eq!(fired.len(), 4 * SCENARIOS.len(), "{fired:?}");
}
