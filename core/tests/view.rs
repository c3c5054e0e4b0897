//! The event view's time and host fields (`Paths::with_view`): what each source gives, read
//! alike from JSON text and from a tree, and never a change of verdict.

use std::path::Path;

use dcom_detect_core::view::ecs::{Paths, ViewField};
use dcom_detect_core::view::windows::parse_number;
use dcom_detect_core::{Decoder, ErrorKind, Rule, Timestamp};

struct View {
    timestamp: Option<String>,
    host_name: Option<String>,
    host_id: Option<String>,
}

fn view(record: &str) -> View {
    let rule = Rule::default();
    let paths = Paths::new(rule.fields()).with_view();
    let mut decoder = Decoder::new();
    let document = decoder.decode(&paths, record.as_bytes()).expect("a valid record");
    View {
        timestamp: document.timestamp().map(|t| t.to_string()),
        host_name: document.host_name().map(|h| h.to_string()),
        host_id: document.host_id().map(|h| h.to_string()),
    }
}

#[test]
fn ecs_documents_give_timestamp_host_name_and_id() {
    let v = view(
        r#"{"@timestamp":"2024-05-01T12:34:56.789Z","host":{"name":"ws-01","id":"abc","os":{"x":1}},"event":{"category":"process"}}"#,
    );
    assert_eq!(v.timestamp.as_deref(), Some("2024-05-01T12:34:56.789000000Z"));
    assert_eq!((v.host_name.as_deref(), v.host_id.as_deref()), (Some("ws-01"), Some("abc")));
    // Dotted keys, arrays (the first value), epoch milliseconds.
    let v = view(r#"{"@timestamp":1557797290123,"host.name":["a","b"],"host.id":"i"}"#);
    assert_eq!(v.timestamp.as_deref(), Some("2019-05-14T01:28:10.123000000Z"));
    assert_eq!((v.host_name.as_deref(), v.host_id.as_deref()), (Some("a"), Some("i")));
    // Absent or not a date.
    let v = view(r#"{"@timestamp":"yesterday","host":"not an object"}"#);
    assert_eq!((v.timestamp, v.host_name, v.host_id), (None, None, None));
}

#[test]
fn raw_events_give_their_own_time_and_computer() {
    // EVTX as evtx_dump writes it: TimeCreated wins over everything.
    let evtx = r##"{"@timestamp":"2000-01-01T00:00:00Z","Event":{"System":{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Computer":"dc-01.corp","TimeCreated":{"#attributes":{"SystemTime":"2019-05-14T01:28:10.1234567Z"}}},"EventData":{"UtcTime":"2019-05-14 01:28:09.999","Image":"C:\\a.exe"}}}"##;
    let v = view(evtx);
    assert_eq!(v.timestamp.as_deref(), Some("2019-05-14T01:28:10.123456700Z"));
    assert_eq!((v.host_name.as_deref(), v.host_id), (Some("dc-01.corp"), None));
    // Winlogbeat without a module, Sysmon 1: UtcTime, then @timestamp.
    let winlogbeat = r#"{"@timestamp":"2000-01-01T00:00:00Z","host":{"name":"agent-host"},"winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"computer_name":"ws-7","event_data":{"UtcTime":"2019-03-19 17:15:16.129","Image":"C:\\a.exe"}}}"#;
    let v = view(winlogbeat);
    assert_eq!(v.timestamp.as_deref(), Some("2019-03-19T17:15:16.129000000Z"));
    assert_eq!(v.host_name.as_deref(), Some("ws-7"), "raw events map Computer to host.name");
    let no_utc = winlogbeat.replace("\"UtcTime\":\"2019-03-19 17:15:16.129\",", "");
    assert_eq!(view(&no_utc).timestamp.as_deref(), Some("2000-01-01T00:00:00.000000000Z"));
    // Flat (NXLog / OTRF) Sysmon 1; Security 4688 takes @timestamp.
    let flat = r#"{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Hostname":"ws-9","UtcTime":"2020-10-20 03:00:00.5","Image":"C:\\a.exe"}"#;
    let v = view(flat);
    assert_eq!(
        (v.timestamp.as_deref(), v.host_name.as_deref()),
        (Some("2020-10-20T03:00:00.500000000Z"), Some("ws-9"))
    );
    let security = r#"{"@timestamp":"2020-10-20T03:00:00+02:00","Channel":"Security","EventID":4688,"Hostname":"ws-9","UtcTime":"1999-01-01 00:00:00","NewProcessName":"C:\\a.exe"}"#;
    assert_eq!(view(security).timestamp.as_deref(), Some("2020-10-20T01:00:00.000000000Z"));
}

#[test]
fn the_rules_own_paths_carry_no_view() {
    let rule = Rule::default();
    let mut decoder = Decoder::new();
    let document =
        decoder.decode(rule.paths(), br#"{"@timestamp":"2024-05-01T00:00:00Z","host":{"name":"a"}}"#).unwrap();
    assert_eq!((document.timestamp(), document.host_name()), (None, None));
    assert!(Timestamp::parse("2024-05-01T00:00:00Z").is_some());
}

/// Reading the view never changes a verdict or a rejection, on the whole golden corpus.
#[test]
fn the_view_changes_no_verdict_on_the_golden_corpus() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/events.ndjson");
    let records = std::fs::read(golden).unwrap();
    let rule = Rule::default();
    let paths = Paths::new(rule.fields()).with_view();
    let (mut plain, mut viewed) = (Decoder::new(), Decoder::new());
    let mut with_time = 0;
    let mut lines = 0;
    for line in records.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        lines += 1;
        let outcome =
            |result: Result<dcom_detect_core::Document<'_>, dcom_detect_core::DecodeError>| -> Result<u8, ErrorKind> {
                result.map(|d| rule.evaluate(&d).branches().bits()).map_err(|e| e.kind().clone())
            };
        let a = outcome(plain.decode(rule.paths(), line));
        let document = viewed.decode(&paths, line);
        with_time += usize::from(document.as_ref().is_ok_and(|d| d.timestamp().is_some()));
        assert_eq!(a, outcome(document), "{}", String::from_utf8_lossy(line));
    }
    assert!(lines > 150, "{lines}");
    eprintln!("{with_time} of {lines} golden records carry a time");
}

/// Every value of every view field, as text, for one record.
fn fields(record: &str) -> Vec<(&'static str, Vec<String>)> {
    let rule = Rule::default();
    let paths = Paths::new(rule.fields()).with_view();
    let mut decoder = Decoder::new();
    let document = decoder.decode(&paths, record.as_bytes()).expect("a valid record");
    ViewField::ALL
        .iter()
        .map(|&f| (f.path(), document.view(f).map(|v| v.to_string()).collect::<Vec<_>>()))
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

fn get<'a>(fields: &'a [(&'static str, Vec<String>)], path: &str) -> Vec<&'a str> {
    fields.iter().find(|(p, _)| *p == path).map(|(_, v)| v.iter().map(String::as_str).collect()).unwrap_or_default()
}

#[test]
fn a_raw_sysmon_3_gives_its_connection_in_every_wrapper() {
    let data = r#""UtcTime":"2020-10-09 22:27:50.747","ProcessGuid":"{42c2e005-e3e3-5f80-2d08-000000000400}","ProcessId":"10132","Image":"C:\\Windows\\explorer.exe","User":"WS5\\wardog","Protocol":"tcp","Initiated":"false","SourceIp":"172.18.39.6","SourcePort":"51604","DestinationIp":"172.18.39.5","DestinationPort":"49158""#;
    let records = [
        format!(r#"{{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":3,"Hostname":"ws5",{data}}}"#),
        format!(
            r#"{{"winlog":{{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":3,"computer_name":"ws5","event_data":{{{data}}}}}}}"#
        ),
        format!(
            r#"{{"log_name":"Microsoft-Windows-Sysmon/Operational","event_id":3,"computer_name":"ws5","event_data":{{{data}}}}}"#
        ),
        format!(
            r#"{{"Event":{{"System":{{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":3,"Computer":"ws5"}},"EventData":{{{data}}}}}}}"#
        ),
    ];
    for record in &records {
        let f = fields(record);
        assert_eq!(get(&f, "event.category"), ["network"], "{record}");
        assert_eq!(get(&f, "event.type"), ["start", "connection"]);
        assert_eq!(get(&f, "network.direction"), ["ingress"], "Initiated false is inbound");
        assert_eq!(get(&f, "network.transport"), ["tcp"]);
        assert_eq!(get(&f, "source.ip"), ["172.18.39.6"]);
        assert_eq!(get(&f, "destination.port"), ["49158"]);
        assert_eq!(get(&f, "process.entity_id"), ["{42c2e005-e3e3-5f80-2d08-000000000400}"]);
        assert_eq!(get(&f, "process.pid"), ["10132"]);
        assert_eq!(get(&f, "process.name"), ["explorer.exe"]);
        assert_eq!(get(&f, "host.name"), ["ws5"]);
        assert_eq!(get(&f, "user.name"), ["wardog"]);
        // The EVTX wrapper has no UtcTime fallback to TimeCreated here: @timestamp-less.
        let rule = Rule::default();
        let mut decoder = Decoder::new();
        let document = decoder.decode(rule.paths(), record.as_bytes()).unwrap();
        assert!(rule.evaluate(&document).branches().is_empty(), "a connection never fires the seed rule");
    }
    let view = view(&records[0]);
    assert_eq!(view.timestamp.as_deref(), Some("2020-10-09T22:27:50.747000000Z"));
}

#[test]
fn security_5156_and_4624_map_as_winlogbeat_does() {
    let wfp = r#"{"Channel":"Security","EventID":5156,"Hostname":"ws6","ProcessID":"3964","Application":"\\device\\harddiskvolume2\\windows\\explorer.exe","Direction":"%%14592","SourceAddress":"172.18.39.6","SourcePort":"49158","DestAddress":"172.18.39.5","DestPort":"51604","Protocol":"6"}"#;
    let f = fields(wfp);
    assert_eq!(get(&f, "event.category"), ["network"]);
    assert_eq!(get(&f, "network.direction"), ["ingress"]);
    assert_eq!(get(&f, "network.transport"), ["tcp"]);
    assert_eq!(get(&f, "process.pid"), ["3964"]);
    assert_eq!(get(&f, "process.name"), ["explorer.exe"]);
    assert_eq!((get(&f, "source.ip"), get(&f, "destination.port")), (vec!["172.18.39.6"], vec!["51604"]));
    // NXLog writes the WFP process id as `ProcessId`.
    let nxlog = wfp.replace("\"ProcessID\"", "\"ProcessId\"");
    assert_eq!(get(&fields(&nxlog), "process.pid"), ["3964"]);

    let logon = r#"{"winlog":{"channel":"Security","event_id":"4624","computer_name":"srv","event_data":{"LogonType":"3","IpAddress":"10.23.123.11","IpPort":"-","TargetLogonId":"0x2D22D35","TargetUserName":"admmig","TargetDomainName":"OFFSEC"}}}"#;
    let f = fields(logon);
    assert_eq!(get(&f, "event.category"), ["authentication"]);
    assert_eq!(get(&f, "winlog.logon.type"), ["Network"]);
    assert_eq!(get(&f, "winlog.logon.id"), ["0x2D22D35"]);
    assert_eq!(get(&f, "source.ip"), ["10.23.123.11"]);
    assert!(get(&f, "source.port").is_empty(), "Windows' '-' is no value");
    assert_eq!((get(&f, "user.name"), get(&f, "user.domain")), (vec!["admmig"], vec!["OFFSEC"]));
    assert_eq!(parse_number("0x2D22D35"), Some(0x2D2_2D35));
}

#[test]
fn process_starts_give_ids_args_and_logon_in_the_view() {
    let sysmon = r#"{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Hostname":"ws6","ProcessGuid":"{a}","ProcessId":"10296","ParentProcessGuid":"{p}","ParentProcessId":"108","LogonId":"0x191ee68","Image":"C:\\Program Files (x86)\\Microsoft Office\\root\\Office16\\EXCEL.EXE","CommandLine":"\"C:\\Program Files (x86)\\Microsoft Office\\Root\\Office16\\EXCEL.EXE\" /automation -Embedding","ParentImage":"C:\\Windows\\System32\\svchost.exe"}"#;
    let f = fields(sysmon);
    assert_eq!(
        get(&f, "process.args"),
        [r"C:\Program Files (x86)\Microsoft Office\Root\Office16\EXCEL.EXE", "/automation", "-Embedding"]
    );
    assert_eq!((get(&f, "process.entity_id"), get(&f, "process.parent.entity_id")), (vec!["{a}"], vec!["{p}"]));
    assert_eq!((get(&f, "process.pid"), get(&f, "process.parent.pid")), (vec!["10296"], vec!["108"]));
    assert_eq!(get(&f, "winlog.logon.id"), ["0x191ee68"]);
    assert_eq!(get(&f, "process.parent.name"), ["svchost.exe"]);

    let security = r#"{"Channel":"Security","EventID":4688,"Hostname":"ws6","NewProcessId":"0x1a2c","ProcessId":"0x3b0","TargetLogonId":"0x2d22d35","NewProcessName":"C:\\Windows\\System32\\mmc.exe","CommandLine":"C:\\Windows\\system32\\mmc.exe -Embedding","ParentProcessName":"C:\\Windows\\System32\\svchost.exe"}"#;
    let f = fields(security);
    assert_eq!(get(&f, "process.pid"), ["0x1a2c"], "raw text; parse_number reads it");
    assert_eq!(get(&f, "process.parent.pid"), ["0x3b0"]);
    assert_eq!(get(&f, "process.args"), [r"C:\Windows\system32\mmc.exe", "-Embedding"]);
    assert_eq!(get(&f, "winlog.logon.id"), ["0x2d22d35"]);
    assert!(get(&f, "process.entity_id").is_empty(), "4688 has no GUID");

    // An ECS document gives its own values, arrays included; nothing is derived.
    let ecs = r#"{"event":{"category":["process"],"type":["start"]},"process":{"pid":42,"entity_id":"e1","args":["a.exe","-Embedding"],"command_line":"x y z"},"winlog.logon.id":"0x1"}"#;
    let f = fields(ecs);
    assert_eq!(get(&f, "process.args"), ["a.exe", "-Embedding"]);
    assert_eq!((get(&f, "process.pid"), get(&f, "winlog.logon.id")), (vec!["42"], vec!["0x1"]));
}

mod flat {
    //! `FlatRecord`: any `(path, value)` pairs over the view's paths, values of any text (quotes,
    //! backslashes, control characters, non-ASCII), written and decoded again, give each view
    //! field exactly its pairs' values in pair order; UTF-16 values too.
    use dcom_detect_core::view::ecs::{Paths, ViewField};
    use dcom_detect_core::{Decoder, FlatRecord, Rule, Text};
    use proptest::prelude::*;

    fn pairs() -> impl Strategy<Value = Vec<(ViewField, Option<String>)>> {
        let field = prop::sample::select(ViewField::ALL.to_vec());
        let value = prop::option::weighted(0.9, "(\\PC|[\"\\\\\u{0}-\u{1f}\u{212a}😀]){0,12}");
        prop::collection::vec((field, value), 0..24)
    }

    proptest! {
        #[test]
        fn the_record_decodes_to_the_pairs(pairs in pairs(), utf16 in any::<bool>()) {
            let units: Vec<Option<Vec<u16>>> =
                pairs.iter().map(|(_, v)| v.as_ref().map(|v| v.encode_utf16().collect())).collect();
            let mut flat = FlatRecord::new();
            let record = flat.write(pairs.len(), |i| {
                let value = match (&pairs[i].1, &units[i]) {
                    (Some(_), Some(u)) if utf16 => Some(Text::from_utf16(u).unwrap()),
                    (Some(v), _) => Some(Text::utf8(v)),
                    (None, _) => None,
                };
                (pairs[i].0.path(), value)
            });
            let rule = Rule::default();
            let paths = Paths::new(rule.fields()).with_view();
            let mut decoder = Decoder::new();
            let document = decoder.decode(&paths, record).map_err(|e| TestCaseError::fail(format!("{e}")))?;
            for field in ViewField::ALL {
                let want: Vec<&str> =
                    pairs.iter().filter(|(f, _)| *f == field).filter_map(|(_, v)| v.as_deref()).collect();
                let got: Vec<String> = document.view(field).map(|t| t.to_string()).collect();
                prop_assert_eq!(got, want, "{:?} in {}", field, String::from_utf8_lossy(record));
            }
        }
    }
}
