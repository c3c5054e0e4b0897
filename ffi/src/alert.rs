//! ECS alerts as JSON text into a caller's buffer, written by core's `AlertWriter`.
//!
//! The alert document is core's, byte for byte (the same line Rust, Python and the command
//! line write for the same record and origin); this module only translates the origin and
//! flags, and copies the text out through [`crate::buffer`]'s convention.
//!
//! A call first evaluates the record with the scratch's decoder, like
//! `dcom_rule_evaluate_json`: a record that raises no alert (nearly all of them) costs exactly
//! that, with no allocation in steady state. Only for an alert does core build the document
//! (it decodes the record again and builds a `serde_json` value, which allocates); the text
//! lands in the scratch's alert buffer, whose capacity is kept, and is copied to the caller.

use std::ffi::c_char;

use dcom_detect_core::{AlertOptions, AlertWriter, Origin, Position};

use crate::args::{input, optional_input, optional_output, slice};
use crate::buffer::TextOut;
use crate::event::{checked_str, dcom_event, dcom_str};
use crate::json::dcom_scratch;
use crate::result::{dcom_result, guard, DCOM_ERROR_INTERNAL, DCOM_ERROR_INVALID_OPTION};
use crate::rule::dcom_rule;
use crate::verdict::dcom_verdict;

/// `dcom_rule_alert_json` flag: embed the record as `event.original` (a JSON string).
pub const DCOM_ALERT_INCLUDE_ORIGINAL: u32 = 1;

/// `dcom_origin.position`: no position (the alert has no `log.offset` and no line or record).
pub const DCOM_POSITION_NONE: u32 = 0;
/// `dcom_origin.position`: an NDJSON line (`line`, `offset`).
pub const DCOM_POSITION_LINE: u32 = 1;
/// `dcom_origin.position`: an EVTX record (`record`, and `event_record_id` when
/// `has_event_record_id`).
pub const DCOM_POSITION_EVTX: u32 = 2;

/// Where a record came from, as its alert reports it (`log.file.path`, `log.offset`,
/// `dcom_detect.source`). Input to `dcom_rule_alert_json`, borrowed for the call only.
///
/// Zero-initialise it and set what you know: a field that `position` does not use must stay
/// 0 (`DCOM_ERROR_INVALID_OPTION` otherwise), so that a position set without its kind (say
/// `line` with `position` left at `DCOM_POSITION_NONE`) is an error, not silently dropped.
///
/// ```c
/// dcom_origin origin = {
///     .file = {(const uint8_t *)"events.ndjson", 13},
///     .position = DCOM_POSITION_LINE, .line = 42, .offset = 81234,
/// };
/// ```
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct dcom_origin {
    /// The file name or path as it should appear in the alert (UTF-8; `"-"` for standard
    /// input by convention); `{NULL, 0}` when the record did not come from a file.
    pub file: dcom_str,
    /// `DCOM_POSITION_NONE` (0), `DCOM_POSITION_LINE` or `DCOM_POSITION_EVTX`.
    pub position: u32,
    /// `DCOM_POSITION_EVTX`: 1 when `event_record_id` is known, else 0.
    pub has_event_record_id: u32,
    /// `DCOM_POSITION_LINE`: the 1-based line number.
    pub line: u64,
    /// `DCOM_POSITION_LINE`: the byte offset of the line's first byte in the file.
    pub offset: u64,
    /// `DCOM_POSITION_EVTX`: the 1-based position of the record in the file.
    pub record: u64,
    /// `DCOM_POSITION_EVTX`: the record's `EventRecordID` (when `has_event_record_id`).
    pub event_record_id: u64,
}

impl dcom_origin {
    /// Core's origin, borrowing the file name; refuses inconsistent fields.
    ///
    /// # Safety
    /// A non-NULL `file.ptr` is valid for `file.len` bytes, unchanged during `'a`.
    pub(crate) unsafe fn as_core(&self) -> Result<Origin<'_>, dcom_result> {
        let file = checked_str(&self.file)?;
        let unused_are_zero = |fields: &[u64]| fields.iter().all(|&f| f == 0);
        let position = match self.position {
            DCOM_POSITION_NONE => {
                let unused =
                    [self.line, self.offset, self.record, self.event_record_id, self.has_event_record_id.into()];
                unused_are_zero(&unused).then_some(None)
            }
            DCOM_POSITION_LINE => {
                let unused = [self.record, self.event_record_id, self.has_event_record_id.into()];
                unused_are_zero(&unused).then_some(Some(Position::Line { line: self.line, offset: self.offset }))
            }
            DCOM_POSITION_EVTX => match self.has_event_record_id {
                0 if unused_are_zero(&[self.line, self.offset, self.event_record_id]) => {
                    Some(Some(Position::Evtx { ordinal: self.record, record_id: None }))
                }
                1 if unused_are_zero(&[self.line, self.offset]) => {
                    Some(Some(Position::Evtx { ordinal: self.record, record_id: Some(self.event_record_id) }))
                }
                _ => None,
            },
            _ => None,
        };
        Ok(Origin { file, position: position.ok_or(DCOM_ERROR_INVALID_OPTION)? })
    }
}

/// Core's alert options for `DCOM_ALERT_*` flags.
pub(crate) fn alert_options(flags: u32) -> Result<AlertOptions, dcom_result> {
    if flags & !DCOM_ALERT_INCLUDE_ORIGINAL != 0 {
        return Err(DCOM_ERROR_INVALID_OPTION);
    }
    Ok(AlertOptions { include_original: flags & DCOM_ALERT_INCLUDE_ORIGINAL != 0 })
}

/// Evaluates the rule and its exceptions on one JSON record and, when it raises an alert,
/// writes the ECS alert document (one line of JSON, no newline, NUL-terminated) to `alert`.
///
/// The document is exactly the line every front end writes for this record and origin
/// (core's `AlertWriter`): `@timestamp`, `event.kind: "alert"`, `rule.*`, `threat.*`, the
/// event's `host`, `user` and `process`, `log.file.path` / `log.offset` and
/// `dcom_detect.source` from `origin`, and `dcom_detect.branches` / `evidence`. `origin` may
/// be NULL (no source fields). `flags`: 0 or `DCOM_ALERT_INCLUDE_ORIGINAL`.
///
/// Outcomes, all `DCOM_OK`:
/// - the record raises an alert: the document is written, `*alert_needed` is its length + 1;
/// - the rule did not fire, or an exception item suppressed it: no alert; `*alert_needed`
///   is **0** and `alert` (if `alert_size` > 0) holds the empty string.
///
/// `*verdict` (if `verdict` is not NULL) tells which (see `dcom_verdict`), including which
/// item suppressed the record. So one call per record gives the verdict and the alert.
///
/// Buffer: the library's text-output convention. If the alert does not fit,
/// `DCOM_ERROR_BUFFER_TOO_SMALL` is returned, `*alert_needed` holds the size needed, the
/// buffer holds a cut prefix (not valid JSON) and `*verdict` is neutral: call again with a
/// buffer of `*alert_needed` bytes (the record is evaluated again; the result is the same).
/// `{NULL, 0}` asks for the size only. On any other failure `*alert_needed` is 0, the buffer
/// (if `alert_size` > 0) holds the empty string and `*verdict` is `{0, DCOM_NOT_SUPPRESSED}`;
/// a rejected record is described by `dcom_scratch_error_*`.
///
/// Errors: `DCOM_ERROR_NULL_ARGUMENT` (`rule` or `scratch` NULL, `json` NULL with a length,
/// `alert` NULL with a size), `DCOM_ERROR_MISALIGNED_POINTER`, `DCOM_ERROR_INVALID_LENGTH`,
/// `DCOM_ERROR_INVALID_UTF8` (the record or `origin->file`), `DCOM_ERROR_BAD_JSON`,
/// `DCOM_ERROR_INVALID_OPTION` (unknown flag, inconsistent `origin`),
/// `DCOM_ERROR_BUFFER_TOO_SMALL`, `DCOM_ERROR_SCRATCH_BUSY`, `DCOM_ERROR_INTERNAL`.
///
/// Struct events (`dcom_event`) have their own alert function, `dcom_rule_alert`.
///
/// Cost: a record without an alert costs what `dcom_rule_evaluate_json` costs, with no
/// allocation in steady state. An alert is built by core: the record is decoded a second
/// time and parsed into a JSON value, and the document is assembled and serialised, which
/// allocates (about 750 small allocations and 55 us for a 2.6 KB Elastic Defend event, all
/// freed before the call returns); the text is kept in the scratch, whose buffer keeps its
/// capacity. Thread-safe for the rule; the scratch is per thread.
///
/// # Safety
/// `rule` and `scratch` are live handles; `json` is NULL or valid for `json_len` bytes and
/// `origin` NULL or a valid `dcom_origin` (its `file` valid for its length), both unchanged
/// during the call; `verdict` is NULL or valid for a write; `alert` is NULL or valid for
/// `alert_size` bytes of writes; `alert_needed` is NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn dcom_rule_alert_json(
    rule: *const dcom_rule,
    scratch: *mut dcom_scratch,
    json: *const u8,
    json_len: usize,
    origin: *const dcom_origin,
    flags: u32,
    verdict: *mut dcom_verdict,
    alert: *mut c_char,
    alert_size: usize,
    alert_needed: *mut usize,
) -> dcom_result {
    write_alert(verdict, alert, alert_size, alert_needed, |text| {
        let rule = &input(rule)?.rule;
        let scratch = input(scratch.cast_const())?;
        let record = slice(json, json_len)?;
        let origin = core_origin(origin)?;
        let options = alert_options(flags)?;
        let mut claim = scratch.claim()?;
        let state = claim.state();
        let evaluated = state.evaluate(rule, record)?;
        if evaluated.is_alert() {
            state.alert.clear();
            // The record just decoded with the same limits and the same rule: core agrees
            // that it raises an alert, or there is a bug.
            match AlertWriter::new(rule, options).write(record, &origin, &mut state.alert) {
                Ok(true) => {}
                Ok(false) | Err(_) => return Err(DCOM_ERROR_INTERNAL),
            }
            let document = std::str::from_utf8(&state.alert).map_err(|_| DCOM_ERROR_INTERNAL)?;
            text.write(document)?;
        }
        Ok(evaluated)
    })
}

/// The common shape of the alert functions: the out-parameters reset first (a neutral
/// verdict, an empty text), then `produce` evaluates and writes the document, and its verdict
/// is written last, so any failure leaves the neutral values.
///
/// # Safety
/// As the alert functions: `verdict` NULL or valid for a write; `alert` NULL or valid for
/// `alert_size` bytes; `alert_needed` NULL or valid for a write.
unsafe fn write_alert(
    verdict: *mut dcom_verdict,
    alert: *mut c_char,
    alert_size: usize,
    alert_needed: *mut usize,
    produce: impl FnOnce(TextOut<'_>) -> Result<dcom_verdict, dcom_result>,
) -> dcom_result {
    guard(|| {
        let mut verdict_out = optional_output(verdict)?;
        if let Some(out) = &mut verdict_out {
            out.write(dcom_verdict::NONE);
        }
        let mut text = TextOut::new(alert, alert_size, alert_needed)?;
        text.nothing();
        let evaluated = produce(text)?;
        if let Some(out) = &mut verdict_out {
            out.write(evaluated);
        }
        Ok(())
    })
}

/// Core's origin for a `dcom_origin` pointer (NULL: no origin).
///
/// # Safety
/// `origin` is NULL or a valid `dcom_origin` whose `file` is valid for its length, unchanged
/// during `'a`.
pub(crate) unsafe fn core_origin<'a>(origin: *const dcom_origin) -> Result<Origin<'a>, dcom_result> {
    match optional_input(origin)? {
        Some(origin) => origin.as_core(),
        None => Ok(Origin { file: None, position: None }),
    }
}

/// `dcom_rule_alert_json` for a struct event: evaluates the rule and its exceptions on
/// `event` and, when it raises an alert, writes the ECS alert document to `alert`.
///
/// The document is the one core writes for any event given as fields (`AlertWriter::
/// document_fields`): `rule.*`, `threat.*`, `event.*`, `dcom_detect.branches` / `evidence`
/// and the source fields from `origin` exactly as for a JSON record, `dcom_detect.schema`
/// `"fields"`, and `@timestamp`, `host`, `user` and `process` from the event's fields:
/// `process_name`, `process_parent_name`, `process_command_line`, and `other` entries by ECS
/// path (`@timestamp`, `host.name`, `host.id`, `user.name`, `user.domain`, `user.id`,
/// `process.pid`, `process.executable`, `process.entity_id`, `process.parent.pid`, ...; pids
/// decimal or `0x` hexadecimal, written as numbers). No `event.original` (there is no
/// record): `flags` must be 0.
///
/// Outcomes, buffer convention, `verdict` and `alert_needed`: as `dcom_rule_alert_json`.
///
/// Errors: `DCOM_ERROR_NULL_ARGUMENT` (`rule`, `scratch` or `event` NULL, `alert` NULL with
/// a size), `DCOM_ERROR_MISALIGNED_POINTER`, `DCOM_ERROR_INVALID_LENGTH`,
/// `DCOM_ERROR_INVALID_UTF8` (an event string or `origin->file`), `DCOM_ERROR_INVALID_OPTION`
/// (non-zero `flags`, inconsistent `origin`), `DCOM_ERROR_BUFFER_TOO_SMALL`,
/// `DCOM_ERROR_SCRATCH_BUSY`, `DCOM_ERROR_INTERNAL`.
///
/// Cost: an event without an alert costs what `dcom_rule_evaluate` costs, with no allocation.
/// An alert is built by core, which allocates (freed before the call returns). Thread-safe
/// for the rule; the scratch is per thread.
///
/// # Safety
/// `rule` and `scratch` are live handles; `event` points to a valid `dcom_event` whose
/// strings and arrays are valid for their lengths, and `origin` is NULL or a valid
/// `dcom_origin`, all unchanged during the call; `verdict` is NULL or valid for a write;
/// `alert` is NULL or valid for `alert_size` bytes of writes; `alert_needed` is NULL or
/// valid for a write.
#[no_mangle]
pub unsafe extern "C" fn dcom_rule_alert(
    rule: *const dcom_rule,
    scratch: *mut dcom_scratch,
    event: *const dcom_event,
    origin: *const dcom_origin,
    flags: u32,
    verdict: *mut dcom_verdict,
    alert: *mut c_char,
    alert_size: usize,
    alert_needed: *mut usize,
) -> dcom_result {
    write_alert(verdict, alert, alert_size, alert_needed, |text| {
        let handle = input(rule)?;
        let scratch = input(scratch.cast_const())?;
        let event = input(event)?.checked()?;
        let origin = core_origin(origin)?;
        if flags != 0 {
            return Err(DCOM_ERROR_INVALID_OPTION);
        }
        // Claimed for the call, as every scratch function does (a scratch in use elsewhere is
        // DCOM_ERROR_SCRATCH_BUSY); the document goes straight to the caller's buffer.
        let _claim = scratch.claim()?;
        let evaluated = dcom_verdict::from_core(&handle.rule.evaluate(&event));
        if evaluated.is_alert() {
            let mut writer = AlertWriter::new(&handle.rule, AlertOptions::default());
            let document = writer.document_fields(&event, &origin).ok_or(DCOM_ERROR_INTERNAL)?;
            text.write(document.json())?;
        }
        Ok(evaluated)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(position: u32) -> dcom_origin {
        dcom_origin {
            file: dcom_str { ptr: std::ptr::null(), len: 0 },
            position,
            has_event_record_id: 0,
            line: 0,
            offset: 0,
            record: 0,
            event_record_id: 0,
        }
    }

    fn core(o: &dcom_origin) -> Result<Option<Position>, dcom_result> {
        unsafe { o.as_core() }.map(|o| o.position)
    }

    #[test]
    fn origins_translate_and_unused_fields_must_be_zero() {
        assert_eq!(core(&origin(DCOM_POSITION_NONE)), Ok(None));
        let line = dcom_origin { line: 3, offset: 40, ..origin(DCOM_POSITION_LINE) };
        assert_eq!(core(&line), Ok(Some(Position::Line { line: 3, offset: 40 })));
        let evtx = dcom_origin { record: 7, ..origin(DCOM_POSITION_EVTX) };
        assert_eq!(core(&evtx), Ok(Some(Position::Evtx { ordinal: 7, record_id: None })));
        let evtx_id = dcom_origin { has_event_record_id: 1, event_record_id: 0, ..evtx };
        assert_eq!(core(&evtx_id), Ok(Some(Position::Evtx { ordinal: 7, record_id: Some(0) })));
        for bad in [
            dcom_origin { line: 1, ..origin(DCOM_POSITION_NONE) },
            dcom_origin { record: 1, ..origin(DCOM_POSITION_LINE) },
            dcom_origin { has_event_record_id: 1, ..origin(DCOM_POSITION_LINE) },
            dcom_origin { offset: 1, ..origin(DCOM_POSITION_EVTX) },
            dcom_origin { event_record_id: 5, ..origin(DCOM_POSITION_EVTX) },
            dcom_origin { has_event_record_id: 2, ..origin(DCOM_POSITION_EVTX) },
            origin(3),
        ] {
            assert_eq!(core(&bad), Err(DCOM_ERROR_INVALID_OPTION), "{bad:?}");
        }
        let file = b"a\xffb";
        let bad_file = dcom_origin { file: dcom_str { ptr: file.as_ptr(), len: 3 }, ..origin(DCOM_POSITION_NONE) };
        assert_eq!(core(&bad_file), Err(crate::result::DCOM_ERROR_INVALID_UTF8));
    }

    #[test]
    fn flags() {
        assert_eq!(alert_options(0), Ok(AlertOptions { include_original: false }));
        assert_eq!(alert_options(DCOM_ALERT_INCLUDE_ORIGINAL), Ok(AlertOptions { include_original: true }));
        assert_eq!(alert_options(2), Err(DCOM_ERROR_INVALID_OPTION));
        assert_eq!(alert_options(u32::MAX), Err(DCOM_ERROR_INVALID_OPTION));
    }
}
