//! The sensor's hot path: a struct of borrowed strings, UTF-8 or UTF-16, evaluated in place.
//!
//! A call checks every pointer, length and string of the event once, up front (UTF-8 with
//! SIMD, UTF-16 for unpaired surrogates), then lets the rule read the caller's memory through
//! core's `Fields` trait. Nothing is copied, converted or allocated, and nothing is locked:
//! the cost is one validation pass over the strings plus the rule's evaluation.
//!
//! Where a stream of records is read instead (a correlation session), a checked event is
//! written as one JSON record by core's `FlatRecord` (`Checked::flat`); `dcom_event_json`
//! shows that record to the caller.

use std::ffi::c_char;

use dcom_detect_core::view::text::validate_utf16;
use dcom_detect_core::{Field, FieldId, Fields, FlatRecord, Text};

use crate::args::{input, optional_slice, output, slice};
use crate::buffer::TextOut;
use crate::result::{
    dcom_result, guard, DCOM_ERROR_INTERNAL, DCOM_ERROR_INVALID_UTF16, DCOM_ERROR_INVALID_UTF8,
    DCOM_ERROR_NULL_ARGUMENT,
};
use crate::rule::dcom_rule;
use crate::verdict::dcom_verdict;

/// A borrowed UTF-8 string: `len` bytes at `ptr`, not NUL-terminated (a NUL byte is an
/// ordinary character).
///
/// `{NULL, 0}` means absent (like JSON `null`); `{NULL, n > 0}` is
/// `DCOM_ERROR_NULL_ARGUMENT`; a non-NULL `ptr` with `len` 0 is the empty string, which is a
/// value. The bytes must be valid UTF-8 (`DCOM_ERROR_INVALID_UTF8` otherwise) and stay
/// unchanged during the call that reads them; they are never kept after it.
///
/// The library only reads strings and events, so threads may pass the same ones at once.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct dcom_str {
    /// First byte, or NULL.
    pub ptr: *const u8,
    /// Length in bytes.
    pub len: usize,
}

/// A borrowed UTF-16 string (native byte order), as Windows and ETW hand them out: `len`
/// code units at `ptr`, not NUL-terminated.
///
/// `ptr` must be aligned to 2 bytes (`DCOM_ERROR_MISALIGNED_POINTER` otherwise: strings inside
/// a packed ETW payload may sit at odd offsets and must then be copied to an aligned buffer
/// first). Absent, NULL and empty as for `dcom_str`. The units must be well-formed UTF-16 (no
/// unpaired surrogate: `DCOM_ERROR_INVALID_UTF16`) and stay unchanged during the call.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct dcom_str16 {
    /// First code unit, or NULL.
    pub ptr: *const u16,
    /// Length in code units (not bytes).
    pub len: usize,
}

/// An extra field for `dcom_event.other`: an ECS path and one of its values.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct dcom_field {
    /// The ECS path, such as `"user.name"`; must not be absent.
    pub path: dcom_str,
    /// The value (absent allowed, and skipped).
    pub value: dcom_str,
}

/// An extra field for `dcom_event16.other`: an ECS path (UTF-8) and one UTF-16 value.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct dcom_field16 {
    /// The ECS path, such as `"user.name"` (UTF-8); must not be absent.
    pub path: dcom_str,
    /// The value (absent allowed, and skipped).
    pub value: dcom_str16,
}

/// A process event as UTF-8 strings borrowed from the caller, for `dcom_rule_match`.
///
/// The rule's semantics are Elasticsearch's: `event.category` must contain `"process"` and
/// `event.type` must contain `"start"` (both exact and case-sensitive) for anything to match,
/// so a process-start callback passes those two constants. Arrays are `(pointer, count)`;
/// `{NULL, 0}` is an empty array (the field is absent), and absent elements are skipped
/// (like `null` inside a JSON array). Zero-initialise the struct and set what you have.
///
/// Borrowed for one call and only read: threads may share an event.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct dcom_event {
    /// `event.category` values (multi-valued).
    pub event_category: *const dcom_str,
    /// Number of `event_category` values.
    pub event_category_count: usize,
    /// `event.type` values (multi-valued).
    pub event_type: *const dcom_str,
    /// Number of `event_type` values.
    pub event_type_count: usize,
    /// `process.name`: the executable's file name (`"cmd.exe"`), not its path.
    pub process_name: dcom_str,
    /// `process.parent.name`: the parent's file name (`"mmc.exe"`).
    pub process_parent_name: dcom_str,
    /// `process.command_line`: the full command line.
    pub process_command_line: dcom_str,
    /// Any other ECS fields, as `(path, value)` pairs; a path may repeat to give several
    /// values, and entries for the five fields above add values to them. Read only by rule
    /// tuning (the exceptions' conditions: `host.name`, `user.name`, ...); `{NULL, 0}` when
    /// unused.
    pub other: *const dcom_field,
    /// Number of `other` entries.
    pub other_count: usize,
}

/// The same process event as `dcom_event`, with UTF-16 values (`dcom_str16`), for
/// `dcom_rule_match_utf16`. Never converted to UTF-8: the rule compares UTF-16 directly.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct dcom_event16 {
    /// `event.category` values (multi-valued).
    pub event_category: *const dcom_str16,
    /// Number of `event_category` values.
    pub event_category_count: usize,
    /// `event.type` values (multi-valued).
    pub event_type: *const dcom_str16,
    /// Number of `event_type` values.
    pub event_type_count: usize,
    /// `process.name`: the executable's file name, not its path.
    pub process_name: dcom_str16,
    /// `process.parent.name`: the parent's file name.
    pub process_parent_name: dcom_str16,
    /// `process.command_line`: the full command line.
    pub process_command_line: dcom_str16,
    /// Any other ECS fields, as `(path, value)` pairs (see `dcom_event.other`).
    pub other: *const dcom_field16,
    /// Number of `other` entries.
    pub other_count: usize,
}

/// A C string type whose contents can be checked once and then read as [`Text`].
pub(crate) trait CText {
    /// Checks pointer, length and encoding.
    ///
    /// # Safety
    /// A non-NULL `ptr` points to `len` readable units, unchanged during the call.
    unsafe fn check(&self) -> Result<(), dcom_result>;

    /// The value, `None` when absent.
    ///
    /// # Safety
    /// [`CText::check`] returned `Ok` and the memory has not changed since.
    unsafe fn text(&self) -> Option<Text<'_>>;
}

impl CText for dcom_str {
    #[inline]
    unsafe fn check(&self) -> Result<(), dcom_result> {
        if let Some(bytes) = optional_slice(self.ptr, self.len)? {
            // Sensor strings are short and almost always ASCII: the word-at-a-time ASCII check
            // costs a fraction of a full validation, which only non-ASCII text pays.
            if !bytes.is_ascii() {
                simdutf8::basic::from_utf8(bytes).map_err(|_| DCOM_ERROR_INVALID_UTF8)?;
            }
        }
        Ok(())
    }

    #[inline]
    unsafe fn text(&self) -> Option<Text<'_>> {
        if self.ptr.is_null() {
            return None;
        }
        let bytes = std::slice::from_raw_parts(self.ptr, self.len);
        Some(Text::utf8(std::str::from_utf8_unchecked(bytes)))
    }
}

impl CText for dcom_str16 {
    #[inline]
    unsafe fn check(&self) -> Result<(), dcom_result> {
        if let Some(units) = optional_slice(self.ptr, self.len)? {
            validate_utf16(units).map_err(|_| DCOM_ERROR_INVALID_UTF16)?;
        }
        Ok(())
    }

    #[inline]
    unsafe fn text(&self) -> Option<Text<'_>> {
        if self.ptr.is_null() {
            return None;
        }
        let units = std::slice::from_raw_parts(self.ptr, self.len);
        Some(Text::from_utf16_unchecked(units))
    }
}

/// An entry of the `other` array.
pub(crate) trait CField {
    type Value: CText;
    fn path(&self) -> &dcom_str;
    fn value(&self) -> &Self::Value;
}

impl CField for dcom_field {
    type Value = dcom_str;
    fn path(&self) -> &dcom_str {
        &self.path
    }
    fn value(&self) -> &dcom_str {
        &self.value
    }
}

impl CField for dcom_field16 {
    type Value = dcom_str16;
    fn path(&self) -> &dcom_str {
        &self.path
    }
    fn value(&self) -> &dcom_str16 {
        &self.value
    }
}

/// A C event whose every pointer and string has been checked: the only way to read one.
///
/// Invariant: every `CText` reachable from here passed [`CText::check`], so reading it with
/// [`CText::text`] is sound for as long as the borrow `'a` (one call) lasts.
pub(crate) struct Checked<'a, F: CField> {
    category: &'a [F::Value],
    event_type: &'a [F::Value],
    name: &'a F::Value,
    parent_name: &'a F::Value,
    command_line: &'a F::Value,
    other: &'a [F],
}

impl<'a, F: CField> Checked<'a, F> {
    /// Checks everything, reporting the first problem in field order.
    ///
    /// # Safety
    /// The pointers are valid for their lengths and unchanged during `'a` (the caller's
    /// documented promise).
    unsafe fn new(
        category: (*const F::Value, usize),
        event_type: (*const F::Value, usize),
        name: &'a F::Value,
        parent_name: &'a F::Value,
        command_line: &'a F::Value,
        other: (*const F, usize),
    ) -> Result<Checked<'a, F>, dcom_result> {
        let event = Checked {
            category: slice(category.0, category.1)?,
            event_type: slice(event_type.0, event_type.1)?,
            name,
            parent_name,
            command_line,
            other: slice(other.0, other.1)?,
        };
        for value in event.category.iter().chain(event.event_type).chain([name, parent_name, command_line]) {
            value.check()?;
        }
        for field in event.other {
            if field.path().ptr.is_null() {
                return Err(DCOM_ERROR_NULL_ARGUMENT);
            }
            field.path().check()?;
            field.value().check()?;
        }
        Ok(event)
    }
}

impl<F: CField> Checked<'_, F> {
    /// The event as one JSON record (core's [`FlatRecord`]): its pairs are the five named
    /// fields' values under their ECS paths, then the `other` entries.
    pub(crate) fn flat<'f>(&self, flat: &'f mut FlatRecord) -> &'f [u8] {
        let (category, event_type, other) = (self.category, self.event_type, self.other);
        let named = [
            ("process.name", self.name),
            ("process.parent.name", self.parent_name),
            ("process.command_line", self.command_line),
        ];
        let (types_from, named_from) = (category.len(), category.len() + event_type.len());
        let other_from = named_from + named.len();
        flat.write(other_from + other.len(), |i| {
            // SAFETY: everything reachable from a `Checked` passed `check` (its invariant), and
            // an `other` path is never NULL (`Checked::new` refuses one).
            unsafe {
                if i < types_from {
                    ("event.category", category[i].text())
                } else if i < named_from {
                    ("event.type", event_type[i - types_from].text())
                } else if i < other_from {
                    let (path, value) = named[i - named_from];
                    (path, value.text())
                } else {
                    let field = &other[i - other_from];
                    (field.path().text().and_then(|p| p.as_str()).unwrap_or_default(), field.value().text())
                }
            }
        })
    }
}

/// The values of one field of a [`Checked`] event.
pub(crate) struct CheckedValues<'s, F: CField> {
    listed: std::slice::Iter<'s, F::Value>,
    other: std::slice::Iter<'s, F>,
    path: &'s str,
}

impl<'s, F: CField> Iterator for CheckedValues<'s, F> {
    type Item = Text<'s>;

    #[inline]
    fn next(&mut self) -> Option<Text<'s>> {
        // SAFETY: everything reachable from a `Checked` passed `check` (its invariant).
        for value in self.listed.by_ref() {
            if let Some(text) = unsafe { value.text() } {
                return Some(text);
            }
        }
        for field in self.other.by_ref() {
            let path = unsafe { field.path().text() };
            if path.and_then(|p| p.as_str()) == Some(self.path) {
                if let Some(text) = unsafe { field.value().text() } {
                    return Some(text);
                }
            }
        }
        None
    }
}

impl<F: CField> Fields for Checked<'_, F> {
    type Values<'s>
        = CheckedValues<'s, F>
    where
        Self: 's;

    #[inline]
    fn values<'s>(&'s self, field: &'s Field) -> CheckedValues<'s, F> {
        let listed: &'s [F::Value] = match field.id() {
            FieldId::EVENT_CATEGORY => self.category,
            FieldId::EVENT_TYPE => self.event_type,
            FieldId::PROCESS_NAME => std::slice::from_ref(self.name),
            FieldId::PROCESS_PARENT_NAME => std::slice::from_ref(self.parent_name),
            FieldId::PROCESS_COMMAND_LINE => std::slice::from_ref(self.command_line),
            _ => &[],
        };
        CheckedValues { listed: listed.iter(), other: self.other.iter(), path: field.path() }
    }
}

/// A borrowed UTF-8 string, checked: `None` when absent.
///
/// # Safety
/// A non-NULL `s.ptr` points to `s.len` readable bytes, unchanged while the result is used.
pub(crate) unsafe fn checked_str(s: &dcom_str) -> Result<Option<&str>, dcom_result> {
    s.check()?;
    Ok(s.text().and_then(|t| t.as_str()))
}

impl dcom_event {
    /// Every pointer and string checked.
    ///
    /// # Safety
    /// The caller's promise on `dcom_event` (valid for its lengths, unchanged during `'a`).
    #[inline]
    pub(crate) unsafe fn checked(&self) -> Result<Checked<'_, dcom_field>, dcom_result> {
        Checked::new(
            (self.event_category, self.event_category_count),
            (self.event_type, self.event_type_count),
            &self.process_name,
            &self.process_parent_name,
            &self.process_command_line,
            (self.other, self.other_count),
        )
    }
}

impl dcom_event16 {
    /// Every pointer and string checked.
    ///
    /// # Safety
    /// As [`dcom_event::checked`].
    #[inline]
    pub(crate) unsafe fn checked(&self) -> Result<Checked<'_, dcom_field16>, dcom_result> {
        Checked::new(
            (self.event_category, self.event_category_count),
            (self.event_type, self.event_type_count),
            &self.process_name,
            &self.process_parent_name,
            &self.process_command_line,
            (self.other, self.other_count),
        )
    }
}

/// Evaluates the rule on a checked event.
#[inline]
fn evaluate<F: CField>(rule: &dcom_rule, event: &Checked<'_, F>) -> dcom_verdict {
    dcom_verdict::from_core(&rule.rule.evaluate(event))
}

/// Evaluates the rule on one process event given as UTF-8 strings: the sensor's hot path.
///
/// On success `*branches` receives the branches of the alert the event raises (`DCOM_BRANCH_*`
/// bits): non-zero exactly when the event raises an alert, that is some branch fired and no
/// exception item suppressed it; 0 when nothing fired or an exception item suppressed it. On
/// failure it is set to 0. To count suppressions, `dcom_rule_evaluate` also reports what fired
/// and which item suppressed it. (Vocabulary, the same in every door: a branch *fires* when its
/// condition holds; an event *matches*, raising an alert, when a branch fires and no exception
/// suppresses it.)
///
/// Errors: `DCOM_ERROR_NULL_ARGUMENT` (`rule`, `event` or `branches` NULL, or a NULL pointer
/// with a non-zero length), `DCOM_ERROR_MISALIGNED_POINTER`, `DCOM_ERROR_INVALID_LENGTH`,
/// `DCOM_ERROR_INVALID_UTF8`, `DCOM_ERROR_INTERNAL`. Every string is checked before any is
/// matched; the first problem, in field order, is reported.
///
/// Cost: one UTF-8 validation pass over the strings plus the evaluation; no allocation, no
/// lock, no copy. Thread-safe: any number of threads may call it on one rule at once.
///
/// # Safety
/// `rule` is a live handle; every non-NULL pointer in `event` is valid for its length and
/// unchanged during the call; `branches` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn dcom_rule_match(
    rule: *const dcom_rule,
    event: *const dcom_event,
    branches: *mut u32,
) -> dcom_result {
    guard(|| {
        let mut out = output(branches)?;
        out.write(0);
        let rule = input(rule)?;
        let event = input(event)?.checked()?;
        out.write(evaluate(rule, &event).alert_branches());
        Ok(())
    })
}

/// Evaluates the rule on one process event given as UTF-16 strings (`dcom_event16`), without
/// converting them to UTF-8.
///
/// Same contract as `dcom_rule_match`, with `DCOM_ERROR_INVALID_UTF16` for an unpaired
/// surrogate and `DCOM_ERROR_MISALIGNED_POINTER` for a `uint16_t *` at an odd address.
///
/// Cost: one pass over the strings to check surrogates plus the evaluation; no allocation, no
/// lock, no copy. Thread-safe.
///
/// # Safety
/// As `dcom_rule_match`.
#[no_mangle]
pub unsafe extern "C" fn dcom_rule_match_utf16(
    rule: *const dcom_rule,
    event: *const dcom_event16,
    branches: *mut u32,
) -> dcom_result {
    guard(|| {
        let mut out = output(branches)?;
        out.write(0);
        let rule = input(rule)?;
        let event = input(event)?.checked()?;
        out.write(evaluate(rule, &event).alert_branches());
        Ok(())
    })
}

/// Evaluates the rule and its exceptions on one process event given as UTF-8 strings: the
/// hot path of a tuned sensor.
///
/// On success `*verdict` receives what fired and whether an exception item suppressed it
/// (see `dcom_verdict`: alert exactly when `branches != 0 && suppressed_by < 0`). On failure
/// it is set to `{0, DCOM_NOT_SUPPRESSED}`. The exceptions' conditions read their fields from
/// the event: the five fields of `dcom_event`, and any other ECS field (`host.name`, `user.name`,
/// `process.executable`, `process.code_signature.trusted`...) from `event->other` by path. A
/// field the event does not give is absent, as in a document without it (`is not` and
/// `does not exist` hold, `is` and `matches` do not).
///
/// Errors: as `dcom_rule_match`.
///
/// Cost: as `dcom_rule_match`, plus, only when a branch fires, the exceptions' conditions
/// (each reads its field once; a path in `other` is found by a linear scan of `other`). No
/// allocation, no lock, no copy, with or without exceptions. Thread-safe.
///
/// # Safety
/// `rule` is a live handle; every non-NULL pointer in `event` is valid for its length and
/// unchanged during the call; `verdict` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn dcom_rule_evaluate(
    rule: *const dcom_rule,
    event: *const dcom_event,
    verdict: *mut dcom_verdict,
) -> dcom_result {
    guard(|| {
        let mut out = output(verdict)?;
        out.write(dcom_verdict::NONE);
        let rule = input(rule)?;
        let event = input(event)?.checked()?;
        out.write(evaluate(rule, &event));
        Ok(())
    })
}

/// `dcom_rule_evaluate` for a `dcom_event16` (UTF-16 values, never converted; the paths in
/// `other` are UTF-8).
///
/// Errors: as `dcom_rule_match_utf16`. Cost: as `dcom_rule_evaluate`; no allocation, lock or
/// copy. Thread-safe.
///
/// # Safety
/// As `dcom_rule_evaluate`.
#[no_mangle]
pub unsafe extern "C" fn dcom_rule_evaluate_utf16(
    rule: *const dcom_rule,
    event: *const dcom_event16,
    verdict: *mut dcom_verdict,
) -> dcom_result {
    guard(|| {
        let mut out = output(verdict)?;
        out.write(dcom_verdict::NONE);
        let rule = input(rule)?;
        let event = input(event)?.checked()?;
        out.write(evaluate(rule, &event));
        Ok(())
    })
}

/// Writes a struct event as the JSON record the correlation door reads it as
/// (`dcom_session_feed_event` feeds exactly this record): one object with dotted ECS keys,
/// NUL-terminated, into `json`.
///
/// The record: `event.category`, `event.type`, `process.name`, `process.parent.name`,
/// `process.command_line` and every `other` path, each once, in bytewise path order; a path
/// given once is a string, a path given several times (an array, or repeated in `other`) an
/// array of strings in the order given; absent values are skipped and a path with no value
/// is left out; strings are escaped as JSON requires. So
/// `{.event_category = {"process"}, .event_type = {"start"}, .process_name = "cmd.exe",
/// .other = {{"process.pid", "4242"}}}` is
/// `{"event.category":"process","event.type":"start","process.name":"cmd.exe","process.pid":"4242"}`.
/// A path the view cannot read (an empty one, or `process` beside `process.name`) is written
/// as given; feeding the record then reports it.
///
/// Buffer: the library's text-output convention (`*json_needed` is the length + 1; `{NULL,
/// 0}` asks for the size).
///
/// Errors: `DCOM_ERROR_NULL_ARGUMENT` (`event` NULL, a NULL pointer with a length, an
/// `other` path NULL, `json` NULL with a size), `DCOM_ERROR_MISALIGNED_POINTER`,
/// `DCOM_ERROR_INVALID_LENGTH`, `DCOM_ERROR_INVALID_UTF8`, `DCOM_ERROR_BUFFER_TOO_SMALL`,
/// `DCOM_ERROR_INTERNAL`.
///
/// Cost: O(n log n) in the event's `n` values to group paths, plus the text; allocates its
/// working buffer for the call (a session's feed reuses its own). Thread-safe.
///
/// # Safety
/// `event` points to a valid `dcom_event` whose strings and arrays are valid for their
/// lengths, unchanged during the call; `json` is NULL or valid for `json_size` bytes of
/// writes; `json_needed` is NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn dcom_event_json(
    event: *const dcom_event,
    json: *mut c_char,
    json_size: usize,
    json_needed: *mut usize,
) -> dcom_result {
    guard(|| write_json(json, json_size, json_needed, || input(event)?.checked()))
}

/// `dcom_event_json` for a `dcom_event16`: its UTF-16 values are written as UTF-8.
///
/// Errors: as `dcom_event_json`, with `DCOM_ERROR_INVALID_UTF16` for an unpaired surrogate.
///
/// # Safety
/// As `dcom_event_json`.
#[no_mangle]
pub unsafe extern "C" fn dcom_event16_json(
    event: *const dcom_event16,
    json: *mut c_char,
    json_size: usize,
    json_needed: *mut usize,
) -> dcom_result {
    guard(|| write_json(json, json_size, json_needed, || input(event)?.checked()))
}

/// The record of the event `checked` returns into the caller's buffer, which is made
/// neutral (`*json_needed` 0, the empty string) before the event is checked.
///
/// # Safety
/// `json` is NULL or valid for `json_size` bytes; `json_needed` NULL or valid for a write.
unsafe fn write_json<'e, F: CField + 'e>(
    json: *mut c_char,
    json_size: usize,
    json_needed: *mut usize,
    checked: impl FnOnce() -> Result<Checked<'e, F>, dcom_result>,
) -> Result<(), dcom_result> {
    let mut text = TextOut::new(json, json_size, json_needed)?;
    text.nothing();
    let event = checked()?;
    let mut flat = FlatRecord::new();
    let record = std::str::from_utf8(event.flat(&mut flat)).map_err(|_| DCOM_ERROR_INTERNAL)?;
    text.write(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::*;
    use crate::rule::*;

    fn s(v: &str) -> dcom_str {
        dcom_str { ptr: v.as_ptr(), len: v.len() }
    }

    const ABSENT: dcom_str = dcom_str { ptr: std::ptr::null(), len: 0 };
    const ABSENT16: dcom_str16 = dcom_str16 { ptr: std::ptr::null(), len: 0 };

    struct Rules {
        ascii: *mut dcom_rule,
        unicode: *mut dcom_rule,
    }

    impl Rules {
        fn new() -> Rules {
            let mut r = Rules { ascii: std::ptr::null_mut(), unicode: std::ptr::null_mut() };
            let unicode = dcom_rule_options {
                struct_size: 8, // version 1
                case_folding: DCOM_CASE_FOLDING_UNICODE_SIMPLE,
                exceptions: std::ptr::null(),
                exceptions_len: 0,
            };
            unsafe {
                assert_eq!(dcom_rule_create(std::ptr::null(), &mut r.ascii), DCOM_OK);
                assert_eq!(dcom_rule_create(&unicode, &mut r.unicode), DCOM_OK);
            }
            r
        }
    }

    impl Drop for Rules {
        fn drop(&mut self) {
            unsafe {
                dcom_rule_destroy(self.ascii);
                dcom_rule_destroy(self.unicode);
            }
        }
    }

    fn run(rule: *const dcom_rule, event: &dcom_event) -> (dcom_result, u32) {
        let mut branches = 99;
        let code = unsafe { dcom_rule_match(rule, event, &mut branches) };
        (code, branches)
    }

    fn run16(rule: *const dcom_rule, event: &dcom_event16) -> (dcom_result, u32) {
        let mut branches = 99;
        let code = unsafe { dcom_rule_match_utf16(rule, event, &mut branches) };
        (code, branches)
    }

    /// A process start with these three fields, UTF-8.
    fn start<'a>(
        cat: &'a [dcom_str; 1],
        typ: &'a [dcom_str; 2],
        name: dcom_str,
        parent: dcom_str,
        cmd: dcom_str,
    ) -> dcom_event {
        dcom_event {
            event_category: cat.as_ptr(),
            event_category_count: 1,
            event_type: typ.as_ptr(),
            event_type_count: 2,
            process_name: name,
            process_parent_name: parent,
            process_command_line: cmd,
            other: std::ptr::null(),
            other_count: 0,
        }
    }

    #[test]
    fn utf8_branches() {
        let rules = Rules::new();
        let cat = [s("process")];
        let typ = [ABSENT, s("start")]; // an absent element is skipped
        let office = start(&cat, &typ, s("CMD.exe"), s("mmc.exe"), ABSENT);
        assert_eq!(run(rules.ascii, &office), (DCOM_OK, DCOM_BRANCH_OFFICE_CHILD));
        let all = start(&cat, &typ, s("dcomcnfg.exe"), s("excel.exe"), s("x dcom y -exec"));
        assert_eq!(run(rules.ascii, &all), (DCOM_OK, DCOM_BRANCH_DCOMCNFG | DCOM_BRANCH_DCOM_COMMAND_LINE));
        // `==` is case-sensitive.
        let upper = start(&cat, &typ, s("DCOMCNFG.EXE"), ABSENT, ABSENT);
        assert_eq!(run(rules.ascii, &upper), (DCOM_OK, 0));
        // KELVIN SIGN folds to k only under Unicode simple folding.
        let kelvin = start(&cat, &typ, s("cmd.exe"), s("outloo\u{212A}.exe"), ABSENT);
        assert_eq!(run(rules.ascii, &kelvin), (DCOM_OK, 0));
        assert_eq!(run(rules.unicode, &kelvin), (DCOM_OK, DCOM_BRANCH_OFFICE_CHILD));
    }

    #[test]
    fn category_and_type_are_required_and_exact() {
        let rules = Rules::new();
        let typ = [s("start"), ABSENT];
        for cat in [[ABSENT], [s("Process")], [s("")]] {
            let event = start(&cat, &typ, s("dcomcnfg.exe"), ABSENT, ABSENT);
            assert_eq!(run(rules.ascii, &event), (DCOM_OK, 0));
        }
        let mut event = start(&[s("process")], &typ, s("dcomcnfg.exe"), ABSENT, ABSENT);
        event.event_category = std::ptr::null();
        event.event_category_count = 0;
        assert_eq!(run(rules.ascii, &event), (DCOM_OK, 0));
    }

    #[test]
    fn other_fields_add_values() {
        let rules = Rules::new();
        let cat = [s("process")];
        let typ = [s("start"), ABSENT];
        let other = [
            dcom_field { path: s("process.command_line"), value: s("DCOM") },
            dcom_field { path: s("user.name"), value: s("-Exec") },
            dcom_field { path: s("process.command_line"), value: ABSENT },
        ];
        let mut event = start(&cat, &typ, ABSENT, ABSENT, s("-Exec"));
        assert_eq!(run(rules.ascii, &event), (DCOM_OK, 0));
        event.other = other.as_ptr();
        event.other_count = other.len();
        assert_eq!(run(rules.ascii, &event), (DCOM_OK, DCOM_BRANCH_DCOM_COMMAND_LINE));
        let no_path = [dcom_field { path: ABSENT, value: s("x") }];
        event.other = no_path.as_ptr();
        event.other_count = 1;
        assert_eq!(run(rules.ascii, &event), (DCOM_ERROR_NULL_ARGUMENT, 0));
    }

    #[test]
    fn utf8_errors() {
        let rules = Rules::new();
        let cat = [s("process")];
        let typ = [s("start"), ABSENT];
        let good = start(&cat, &typ, s("cmd.exe"), s("mmc.exe"), ABSENT);
        let mut branches = 0;
        unsafe {
            assert_eq!(dcom_rule_match(std::ptr::null(), &good, &mut branches), DCOM_ERROR_NULL_ARGUMENT);
            assert_eq!(dcom_rule_match(rules.ascii, std::ptr::null(), &mut branches), DCOM_ERROR_NULL_ARGUMENT);
            assert_eq!(dcom_rule_match(rules.ascii, &good, std::ptr::null_mut()), DCOM_ERROR_NULL_ARGUMENT);
        }
        let bad = [0x63u8, 0xff];
        let mut event = good;
        event.process_command_line = dcom_str { ptr: bad.as_ptr(), len: 2 };
        assert_eq!(run(rules.ascii, &event), (DCOM_ERROR_INVALID_UTF8, 0));
        event.process_command_line = dcom_str { ptr: std::ptr::null(), len: 3 };
        assert_eq!(run(rules.ascii, &event), (DCOM_ERROR_NULL_ARGUMENT, 0));
        event.process_command_line = ABSENT;
        event.event_type_count = usize::MAX;
        assert_eq!(run(rules.ascii, &event), (DCOM_ERROR_INVALID_LENGTH, 0));
        event.event_type = typ.as_ptr().cast::<u8>().wrapping_add(1).cast();
        assert_eq!(run(rules.ascii, &event), (DCOM_ERROR_MISALIGNED_POINTER, 0));
    }

    fn u(v: &str) -> Vec<u16> {
        v.encode_utf16().collect()
    }

    fn s16(v: &[u16]) -> dcom_str16 {
        dcom_str16 { ptr: v.as_ptr(), len: v.len() }
    }

    #[test]
    fn utf16_branches_and_errors() {
        let rules = Rules::new();
        let (process, start_, cmd, word, line) =
            (u("process"), u("start"), u("cmd.exe"), u("WINWORD.EXE"), u("x DCOM -Exec \u{1F600}"));
        let cat = [s16(&process)];
        let typ = [s16(&start_)];
        let mut event = dcom_event16 {
            event_category: cat.as_ptr(),
            event_category_count: 1,
            event_type: typ.as_ptr(),
            event_type_count: 1,
            process_name: s16(&cmd),
            process_parent_name: s16(&word),
            process_command_line: s16(&line),
            other: std::ptr::null(),
            other_count: 0,
        };
        assert_eq!(run16(rules.ascii, &event), (DCOM_OK, DCOM_BRANCH_OFFICE_CHILD | DCOM_BRANCH_DCOM_COMMAND_LINE));
        let lone = [0x61u16, 0xD800, 0x62];
        event.process_command_line = s16(&lone);
        assert_eq!(run16(rules.ascii, &event), (DCOM_ERROR_INVALID_UTF16, 0));
        let backwards = [0xDC00u16, 0xD800];
        event.process_command_line = s16(&backwards);
        assert_eq!(run16(rules.ascii, &event), (DCOM_ERROR_INVALID_UTF16, 0));
        event.process_command_line = ABSENT16;
        let padded = [0u16, 0x63, 0x6d, 0x64];
        event.process_name = dcom_str16 { ptr: padded.as_ptr().cast::<u8>().wrapping_add(1).cast(), len: 1 };
        assert_eq!(run16(rules.ascii, &event), (DCOM_ERROR_MISALIGNED_POINTER, 0));
        event.process_name = dcom_str16 { ptr: padded.as_ptr(), len: usize::MAX / 2 };
        assert_eq!(run16(rules.ascii, &event), (DCOM_ERROR_INVALID_LENGTH, 0));
    }
}
