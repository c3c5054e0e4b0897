//! One test per semantic rule of `docs/semantics.md` §1–4 (test names keep the section numbers
//! of the original specification: s2_1 … s2_9), through the public API (the struct view and
//! the JSON decoder).

use dcom_detect_core::{Branch, CaseFolding, Decoder, ErrorKind, Options, ProcessEvent, Rule, Text, Values};

fn ascii() -> Rule {
    Rule::default()
}

fn unicode() -> Rule {
    Rule::new(Options { case_folding: CaseFolding::UnicodeSimple })
}

fn json_branches(rule: &Rule, record: &str) -> Vec<&'static str> {
    let mut decoder = Decoder::new();
    let doc = decoder.decode(rule.paths(), record.as_bytes()).expect("valid record");
    rule.evaluate(&doc).branches().iter().map(Branch::name).collect()
}

fn office(parent: &'static str, name: &'static str) -> ProcessEvent<'static> {
    ProcessEvent { parent_name: parent.into(), name: name.into(), ..ProcessEvent::start() }
}

#[test]
fn s2_1_process_where_needs_category_process_exactly() {
    let rule = ascii();
    let base = ProcessEvent { name: "dcomcnfg.exe".into(), ..ProcessEvent::start() };
    assert!(rule.matches(&base));
    for category in [Values::Absent, Values::One(""), Values::One("Process"), Values::Many(&[])] {
        let event = ProcessEvent { category, ..base };
        assert!(!rule.matches(&event), "{category:?}");
    }
    assert!(rule.matches(&ProcessEvent { category: (&["network", "process"]).into(), ..base }));
}

#[test]
fn s2_2_double_equals_is_exact_and_case_sensitive() {
    let rule = ascii();
    let with_name = |name| ProcessEvent { name: Values::One(name), ..ProcessEvent::start() };
    assert!(rule.evaluate(&with_name("dcomcnfg.exe")).branches().contains(Branch::Dcomcnfg));
    for name in ["DCOMCNFG.EXE", "DcomCnfg.exe", " dcomcnfg.exe", "dcomcnfg.exe ", "dcomcnfg*", "dcomcnf?.exe"] {
        assert!(!rule.matches(&with_name(name)), "{name}");
    }
    // event.type == "start" is exact too.
    let upper = ProcessEvent { event_type: "START".into(), ..with_name("dcomcnfg.exe") };
    assert!(!rule.matches(&upper));
    // And it never folds, under either folding.
    assert!(!unicode().matches(&with_name("DCOMCNFG.EXE")));
}

#[test]
fn s2_3_in_tilde_ignores_case_on_the_whole_value() {
    let rule = ascii();
    assert!(rule.matches(&office("MMC.EXE", "cmd.exe")));
    assert!(rule.matches(&office("WINWORD.exe", "RunDll32.EXE")));
    for (parent, name) in [
        ("mmc.exe.old", "cmd.exe"),
        ("xmmc.exe", "cmd.exe"),
        ("mmc", "cmd.exe"),
        ("mmc.exe", "cmd"),
        ("mmc.*", "cmd.exe"),
        ("mmc.exe", "c?d.exe"),
    ] {
        assert!(!rule.matches(&office(parent, name)), "{parent} -> {name}");
    }
    let event = office("Excel.exe", "CertUtil.exe");
    let verdict = rule.evaluate(&event);
    let why = verdict.office_child.expect("fired");
    assert_eq!(why.parent_name, "Excel.exe");
    assert_eq!(why.name, "CertUtil.exe");
}

#[test]
fn s2_4_colon_is_an_anchored_case_insensitive_wildcard() {
    let rule = ascii();
    let cl = |c: &'static str| ProcessEvent { command_line: c.into(), ..ProcessEvent::start() };
    let fired = |c| rule.evaluate(&cl(c)).branches().contains(Branch::DcomCommandLine);
    assert!(fired("powershell -ExecutionPolicy Bypass -File Invoke-DCOM.ps1"));
    assert!(fired("dcom-exec"));
    assert!(fired("DCOM\n\n-EXEC"), "* spans newlines");
    assert!(!fired("svchost.exe -k DcomLaunch -p"), "no -Exec");
    assert!(!fired("powershell -Exec Bypass"), "no DCOM");
    assert!(!fired("dcom exec"), "the dash is part of the pattern");
    assert!(!fired("D COM -Exec"));
    let event = cl("a DCOM b -exec c");
    let v = rule.evaluate(&event);
    let why = v.dcom_command_line.unwrap();
    assert_eq!(why.dcom, "a DCOM b -exec c");
    assert_eq!(why.exec, "a DCOM b -exec c");
}

#[test]
fn s2_4_wildcard_question_mark_is_one_code_point() {
    use dcom_detect_core::rule::wildcard::Pattern;
    let p = Pattern::wildcard("a?c", CaseFolding::Ascii);
    for v in ["abc", "aéc", "a😀c", "aBc"] {
        assert!(p.matches(Text::utf8(v)), "{v}");
    }
    for v in ["ac", "abbc", "a😀😀c"] {
        assert!(!p.matches(Text::utf8(v)), "{v}");
    }
    // `\`, `%` and `_` are ordinary; there is no escape for * and ?.
    let p = Pattern::wildcard(r"c:\win*\%_x", CaseFolding::Ascii);
    assert!(p.matches(Text::utf8(r"C:\Windows\%_X")));
    assert!(!p.matches(Text::utf8(r"C:\Windows\abX")));
    assert!(Pattern::wildcard(r"\*", CaseFolding::Ascii).matches(Text::utf8(r"\anything")));
    // Without wildcards, `:` is case-insensitive equality.
    assert!(Pattern::wildcard("DCOM", CaseFolding::Ascii).matches(Text::utf8("dcom")));
    assert!(!Pattern::wildcard("DCOM", CaseFolding::Ascii).matches(Text::utf8("dcom ")));
}

#[test]
fn s2_5_case_folding_is_ascii_by_default_and_unicode_simple_on_request() {
    let kelvin = office("outloo\u{212A}.exe", "cmd.exe");
    let long_s = office("vi\u{017F}io.exe", "cmd.exe");
    assert!(!ascii().matches(&kelvin));
    assert!(!ascii().matches(&long_s));
    assert!(unicode().matches(&kelvin));
    assert!(unicode().matches(&long_s));
    // İ, ı and ß fold to nothing new.
    for (parent, name) in
        [("mmc.exe", "certut\u{130}l.exe"), ("w\u{131}nword.exe", "cmd.exe"), ("mmc.exe", "c\u{df}cript.exe")]
    {
        assert!(!unicode().matches(&office(parent, name)), "{parent} -> {name}");
    }
    assert_eq!(Options::default().case_folding, CaseFolding::Ascii);
}

#[test]
fn s2_6_any_value_of_a_multi_valued_field_may_satisfy_each_comparison() {
    let rule = ascii();
    // The worked example: different values satisfy the two wildcard comparisons.
    let event = ProcessEvent { command_line: (&["a DCOM", "b -Exec"]).into(), ..ProcessEvent::start() };
    let why = rule.evaluate(&event).dcom_command_line.expect("fired");
    assert_eq!((why.dcom, why.exec), (Text::utf8("a DCOM"), Text::utf8("b -Exec")));
    let event = ProcessEvent {
        parent_name: (&["explorer.exe", "mmc.exe"]).into(),
        name: (&["notepad.exe", "mshta.exe"]).into(),
        ..ProcessEvent::start()
    };
    let why = rule.evaluate(&event).office_child.expect("fired");
    assert_eq!((why.parent_name, why.name), (Text::utf8("mmc.exe"), Text::utf8("mshta.exe")));
    assert_eq!(
        json_branches(
            &rule,
            r#"{"event":{"category":"process","type":"start"},"process":{"command_line":["a DCOM","b -Exec"]}}"#
        ),
        ["dcom_command_line"]
    );
}

#[test]
fn s2_7_missing_fields_make_their_comparison_false_only() {
    let rule = ascii();
    // No command line: branch 3 off, branch 1 still on.
    assert_eq!(rule.evaluate(&office("mmc.exe", "cmd.exe")).branches().bits(), Branch::OfficeChild.bit());
    // No parent: branch 1 off, branch 2 still on.
    let event = ProcessEvent { name: "dcomcnfg.exe".into(), ..ProcessEvent::start() };
    assert_eq!(rule.evaluate(&event).branches().bits(), Branch::Dcomcnfg.bit());
    // Every branch reported, not only the first.
    let all = ProcessEvent {
        name: (&["dcomcnfg.exe", "cmd.exe"]).into(),
        parent_name: "mmc.exe".into(),
        command_line: "DCOM -Exec".into(),
        ..ProcessEvent::start()
    };
    assert_eq!(rule.evaluate(&all).branches().bits(), 0b111);
    assert!(!rule.matches(&ProcessEvent::start()));
    assert!(!rule.matches(&ProcessEvent::default()));
}

#[test]
fn s2_8_document_model() {
    let rule = ascii();
    let ev = r#""event":{"category":"process","type":"start"}"#;
    // dotted, nested and mixed keys name the same field
    for process in [
        r#""process.name":"cmd.exe","process.parent.name":"mmc.exe""#,
        r#""process":{"name":"cmd.exe","parent":{"name":"mmc.exe"}}"#,
        r#""process":{"name":"cmd.exe","parent.name":"mmc.exe"}"#,
        r#""process.parent":{"name":"mmc.exe"},"process":{"name":"cmd.exe"}"#,
        r#""process":[{"name":"cmd.exe"},{"parent":[{"name":"mmc.exe"}]}]"#,
    ] {
        assert_eq!(json_branches(&rule, &format!("{{{ev},{process}}}")), ["office_child"], "{process}");
    }
    // both ways: both values
    assert_eq!(
        json_branches(&rule, &format!(r#"{{{ev},"process.name":"notepad.exe","process":{{"name":"dcomcnfg.exe"}}}}"#)),
        ["dcomcnfg"]
    );
    // null, [], [null] are no value
    for nothing in ["null", "[]", "[null]"] {
        let record =
            format!(r#"{{"event":{{"category":{nothing},"type":"start"}},"process":{{"name":"dcomcnfg.exe"}}}}"#);
        assert!(json_branches(&rule, &record).is_empty(), "{nothing}");
    }
    // numbers and booleans are their JSON text
    let mut decoder = Decoder::new();
    let doc = decoder.decode(rule.paths(), br#"{"process":{"name":1.50,"parent":{"name":[true,-0,1e3]}}}"#).unwrap();
    let field = rule.fields().get(dcom_detect_core::FieldId::PROCESS_PARENT_NAME);
    use dcom_detect_core::Fields;
    let parents: Vec<String> = doc.values(field).map(|t| t.to_string()).collect();
    assert_eq!(parents, ["true", "-0", "1e3"]);
    let name = rule.fields().get(dcom_detect_core::FieldId::PROCESS_NAME);
    assert_eq!(doc.values(name).map(|t| t.to_string()).collect::<Vec<_>>(), ["1.50"]);
    // escapes are decoded before matching
    assert_eq!(
        json_branches(&rule, &format!(r#"{{{ev},"process":{{"command_line":"\u0044COM -\u0045xec"}}}}"#)),
        ["dcom_command_line"]
    );
    // the same key twice is a bad record, with its position
    let record = format!(r#"{{{ev},"process":{{"name":"a","name":"b"}}}}"#);
    let err = decoder.decode(rule.paths(), record.as_bytes()).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::DuplicateKey(k) if &**k == "name"));
    assert_eq!(&record[err.offset()..err.offset() + 6], "\"name\"");
    assert_eq!(record[..err.offset()].matches("\"name\"").count(), 1, "points at the second one");
}

/// Every repeated key is found, whatever the object's size (small objects compare pairs,
/// large ones sort) and wherever the two copies are; keys that only share their first bytes,
/// or a prefix and a length, are not repeats; an escape spells the same key.
#[test]
fn s2_8_duplicate_keys_are_found_in_objects_of_every_size() {
    let rule = ascii();
    let mut decoder = Decoder::new();
    // Same length and first seven bytes for all: only the whole key tells them apart.
    let key = |i: usize| format!("process_{i:04}");
    let object = |keys: &[String]| {
        let members: Vec<String> = keys.iter().map(|k| format!(r#""{k}":1"#)).collect();
        format!(r#"{{"event":{{"category":"process","type":"start"}},"x":{{{}}}}}"#, members.join(","))
    };
    for n in 1..=40 {
        let keys: Vec<String> = (0..n).map(key).collect();
        assert!(decoder.decode(rule.paths(), object(&keys).as_bytes()).is_ok(), "{n} distinct keys");
        for first in 0..n {
            for second in first + 1..n {
                let mut keys = keys.clone();
                keys[second] = keys[first].clone();
                // The escaped spelling of the second copy is the same key.
                if (first + second) % 3 == 0 {
                    keys[second] = keys[second].replacen('p', r"\u0070", 1);
                }
                let record = object(&keys);
                let err = decoder.decode(rule.paths(), record.as_bytes()).expect_err("a repeated key");
                assert!(matches!(err.kind(), ErrorKind::DuplicateKey(k) if **k == key(first)), "{n} {first} {second}");
                let before = record[..err.offset()].matches(r#"":1"#).count();
                assert_eq!(before, second, "{n} keys, copies at {first} and {second}: points at the second");
            }
        }
    }
}

/// A dot spelt as an escape (`\u002e`) expands a key as a plain dot does.
#[test]
fn s2_8_an_escaped_dot_expands_a_key() {
    let rule = ascii();
    for spelling in [r#""process.name""#, r#""process\u002ename""#, r#""process\u002Ename""#] {
        let record =
            format!(r#"{{"event":{{"category":"process","type":"start"}},{spelling}:"dcomcnfg.exe","x.y":1}}"#);
        assert_eq!(json_branches(&rule, &record), ["dcomcnfg"], "{spelling}");
    }
}

#[test]
fn s2_9_keyword_values_over_ignore_above_are_invisible() {
    let rule = ascii();
    // 1024 UTF-16 units is still indexed; 1025 is not. Use a value that matches nothing but
    // can be seen through `event.category` (whose only valid value is "process").
    let at_limit = "x".repeat(1024);
    let over = "x".repeat(1025);
    for (values, expect) in [
        (vec!["process", over.as_str()], true),
        (vec![over.as_str()], false),
        (vec![at_limit.as_str(), "process"], true),
    ] {
        let event =
            ProcessEvent { category: Values::Many(&values), name: "dcomcnfg.exe".into(), ..ProcessEvent::start() };
        assert_eq!(rule.matches(&event), expect);
    }
    // The limit counts UTF-16 code units, not bytes: 600 × "é" is 1200 bytes but 600 units.
    let e600 = "é".repeat(600);
    let event = ProcessEvent {
        parent_name: Values::Many(&[&e600, "mmc.exe"]),
        name: "cmd.exe".into(),
        ..ProcessEvent::start()
    };
    assert!(rule.matches(&event));
    // process.command_line is a wildcard field: no limit.
    let long = format!("-Exec {} DCOM", "y".repeat(100_000));
    let event = ProcessEvent { command_line: long.as_str().into(), ..ProcessEvent::start() };
    assert!(rule.matches(&event));
}

#[test]
fn utf16_values_match_like_utf8() {
    use dcom_detect_core::{Field, Fields};
    struct Utf16Event {
        parent: Vec<u16>,
        name: Vec<u16>,
    }
    impl Fields for Utf16Event {
        type Values<'s> = std::vec::IntoIter<Text<'s>>;
        fn values<'s>(&'s self, field: &'s Field) -> Self::Values<'s> {
            let v: Vec<Text<'s>> = match field.path() {
                "event.category" => vec![Text::utf8("process")],
                "event.type" => vec![Text::utf8("start")],
                "process.parent.name" => vec![Text::from_utf16(&self.parent).unwrap()],
                "process.name" => vec![Text::from_utf16(&self.name).unwrap()],
                _ => vec![],
            };
            v.into_iter()
        }
    }
    let utf16 = |s: &str| s.encode_utf16().collect::<Vec<u16>>();
    let event = Utf16Event { parent: utf16("OUTLOO\u{212A}.EXE"), name: utf16("cmd.exe") };
    assert!(!ascii().matches(&event));
    assert!(unicode().matches(&event));
    let event = Utf16Event { parent: utf16("MMC.exe"), name: utf16("dcomcnfg.exe") };
    assert_eq!(ascii().evaluate(&event).branches().bits(), Branch::Dcomcnfg.bit());
}
