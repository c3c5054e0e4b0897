//! The result code every export returns, its messages, and the panic guard around every
//! export.
//!
//! Codes are part of the ABI: a value, once published, keeps its meaning forever; new failures
//! get new, larger values.

use std::ffi::{c_char, c_int};
use std::panic::{self, AssertUnwindSafe};

/// The result of every function that can fail. `DCOM_OK` is 0; every failure has its own
/// fixed value, which never changes between versions (new failures get new values).
///
/// When a function fails, its out-parameters are set to a neutral value (NULL, 0) whenever
/// the out-pointer itself is valid, so a caller that ignores the code still sees "no match".
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum dcom_result {
    /// Success.
    DCOM_OK = 0,
    /// A required pointer argument is NULL, or a string or array has a NULL pointer with a
    /// non-zero length.
    DCOM_ERROR_NULL_ARGUMENT = 1,
    /// A UTF-8 string (a `dcom_str`, or the JSON record) is not valid UTF-8.
    DCOM_ERROR_INVALID_UTF8 = 2,
    /// A UTF-16 string (a `dcom_str16`) holds an unpaired surrogate.
    DCOM_ERROR_INVALID_UTF16 = 3,
    /// A pointer is not aligned for its type (for example a `uint16_t *` at an odd address,
    /// as a packed ETW payload can produce). Copy the data to an aligned buffer first.
    DCOM_ERROR_MISALIGNED_POINTER = 4,
    /// A length is impossible: the object it describes would be larger than `PTRDIFF_MAX`
    /// bytes.
    DCOM_ERROR_INVALID_LENGTH = 5,
    /// The JSON record was rejected (malformed JSON, not an object, a duplicate key, a
    /// mapping conflict, too deep or too large). `dcom_scratch_error_offset` and `dcom_scratch_error_message` say where and why.
    DCOM_ERROR_BAD_JSON = 6,
    /// A caller-provided output buffer is too small; the size needed was reported.
    DCOM_ERROR_BUFFER_TOO_SMALL = 7,
    /// An option holds an unknown value: a `dcom_rule_options` field, or its `struct_size`
    /// is not one this library understands (including a newer struct with non-zero fields
    /// this library does not know); an unknown `DCOM_ALERT_*` flag; a `dcom_origin` with an
    /// unknown `position` or with fields set that its `position` does not use.
    DCOM_ERROR_INVALID_OPTION = 8,
    /// The `dcom_scratch` is being used by another call right now (two threads sharing one
    /// scratch). Nothing was done; give each thread its own scratch.
    DCOM_ERROR_SCRATCH_BUSY = 9,
    /// A bug inside the library (a Rust panic) was caught at the boundary. The call had no
    /// effect beyond its out-parameters; handles stay usable, except a `dcom_session`, whose
    /// state a panic may leave half-updated: every later call on it returns this code
    /// (destroy it and start a new one).
    DCOM_ERROR_INTERNAL = 10,
    /// The exceptions file given in `dcom_rule_options` was refused (not JSON, not the
    /// documented format, an unknown operator, a missing value...). `dcom_rule_create_ex`
    /// writes a message naming the item (number and name), entry and field.
    DCOM_ERROR_BAD_EXCEPTIONS = 11,
    /// An index is out of range (an exception item index not below
    /// `dcom_rule_exception_count`).
    DCOM_ERROR_OUT_OF_RANGE = 12,
    /// The `dcom_session` is being used by another call right now (two threads sharing one
    /// session). Nothing was done; a session belongs to one thread at a time.
    DCOM_ERROR_SESSION_BUSY = 13,
    /// The session's input has ended (`dcom_session_finish` was called): it takes no more
    /// records. Its remaining alerts and its stats can still be read.
    DCOM_ERROR_FINISHED = 14,
    /// The session's alert queue is full (`dcom_session_limits.alert_queue`): the record was
    /// not fed. Take the waiting alerts with `dcom_session_next_alert`, then feed the record
    /// again.
    DCOM_ERROR_QUEUE_FULL = 15,
}

pub use dcom_result::*;

impl dcom_result {
    /// Every code, in value order. (A function, not an associated constant, so that cbindgen
    /// does not export it.)
    pub fn all() -> [dcom_result; 16] {
        [
            DCOM_OK,
            DCOM_ERROR_NULL_ARGUMENT,
            DCOM_ERROR_INVALID_UTF8,
            DCOM_ERROR_INVALID_UTF16,
            DCOM_ERROR_MISALIGNED_POINTER,
            DCOM_ERROR_INVALID_LENGTH,
            DCOM_ERROR_BAD_JSON,
            DCOM_ERROR_BUFFER_TOO_SMALL,
            DCOM_ERROR_INVALID_OPTION,
            DCOM_ERROR_SCRATCH_BUSY,
            DCOM_ERROR_INTERNAL,
            DCOM_ERROR_BAD_EXCEPTIONS,
            DCOM_ERROR_OUT_OF_RANGE,
            DCOM_ERROR_SESSION_BUSY,
            DCOM_ERROR_FINISHED,
            DCOM_ERROR_QUEUE_FULL,
        ]
    }

    /// The code's message, NUL-terminated.
    const fn message_with_nul(self) -> &'static str {
        match self {
            DCOM_OK => "success\0",
            DCOM_ERROR_NULL_ARGUMENT => "a required pointer is NULL (or NULL with a non-zero length)\0",
            DCOM_ERROR_INVALID_UTF8 => "invalid UTF-8\0",
            DCOM_ERROR_INVALID_UTF16 => "invalid UTF-16: unpaired surrogate\0",
            DCOM_ERROR_MISALIGNED_POINTER => "pointer not aligned for its type\0",
            DCOM_ERROR_INVALID_LENGTH => "length too large for any object (over PTRDIFF_MAX bytes)\0",
            DCOM_ERROR_BAD_JSON => "the JSON record was rejected (see dcom_scratch_error_message)\0",
            DCOM_ERROR_BUFFER_TOO_SMALL => "output buffer too small\0",
            DCOM_ERROR_INVALID_OPTION => "invalid or unknown option\0",
            DCOM_ERROR_SCRATCH_BUSY => "the scratch is in use by another call (one scratch per thread)\0",
            DCOM_ERROR_INTERNAL => "internal error (a bug in dcom-detect; please report it)\0",
            DCOM_ERROR_BAD_EXCEPTIONS => "the exceptions file was refused (see dcom_rule_create_ex's message)\0",
            DCOM_ERROR_OUT_OF_RANGE => "index out of range\0",
            DCOM_ERROR_SESSION_BUSY => "the session is in use by another call (one thread at a time)\0",
            DCOM_ERROR_FINISHED => "the session's input has ended (dcom_session_finish was called)\0",
            DCOM_ERROR_QUEUE_FULL => "the session's alert queue is full: take alerts, then feed the record again\0",
        }
    }

    /// The code's message, without the NUL.
    pub fn message(self) -> &'static str {
        let m = self.message_with_nul();
        &m[..m.len() - 1]
    }
}

const UNKNOWN_CODE: &str = "unknown dcom_result code\0";

/// A static, NUL-terminated English description of a result code. Never NULL; never needs
/// freeing. A value that is not a `dcom_result` gives "unknown dcom_result code".
///
/// Takes an `int` rather than a `dcom_result` so that any integer is safe to pass (a
/// `dcom_result` converts implicitly). Thread-safe.
#[no_mangle]
pub extern "C" fn dcom_result_message(code: c_int) -> *const c_char {
    let message = guard_value(UNKNOWN_CODE, || {
        dcom_result::all().into_iter().find(|r| *r as c_int == code).map_or(UNKNOWN_CODE, dcom_result::message_with_nul)
    });
    message.as_ptr().cast()
}

/// Runs one export's body, turning a panic into `DCOM_ERROR_INTERNAL` so that no unwind
/// ever crosses the C boundary.
///
/// `AssertUnwindSafe` is sound here: rules are immutable, a scratch is reset at the start
/// of every call, and a session that panicked is poisoned (refuses every later call), so
/// nothing observable is left half-updated by a panic.
#[inline]
pub(crate) fn guard(body: impl FnOnce() -> Result<(), dcom_result>) -> dcom_result {
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => DCOM_OK,
        Ok(Err(code)) => code,
        Err(_) => DCOM_ERROR_INTERNAL,
    }
}

/// Like [`guard`] for the exports that return a value instead of a code: `fallback` on panic.
#[inline]
pub(crate) fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    panic::catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn codes_are_dense_stable_and_described() {
        for (value, code) in dcom_result::all().into_iter().enumerate() {
            assert_eq!(code as usize, value, "{code:?}");
            let message = unsafe { CStr::from_ptr(dcom_result_message(code as c_int)) };
            assert_eq!(message.to_str().unwrap(), code.message());
            assert!(!code.message().is_empty() && !code.message().contains('\0'));
        }
        let mut messages: Vec<_> = dcom_result::all().iter().map(|c| c.message()).collect();
        messages.sort_unstable();
        messages.dedup();
        assert_eq!(messages.len(), dcom_result::all().len(), "messages are distinct");
    }

    #[test]
    fn unknown_codes_have_a_message() {
        for code in [-1, 16, 1000, c_int::MIN, c_int::MAX] {
            let message = unsafe { CStr::from_ptr(dcom_result_message(code)) };
            assert_eq!(message.to_bytes(), b"unknown dcom_result code");
        }
    }

    #[test]
    fn guard_turns_panics_into_internal_error() {
        assert_eq!(guard(|| Ok(())), DCOM_OK);
        assert_eq!(guard(|| Err(DCOM_ERROR_BAD_JSON)), DCOM_ERROR_BAD_JSON);
        assert_eq!(guard(|| panic!("boom")), DCOM_ERROR_INTERNAL);
        assert_eq!(guard_value(7, || panic!("boom")), 7);
        assert_eq!(guard_value(7, || 8), 8);
    }
}
