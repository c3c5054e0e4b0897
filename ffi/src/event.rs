//! The sensor's hot path: a struct of borrowed strings, UTF-8 or UTF-16, evaluated in place.
//!
//! A call checks every pointer, length and string of the event once, up front (UTF-8 with
//! SIMD, UTF-16 for unpaired surrogates), then lets the rule read the caller's memory through
//! core's `Fields` trait. Nothing is copied, converted or allocated, and nothing is locked:
//! the cost is one validation pass over the strings plus the rule's evaluation.

use dcom_detect_core::text::validate_utf16;
use dcom_detect_core::{Field, FieldId, Fields, Text};

use crate::args::{input, optional_slice, output, slice};
use crate::result::{dcom_result, guard, DCOM_ERROR_INVALID_UTF16, DCOM_ERROR_INVALID_UTF8, DCOM_ERROR_NULL_ARGUMENT};
use crate::rule::dcom_rule;

/// A borrowed UTF-8 string: `len` bytes at `ptr`, not NUL-terminated (a NUL byte is an
/// ordinary character).
///
/// `{NULL, 0}` means absent (like JSON `null`); `{NULL, n > 0}` is
/// `DCOM_ERROR_NULL_ARGUMENT`; a non-NULL `ptr` with `len` 0 is the empty string, which is a
/// value. The bytes must be valid UTF-8 (`DCOM_ERROR_INVALID_UTF8` otherwise) and stay
/// unchanged during the call that reads them; they are never kept after it.
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
    /// tuning (exceptions); `{NULL, 0}` when unused.
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
trait CText {
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
            simdutf8::basic::from_utf8(bytes).map_err(|_| DCOM_ERROR_INVALID_UTF8)?;
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
trait CField {
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
struct Checked<'a, F: CField> {
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

/// The values of one field of a [`Checked`] event.
struct CheckedValues<'s, F: CField> {
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
    type Values<'s> = CheckedValues<'s, F> where Self: 's;

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

/// Evaluates the rule on a checked event and returns the branch bits.
#[inline]
fn branches<F: CField>(rule: &dcom_rule, event: &Checked<'_, F>) -> u32 {
    u32::from(rule.rule.evaluate(event).branches().bits())
}

/// Evaluates the rule on one process event given as UTF-8 strings: the sensor's hot path.
///
/// On success `*branches` receives the branches that fired (`DCOM_BRANCH_*` bits; 0 = no
/// match). On failure it is set to 0.
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
pub unsafe extern "C" fn dcom_rule_match(rule: *const dcom_rule, event: *const dcom_event, branches: *mut u32) -> dcom_result {
    guard(|| {
        let mut out = output(branches)?;
        out.write(0);
        let rule = input(rule)?;
        let e = input(event)?;
        let event = Checked::<dcom_field>::new(
            (e.event_category, e.event_category_count),
            (e.event_type, e.event_type_count),
            &e.process_name,
            &e.process_parent_name,
            &e.process_command_line,
            (e.other, e.other_count),
        )?;
        out.write(self::branches(rule, &event));
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
        let e = input(event)?;
        let event = Checked::<dcom_field16>::new(
            (e.event_category, e.event_category_count),
            (e.event_type, e.event_type_count),
            &e.process_name,
            &e.process_parent_name,
            &e.process_command_line,
            (e.other, e.other_count),
        )?;
        out.write(self::branches(rule, &event));
        Ok(())
    })
}
