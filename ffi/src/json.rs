//! JSON records: a per-thread scratch handle holding core's reusable `Decoder`, the decode
//! error of the last rejected record, and the buffer of the last alert.
//!
//! The decoder keeps its buffers between calls, so after the first few records a call
//! allocates nothing (it only grows to fit a larger record than any before). It is not
//! thread-safe, hence one `dcom_scratch` per thread, as yara-x has one scanner per thread. A
//! scratch is not tied to a rule: one scratch serves every rule its thread evaluates.
//!
//! Sharing a scratch between threads by mistake is not undefined behaviour: every call claims
//! the scratch with one atomic swap and returns `DCOM_ERROR_SCRATCH_BUSY` if another call holds
//! it. The claim never waits (it is not a lock), and it costs one uncontended atomic
//! operation per record.

use std::cell::UnsafeCell;
use std::ffi::c_char;
use std::sync::atomic::{AtomicBool, Ordering};

use dcom_detect_core::{DecodeError, Decoder, ErrorKind, Rule};

use crate::args::{input, output, slice};
use crate::buffer::write_text;
use crate::result::{
    dcom_result, guard, guard_value, DCOM_ERROR_BAD_JSON, DCOM_ERROR_INVALID_UTF8, DCOM_ERROR_SCRATCH_BUSY,
};
use crate::rule::dcom_rule;
use crate::verdict::dcom_verdict;

/// Per-thread working memory for the JSON functions (`dcom_rule_match_json`,
/// `dcom_rule_evaluate_json`, `dcom_rule_alert_json`). Opaque; create with
/// `dcom_scratch_create`, free with `dcom_scratch_destroy`.
///
/// Thread safety: use one scratch per thread. A scratch may move between threads, but only one
/// call may use it at a time; a second, concurrent call fails with
/// `DCOM_ERROR_SCRATCH_BUSY` instead of corrupting it. It is not tied to a rule.
pub struct dcom_scratch {
    busy: AtomicBool,
    state: UnsafeCell<State>,
}

pub(crate) struct State {
    decoder: Decoder,
    /// Why the last decoded record was rejected; `None` after a record decoded fine.
    last_error: Option<DecodeError>,
    /// The last alert written by `dcom_rule_alert_json`, kept for its capacity.
    pub(crate) alert: Vec<u8>,
}

// SAFETY: `state` is only reached through `Claim`, which `busy` makes exclusive.
unsafe impl Sync for dcom_scratch {}

/// Exclusive use of a scratch's state for one call; released on drop (also on panic).
pub(crate) struct Claim<'s> {
    scratch: &'s dcom_scratch,
}

impl dcom_scratch {
    pub(crate) fn claim(&self) -> Result<Claim<'_>, dcom_result> {
        if self.busy.swap(true, Ordering::Acquire) {
            return Err(DCOM_ERROR_SCRATCH_BUSY);
        }
        Ok(Claim { scratch: self })
    }
}

impl Claim<'_> {
    pub(crate) fn state(&mut self) -> &mut State {
        // SAFETY: `busy` was false and is now ours until drop: no other reference exists.
        unsafe { &mut *self.scratch.state.get() }
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.scratch.busy.store(false, Ordering::Release);
    }
}

/// Creates a scratch for the JSON functions. On success `*scratch` receives it (free it
/// with `dcom_scratch_destroy`); on failure `*scratch` is set to NULL.
///
/// Errors: `DCOM_ERROR_NULL_ARGUMENT`, `DCOM_ERROR_MISALIGNED_POINTER`, `DCOM_ERROR_INTERNAL`.
///
/// Cost: one small allocation; buffers grow on first use and are then reused. Thread-safe.
///
/// # Safety
/// `scratch` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn dcom_scratch_create(scratch: *mut *mut dcom_scratch) -> dcom_result {
    guard(|| {
        let mut out = output(scratch)?;
        out.write(std::ptr::null_mut());
        let state = State { decoder: Decoder::new(), last_error: None, alert: Vec::new() };
        out.write(Box::into_raw(Box::new(dcom_scratch {
            busy: AtomicBool::new(false),
            state: UnsafeCell::new(state),
        })));
        Ok(())
    })
}

/// Frees a scratch and its buffers. NULL is allowed and does nothing. No call may be using it.
///
/// # Safety
/// `scratch` is NULL or a handle from `dcom_scratch_create` not yet destroyed.
#[no_mangle]
pub unsafe extern "C" fn dcom_scratch_destroy(scratch: *mut dcom_scratch) {
    guard_value((), || {
        if !scratch.is_null() {
            drop(Box::from_raw(scratch));
        }
    })
}

impl State {
    /// Decodes `record` with the reusable decoder and evaluates the rule on it: the one JSON
    /// pass every JSON export shares. A rejected record's error is kept for
    /// `dcom_scratch_error_*`; an accepted one clears it.
    pub(crate) fn evaluate(&mut self, rule: &Rule, record: &[u8]) -> Result<dcom_verdict, dcom_result> {
        self.last_error = None;
        match rule.evaluate_json(&mut self.decoder, record, |_, verdict| dcom_verdict::from_core(verdict)) {
            Ok(verdict) => Ok(verdict),
            Err(error) => {
                let code = if matches!(error.kind(), ErrorKind::InvalidUtf8) {
                    DCOM_ERROR_INVALID_UTF8
                } else {
                    DCOM_ERROR_BAD_JSON
                };
                self.last_error = Some(error);
                Err(code)
            }
        }
    }
}

/// Evaluates the rule on one JSON record (`json_len` bytes at `json`, one document, no
/// trailing newline needed), read as Elasticsearch would index it: ECS, or a raw Sysmon 1 /
/// Security 4688 event in any of the supported wrappers.
///
/// On success `*branches` receives the branches of the alert the record raises (`DCOM_BRANCH_*`
/// bits; 0 = no alert: nothing fired, or an exception item suppressed it), as
/// `dcom_rule_match`; `dcom_rule_evaluate_json` also reports what a suppressed record fired.
/// When the record is rejected the call returns
/// `DCOM_ERROR_BAD_JSON` (or `DCOM_ERROR_INVALID_UTF8`), `*branches` is 0, and
/// `dcom_scratch_error_offset` / `dcom_scratch_error_message` tell where and why. `{NULL, 0}`
/// is an empty record (rejected: truncated).
///
/// Errors: `DCOM_ERROR_NULL_ARGUMENT`, `DCOM_ERROR_MISALIGNED_POINTER`,
/// `DCOM_ERROR_INVALID_LENGTH`, `DCOM_ERROR_INVALID_UTF8`, `DCOM_ERROR_BAD_JSON`,
/// `DCOM_ERROR_SCRATCH_BUSY`, `DCOM_ERROR_INTERNAL`.
///
/// Cost: one pass over the record (SIMD UTF-8 check, then a lexer that skips what the rule
/// does not read); no allocation once the scratch has seen a record as complex as this one;
/// no lock. Thread-safe for the rule; the scratch is per thread.
///
/// # Safety
/// `rule` and `scratch` are live handles; `json` is NULL or valid for `json_len` bytes,
/// unchanged during the call; `branches` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn dcom_rule_match_json(
    rule: *const dcom_rule,
    scratch: *mut dcom_scratch,
    json: *const u8,
    json_len: usize,
    branches: *mut u32,
) -> dcom_result {
    guard(|| {
        let mut out = output(branches)?;
        out.write(0);
        let rule = &input(rule)?.rule;
        let scratch = input(scratch.cast_const())?;
        let record = slice(json, json_len)?;
        let mut claim = scratch.claim()?;
        out.write(claim.state().evaluate(rule, record)?.alert_branches());
        Ok(())
    })
}

/// Evaluates the rule and its exceptions on one JSON record: `dcom_rule_match_json` with a
/// `dcom_verdict` (what fired, and the exception item that suppressed the alert, if any).
///
/// The exceptions' conditions read any ECS field of the record (`host.name`, `user.name`,
/// ...; for raw Sysmon / 4688 events, the ECS fields Winlogbeat would map them to). On
/// failure `*verdict` is `{0, DCOM_NOT_SUPPRESSED}` and, for a rejected record,
/// `dcom_scratch_error_*` tell where and why.
///
/// Errors: as `dcom_rule_match_json`. Cost: as `dcom_rule_match_json`, plus the exceptions'
/// conditions when a branch fires; no allocation in steady state. Thread-safe for the rule;
/// the scratch is per thread.
///
/// # Safety
/// As `dcom_rule_match_json`; `verdict` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn dcom_rule_evaluate_json(
    rule: *const dcom_rule,
    scratch: *mut dcom_scratch,
    json: *const u8,
    json_len: usize,
    verdict: *mut dcom_verdict,
) -> dcom_result {
    guard(|| {
        let mut out = output(verdict)?;
        out.write(dcom_verdict::NONE);
        let rule = &input(rule)?.rule;
        let scratch = input(scratch.cast_const())?;
        let record = slice(json, json_len)?;
        let mut claim = scratch.claim()?;
        out.write(claim.state().evaluate(rule, record)?);
        Ok(())
    })
}

/// The byte offset, in the record, where the last record given to a JSON function
/// (`dcom_rule_match_json`, `dcom_rule_evaluate_json`, `dcom_rule_alert_json`) with this
/// scratch was found bad, into `*offset`; 0 if that record was not rejected.
///
/// Errors: `DCOM_ERROR_NULL_ARGUMENT`, `DCOM_ERROR_MISALIGNED_POINTER`,
/// `DCOM_ERROR_SCRATCH_BUSY`, `DCOM_ERROR_INTERNAL`. Per thread, like the scratch.
///
/// # Safety
/// `scratch` is a live handle; `offset` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn dcom_scratch_error_offset(scratch: *const dcom_scratch, offset: *mut usize) -> dcom_result {
    guard(|| {
        let mut out = output(offset)?;
        out.write(0);
        let mut claim = input(scratch)?.claim()?;
        out.write(claim.state().last_error.as_ref().map_or(0, DecodeError::offset));
        Ok(())
    })
}

/// Why the last record given to a JSON function with this scratch was rejected, as an
/// English, NUL-terminated UTF-8 message without the offset (for example
/// `duplicate key "name" in one object`); the empty string if that record was not rejected.
///
/// Output convention (the same for every text output of this library): `*needed` (if
/// `needed` is not NULL) receives the buffer size the message needs, including the NUL. If
/// `size` is enough, the message is written and `DCOM_OK` returned; otherwise the longest
/// prefix that fits (cut between UTF-8 sequences) is written, NUL-terminated, and
/// `DCOM_ERROR_BUFFER_TOO_SMALL` returned. Pass `{NULL, 0}` to ask for the size only.
///
/// Errors: `DCOM_ERROR_NULL_ARGUMENT` (`scratch` NULL, or `buffer` NULL with `size` > 0),
/// `DCOM_ERROR_MISALIGNED_POINTER`, `DCOM_ERROR_INVALID_LENGTH`, `DCOM_ERROR_BUFFER_TOO_SMALL`,
/// `DCOM_ERROR_SCRATCH_BUSY`, `DCOM_ERROR_INTERNAL`. No allocation.
///
/// # Safety
/// `scratch` is a live handle; `buffer` is NULL or valid for `size` bytes of writes; `needed`
/// is NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn dcom_scratch_error_message(
    scratch: *const dcom_scratch,
    buffer: *mut c_char,
    size: usize,
    needed: *mut usize,
) -> dcom_result {
    guard(|| {
        let mut claim = input(scratch)?.claim()?;
        match &claim.state().last_error {
            Some(error) => write_text(error.kind(), buffer, size, needed),
            None => write_text("", buffer, size, needed),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::{DCOM_ERROR_BUFFER_TOO_SMALL, DCOM_OK};
    use crate::rule::{dcom_rule_create, dcom_rule_destroy, DCOM_BRANCH_OFFICE_CHILD};

    struct Fixture {
        rule: *mut dcom_rule,
        scratch: *mut dcom_scratch,
    }

    impl Fixture {
        fn new() -> Fixture {
            let mut f = Fixture { rule: std::ptr::null_mut(), scratch: std::ptr::null_mut() };
            unsafe {
                assert_eq!(dcom_rule_create(std::ptr::null(), &mut f.rule), DCOM_OK);
                assert_eq!(dcom_scratch_create(&mut f.scratch), DCOM_OK);
            }
            f
        }

        fn run(&self, json: &[u8]) -> (dcom_result, u32) {
            let mut branches = 99;
            let code =
                unsafe { dcom_rule_match_json(self.rule, self.scratch, json.as_ptr(), json.len(), &mut branches) };
            (code, branches)
        }

        fn error(&self) -> (usize, String) {
            let mut offset = 99;
            let mut buffer = [0u8; 256];
            let mut needed = 0;
            unsafe {
                assert_eq!(dcom_scratch_error_offset(self.scratch, &mut offset), DCOM_OK);
                assert_eq!(
                    dcom_scratch_error_message(self.scratch, buffer.as_mut_ptr().cast(), buffer.len(), &mut needed),
                    DCOM_OK
                );
            }
            let message = std::str::from_utf8(&buffer[..needed - 1]).unwrap().to_owned();
            assert_eq!(buffer[needed - 1], 0);
            (offset, message)
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            unsafe {
                dcom_scratch_destroy(self.scratch);
                dcom_rule_destroy(self.rule);
            }
        }
    }

    const OFFICE_CHILD: &[u8] =
        br#"{"event":{"category":"process","type":"start"},"process":{"name":"cmd.exe","parent":{"name":"WINWORD.EXE"}}}"#;

    #[test]
    fn matches_and_clears_the_last_error() {
        let f = Fixture::new();
        assert_eq!(f.run(br#"{"a":1,"a":2}"#), (DCOM_ERROR_BAD_JSON, 0));
        assert_eq!(f.error(), (7, r#"duplicate key "a" in one object"#.to_owned()));
        assert_eq!(f.run(OFFICE_CHILD), (DCOM_OK, DCOM_BRANCH_OFFICE_CHILD));
        assert_eq!(f.error(), (0, String::new()));
    }

    #[test]
    fn invalid_utf8_and_empty_records_are_rejected_with_a_position() {
        let f = Fixture::new();
        assert_eq!(f.run(b"{\"process\":{\"name\":\"\xff\"}}").0, DCOM_ERROR_INVALID_UTF8);
        assert_eq!(f.error(), (20, "invalid UTF-8".to_owned()));
        let mut branches = 99;
        let code = unsafe { dcom_rule_match_json(f.rule, f.scratch, std::ptr::null(), 0, &mut branches) };
        assert_eq!((code, branches), (DCOM_ERROR_BAD_JSON, 0));
        assert!(f.error().1.starts_with("truncated"));
    }

    #[test]
    fn message_size_can_be_queried() {
        let f = Fixture::new();
        f.run(b"[1]");
        let mut needed = 0;
        let code = unsafe { dcom_scratch_error_message(f.scratch, std::ptr::null_mut(), 0, &mut needed) };
        assert_eq!((code, needed), (DCOM_ERROR_BUFFER_TOO_SMALL, "the record is not a JSON object".len() + 1));
    }

    /// A second user of a scratch that is in use gets an error, not a data race.
    #[test]
    fn a_claimed_scratch_is_busy() {
        let f = Fixture::new();
        let scratch = unsafe { &*f.scratch };
        let claim = scratch.claim().unwrap();
        assert_eq!(f.run(OFFICE_CHILD), (DCOM_ERROR_SCRATCH_BUSY, 0));
        let mut offset = 0;
        assert_eq!(unsafe { dcom_scratch_error_offset(f.scratch, &mut offset) }, DCOM_ERROR_SCRATCH_BUSY);
        let mut needed = 0;
        assert_eq!(
            unsafe { dcom_scratch_error_message(f.scratch, std::ptr::null_mut(), 0, &mut needed) },
            DCOM_ERROR_SCRATCH_BUSY
        );
        drop(claim);
        assert_eq!(f.run(OFFICE_CHILD), (DCOM_OK, DCOM_BRANCH_OFFICE_CHILD));
    }

    /// A panic inside a claim releases it.
    #[test]
    fn a_panic_releases_the_claim() {
        let f = Fixture::new();
        let scratch = unsafe { &*f.scratch };
        let code = guard(|| {
            let _claim = scratch.claim()?;
            panic!("simulated bug while holding the scratch");
        });
        assert_eq!(code, crate::result::DCOM_ERROR_INTERNAL);
        assert_eq!(f.run(OFFICE_CHILD), (DCOM_OK, DCOM_BRANCH_OFFICE_CHILD));
    }
}
