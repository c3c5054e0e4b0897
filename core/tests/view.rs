//! The event view's time and host fields (`Paths::with_view`): what each source gives, read
//! alike from JSON text and from a tree, and never a change of verdict.

use std::path::Path;

use dcom_detect_core::view::ecs::Paths;
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
