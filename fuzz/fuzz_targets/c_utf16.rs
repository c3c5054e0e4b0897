//! The C ABI's UTF-16 struct door on arbitrary code units (lone surrogates included) and on
//! a misaligned pointer: a result code every time, and the same verdict as the UTF-8 door on
//! the same text whenever the text is well-formed. The session's struct feed too: the seed
//! verdict of the struct door, and `dcom_event16_json` the UTF-8 event's `dcom_event_json`.
#![no_main]

use dcom_detect::*;
use libfuzzer_sys::fuzz_target;

fn s16(units: &[u16]) -> dcom_str16 {
    dcom_str16 { ptr: units.as_ptr(), len: units.len() }
}

/// The text a `dcom_event*_json` call writes: asks for the size, then writes.
unsafe fn json(write: impl Fn(*mut std::ffi::c_char, usize, *mut usize) -> dcom_result) -> Vec<u8> {
    let mut needed = 0;
    assert_eq!(write(std::ptr::null_mut(), 0, &mut needed), dcom_result::DCOM_ERROR_BUFFER_TOO_SMALL);
    let mut buffer = vec![0u8; needed];
    assert_eq!(write(buffer.as_mut_ptr().cast(), needed, &mut needed), dcom_result::DCOM_OK);
    buffer
}

fuzz_target!(|data: &[u8]| {
    let mut rule = std::ptr::null_mut();
    // SAFETY: all pointers are valid for each call; lengths match their buffers.
    unsafe {
        assert_eq!(dcom_rule_create(std::ptr::null(), &mut rule), dcom_result::DCOM_OK);
        // Split the input into three UTF-16 strings: name, parent name, command line.
        let units: Vec<u16> = data.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        let third = units.len() / 3;
        let (name, rest) = units.split_at(third);
        let (parent, line) = rest.split_at(third);
        let process: Vec<u16> = "process".encode_utf16().collect();
        let start: Vec<u16> = "start".encode_utf16().collect();
        let category = [s16(&process)];
        let kind = [s16(&start)];
        let event = dcom_event16 {
            event_category: category.as_ptr(),
            event_category_count: 1,
            event_type: kind.as_ptr(),
            event_type_count: 1,
            process_name: s16(name),
            process_parent_name: s16(parent),
            process_command_line: s16(line),
            other: std::ptr::null(),
            other_count: 0,
        };
        let mut verdict = dcom_verdict { branches: 99, suppressed_by: 99 };
        let r = dcom_rule_evaluate_utf16(rule, &event, &mut verdict);
        let utf8 = |u: &[u16]| String::from_utf16(u).ok();
        match (utf8(name), utf8(parent), utf8(line)) {
            (Some(n), Some(p), Some(l)) => {
                assert_eq!(r, dcom_result::DCOM_OK);
                let s8 = |s: &str| dcom_str { ptr: s.as_ptr(), len: s.len() };
                let category8 = [s8("process")];
                let kind8 = [s8("start")];
                let event8 = dcom_event {
                    event_category: category8.as_ptr(),
                    event_category_count: 1,
                    event_type: kind8.as_ptr(),
                    event_type_count: 1,
                    process_name: s8(&n),
                    process_parent_name: s8(&p),
                    process_command_line: s8(&l),
                    other: std::ptr::null(),
                    other_count: 0,
                };
                let mut v8 = dcom_verdict { branches: 99, suppressed_by: 99 };
                assert_eq!(dcom_rule_evaluate(rule, &event8, &mut v8), dcom_result::DCOM_OK);
                assert_eq!(v8.branches, verdict.branches);
                assert_eq!(
                    json(|b, n, w| dcom_event16_json(&event, b, n, w)),
                    json(|b, n, w| dcom_event_json(&event8, b, n, w))
                );
            }
            _ => assert_eq!(r, dcom_result::DCOM_ERROR_INVALID_UTF16),
        }
        let mut session = std::ptr::null_mut();
        assert_eq!(
            dcom_session_create(rule, DCOM_PROFILE_EXTENDED, std::ptr::null(), 0, &mut session),
            dcom_result::DCOM_OK
        );
        let mut fed = dcom_verdict { branches: 99, suppressed_by: 99 };
        let code = dcom_session_feed_event16(session, &event, std::ptr::null(), &mut fed, std::ptr::null_mut());
        assert_eq!((code, fed.branches), (r, verdict.branches));
        dcom_session_destroy(session);
        // A misaligned UTF-16 pointer is refused, never read.
        if data.len() >= 3 {
            let misaligned = dcom_str16 { ptr: data.as_ptr().add(1 - (data.as_ptr() as usize & 1)).cast(), len: 1 };
            if misaligned.ptr as usize % 2 == 1 {
                let bad = dcom_event16 { process_name: misaligned, ..event };
                assert_eq!(
                    dcom_rule_evaluate_utf16(rule, &bad, &mut verdict),
                    dcom_result::DCOM_ERROR_MISALIGNED_POINTER
                );
            }
        }
        dcom_rule_destroy(rule);
    }
});
