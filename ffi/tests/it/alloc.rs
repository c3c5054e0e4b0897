//! Zero allocation, measured: a counting global allocator (per thread, so other tests running
//! in parallel do not disturb the count) watches the exported match functions.
//! - The struct paths (UTF-8 and UTF-16) never allocate, not even on the first call, with or
//!   without exceptions (suppressed or not).
//! - The JSON path allocates nothing once the scratch's buffers have grown, with or without
//!   exceptions; nor does the alert door for records that raise no alert.
//! - A session allocates nothing for records that complete no alert, once warmed up.

use dcom_detect::*;

#[path = "../../../core/tests/counting/mod.rs"]
mod counting;
use counting::allocations_during;

use crate::common::*;
use crate::tuning::{near_misses, suppressed_cases, EXAMPLE};

/// Events of every shape that could tempt an allocation: matching and not, multi-valued,
/// non-ASCII (folded under Unicode), long command lines, extra fields.
fn events() -> Vec<Owned> {
    let v = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let long = format!("powershell {} -Exec DCOM", "A".repeat(5000));
    vec![
        Owned {
            category: v(&["process"]),
            event_type: v(&["start"]),
            name: v(&["cmd.exe"]),
            parent_name: v(&["mmc.exe"]),
            ..Owned::default()
        },
        Owned {
            category: v(&["process"]),
            event_type: v(&["start"]),
            name: v(&["notepad.exe"]),
            parent_name: v(&["explorer.exe"]),
            command_line: v(&["notepad.exe C:\\x.txt"]),
        },
        Owned {
            category: v(&["process"]),
            event_type: v(&["start", "info"]),
            name: v(&["dcomcnfg.exe"]),
            ..Owned::default()
        },
        Owned {
            category: v(&["host", "process"]),
            event_type: v(&["start"]),
            name: v(&["c\u{17F}cript.exe"]),
            parent_name: v(&["outloo\u{212A}.exe"]),
            command_line: v(&["x DCOM", "y -Exec"]),
        },
        Owned {
            category: v(&["process"]),
            event_type: v(&["start"]),
            name: v(&["😀.exe"]),
            parent_name: v(&["\u{130}nstaller.exe"]),
            command_line: v(&[long.as_str()]),
        },
        Owned::default(),
    ]
}

const RECORDS: [&str; 4] = [
    r#"{"@timestamp":"2024-05-01T10:00:00Z","event":{"category":["process"],"type":["start"]},"process":{"name":"cmd.exe","command_line":"cmd /c whoami","parent":{"name":"MMC.EXE"}},"host":{"name":"ws1"}}"#,
    r#"{"event":{"category":"process","type":"start"},"process":{"name":"notepad.exe","parent":{"name":"explorer.exe"},"args":["a","b"]},"user":{"name":"\u0041dmin"}}"#,
    r#"{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Image":"C:\\Windows\\System32\\dcomcnfg.exe","ParentImage":"C:\\Windows\\explorer.exe","CommandLine":"dcomcnfg"}"#,
    r#"{"process.name":"x","process":{"name":"y","command_line":["\u0044COM","-\u0045xec"]},"event.category":"process","event.type":"start"}"#,
];

#[test]
fn struct_paths_never_allocate() {
    let owned = events();
    let utf8: Vec<Utf8Event<'_>> = owned.iter().map(Utf8Event::new).collect();
    let utf16: Vec<Utf16Event> = owned.iter().map(Utf16Event::new).collect();
    for folding in [DCOM_CASE_FOLDING_ASCII, DCOM_CASE_FOLDING_UNICODE_SIMPLE] {
        let rule = RuleHandle::new(folding);
        let c8: Vec<dcom_event> = utf8.iter().map(Utf8Event::c).collect();
        let mut matched = 0;
        let n = allocations_during(|| {
            for _ in 0..100 {
                for e in &c8 {
                    let (code, branches) = rule.match_utf8(e);
                    assert_eq!(code, dcom_result::DCOM_OK);
                    matched += u32::from(branches != 0);
                }
            }
        });
        assert_eq!(n, 0, "UTF-8 struct path allocated (folding {folding})");
        assert!(matched >= 300, "the events exercise matching branches ({matched})");
        for e in &utf16 {
            let n = e.with(|c| {
                allocations_during(|| {
                    for _ in 0..100 {
                        assert_eq!(rule.match_utf16(c).0, dcom_result::DCOM_OK);
                    }
                })
            });
            assert_eq!(n, 0, "UTF-16 struct path allocated (folding {folding})");
        }
    }
}

#[test]
fn json_path_allocates_nothing_in_steady_state() {
    let rule = RuleHandle::new(DCOM_CASE_FOLDING_UNICODE_SIMPLE);
    let scratch = ScratchHandle::new();
    for record in RECORDS {
        assert_eq!(rule.match_json(&scratch, record.as_bytes()).0, dcom_result::DCOM_OK, "{record}");
    }
    let mut matched = 0;
    let n = allocations_during(|| {
        for _ in 0..200 {
            for record in RECORDS {
                let (code, branches) = rule.match_json(&scratch, record.as_bytes());
                assert_eq!(code, dcom_result::DCOM_OK);
                matched += u32::from(branches != 0);
            }
        }
    });
    assert_eq!(n, 0, "JSON path allocated after warm-up");
    assert_eq!(matched, 200 * 3);
}

#[test]
fn tuned_struct_paths_never_allocate() {
    let cases: Vec<_> = suppressed_cases().into_iter().chain(near_misses().into_iter().map(|(_, f)| f)).collect();
    for folding in [DCOM_CASE_FOLDING_ASCII, DCOM_CASE_FOLDING_UNICODE_SIMPLE] {
        let rule = RuleHandle::with_exceptions(folding, Some(EXAMPLE));
        let (mut suppressed, mut alerts) = (0, 0);
        for case in &cases {
            // Evaluated once outside the count (building the C structs allocates), then the
            // calls alone, many times, through the same helper's parts.
            let (code, verdict) = case.evaluate_utf8(&rule);
            assert_eq!(code, dcom_result::DCOM_OK);
            suppressed += u32::from(verdict.suppressed_by >= 0);
            alerts += u32::from(verdict.suppressed_by < 0);
        }
        assert!(suppressed == 4 && alerts > 10, "{suppressed} suppressed, {alerts} alerts");
        for case in &cases {
            let category = [s("process")];
            let event_type = [s("start")];
            let pairs = case.other();
            let other: Vec<dcom_field> = pairs.iter().map(|(p, v)| dcom_field { path: s(p), value: s(v) }).collect();
            let event = dcom_event {
                event_category: category.as_ptr(),
                event_category_count: 1,
                event_type: event_type.as_ptr(),
                event_type_count: 1,
                process_name: s(&case.name),
                process_parent_name: s(&case.parent),
                process_command_line: s(&case.command_line),
                other: other.as_ptr(),
                other_count: other.len(),
            };
            let u = |v: &str| v.encode_utf16().collect::<Vec<u16>>();
            let (process, start, name, parent, cl) =
                (u("process"), u("start"), u(&case.name), u(&case.parent), u(&case.command_line));
            let values: Vec<Vec<u16>> = pairs.iter().map(|(_, v)| u(v)).collect();
            let other16: Vec<dcom_field16> =
                pairs.iter().zip(&values).map(|((p, _), v)| dcom_field16 { path: s(p), value: s16(v) }).collect();
            let (category16, type16) = ([s16(&process)], [s16(&start)]);
            let event16 = dcom_event16 {
                event_category: category16.as_ptr(),
                event_category_count: 1,
                event_type: type16.as_ptr(),
                event_type_count: 1,
                process_name: s16(&name),
                process_parent_name: s16(&parent),
                process_command_line: s16(&cl),
                other: other16.as_ptr(),
                other_count: other16.len(),
            };
            let expected = rule.evaluate_utf8(&event);
            let n = allocations_during(|| {
                for _ in 0..50 {
                    assert_eq!(rule.evaluate_utf8(&event), expected);
                    assert_eq!(rule.evaluate_utf16(&event16), expected);
                    // Branch bits for an alert only (0 when an exception suppressed it).
                    let alert_bits = if expected.1.suppressed_by < 0 { expected.1.branches } else { 0 };
                    assert_eq!(rule.match_utf8(&event), (dcom_result::DCOM_OK, alert_bits));
                }
            });
            assert_eq!(n, 0, "tuned struct paths allocated (folding {folding}): {case:?}");
        }
    }
}

#[test]
fn tuned_json_path_allocates_nothing_in_steady_state() {
    let rule = RuleHandle::with_exceptions(DCOM_CASE_FOLDING_UNICODE_SIMPLE, Some(EXAMPLE));
    let scratch = ScratchHandle::new();
    let records: Vec<String> = suppressed_cases()
        .iter()
        .chain(near_misses().iter().map(|(_, f)| f))
        .map(|f| f.json())
        .chain(RECORDS.iter().map(|r| r.to_string()))
        .collect();
    for record in &records {
        assert_eq!(rule.evaluate_json(&scratch, record.as_bytes()).0, dcom_result::DCOM_OK);
    }
    let mut suppressed = 0;
    let n = allocations_during(|| {
        for _ in 0..20 {
            for record in &records {
                let (code, verdict) = rule.evaluate_json(&scratch, record.as_bytes());
                assert_eq!(code, dcom_result::DCOM_OK);
                suppressed += u32::from(verdict.suppressed_by >= 0);
            }
        }
    });
    assert_eq!(n, 0, "tuned JSON path allocated after warm-up");
    assert_eq!(suppressed, 20 * 4);
}

/// The alert door without any alert in its input: zero allocations, measured on its own.
#[test]
fn alert_door_without_alerts_allocates_nothing() {
    let rule = RuleHandle::with_exceptions(DCOM_CASE_FOLDING_ASCII, Some(EXAMPLE));
    let scratch = ScratchHandle::new();
    let mut records: Vec<String> = suppressed_cases().iter().map(|f| f.json()).collect();
    records.push(RECORDS[1].to_string()); // notepad.exe: no match
    let mut buffer = vec![0u8; 4096];
    for record in &records {
        let (outcome, _) = rule.alert_json_into(&scratch, record.as_bytes(), None, 0, &mut buffer);
        assert_eq!((outcome.code, outcome.alert), (dcom_result::DCOM_OK, None));
    }
    let origin = line_origin("events.ndjson", 12, 3456);
    let n = allocations_during(|| {
        for _ in 0..100 {
            for record in &records {
                let (outcome, needed) = rule.alert_json_into(
                    &scratch,
                    record.as_bytes(),
                    Some(&origin),
                    DCOM_ALERT_INCLUDE_ORIGINAL,
                    &mut buffer,
                );
                assert_eq!((outcome.code, needed), (dcom_result::DCOM_OK, 0));
            }
        }
    });
    assert_eq!(n, 0, "the alert door allocated for records without an alert");
    // An alert does allocate (inside core): the counter sees it.
    let alert = suppressed_cases()[0].json().replace("adm_kwright", "jdoe");
    assert!(
        allocations_during(|| assert!(rule
            .alert_json_into(&scratch, alert.as_bytes(), None, 0, &mut buffer)
            .0
            .alert
            .is_some()))
            > 0
    );
}

/// Records of every kind a session observes, none of which completes a correlation or
/// raises a seed alert: a COM server start (an anchor candidate: its record is copied into
/// the session's pool) whose process gets no connection and whose logon no 4624, inbound
/// connections to other processes (Sysmon 3, 5156, ECS to explorer without a child), a
/// network logon nobody uses, ordinary starts (Sysmon 1, 4688), an outbound connection.
/// `@T@` is replaced by the round's time (HH:MM:SS), `HOST` by the host.
const QUIET: [&str; 8] = [
    r#"{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Hostname":"HOST","UtcTime":"2020-09-17 @T@.100","EventTime":"2020-09-17 @T@","ProcessGuid":"{d273d0f0-d91d-5f63-6b05-000000000400}","ProcessId":"1324","LogonId":"0x153ec2b","Image":"C:\\Program Files\\EXCEL.EXE","CommandLine":"\"C:\\Program Files\\EXCEL.EXE\" /automation -Embedding","ParentImage":"C:\\Windows\\System32\\svchost.exe"}"#,
    r#"{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":3,"Hostname":"HOST","UtcTime":"2020-09-17 @T@.200","ProcessGuid":"{d273d0f0-d91d-5f63-6b05-000000000999}","ProcessId":"888","Image":"C:\\Windows\\System32\\svchost.exe","Initiated":"false","Protocol":"tcp","SourceIp":"172.18.39.5","SourcePort":"61545","DestinationIp":"172.18.39.6","DestinationPort":"135"}"#,
    r#"{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":3,"Hostname":"HOST","UtcTime":"2020-09-17 @T@.300","ProcessGuid":"{d273d0f0-d91d-5f63-6b05-000000000777}","ProcessId":"777","Image":"C:\\Windows\\System32\\chrome.exe","Initiated":"true","Protocol":"tcp","SourceIp":"172.18.39.6","SourcePort":"50123","DestinationIp":"93.184.216.34","DestinationPort":"443"}"#,
    r#"{"Channel":"Security","EventID":4624,"Hostname":"HOST","EventTime":"2020-09-17 @T@","LogonType":"3","IpAddress":"172.18.39.5","TargetLogonId":"0x99999"}"#,
    r#"{"Channel":"Security","EventID":4688,"Hostname":"HOST","EventTime":"2020-09-17 @T@","NewProcessId":"0x600","ProcessId":"0x380","TargetLogonId":"0x3e7","NewProcessName":"C:\\Windows\\System32\\notepad.exe","CommandLine":"notepad.exe","ParentProcessName":"C:\\Windows\\System32\\cmd.exe"}"#,
    r#"{"Channel":"Security","EventID":5156,"Hostname":"HOST","EventTime":"2020-09-17 @T@","ProcessId":"4","Direction":"%%14592","SourceAddress":"172.18.39.5","SourcePort":"61546","DestAddress":"172.18.39.6","DestPort":"445","Application":"System","Protocol":"6"}"#,
    r#"{"@timestamp":"2020-09-17T@T@.500Z","host":{"id":"HOST","os":{"type":"windows"}},"event":{"category":["network"],"type":["start"]},"network":{"direction":"incoming","transport":"tcp"},"source":{"ip":"10.1.1.1","port":50000},"destination":{"ip":"10.1.1.2","port":49700},"process":{"entity_id":"e-1","pid":7,"name":"explorer.exe"}}"#,
    r#"{"@timestamp":"2020-09-17T@T@.600Z","host":{"id":"HOST","os":{"type":"windows"}},"event":{"category":["process"],"type":["start"]},"process":{"entity_id":"n-1","pid":9,"name":"notepad.exe","args":["notepad.exe"],"parent":{"name":"cmd.exe","entity_id":"c-1"}}}"#,
];

/// A session fed records that complete no alert allocates nothing once every host and
/// buffer has been used (hosts evicted and reused, anchors pooled), with every profile;
/// an alert does allocate, and the counter sees it.
#[test]
fn session_feeding_allocates_nothing_in_steady_state() {
    let hosts = ["ws-1", "ws-2", "dc-1", "ws-3"];
    // 40 rounds, ten minutes apart: every pending item expires and the lateness passes.
    let rounds: Vec<Vec<String>> = (0..40)
        .map(|round| {
            let minutes = round * 10;
            let time = format!("{:02}:{:02}:05", minutes / 60, minutes % 60);
            hosts.iter().flat_map(|h| QUIET.iter().map(|t| t.replace("HOST", h).replace("@T@", &time))).collect()
        })
        .collect();
    let rule = RuleHandle::new(DCOM_CASE_FOLDING_ASCII);
    for profile in [DCOM_PROFILE_EXTENDED, DCOM_PROFILE_ELASTIC, DCOM_PROFILE_SEED] {
        let mut limits = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { dcom_session_limits_default(&mut limits) }, dcom_result::DCOM_OK);
        limits.hosts = 3; // four hosts: one is evicted every round, its slot reused
        limits.pending = 4;
        let session = crate::session::SessionHandle::new(&rule, profile, Some(&limits), 0);
        let mut line = 0u64;
        let mut feed = |records: &[String]| {
            for record in records {
                line += 1;
                let origin = line_origin("sensor.ndjson", line, line * 100);
                let (code, verdict, waiting) = session.feed(record.as_bytes(), Some(&origin));
                assert_eq!((code, verdict, waiting), (dcom_result::DCOM_OK, NO_VERDICT, 0), "{record}");
            }
        };
        for warm_up in &rounds[..10] {
            feed(warm_up);
        }
        let n = allocations_during(|| {
            for round in &rounds[10..] {
                feed(round);
            }
        });
        assert_eq!(n, 0, "{n} allocations feeding quiet records after warm-up (profile {profile})");
        let stats = session.stats();
        assert_eq!((stats.alerts, stats.correlation_alerts, stats.rejected), (0, 0, 0));
        if profile == DCOM_PROFILE_EXTENDED {
            assert!(stats.observations >= 40 * 4 * 7 && stats.evicted_hosts > 0, "{stats:?}");
        }
        if profile == DCOM_PROFILE_ELASTIC {
            assert!(stats.elastic_events >= 40 * 4 && stats.elastic_sequences == 0, "{stats:?}");
        }
        // An alert allocates (its document), inside the count.
        let office = RECORDS[0].as_bytes();
        assert!(allocations_during(|| assert_eq!(session.feed(office, None).2, 1)) > 0);
        assert!(session.next_alert().is_some());
    }
}

/// The same quiet records handed over as struct events (each the struct of its view, with a
/// UTC `@timestamp`, UTF-8 and UTF-16 alternately) allocate nothing once warmed up either: the session writes each
/// into its reused JSON buffer.
#[test]
fn struct_session_feeding_allocates_nothing_in_steady_state() {
    use crate::session::{feed_struct, view_pairs, CEvent, SessionHandle};
    let core = dcom_detect_core::Rule::default();
    let mut decoder = dcom_detect_core::Decoder::new();
    let hosts = ["ws-1", "ws-2", "dc-1", "ws-3"];
    let rounds: Vec<Vec<CEvent>> = (0..40)
        .map(|round| {
            let minutes = round * 10;
            let time = format!("{:02}:{:02}:05", minutes / 60, minutes % 60);
            let records = hosts.iter().flat_map(|h| QUIET.iter().map(|t| t.replace("HOST", h).replace("@T@", &time)));
            let pairs = records.map(|r| {
                let mut pairs = view_pairs(&core, &mut decoder, r.as_bytes()).expect("quiet records decode");
                // The Security records' only time is NXLog's local EventTime: a sensor gives UTC.
                if !pairs.iter().any(|(path, _)| *path == "@timestamp") {
                    pairs.push(("@timestamp", format!("2020-09-17T{time}Z")));
                }
                pairs
            });
            pairs.enumerate().map(|(i, p)| CEvent::new(p, i % 2 == 1)).collect()
        })
        .collect();
    let rule = RuleHandle::new(DCOM_CASE_FOLDING_ASCII);
    let mut limits = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { dcom_session_limits_default(&mut limits) }, dcom_result::DCOM_OK);
    (limits.hosts, limits.pending) = (3, 4);
    let session = SessionHandle::new(&rule, DCOM_PROFILE_EXTENDED, Some(&limits), 0);
    let origin = line_origin("sensor", 0, 0);
    let origin = dcom_origin { position: DCOM_POSITION_NONE, line: 0, offset: 0, ..origin };
    let feed = |events: &[CEvent]| {
        for event in events {
            assert_eq!(feed_struct(&session, event.get(), &origin), (dcom_result::DCOM_OK, NO_VERDICT, 0));
        }
    };
    rounds[..10].iter().for_each(|round| feed(round));
    let n = allocations_during(|| rounds[10..].iter().for_each(|round| feed(round)));
    assert_eq!(n, 0, "{n} allocations feeding quiet struct events after warm-up");
    let stats = session.stats();
    assert_eq!((stats.alerts, stats.correlation_alerts, stats.rejected), (0, 0, 0));
    assert!(stats.observations >= 40 * 4 * 7 && stats.evicted_hosts > 0, "{stats:?}");
}

/// The counter works: creating a rule allocates.
#[test]
fn the_counter_sees_allocations() {
    assert!(allocations_during(|| drop(RuleHandle::new(DCOM_CASE_FOLDING_ASCII))) > 0);
}
