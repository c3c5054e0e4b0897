//! The validation report through the public API.

use dcom_detect_core::correlate::Profile;
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
    // Per profile: the extended profile's anchors are judged against `correlation_anchors`
    // (report.ok() above); the labels say nothing of the elastic profile, so it is reported.
    let raised = |profile: Profile| -> Vec<(String, &str, String)> {
        let mut out = Vec::new();
        for f in &report.files {
            for (r, at) in f.correlated.iter().filter(|(r, _)| r.profile() == profile) {
                out.push((f.file.clone(), r.name(), at.clone()));
            }
        }
        out
    };
    assert_eq!(raised(Profile::Extended).len(), 19);
    let shellwindows = "otrf_dcom/empire_dcom_shellwindows_stager.filtered.ndjson";
    assert_eq!(raised(Profile::Elastic), [(shellwindows.to_owned(), "shellwindows", "line 2434".to_owned())]);
    let labelled = report.files.iter().filter(|f| f.expected.is_some()).collect::<Vec<_>>();
    assert!(labelled.iter().all(|f| f.expected_correlated.iter().map(|(p, _)| *p).eq([Profile::Extended])));
    // Which profile catches what the seed rule misses, in the table and the JSON.
    let table = report.to_table();
    assert!(table.contains("caught by D3, shellwindows") || table.contains("caught by shellwindows, D3"), "{table}");
    let json = report.to_json();
    let empire = json["recordings"].as_array().unwrap().iter().find(|f| f["file"] == shellwindows).unwrap();
    let at_2434 = empire["dcom_missed"].as_array().unwrap().iter().find(|m| m["at"] == "line 2434").unwrap();
    assert_eq!(at_2434["caught_by"].as_array().unwrap().len(), 2, "{at_2434}");
}

#[test]
fn a_stateful_alert_the_labels_do_not_expect_is_a_disagreement() {
    let Some(dir) = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/realdata").canonicalize().ok()
    else {
        eprintln!("SKIPPED: ../shared/realdata is absent");
        return;
    };
    // A folder holding one labelled recording whose labels leave out one D3 anchor.
    let tmp = std::env::temp_dir().join(format!("dcom-validate-{}", std::process::id()));
    std::fs::create_dir_all(tmp.join("otrf_dcom")).unwrap();
    let name = "otrf_dcom/empire_dcom_shellwindows_stager.filtered.ndjson";
    std::fs::copy(dir.join(name), tmp.join(name)).unwrap();
    let labels: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("labels.json")).unwrap()).unwrap();
    let mut entry = labels["files"][name].clone();
    entry["correlation_anchors"]["D3"] = serde_json::json!([2434]);
    let doc = serde_json::json!({ "files": { name: entry } });
    std::fs::write(tmp.join("labels.json"), serde_json::to_vec(&doc).unwrap()).unwrap();
    let report = validate(&Rule::default(), std::slice::from_ref(&tmp)).unwrap();
    std::fs::remove_dir_all(&tmp).unwrap();
    assert!(!report.ok(), "the D3 anchor on line 1635 is not labelled");
    assert!(report.to_table().contains("DISAGREES"));
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
