//! Alerts: golden documents pin the format (`golden/alerts.ndjson`: the alert of every
//! matching golden record, in order), and every field dcom-detect generates is checked
//! against its ECS definition (`golden/ecs_fields.tsv`).
//!
//! After an intended format change: `DCOM_REGENERATE_GOLDEN=1 cargo test -p dcom-detect-core --test alerts`.

use std::collections::HashMap;

use dcom_detect_core::alert::expand_dotted;
use dcom_detect_core::{AlertOptions, AlertWriter, Origin, Position, Rule};
use serde_json::Value;

const EVENTS: &[u8] = include_bytes!("golden/events.ndjson");
const GOLDEN: &str = "tests/golden/alerts.ndjson";

/// The alerts of the golden corpus, one line each, as every front end must write them.
fn golden_alerts(rule: &Rule, include_original: bool) -> String {
    let mut writer = AlertWriter::new(rule, AlertOptions { include_original });
    let mut out = Vec::new();
    let mut offset = 0u64;
    for (i, record) in EVENTS.split(|&b| b == b'\n').enumerate() {
        let position = Position::Line { line: i as u64 + 1, offset };
        offset += record.len() as u64 + 1;
        let origin = Origin { file: Some("events.ndjson"), position: Some(position) };
        if let Ok(true) = writer.write(record, &origin, &mut out) {
            out.push(b'\n');
        }
    }
    String::from_utf8(out).expect("alerts are UTF-8")
}

#[test]
fn golden_alert_documents() {
    let got = golden_alerts(&Rule::default(), false);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN);
    if std::env::var_os("DCOM_REGENERATE_GOLDEN").is_some() {
        std::fs::write(&path, &got).unwrap();
    }
    let want = std::fs::read_to_string(&path).expect("golden alerts exist");
    let matching = include_str!("golden/expected.tsv")
        .lines()
        .skip(1)
        .filter(|row| !matches!(row.split('\t').nth(1), Some("0" | "-1")))
        .count();
    assert!(matching > 90, "the corpus has its matching records");
    assert_eq!(got.lines().count(), matching, "one alert per matching golden record");
    for (n, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "alert {} differs from {GOLDEN}", n + 1);
    }
    assert_eq!(got, want);
}

fn ecs_types() -> HashMap<String, String> {
    include_str!("golden/ecs_fields.tsv")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .map(|l| {
            let (f, t) = l.split_once('\t').unwrap();
            (f.to_owned(), t.to_owned())
        })
        .collect()
}

fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&path, v, out);
            }
        }
        other => out.push((prefix.to_owned(), other.clone())),
    }
}

fn type_ok(kind: &str, value: &Value) -> bool {
    let each = |v: &Value| match kind {
        "keyword" | "wildcard" => v.is_string(),
        "long" => v.is_i64() || v.is_u64(),
        "float" => v.is_number(),
        "date" => v.as_str().is_some_and(|s| {
            s.len() >= 20 && s.as_bytes()[4] == b'-' && s.contains('T') && (s.ends_with('Z') || s.contains('+'))
        }),
        _ => false,
    };
    match value {
        Value::Array(items) => !items.is_empty() && items.iter().all(each),
        v => each(v),
    }
}

#[test]
fn generated_fields_follow_ecs_definitions() {
    let types = ecs_types();
    let rule = Rule::default();
    let alerts = golden_alerts(&rule, true);
    let mut checked = 0;
    for alert in alerts.lines() {
        let alert: Value = serde_json::from_str(alert).unwrap();
        // Fields copied from an ECS event are the producer's: skip what the event itself had.
        let line = alert["dcom_detect"]["source"]["line"].as_u64().unwrap();
        let source: Value = serde_json::from_slice(EVENTS.split(|&b| b == b'\n').nth(line as usize - 1).unwrap())
            .unwrap_or(Value::Null);
        let mut from_event = Vec::new();
        flatten("", &Value::Object(expand_dotted(&source)), &mut from_event);
        let mut fields = Vec::new();
        flatten("", &alert, &mut fields);
        for (name, value) in fields {
            if name.starts_with("dcom_detect.") {
                continue;
            }
            if from_event.iter().any(|(n, v)| *n == name && *v == value) {
                continue;
            }
            let kind =
                types.get(&name).unwrap_or_else(|| panic!("alert field {name} is not an ECS field dcom-detect knows"));
            if value.is_null() {
                assert_eq!(name, "@timestamp", "only a missing timestamp may be null");
                continue;
            }
            assert!(type_ok(kind, &value), "{name} = {value} is not an ECS {kind}");
            checked += 1;
        }
    }
    assert!(checked > 2000, "{checked} fields checked");
}

/// `AlertWriter::document` gives the golden bytes too, and its accessors agree with the
/// document they came with.
#[test]
fn alert_values_carry_the_golden_document_and_its_fields() {
    let rule = Rule::default();
    let mut writer = AlertWriter::new(&rule, AlertOptions::default());
    let want = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN)).unwrap();
    let mut want = want.lines();
    let (mut offset, mut with_host) = (0u64, 0);
    for (i, record) in EVENTS.split(|&b| b == b'\n').enumerate() {
        let position = Position::Line { line: i as u64 + 1, offset };
        offset += record.len() as u64 + 1;
        let origin = Origin { file: Some("events.ndjson"), position: Some(position) };
        let Ok(Some(alert)) = writer.document(record, &origin) else { continue };
        assert_eq!(Some(alert.json()), want.next(), "record {}", i + 1);
        let value: Value = serde_json::from_str(alert.json()).unwrap();
        assert_eq!(alert.timestamp(), value["@timestamp"].as_str());
        assert_eq!(alert.host(), value["host"]["name"].as_str().or(value["host"]["hostname"].as_str()));
        let names: Vec<&str> =
            value["dcom_detect"]["branches"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert_eq!(alert.branches().iter().map(|b| b.name()).collect::<Vec<_>>(), names);
        match (value["user"]["domain"].as_str(), value["user"]["name"].as_str()) {
            (Some(d), Some(n)) => assert_eq!(alert.user(), Some(format!("{d}\\{n}").as_str())),
            (_, n) => assert_eq!(alert.user(), n),
        }
        with_host += usize::from(alert.host().is_some());
    }
    assert_eq!(want.next(), None, "every golden alert was produced");
    assert!(with_host > 0, "hosts {with_host}");
    // A raw Sysmon event: host from Computer, user as DOMAIN\name, time from UtcTime.
    let sysmon = br#"{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Hostname":"ws-7","UtcTime":"2019-03-19 17:15:16.129","User":"CORP\\alice","Image":"C:\\Windows\\System32\\cmd.exe","ParentImage":"C:\\Windows\\System32\\mmc.exe","CommandLine":"cmd"}"#;
    let alert = writer.document(sysmon, &Origin { file: None, position: None }).unwrap().expect("an alert");
    assert_eq!((alert.host(), alert.user()), (Some("ws-7"), Some("CORP\\alice")));
    assert_eq!(alert.timestamp(), Some("2019-03-19T17:15:16.129Z"));
    assert_eq!(alert.branches().iter().map(|b| b.name()).collect::<Vec<_>>(), ["office_child"]);
}

/// A struct event (a sensor's `Fields`, C's `dcom_event`) gets the same alert as its JSON
/// form, with the view fields it gives by ECS path; one that raises none gets none.
#[test]
fn struct_events_get_the_alert_their_json_gets() {
    use dcom_detect_core::{AlertOptions, AlertWriter, Origin, Position, ProcessEvent, Rule};
    let rule = Rule::default();
    let mut writer = AlertWriter::new(&rule, AlertOptions::default());
    let other = [
        ("@timestamp", "2024-05-01T12:00:00Z"),
        ("host.name", "ws-01"),
        ("user.name", "alice"),
        ("user.domain", "CORP"),
        ("process.pid", "4242"),
        ("process.parent.pid", "0x10"),
        ("process.entity_id", "{a}"),
    ];
    let event = ProcessEvent {
        name: "cmd.exe".into(),
        parent_name: "mmc.exe".into(),
        command_line: "cmd /c whoami".into(),
        other: &other,
        ..ProcessEvent::start()
    };
    let origin = Origin { file: Some("sensor"), position: Some(Position::Row { row: 7 }) };
    let alert = writer.document_fields(&event, &origin).expect("an alert");
    assert_eq!(
        (alert.host(), alert.user(), alert.timestamp()),
        (Some("ws-01"), Some("CORP\\alice"), Some("2024-05-01T12:00:00Z"))
    );
    assert_eq!((alert.file(), alert.position()), (Some("sensor"), Some(Position::Row { row: 7 })));
    let v: serde_json::Value = serde_json::from_str(alert.json()).unwrap();
    assert_eq!(v["process"]["name"], "cmd.exe");
    assert_eq!(v["process"]["parent"]["name"], "mmc.exe");
    assert_eq!(v["process"]["pid"], 4242);
    assert_eq!(v["process"]["parent"]["pid"], 16);
    assert_eq!(v["dcom_detect"]["schema"], "fields");
    assert_eq!(v["dcom_detect"]["source"]["row"], 7);

    // The same event as ECS JSON: the same rule, threat, branches and evidence.
    let json = br#"{"@timestamp":"2024-05-01T12:00:00Z","event":{"category":"process","type":"start"},"host":{"name":"ws-01"},"process":{"name":"cmd.exe","command_line":"cmd /c whoami","parent":{"name":"mmc.exe"}}}"#;
    let from_json = writer.document(json, &origin).unwrap().expect("an alert");
    let w: serde_json::Value = serde_json::from_str(from_json.json()).unwrap();
    for key in ["rule", "threat", "event", "@timestamp"] {
        assert_eq!(v[key], w[key], "{key}");
    }
    assert_eq!(v["dcom_detect"]["branches"], w["dcom_detect"]["branches"]);
    assert_eq!(v["dcom_detect"]["evidence"], w["dcom_detect"]["evidence"]);

    let quiet =
        ProcessEvent { name: "notepad.exe".into(), parent_name: "explorer.exe".into(), ..ProcessEvent::start() };
    assert!(writer.document_fields(&quiet, &origin).is_none());
}
