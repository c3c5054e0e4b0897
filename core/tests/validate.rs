//! The validation report through the public API.

use dcom_detect_core::validate::{explain, validate, validation_events};
use dcom_detect_core::{Decoder, ProcessEvent, Rule};

#[test]
fn bundled_methodology_events_give_the_expected_verdicts_in_every_form() {
    let events = validation_events();
    assert!(events.len() >= 45);
    for form in ["ecs", "sysmon", "security_4688"] {
        assert_eq!(events.iter().filter(|e| e.form == form).count(), events.len() / 3);
    }
    let report = validate(&Rule::default(), &[]).unwrap();
    for step in &report.steps {
        assert!(step.agrees(), "{}: {:?}", step.step, step.fired);
        assert_eq!(step.fired.len(), 3);
        assert_eq!(step.why.is_empty(), !step.expected.is_empty(), "{}", step.step);
    }
    assert!(report.ok());
    let table = report.to_table();
    assert!(table.contains("ShellWindows") && table.contains("parent explorer.exe is not a COM host"), "{table}");
    assert!(table.contains("calc.exe (child of mmc.exe) is not a listed script host or LOLBin"), "{table}");
    assert!(table.contains("the command line has DCOM but not -Exec"), "RTA's $dcom ...ExecuteShellCommand: {table}");
    let json = report.to_json();
    assert_eq!(json["ok"], true);
    assert_eq!(json["methodology"].as_array().unwrap().len(), events.len() / 3);
}

#[test]
fn explain_names_the_failing_condition() {
    let rule = Rule::default();
    let upper = ProcessEvent { name: "DCOMCNFG.EXE".into(), ..ProcessEvent::start() };
    assert!(explain(&rule, &upper).contains("DCOMCNFG.EXE is not exactly dcomcnfg.exe"));
    let not_start = ProcessEvent { event_type: "end".into(), name: "dcomcnfg.exe".into(), ..ProcessEvent::start() };
    assert!(explain(&rule, &not_start).starts_with("not a process start"));
    let fired = ProcessEvent { name: "dcomcnfg.exe".into(), ..ProcessEvent::start() };
    assert_eq!(explain(&rule, &fired), "");
    let mut decoder = Decoder::new();
    let doc = decoder
        .decode(rule.paths(), br#"{"event":{"category":"process","type":"start"},"process":{"command_line":"-Exec"}}"#)
        .unwrap();
    assert!(explain(&rule, &doc).contains("has -Exec but not DCOM"));
}

#[test]
fn real_recordings_agree_with_their_labels() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/realdata");
    if !dir.join("labels.json").exists() {
        eprintln!("SKIPPED: ../shared/realdata is absent");
        return;
    }
    let report = validate(&Rule::default(), &[dir]).unwrap();
    assert!(report.ok(), "{}", report.to_table());
    let fired: usize = report.files.iter().map(|f| f.fired.len()).sum();
    assert_eq!(fired, 9);
    let records: u64 = report.files.iter().map(|f| f.records).sum();
    assert_eq!(records, 26_655);
    let missed: Vec<_> = report.files.iter().flat_map(|f| f.missed.iter()).collect();
    assert!(missed.len() >= 30, "{} DCOM events explained", missed.len());
    assert!(missed.iter().all(|(_, why)| !why.is_empty() && why != "fired"), "{missed:?}");
}

#[test]
fn an_exception_that_suppresses_an_expected_alert_is_a_disagreement() {
    use dcom_detect_core::Options;
    let broad = br#"[{"name":"everything from mmc","entries":[{"field":"process.parent.name","operator":"is","value":"mmc.exe"}]}]"#;
    let rule = Rule::with_exceptions(Options::default(), broad).unwrap();
    let report = validate(&rule, &[]).unwrap();
    assert!(!report.ok());
    let step = report.steps.iter().find(|s| s.step.contains("impacket") || s.test.contains("impacket")).unwrap();
    assert!(!step.agrees() && step.suppressed.len() == 3, "{step:?}");
    assert!(report.to_table().contains("SUPPRESSED by exception \"everything from mmc\""));
    // The example file's families leave every methodology alert standing.
    let tuned = Rule::with_exceptions(Options::default(), include_bytes!("../../examples/exceptions.json")).unwrap();
    assert!(validate(&tuned, &[]).unwrap().ok());
}
