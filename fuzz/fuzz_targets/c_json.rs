//! The C ABI's JSON doors (`dcom_rule_evaluate_json`, `dcom_rule_alert_json`) on arbitrary
//! bytes, through the exported functions as a C caller uses them, with a tuned rule: every
//! call returns a result code (never a panic), agrees with the core engine, and writes an
//! alert exactly when the verdict says so.
#![no_main]

use std::sync::OnceLock;

use dcom_detect::*;
use dcom_detect_core::{Decoder, Options, Rule};
use libfuzzer_sys::fuzz_target;

const EXCEPTIONS: &[u8] = include_bytes!("../../examples/exceptions.json");

struct Handles {
    rule: *mut dcom_rule,
}
// SAFETY: a dcom_rule may be shared by any number of threads (documented in the header).
unsafe impl Send for Handles {}
unsafe impl Sync for Handles {}

fn handles() -> &'static Handles {
    static HANDLES: OnceLock<Handles> = OnceLock::new();
    HANDLES.get_or_init(|| {
        let options = dcom_rule_options {
            struct_size: std::mem::size_of::<dcom_rule_options>() as u32,
            case_folding: 0,
            exceptions: EXCEPTIONS.as_ptr(),
            exceptions_len: EXCEPTIONS.len(),
        };
        let mut rule = std::ptr::null_mut();
        // SAFETY: valid pointers to live values.
        assert_eq!(unsafe { dcom_rule_create(&options, &mut rule) }, dcom_result::DCOM_OK);
        Handles { rule }
    })
}

fuzz_target!(|data: &[u8]| {
    let rule = handles().rule;
    let mut scratch = std::ptr::null_mut();
    // SAFETY: every pointer below is valid for the call; lengths match their buffers.
    unsafe {
        assert_eq!(dcom_scratch_create(&mut scratch), dcom_result::DCOM_OK);
        let mut verdict = dcom_verdict { branches: 99, suppressed_by: 99 };
        let result = dcom_rule_evaluate_json(rule, scratch, data.as_ptr(), data.len(), &mut verdict);
        static CORE: OnceLock<Rule> = OnceLock::new();
        let core = CORE.get_or_init(|| Rule::with_exceptions(Options::default(), EXCEPTIONS).unwrap());
        match Decoder::new().decode(core.paths(), data) {
            Ok(doc) => {
                assert_eq!(result, dcom_result::DCOM_OK);
                let v = core.evaluate(&doc);
                assert_eq!(verdict.branches, u32::from(v.branches().bits()));
                assert_eq!(verdict.suppressed_by, v.suppressed_by.map_or(-1, |i| i as i32));
            }
            Err(e) => {
                let code = match e.kind() {
                    dcom_detect_core::ErrorKind::InvalidUtf8 => dcom_result::DCOM_ERROR_INVALID_UTF8,
                    _ => dcom_result::DCOM_ERROR_BAD_JSON,
                };
                assert_eq!((result, verdict.branches, verdict.suppressed_by), (code, 0, -1));
            }
        }
        let mut alert = vec![0 as std::ffi::c_char; 64];
        let mut needed = 0usize;
        let mut again = dcom_verdict { branches: 99, suppressed_by: 99 };
        let r = dcom_rule_alert_json(
            rule,
            scratch,
            data.as_ptr(),
            data.len(),
            std::ptr::null(),
            0,
            &mut again,
            alert.as_mut_ptr(),
            alert.len(),
            &mut needed,
        );
        if result == dcom_result::DCOM_OK {
            let raises = verdict.branches != 0 && verdict.suppressed_by < 0;
            match r {
                dcom_result::DCOM_OK => assert!(!raises || needed <= alert.len()),
                dcom_result::DCOM_ERROR_BUFFER_TOO_SMALL => assert!(raises && needed > alert.len()),
                other => panic!("alert door returned {other:?} on a record the evaluate door accepted"),
            }
        }
        dcom_scratch_destroy(scratch);
    }
});
