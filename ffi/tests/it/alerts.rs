//! `dcom_rule_alert_json`: byte-identical to the golden alert documents
//! (`core/tests/golden/alerts.ndjson`, produced as `core/tests/alerts.rs` does: origin file
//! "events.ndjson", 1-based line, byte offset of the line start, ASCII folding, no original),
//! identical to core's `AlertWriter` with every flag and origin, and the buffer convention.

use dcom_detect::*;
use dcom_detect_core::{AlertOptions, AlertWriter, Origin, Position, Rule};

use crate::common::*;
use crate::tuning::{suppressed_cases, EXAMPLE};

fn golden(name: &str) -> Vec<u8> {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../core/tests/golden").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Records of an NDJSON file with their 1-based line and the offset of the line start.
fn lines(ndjson: &[u8]) -> Vec<(u64, u64, &[u8])> {
    let mut out = Vec::new();
    let mut offset = 0u64;
    for (i, record) in ndjson.split(|&b| b == b'\n').enumerate() {
        out.push((i as u64 + 1, offset, record));
        offset += record.len() as u64 + 1;
    }
    out
}

#[test]
fn golden_alert_documents_byte_for_byte() {
    let events = golden("events.ndjson");
    let want = String::from_utf8(golden("alerts.ndjson")).unwrap();
    let rule = RuleHandle::new(DCOM_CASE_FOLDING_ASCII);
    let scratch = ScratchHandle::new();
    let mut got = String::new();
    let (mut alerts, mut quiet, mut rejected) = (0, 0, 0);
    for (line, offset, record) in lines(&events) {
        let origin = line_origin("events.ndjson", line, offset);
        let outcome = rule.alert_json(&scratch, record, Some(&origin), 0);
        match outcome.code {
            dcom_result::DCOM_OK => match outcome.alert {
                Some(alert) => {
                    assert!(outcome.verdict.branches != 0 && outcome.verdict.suppressed_by < 0);
                    got.push_str(&alert);
                    got.push('\n');
                    alerts += 1;
                }
                None => {
                    assert_eq!(outcome.verdict, NO_VERDICT, "line {line}: no exceptions, so no alert means no match");
                    quiet += 1;
                }
            },
            dcom_result::DCOM_ERROR_BAD_JSON | dcom_result::DCOM_ERROR_INVALID_UTF8 => rejected += 1,
            other => panic!("line {line}: {other:?}"),
        }
    }
    assert_eq!(alerts, want.lines().count());
    for (n, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "alert {} differs from core/tests/golden/alerts.ndjson", n + 1);
    }
    assert_eq!(got, want);
    assert!(alerts >= 98 && quiet > 0 && rejected > 0, "{alerts} alerts, {quiet} quiet, {rejected} rejected");
}

/// With the original embedded, under Unicode folding, with EVTX and absent origins: the
/// same text as core's writer.
#[test]
fn identical_to_core_for_every_flag_and_origin() {
    let events = golden("events.ndjson");
    let records = lines(&events);
    let scratch = ScratchHandle::new();
    for (folding, core_folding) in [
        (DCOM_CASE_FOLDING_ASCII, dcom_detect_core::CaseFolding::Ascii),
        (DCOM_CASE_FOLDING_UNICODE_SIMPLE, dcom_detect_core::CaseFolding::UnicodeSimple),
    ] {
        let rule = RuleHandle::new(folding);
        let core = Rule::new(dcom_detect_core::Options { case_folding: core_folding });
        for include_original in [false, true] {
            let flags = if include_original { DCOM_ALERT_INCLUDE_ORIGINAL } else { 0 };
            let mut writer = AlertWriter::new(&core, AlertOptions { include_original });
            let mut compared = 0;
            for (i, &(line, _, record)) in records.iter().enumerate() {
                let name = format!("file-{i}.evtx");
                let (origin, core_origin) = match i % 3 {
                    0 => (None, Origin { file: None, position: None }),
                    1 => {
                        let o = dcom_origin {
                            file: s(&name),
                            position: DCOM_POSITION_EVTX,
                            has_event_record_id: 1,
                            line: 0,
                            offset: 0,
                            record: line,
                            event_record_id: 1000 + line,
                        };
                        (
                            Some(o),
                            Origin {
                                file: Some(&name),
                                position: Some(Position::Evtx { ordinal: line, record_id: Some(1000 + line) }),
                            },
                        )
                    }
                    _ => {
                        let o = dcom_origin { position: DCOM_POSITION_EVTX, record: line, ..line_origin("-", 0, 0) };
                        (
                            Some(o),
                            Origin {
                                file: Some("-"),
                                position: Some(Position::Evtx { ordinal: line, record_id: None }),
                            },
                        )
                    }
                };
                let mut expected = Vec::new();
                let expected = match writer.write(record, &core_origin, &mut expected) {
                    Ok(true) => Some(String::from_utf8(expected).unwrap()),
                    _ => None,
                };
                let got = rule.alert_json(&scratch, record, origin.as_ref(), flags);
                assert_eq!(got.alert, expected, "line {line}, folding {folding}, original {include_original}");
                compared += usize::from(expected.is_some());
            }
            assert!(compared > 90);
        }
    }
}

#[test]
fn suppressed_records_raise_no_alert_but_report_the_item() {
    let rule = RuleHandle::with_exceptions(DCOM_CASE_FOLDING_ASCII, Some(EXAMPLE));
    let scratch = ScratchHandle::new();
    for (item, case) in suppressed_cases().iter().enumerate() {
        let mut buffer = [0x55u8; 4096];
        let (outcome, needed) = rule.alert_json_into(&scratch, case.json().as_bytes(), None, 0, &mut buffer);
        assert_eq!(
            outcome,
            AlertOutcome {
                code: dcom_result::DCOM_OK,
                verdict: dcom_verdict { branches: DCOM_BRANCH_OFFICE_CHILD, suppressed_by: item as i32 },
                alert: None,
            }
        );
        assert_eq!((needed, buffer[0], buffer[1]), (0, 0, 0x55), "no alert: needed 0, the empty string");
    }
    // The same record without exceptions alerts.
    let plain = RuleHandle::new(DCOM_CASE_FOLDING_ASCII);
    let outcome = plain.alert_json(&scratch, suppressed_cases()[0].json().as_bytes(), None, 0);
    assert!(outcome.alert.unwrap().contains(r#""branches":["office_child"]"#));
}

const MATCH: &[u8] = br#"{"@timestamp":"2024-05-01T10:00:00Z","event":{"category":"process","type":"start"},"process":{"name":"cmd.exe","parent":{"name":"mmc.exe"}},"host":{"name":"h\u00e9"}}"#;

#[test]
fn buffer_too_small_reports_the_size_needed() {
    let rule = RuleHandle::new(DCOM_CASE_FOLDING_ASCII);
    let scratch = ScratchHandle::new();
    let full = rule.alert_json(&scratch, MATCH, None, 0).alert.unwrap();
    assert!(full.contains("hé"), "{full}");
    let size = full.len() + 1;
    // Size only.
    let (outcome, needed) = rule.alert_json_into(&scratch, MATCH, None, 0, &mut []);
    assert_eq!((outcome.code, outcome.verdict, needed), (dcom_result::DCOM_ERROR_BUFFER_TOO_SMALL, NO_VERDICT, size));
    // One byte short: a NUL-terminated prefix, nothing past the buffer.
    let mut buffer = vec![0xAAu8; size];
    let (outcome, needed) = rule.alert_json_into(&scratch, MATCH, None, 0, &mut buffer[..size - 1]);
    assert_eq!((outcome.code, needed), (dcom_result::DCOM_ERROR_BUFFER_TOO_SMALL, size));
    assert_eq!(&buffer[..size - 2], &full.as_bytes()[..size - 2]);
    assert_eq!((buffer[size - 2], buffer[size - 1]), (0, 0xAA));
    // Exactly enough.
    let (outcome, needed) = rule.alert_json_into(&scratch, MATCH, None, 0, &mut buffer);
    assert_eq!((outcome.code, needed, outcome.alert.as_deref()), (dcom_result::DCOM_OK, size, Some(full.as_str())));
    assert_eq!(outcome.verdict, dcom_verdict { branches: 1, suppressed_by: -1 });
    // A cut never splits a UTF-8 sequence: cut inside "é" (two bytes).
    let at = full.find('é').unwrap();
    let mut small = vec![0xAAu8; at + 2];
    let (outcome, _) = rule.alert_json_into(&scratch, MATCH, None, 0, &mut small);
    assert_eq!(outcome.code, dcom_result::DCOM_ERROR_BUFFER_TOO_SMALL);
    assert_eq!(&small[..at + 1], format!("{}\0", &full[..at]).as_bytes());
    // A non-matching record needs nothing, whatever the buffer.
    let quiet = br#"{"event":{"category":"process","type":"start"},"process":{"name":"notepad.exe"}}"#;
    let (outcome, needed) = rule.alert_json_into(&scratch, quiet, None, 0, &mut []);
    assert_eq!((outcome.code, outcome.verdict, needed), (dcom_result::DCOM_OK, NO_VERDICT, 0));
}

#[test]
fn arguments_are_checked() {
    let rule = RuleHandle::new(DCOM_CASE_FOLDING_ASCII);
    let scratch = ScratchHandle::new();
    let mut buffer = [0x55u8; 2048];
    let call = |rule: *const dcom_rule,
                scratch: *mut dcom_scratch,
                json: (*const u8, usize),
                origin: *const dcom_origin,
                flags: u32,
                buffer: (*mut u8, usize)| {
        let mut verdict = dcom_verdict { branches: 7, suppressed_by: 7 };
        let mut needed = 99;
        let code = unsafe {
            dcom_rule_alert_json(
                rule,
                scratch,
                json.0,
                json.1,
                origin,
                flags,
                &mut verdict,
                buffer.0.cast(),
                buffer.1,
                &mut needed,
            )
        };
        if code != dcom_result::DCOM_OK {
            assert_eq!((verdict, needed), (NO_VERDICT, 0), "neutral out-parameters on failure ({code:?})");
        }
        code
    };
    let json = (MATCH.as_ptr(), MATCH.len());
    let out = (buffer.as_mut_ptr(), buffer.len());
    assert_eq!(call(rule.0, scratch.0, json, std::ptr::null(), 0, out), dcom_result::DCOM_OK);
    assert_eq!(
        call(std::ptr::null(), scratch.0, json, std::ptr::null(), 0, out),
        dcom_result::DCOM_ERROR_NULL_ARGUMENT
    );
    assert_eq!(buffer[0], 0, "the buffer holds the empty string after a failure");
    assert_eq!(
        call(rule.0, std::ptr::null_mut(), json, std::ptr::null(), 0, out),
        dcom_result::DCOM_ERROR_NULL_ARGUMENT
    );
    assert_eq!(
        call(rule.0, scratch.0, (std::ptr::null(), 5), std::ptr::null(), 0, out),
        dcom_result::DCOM_ERROR_NULL_ARGUMENT
    );
    assert_eq!(
        call(rule.0, scratch.0, (std::ptr::null(), 0), std::ptr::null(), 0, out),
        dcom_result::DCOM_ERROR_BAD_JSON
    );
    assert_eq!(
        call(rule.0, scratch.0, json, std::ptr::null(), 0, (std::ptr::null_mut(), 10)),
        dcom_result::DCOM_ERROR_NULL_ARGUMENT
    );
    assert_eq!(call(rule.0, scratch.0, json, std::ptr::null(), 2, out), dcom_result::DCOM_ERROR_INVALID_OPTION);
    let forgot_kind = dcom_origin { position: DCOM_POSITION_NONE, ..line_origin("f", 3, 4) };
    assert_eq!(call(rule.0, scratch.0, json, &forgot_kind, 0, out), dcom_result::DCOM_ERROR_INVALID_OPTION);
    let bad_file = dcom_origin { file: dcom_str { ptr: b"\xC3".as_ptr(), len: 1 }, ..line_origin("f", 3, 4) };
    assert_eq!(call(rule.0, scratch.0, json, &bad_file, 0, out), dcom_result::DCOM_ERROR_INVALID_UTF8);
    let bad_json = b"{\"a\":1,\"a\":2}";
    assert_eq!(
        call(rule.0, scratch.0, (bad_json.as_ptr(), bad_json.len()), std::ptr::null(), 0, out),
        dcom_result::DCOM_ERROR_BAD_JSON
    );
    let mut offset = 0;
    assert_eq!(unsafe { dcom_scratch_error_offset(scratch.0, &mut offset) }, dcom_result::DCOM_OK);
    assert_eq!(offset, 7, "the rejected record is described by the scratch");
    // The verdict and `needed` are optional.
    let code = unsafe {
        dcom_rule_alert_json(
            rule.0,
            scratch.0,
            MATCH.as_ptr(),
            MATCH.len(),
            std::ptr::null(),
            0,
            std::ptr::null_mut(),
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            std::ptr::null_mut(),
        )
    };
    assert_eq!(code, dcom_result::DCOM_OK);
    assert!(buffer.starts_with(b"{\"@timestamp\":\"2024-05-01T10:00:00Z\""));
    // Misaligned out-parameters.
    let mut raw = [0u64; 4];
    let odd = (raw.as_mut_ptr() as usize + 1) as *mut dcom_verdict;
    let code = unsafe {
        dcom_rule_alert_json(
            rule.0,
            scratch.0,
            MATCH.as_ptr(),
            MATCH.len(),
            std::ptr::null(),
            0,
            odd,
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            std::ptr::null_mut(),
        )
    };
    assert_eq!(code, dcom_result::DCOM_ERROR_MISALIGNED_POINTER);
}
