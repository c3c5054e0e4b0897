//! Tuning through the C ABI: `examples/exceptions.json` loaded through `dcom_rule_options`,
//! its four false-positive families and their near misses (the events of core's
//! `tests/exceptions.rs`) through every door (UTF-8 struct with the extra fields in `other`,
//! UTF-16 struct, JSON, alert), and bad files refused at create time with core's message.

use dcom_detect::*;
use dcom_detect_core::{Options, Rule};

use crate::common::*;

pub const EXAMPLE: &[u8] = include_bytes!("../../../examples/exceptions.json");

/// A process start as core's exception test writes it, with decoded (not JSON-escaped) values.
#[derive(Clone, Debug)]
pub struct Family {
    pub host: String,
    pub user: String,
    pub parent: String,
    pub name: String,
    pub command_line: String,
    /// `process.code_signature`: subject name and `trusted`.
    pub code_signature: Option<(&'static str, bool)>,
}

fn family(host: &str, user: &str, parent: &str, name: &str, command_line: &str, signed: bool) -> Family {
    Family {
        host: host.into(),
        user: user.into(),
        parent: parent.into(),
        name: name.into(),
        command_line: command_line.into(),
        code_signature: signed.then_some(("Microsoft Windows", true)),
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

impl Family {
    /// The record, shaped exactly like core's test's.
    pub fn json(&self) -> String {
        let extra = match self.code_signature {
            Some((subject, trusted)) => {
                format!(r#","code_signature":{{"subject_name":{},"trusted":{trusted}}}"#, json_string(subject))
            }
            None => String::new(),
        };
        format!(
            r#"{{"event":{{"category":["process"],"type":["start"]}},"host":{{"name":{}}},"user":{{"name":{}}},"process":{{"name":{},"command_line":{},"parent":{{"name":{}}}{extra}}}}}"#,
            json_string(&self.host),
            json_string(&self.user),
            json_string(&self.name),
            json_string(&self.command_line),
            json_string(&self.parent),
        )
    }

    /// The `(path, value)` pairs a sensor puts in `dcom_event.other`.
    pub fn other(&self) -> Vec<(&'static str, String)> {
        let mut other = vec![("host.name", self.host.clone()), ("user.name", self.user.clone())];
        if let Some((subject, trusted)) = self.code_signature {
            other.push(("process.code_signature.subject_name", subject.to_owned()));
            other.push(("process.code_signature.trusted", trusted.to_string()));
        }
        other
    }

    /// `dcom_rule_evaluate` on the UTF-8 struct.
    pub fn evaluate_utf8(&self, rule: &RuleHandle) -> (dcom_result, dcom_verdict) {
        let category = [s("process")];
        let event_type = [s("start")];
        let pairs = self.other();
        let other: Vec<dcom_field> = pairs.iter().map(|(p, v)| dcom_field { path: s(p), value: s(v) }).collect();
        let event = dcom_event {
            event_category: category.as_ptr(),
            event_category_count: 1,
            event_type: event_type.as_ptr(),
            event_type_count: 1,
            process_name: s(&self.name),
            process_parent_name: s(&self.parent),
            process_command_line: s(&self.command_line),
            other: other.as_ptr(),
            other_count: other.len(),
        };
        rule.evaluate_utf8(&event)
    }

    /// `dcom_rule_evaluate_utf16` on the UTF-16 struct (paths stay UTF-8).
    pub fn evaluate_utf16(&self, rule: &RuleHandle) -> (dcom_result, dcom_verdict) {
        let u = |v: &str| v.encode_utf16().collect::<Vec<u16>>();
        let (process, start) = (u("process"), u("start"));
        let (name, parent, command_line) = (u(&self.name), u(&self.parent), u(&self.command_line));
        let pairs = self.other();
        let values: Vec<Vec<u16>> = pairs.iter().map(|(_, v)| u(v)).collect();
        let other: Vec<dcom_field16> =
            pairs.iter().zip(&values).map(|((p, _), v)| dcom_field16 { path: s(p), value: s16(v) }).collect();
        let category = [s16(&process)];
        let event_type = [s16(&start)];
        let event = dcom_event16 {
            event_category: category.as_ptr(),
            event_category_count: 1,
            event_type: event_type.as_ptr(),
            event_type_count: 1,
            process_name: s16(&name),
            process_parent_name: s16(&parent),
            process_command_line: s16(&command_line),
            other: other.as_ptr(),
            other_count: other.len(),
        };
        rule.evaluate_utf16(&event)
    }
}

/// The four families' cases, in item order (item i suppresses case i).
pub fn suppressed_cases() -> [Family; 4] {
    [
        family(
            "mgmt-ws-03",
            "adm_kwright",
            "mmc.exe",
            "powershell.exe",
            "powershell.exe -NoExit -Command Get-Service",
            false,
        ),
        family(
            "ws-hr-0117",
            "SYSTEM",
            "mmc.exe",
            "powershell.exe",
            r"powershell.exe -File C:\Program Files\Contoso EDR\response\collect.ps1",
            true,
        ),
        family(
            "ws-sales-0233",
            "SYSTEM",
            "WINWORD.EXE",
            "cmd.exe",
            r"cmd.exe /c C:\Windows\CCM\ccmsetup.exe /update",
            false,
        ),
        family(
            "ws-fin-0042",
            "mlopez",
            "EXCEL.EXE",
            "wscript.exe",
            r"wscript.exe \\fileserver\finance\approved-macros\close.vbs",
            false,
        ),
    ]
}

/// Near misses (one condition off each time) and a genuine attack: all must alert.
pub fn near_misses() -> Vec<(&'static str, Family)> {
    let [admin, edr, sccm, finance] = suppressed_cases();
    let with = |f: &Family, change: &dyn Fn(&mut Family)| {
        let mut f = f.clone();
        change(&mut f);
        f
    };
    vec![
        ("admin on a finance host", with(&admin, &|f| f.host = "ws-fin-0042".into())),
        ("admin: other user", with(&admin, &|f| f.user = "jdoe".into())),
        ("admin: encoded command", with(&admin, &|f| f.command_line = "powershell.exe -nop -enc SQBFAFgA".into())),
        ("admin: cmd.exe", with(&admin, &|f| f.name = "cmd.exe".into())),
        ("edr: other folder", with(&edr, &|f| f.command_line = f.command_line.replace("Contoso EDR", "Temp"))),
        ("edr: unsigned", with(&edr, &|f| f.code_signature = None)),
        ("edr: untrusted", with(&edr, &|f| f.code_signature = Some(("Microsoft Windows", false)))),
        ("sccm: other user", with(&sccm, &|f| f.user = "bob".into())),
        ("sccm: domain controller", with(&sccm, &|f| f.host = "dc-01".into())),
        (
            "sccm: other folder",
            with(&sccm, &|f| f.command_line = f.command_line.replace(r"\Windows\CCM\", r"\Users\Public\")),
        ),
        ("finance: other host", with(&finance, &|f| f.host = "ws-hr-0117".into())),
        (
            "finance: other share",
            with(&finance, &|f| f.command_line = f.command_line.replace("approved-macros", "downloads")),
        ),
        ("finance: http", with(&finance, &|f| f.command_line = f.command_line.replace("close.vbs", "http-get.vbs"))),
        ("finance: mshta", with(&finance, &|f| f.name = "mshta.exe".into())),
        (
            "impacket dcomexec",
            family(
                "ws-fin-0042",
                "adm_kwright",
                "mmc.exe",
                "cmd.exe",
                r"cmd.exe /Q /c whoami 1> \\127.0.0.1\ADMIN$\__1556656511.61 2>&1",
                false,
            ),
        ),
    ]
}

fn example_rule(folding: u32) -> RuleHandle {
    RuleHandle::with_exceptions(folding, Some(EXAMPLE))
}

/// Every door gives the same verdict; returns it.
fn verdict_everywhere(rule: &RuleHandle, scratch: &ScratchHandle, case: &Family, what: &str) -> dcom_verdict {
    let record = case.json();
    let (code, json) = rule.evaluate_json(scratch, record.as_bytes());
    assert_eq!(code, dcom_result::DCOM_OK, "{what}: {record}");
    assert_eq!(case.evaluate_utf8(rule), (dcom_result::DCOM_OK, json), "UTF-8 struct, {what}");
    assert_eq!(case.evaluate_utf16(rule), (dcom_result::DCOM_OK, json), "UTF-16 struct, {what}");
    // The match functions answer "alert?": the branch bits of an alert, 0 when suppressed.
    let alert_bits = if json.suppressed_by < 0 { json.branches } else { 0 };
    assert_eq!(rule.match_json(scratch, record.as_bytes()), (dcom_result::DCOM_OK, alert_bits), "{what}");
    // The alert door agrees: an alert exactly when the verdict says so.
    let alert = rule.alert_json(scratch, record.as_bytes(), None, 0);
    assert_eq!((alert.code, alert.verdict), (dcom_result::DCOM_OK, json), "alert door, {what}");
    assert_eq!(alert.alert.is_some(), json.branches != 0 && json.suppressed_by < 0, "alert door, {what}");
    json
}

#[test]
fn each_family_is_suppressed_by_its_item_through_every_door() {
    let scratch = ScratchHandle::new();
    for folding in [DCOM_CASE_FOLDING_ASCII, DCOM_CASE_FOLDING_UNICODE_SIMPLE] {
        let rule = example_rule(folding);
        for (item, case) in suppressed_cases().iter().enumerate() {
            let verdict = verdict_everywhere(&rule, &scratch, case, &format!("family {item}"));
            assert_eq!(verdict, dcom_verdict { branches: DCOM_BRANCH_OFFICE_CHILD, suppressed_by: item as i32 });
        }
    }
}

#[test]
fn near_misses_alert_through_every_door() {
    let scratch = ScratchHandle::new();
    let rule = example_rule(DCOM_CASE_FOLDING_ASCII);
    for (what, case) in near_misses() {
        let verdict = verdict_everywhere(&rule, &scratch, &case, what);
        assert_eq!(
            verdict,
            dcom_verdict { branches: DCOM_BRANCH_OFFICE_CHILD, suppressed_by: DCOM_NOT_SUPPRESSED },
            "{what}"
        );
    }
}

/// The same events through core directly: the C doors agree with the engine.
#[test]
fn the_doors_agree_with_core() {
    let core = Rule::with_exceptions(Options::default(), EXAMPLE).unwrap();
    let scratch = ScratchHandle::new();
    let rule = example_rule(DCOM_CASE_FOLDING_ASCII);
    let cases = suppressed_cases().into_iter().chain(near_misses().into_iter().map(|(_, f)| f));
    let mut decoder = dcom_detect_core::Decoder::new();
    for case in cases {
        let record = case.json();
        let doc = decoder.decode(core.paths(), record.as_bytes()).unwrap();
        let expected = core.evaluate(&doc);
        let (_, got) = rule.evaluate_json(&scratch, record.as_bytes());
        assert_eq!(got.branches, u32::from(expected.branches().bits()));
        assert_eq!(got.suppressed_by, expected.suppressed_by.map_or(-1, |i| i as i32));
    }
}

/// Without exceptions nothing is suppressed, and an event with no `other` fields is seen
/// as lacking them (so `is` conditions on them fail and the event alerts).
#[test]
fn absent_fields_and_rules_without_exceptions() {
    let plain = RuleHandle::new(DCOM_CASE_FOLDING_ASCII);
    let scratch = ScratchHandle::new();
    for case in suppressed_cases() {
        assert_eq!(verdict_everywhere(&plain, &scratch, &case, "no exceptions").suppressed_by, DCOM_NOT_SUPPRESSED);
    }
    let rule = example_rule(DCOM_CASE_FOLDING_ASCII);
    let admin = &suppressed_cases()[0];
    let category = [s("process")];
    let event_type = [s("start")];
    let bare = dcom_event {
        event_category: category.as_ptr(),
        event_category_count: 1,
        event_type: event_type.as_ptr(),
        event_type_count: 1,
        process_name: s(&admin.name),
        process_parent_name: s(&admin.parent),
        process_command_line: s(&admin.command_line),
        other: std::ptr::null(),
        other_count: 0,
    };
    assert_eq!(rule.evaluate_utf8(&bare), (dcom_result::DCOM_OK, dcom_verdict { branches: 1, suppressed_by: -1 }));
    // A `does not exist`-only item suppresses exactly the events that lack the field.
    let lacking = RuleHandle::with_exceptions(
        DCOM_CASE_FOLDING_ASCII,
        Some(br#"[{"name":"no host","entries":[{"field":"host.name","operator":"does not exist"}]}]"#),
    );
    assert_eq!(lacking.evaluate_utf8(&bare), (dcom_result::DCOM_OK, dcom_verdict { branches: 1, suppressed_by: 0 }));
    let host = [dcom_field { path: s("host.name"), value: s("ws-1") }];
    let with_host = dcom_event { other: host.as_ptr(), other_count: 1, ..bare };
    assert_eq!(
        lacking.evaluate_utf8(&with_host),
        (dcom_result::DCOM_OK, dcom_verdict { branches: 1, suppressed_by: -1 })
    );
    // Nothing fired: exceptions are not consulted.
    let quiet = dcom_event { process_parent_name: s("explorer.exe"), ..bare };
    assert_eq!(lacking.evaluate_utf8(&quiet), (dcom_result::DCOM_OK, NO_VERDICT));
}

#[test]
fn evaluate_functions_check_their_arguments() {
    let rule = example_rule(DCOM_CASE_FOLDING_ASCII);
    let scratch = ScratchHandle::new();
    let category = [s("process")];
    let event = dcom_event {
        event_category: category.as_ptr(),
        event_category_count: 1,
        event_type: std::ptr::null(),
        event_type_count: 0,
        process_name: ABSENT,
        process_parent_name: ABSENT,
        process_command_line: ABSENT,
        other: std::ptr::null(),
        other_count: 0,
    };
    let mut verdict = dcom_verdict { branches: 9, suppressed_by: 9 };
    unsafe {
        assert_eq!(dcom_rule_evaluate(std::ptr::null(), &event, &mut verdict), dcom_result::DCOM_ERROR_NULL_ARGUMENT);
        assert_eq!(verdict, NO_VERDICT);
        assert_eq!(dcom_rule_evaluate(rule.0, std::ptr::null(), &mut verdict), dcom_result::DCOM_ERROR_NULL_ARGUMENT);
        assert_eq!(dcom_rule_evaluate(rule.0, &event, std::ptr::null_mut()), dcom_result::DCOM_ERROR_NULL_ARGUMENT);
        let bad = [dcom_field { path: s("host.name"), value: dcom_str { ptr: b"\xff".as_ptr(), len: 1 } }];
        let bad_event = dcom_event { other: bad.as_ptr(), other_count: 1, ..event };
        verdict = dcom_verdict { branches: 9, suppressed_by: 9 };
        assert_eq!(dcom_rule_evaluate(rule.0, &bad_event, &mut verdict), dcom_result::DCOM_ERROR_INVALID_UTF8);
        assert_eq!(verdict, NO_VERDICT);
        assert_eq!(
            dcom_rule_evaluate_utf16(std::ptr::null(), std::ptr::null(), &mut verdict),
            dcom_result::DCOM_ERROR_NULL_ARGUMENT
        );
        assert_eq!(
            dcom_rule_evaluate_json(rule.0, std::ptr::null_mut(), b"{}".as_ptr(), 2, &mut verdict),
            dcom_result::DCOM_ERROR_NULL_ARGUMENT
        );
        assert_eq!(
            dcom_rule_evaluate_json(rule.0, scratch.0, b"{}".as_ptr(), 2, std::ptr::null_mut()),
            dcom_result::DCOM_ERROR_NULL_ARGUMENT
        );
        verdict = dcom_verdict { branches: 9, suppressed_by: 9 };
        assert_eq!(
            dcom_rule_evaluate_json(rule.0, scratch.0, b"[1]".as_ptr(), 3, &mut verdict),
            dcom_result::DCOM_ERROR_BAD_JSON
        );
        assert_eq!(verdict, NO_VERDICT);
    }
}

/// `dcom_rule_create_ex`'s message is core's `ExceptionsError` text, which names the item,
/// entry and field; `dcom_rule_create` gives the same code.
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
            r#"[{"name":"x","entries":[{"field":"ok","operator":"exists"},{"field":"user.name","operator":"is one of","value":"a"}]}]"#,
            &["entry 2", "field \"user.name\"", "needs a list of strings"],
        ),
        (
            r#"[{"name":"x","entries":[{"field":"host.name","operator":"is","value":"a","vaule":"b"}]}]"#,
            &["unknown key \"vaule\""],
        ),
    ];
    for (json, needles) in cases {
        let expected = Rule::with_exceptions(Options::default(), json.as_bytes()).unwrap_err().to_string();
        let options = dcom_rule_options {
            struct_size: std::mem::size_of::<dcom_rule_options>() as u32,
            case_folding: DCOM_CASE_FOLDING_ASCII,
            exceptions: json.as_ptr(),
            exceptions_len: json.len(),
        };
        let mut rule = std::ptr::dangling_mut::<dcom_rule>();
        let mut message = vec![0u8; 1024];
        let mut needed = 0;
        let code = unsafe {
            dcom_rule_create_ex(&options, &mut rule, message.as_mut_ptr().cast(), message.len(), &mut needed)
        };
        assert_eq!((code, rule), (dcom_result::DCOM_ERROR_BAD_EXCEPTIONS, std::ptr::null_mut()), "{json}");
        let text = std::str::from_utf8(&message[..needed - 1]).unwrap();
        assert_eq!(text, expected);
        for needle in *needles {
            assert!(text.contains(needle), "{json}\n  message: {text}\n  missing: {needle}");
        }
        rule = std::ptr::dangling_mut::<dcom_rule>();
        assert_eq!(unsafe { dcom_rule_create(&options, &mut rule) }, dcom_result::DCOM_ERROR_BAD_EXCEPTIONS);
        assert!(rule.is_null());
    }
}

#[test]
fn example_items_are_named_in_file_order() {
    let rule = example_rule(DCOM_CASE_FOLDING_ASCII);
    let core = Rule::with_exceptions(Options::default(), EXAMPLE).unwrap();
    let mut count = 0;
    assert_eq!(unsafe { dcom_rule_exception_count(rule.0, &mut count) }, dcom_result::DCOM_OK);
    assert_eq!(count, 4);
    for (i, item) in core.exceptions().items().iter().enumerate() {
        let mut name = ABSENT;
        assert_eq!(unsafe { dcom_rule_exception_name(rule.0, i, &mut name) }, dcom_result::DCOM_OK);
        assert_eq!(unsafe { std::slice::from_raw_parts(name.ptr, name.len) }, item.name().as_bytes());
    }
}
