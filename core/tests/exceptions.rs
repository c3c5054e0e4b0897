//! Tuning through the public API: every operator (including on multi-valued and absent
//! fields), the example file's four false-positive families (each suppresses its case and
//! nothing else), raw Windows events, load-time errors, and zero allocation.

use dcom_detect_core::{CaseFolding, Decoder, Options, Problem, ProcessEvent, Rule, Values};

const EXAMPLE: &[u8] = include_bytes!("../../examples/exceptions.json");

fn rule_with(json: &str) -> Rule {
    Rule::with_exceptions(Options::default(), json.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}

/// The verdict on a JSON record: None = no branch fired, Some(None) = alert,
/// Some(Some(name)) = suppressed by that item.
fn outcome(rule: &Rule, record: &str) -> Option<Option<String>> {
    let mut decoder = Decoder::new();
    let doc = decoder.decode(rule.paths(), record.as_bytes()).unwrap_or_else(|e| panic!("{e}: {record}"));
    let verdict = rule.evaluate(&doc);
    verdict.fired().then(|| verdict.suppressed_by.map(|i| rule.exceptions().items()[i].name().to_owned()))
}

fn item(field: &str, operator: &str, value: &str) -> String {
    let value = if value.is_empty() { String::new() } else { format!(r#","value":{value}"#) };
    format!(r#"[{{"name":"t","entries":[{{"field":"{field}","operator":"{operator}"{value}}}]}}]"#)
}

const BASE: &str =
    r#""event":{"category":"process","type":"start"},"process":{"name":"cmd.exe","parent":{"name":"mmc.exe"}}"#;

fn event(extra: &str) -> String {
    if extra.is_empty() {
        format!("{{{BASE}}}")
    } else {
        format!("{{{BASE},{extra}}}")
    }
}

#[test]
fn every_operator_on_single_multi_and_absent_values() {
    let suppressed = Some(Some("t".to_owned()));
    let alert = Some(None);
    // (operator, value, host.name as written in the event ("" = absent), suppressed?)
    let cases: &[(&str, &str, &str, bool)] = &[
        ("is", r#""WS-01""#, r#""WS-01""#, true),
        ("is", r#""WS-01""#, r#""ws-01""#, false), // `is` is case-sensitive
        ("is", r#""WS-01""#, r#"["X","WS-01"]"#, true), // any value
        ("is", r#""WS-01""#, "", false),
        ("is not", r#""WS-01""#, r#""WS-01""#, false),
        ("is not", r#""WS-01""#, r#""WS-02""#, true),
        ("is not", r#""WS-01""#, r#"["WS-02","WS-01"]"#, false), // not(any)
        ("is not", r#""WS-01""#, "", true),                      // absent: must_not holds
        ("is one of", r#"["a","WS-01"]"#, r#""WS-01""#, true),
        ("is one of", r#"["a","b"]"#, r#"["c","b"]"#, true),
        ("is one of", r#"["a","b"]"#, r#""c""#, false),
        ("is one of", r#"["a","b"]"#, "", false),
        ("is not one of", r#"["a","b"]"#, r#""c""#, true),
        ("is not one of", r#"["a","b"]"#, r#"["c","a"]"#, false),
        ("is not one of", r#"["a","b"]"#, "", true),
        ("exists", "", r#""x""#, true),
        ("exists", "", "null", false),
        ("exists", "", "[]", false),
        ("exists", "", "", false),
        ("does not exist", "", "", true),
        ("does not exist", "", "[null]", true),
        ("does not exist", "", r#""x""#, false),
        ("matches", r#""ws-*""#, r#""WS-01""#, true), // case-insensitive wildcard
        ("matches", r#""ws-?1""#, r#""WS-01""#, true),
        ("matches", r#"["x*","*-01"]"#, r#""WS-01""#, true),
        ("matches", r#""ws-*""#, r#"["db-1","ws-2"]"#, true),
        ("matches", r#""ws-*""#, "", false),
        ("does not match", r#""ws-*""#, r#""db-01""#, true),
        ("does not match", r#""ws-*""#, r#"["db-01","ws-02"]"#, false),
        ("does not match", r#""ws-*""#, "", true),
    ];
    for (operator, value, host, expect) in cases {
        let rule = rule_with(&item("host.name", operator, value));
        let record = if host.is_empty() { event("") } else { event(&format!(r#""host":{{"name":{host}}}"#)) };
        let got = outcome(&rule, &record);
        assert_eq!(
            got,
            if *expect { suppressed.clone() } else { alert.clone() },
            "{operator} {value} on host {host:?}"
        );
    }
}

#[test]
fn exceptions_never_touch_events_on_which_the_rule_does_not_fire() {
    let rule = rule_with(&item("host.name", "does not exist", ""));
    assert_eq!(
        outcome(&rule, r#"{"event":{"category":"process","type":"start"},"process":{"name":"notepad.exe"}}"#),
        None
    );
    // And suppressed events keep their branches.
    let mut decoder = Decoder::new();
    let record = event("");
    let doc = decoder.decode(rule.paths(), record.as_bytes()).unwrap();
    let verdict = rule.evaluate(&doc);
    assert_eq!(verdict.branches().bits(), 1);
    assert!(verdict.fired() && !verdict.is_match());
}

#[test]
fn keyword_limits_apply_to_exception_fields() {
    let long = "h".repeat(1025);
    let rule = rule_with(&item("host.name", "exists", ""));
    assert_eq!(outcome(&rule, &event(&format!(r#""host":{{"name":"{long}"}}"#))), Some(None));
    // process.command_line is a wildcard field: no limit.
    let rule = rule_with(&item("process.command_line", "matches", r#""*x""#));
    let record = format!(
        r#"{{"event":{{"category":"process","type":"start"}},"process":{{"name":"cmd.exe","parent":{{"name":"mmc.exe"}},"command_line":"{}x"}}}}"#,
        "y".repeat(5000)
    );
    assert_eq!(outcome(&rule, &record), Some(Some("t".into())));
}

#[test]
fn unicode_folding_applies_to_matches() {
    let json = item("host.name", "matches", r#""k*""#);
    let ascii = Rule::with_exceptions(Options::default(), json.as_bytes()).unwrap();
    let unicode = Rule::with_exceptions(Options { case_folding: CaseFolding::UnicodeSimple }, json.as_bytes()).unwrap();
    let kelvin = event("\"host\":{\"name\":\"\u{212A}ERBEROS\"}");
    assert_eq!(outcome(&ascii, &kelvin), Some(None));
    assert_eq!(outcome(&unicode, &kelvin), Some(Some("t".into())));
    assert_eq!(outcome(&ascii, &event(r#""host":{"name":"KERBEROS"}"#)), Some(Some("t".into())));
}

#[test]
fn raw_windows_events_expose_ecs_fields_to_exceptions() {
    let rule = rule_with(
        r#"[{"name":"raw","entries":[
            {"field":"host.name","operator":"is","value":"WORKSTATION6.theshire.local"},
            {"field":"user.name","operator":"is","value":"pgustavo"},
            {"field":"user.domain","operator":"is","value":"THESHIRE"},
            {"field":"process.parent.executable","operator":"matches","value":"*\\system32\\mmc.exe"}]}]"#,
    );
    let sysmon = r#"{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Hostname":"WORKSTATION6.theshire.local","User":"THESHIRE\\pgustavo","Image":"C:\\Windows\\System32\\cmd.exe","ParentImage":"C:\\Windows\\System32\\mmc.exe"}"#;
    assert_eq!(outcome(&rule, sysmon), Some(Some("raw".into())));
    let other_user = sysmon.replace("pgustavo", "sbeavers");
    assert_eq!(outcome(&rule, &other_user), Some(None));
    let security = r#"{"Event":{"System":{"Channel":"Security","EventID":4688,"Computer":"WORKSTATION6.theshire.local"},"EventData":{"SubjectUserName":"pgustavo","SubjectDomainName":"THESHIRE","NewProcessName":"C:\\Windows\\System32\\cmd.exe","ParentProcessName":"C:\\Windows\\System32\\mmc.exe"}}}"#;
    assert_eq!(outcome(&rule, security), Some(Some("raw".into())));
}

#[test]
fn struct_events_give_exception_fields_by_path() {
    let rule = rule_with(&item("host.name", "is", r#""jump-01""#));
    let other = [("host.name", "jump-01")];
    let event =
        ProcessEvent { name: "cmd.exe".into(), parent_name: "mmc.exe".into(), other: &other, ..ProcessEvent::start() };
    let verdict = rule.evaluate(&event);
    assert_eq!(verdict.suppressed_by, Some(0));
    let event = ProcessEvent { other: &[("host.name", "ws-01")], ..event };
    assert!(rule.evaluate(&event).is_match());
    let _ = Values::Absent;
}

/// The four false-positive families of the rule's notes (docs/exceptions.md, Example): each item suppresses its own case, a
/// near miss of it (one condition different) still alerts, and no item suppresses a case of
/// another family or a plain attack.
#[test]
fn example_file_families_suppress_their_case_and_nothing_else() {
    let rule = Rule::with_exceptions(Options::default(), EXAMPLE).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = rule.exceptions().items().iter().map(|i| i.name()).collect();
    assert_eq!(names.len(), 4);
    let ev = |host: &str, user: &str, parent: &str, name: &str, cl: &str, extra: &str| {
        format!(
            r#"{{"event":{{"category":["process"],"type":["start"]}},"host":{{"name":"{host}"}},"user":{{"name":"{user}"}},"process":{{"name":"{name}","command_line":"{cl}","parent":{{"name":"{parent}"}}{extra}}}}}"#
        )
    };
    let admin =
        ev("mgmt-ws-03", "adm_kwright", "mmc.exe", "powershell.exe", "powershell.exe -NoExit -Command Get-Service", "");
    let edr = ev(
        "ws-hr-0117",
        "SYSTEM",
        "mmc.exe",
        "powershell.exe",
        r"powershell.exe -File C:\\Program Files\\Contoso EDR\\response\\collect.ps1",
        r#","code_signature":{"subject_name":"Microsoft Windows","trusted":true}"#,
    );
    let sccm = ev(
        "ws-sales-0233",
        "SYSTEM",
        "WINWORD.EXE",
        "cmd.exe",
        r"cmd.exe /c C:\\Windows\\CCM\\ccmsetup.exe /update",
        "",
    );
    let finance = ev(
        "ws-fin-0042",
        "mlopez",
        "EXCEL.EXE",
        "wscript.exe",
        r"wscript.exe \\\\fileserver\\finance\\approved-macros\\close.vbs",
        "",
    );
    let cases = [(&admin, names[0]), (&edr, names[1]), (&sccm, names[2]), (&finance, names[3])];
    for (record, name) in cases {
        assert_eq!(outcome(&rule, record), Some(Some(name.to_owned())), "{record}");
    }
    // Near misses: one condition off each time; all must alert.
    let near_misses = [
        admin.replace("mgmt-ws-03", "ws-fin-0042"),
        admin.replace("adm_kwright", "jdoe"),
        admin.replace("-NoExit -Command Get-Service", "-nop -enc SQBFAFgA"),
        admin.replace("\"name\":\"powershell.exe\"", "\"name\":\"cmd.exe\""),
        edr.replace("Contoso EDR", "Temp"),
        edr.replace(r#","code_signature":{"subject_name":"Microsoft Windows","trusted":true}"#, ""),
        edr.replace("\"trusted\":true", "\"trusted\":false"),
        sccm.replace("SYSTEM", "bob"),
        sccm.replace("ws-sales-0233", "dc-01"),
        sccm.replace(r"\\Windows\\CCM\\", r"\\Users\\Public\\"),
        finance.replace("ws-fin-0042", "ws-hr-0117"),
        finance.replace("approved-macros", "downloads"),
        finance.replace("close.vbs", "http-get.vbs"),
        finance.replace("wscript.exe\",", "mshta.exe\","),
        // Genuine DCOM lateral movement (impacket's dcomexec).
        ev(
            "ws-fin-0042",
            "adm_kwright",
            "mmc.exe",
            "cmd.exe",
            r"cmd.exe /Q /c whoami 1> \\\\127.0.0.1\\ADMIN$\\__1556656511.61 2>&1",
            "",
        ),
    ];
    for record in &near_misses {
        assert_eq!(outcome(&rule, record), Some(None), "should alert: {record}");
    }
}

#[test]
fn bad_files_are_refused_with_item_entry_and_field() {
    let cases: &[(&str, &[&str])] = &[
        ("not json", &["not valid JSON"]),
        (r#"{"items":[]}"#, &["expected {\"exceptions\""]),
        (r#"[{"entries":[{"field":"a","operator":"exists"}]}]"#, &["item 1", "needs a \"name\""]),
        (r#"[{"name":"x","entries":[]}]"#, &["item 1 (\"x\")", "would suppress every alert"]),
        (
            r#"[{"name":"ok","entries":[{"field":"a","operator":"exists"}]},{"name":"second","entries":[{"field":"host.name","operator":"equals","value":"x"}]}]"#,
            &["item 2 (\"second\")", "entry 1", "field \"host.name\"", "unknown operator \"equals\""],
        ),
        (
            r#"[{"name":"x","entries":[{"field":"host.name","operator":"is one of","value":"a"}]}]"#,
            &["needs a list of strings"],
        ),
        (r#"[{"name":"x","entries":[{"field":"host.name","operator":"is one of","value":[]}]}]"#, &["non-empty list"]),
        (r#"[{"name":"x","entries":[{"field":"host.name","operator":"is"}]}]"#, &["needs a \"value\""]),
        (
            r#"[{"name":"x","entries":[{"field":"host.name","operator":"exists","value":"a"}]}]"#,
            &["takes no \"value\""],
        ),
        (r#"[{"name":"x","entries":[{"field":"host..name","operator":"exists"}]}]"#, &["dotted ECS path"]),
        (
            r#"[{"name":"x","entries":[{"field":"host.name","operator":"is","value":"a","vaule":"b"}]}]"#,
            &["unknown key \"vaule\""],
        ),
        (
            r#"[{"name":"x","entries":[{"field":"host.name","type":"list","operator":"included","value":"a"}]}]"#,
            &["not supported"],
        ),
        (
            r#"[{"name":"x","entries":[{"field":"host.name","type":"match","operator":"is","value":"a"}]}]"#,
            &["\"included\" or \"excluded\""],
        ),
    ];
    for (json, needles) in cases {
        let err = Rule::with_exceptions(Options::default(), json.as_bytes()).expect_err(json).to_string();
        for needle in *needles {
            assert!(err.contains(needle), "{json}\n  error: {err}\n  missing: {needle}");
        }
    }
}

#[test]
fn elastic_api_shaped_entries_are_accepted() {
    let rule = rule_with(
        r#"[{"name":"api","item_id":"x-1","type":"simple","entries":[
            {"field":"host.name","type":"match_any","operator":"included","value":["a","WS-01"]},
            {"field":"user.name","type":"exists","operator":"excluded"}]}]"#,
    );
    assert_eq!(outcome(&rule, &event(r#""host":{"name":"WS-01"}"#)), Some(Some("api".into())));
    assert_eq!(outcome(&rule, &event(r#""host":{"name":"WS-01"},"user":{"name":"u"}"#)), Some(None));
}

/// A refusal is typed: what is wrong is a `Problem` a program can match on, not just text.
#[test]
fn refusals_carry_a_typed_problem() {
    let problem = |json: &str| Rule::with_exceptions(Options::default(), json.as_bytes()).unwrap_err().problem;
    assert!(matches!(problem("not json"), Problem::NotJson(_)));
    assert_eq!(problem(r#"{"items":[]}"#), Problem::NotExceptionsFile);
    assert_eq!(problem(r#"[{"name":"x","entries":[]}]"#), Problem::EmptyEntries);
    assert_eq!(
        problem(r#"[{"name":"x","entries":[{"field":"h","operator":"equals","value":"x"}]}]"#),
        Problem::UnknownOperator("equals".into())
    );
    assert_eq!(
        problem(r#"[{"name":"x","entries":[{"field":"h","operator":"is one of","value":[]}]}]"#),
        Problem::NeedsNonEmptyList { operator: "is one of".into() }
    );
    let entries: Vec<String> =
        (0..70_000).map(|i| format!(r#"{{"field":"labels.f{i}","operator":"exists"}}"#)).collect();
    let json = format!(r#"[{{"name":"huge","entries":[{}]}}]"#, entries.join(","));
    assert!(matches!(problem(&json), Problem::TooManyFields(_)));
}

#[test]
fn a_file_naming_too_many_fields_is_refused_not_a_crash() {
    let entries: Vec<String> =
        (0..70_000).map(|i| format!(r#"{{"field":"labels.f{i}","operator":"exists"}}"#)).collect();
    let json = format!(r#"[{{"name":"huge","entries":[{}]}}]"#, entries.join(","));
    let err = Rule::with_exceptions(Options::default(), json.as_bytes()).unwrap_err().to_string();
    assert!(err.contains("item 1 (\"huge\")") && err.contains("more than 65536 distinct fields"), "{err}");
}

/// Found by fuzzing (`fuzz/seeds/exceptions/object-field.json`): an item naming a field that
/// holds an object in the event (`host`, where events have `host.name`) must not make events
/// unreadable. The field has no value there; the rule's own fields still reject objects.
#[test]
fn an_exception_field_holding_an_object_has_no_value_and_rejects_nothing() {
    let host = event(r#""host":{"name":"WS-01"}"#);
    let custom = event(r#""labels":{"team":{"id":"x"}}"#);
    for (field, record) in [("host", &host), ("labels.team", &custom)] {
        assert_eq!(outcome(&rule_with(&item(field, "is one of", r#"["WS-01","x"]"#)), record), Some(None), "{field}");
        assert_eq!(outcome(&rule_with(&item(field, "is", r#""WS-01""#)), record), Some(None), "{field}");
        let absent = rule_with(&item(field, "does not exist", ""));
        assert_eq!(outcome(&absent, record), Some(Some("t".to_owned())), "{field}");
    }
    // The rule's own keyword fields still refuse an object (the ECS mapping would).
    let rule = rule_with(&item("host", "exists", ""));
    let bad = r#"{"event":{"category":"process","type":"start"},"process":{"name":{"x":"cmd.exe"}}}"#;
    let err = Decoder::new().decode(rule.paths(), bad.as_bytes()).map(|_| ()).unwrap_err();
    assert!(err.to_string().contains("process.name"), "{err}");
}
