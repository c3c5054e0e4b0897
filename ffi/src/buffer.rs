//! Text out through a caller-provided buffer, with the size needed reported when it does not
//! fit.
//!
//! The convention, shared by every function that returns variable-length text
//! (`dcom_scratch_error_message`, `dcom_rule_alert_json`, and `dcom_rule_create_ex`'s message
//! with the difference its documentation states):
//! - the caller passes `(char *buffer, size_t size, size_t *needed)`;
//! - `*needed` (when `needed` is not NULL) always receives the size the text needs,
//!   **including** its terminating NUL;
//! - if the text fits, it is written NUL-terminated and the call returns `DCOM_OK`;
//! - if not, the longest prefix that fits without splitting a UTF-8 sequence is written
//!   NUL-terminated (nothing when `size` is 0) and the call returns
//!   `DCOM_ERROR_BUFFER_TOO_SMALL`;
//! - `(NULL, 0)` is the way to ask for the size only; `(NULL, n > 0)` is
//!   `DCOM_ERROR_NULL_ARGUMENT`.
//!
//! `dcom_rule_alert_json` adds one case: when there is no alert at all, `*needed` is 0 (a
//! text always needs at least 1) and the buffer, if it has room, holds the empty string.
//!
//! Formatting writes straight into the caller's buffer: no allocation.

use std::ffi::c_char;
use std::fmt::{self, Write};

use crate::args::{optional_slice_mut, output, Out};
use crate::result::{dcom_result, DCOM_ERROR_BUFFER_TOO_SMALL};

/// A `fmt::Write` into a fixed buffer that keeps one byte for the NUL and counts the full
/// length even past the end.
struct Truncating<'b> {
    buffer: &'b mut [u8],
    written: usize,
    len: usize,
    truncated: bool,
}

impl Write for Truncating<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.len += s.len();
        if self.truncated {
            return Ok(());
        }
        let room = self.buffer.len().saturating_sub(1) - self.written;
        let mut take = s.len().min(room);
        if take < s.len() {
            self.truncated = true;
            while !s.is_char_boundary(take) {
                take -= 1;
            }
        }
        self.buffer[self.written..self.written + take].copy_from_slice(&s.as_bytes()[..take]);
        self.written += take;
        Ok(())
    }
}

/// A caller's `(buffer, size, needed)` triple, checked: where text goes out.
pub(crate) struct TextOut<'a> {
    buffer: &'a mut [u8],
    needed: Option<Out<'a, usize>>,
}

impl<'a> TextOut<'a> {
    /// Checks the triple (before any work is done, so that a bad one is reported first), and
    /// sets `*needed` to 0.
    ///
    /// # Safety
    /// `buffer` must be NULL or valid for `size` bytes of writes; `needed` must be NULL or
    /// valid for a write; both for `'a`, with no other access.
    pub(crate) unsafe fn new(buffer: *mut c_char, size: usize, needed: *mut usize) -> Result<TextOut<'a>, dcom_result> {
        let mut needed = if needed.is_null() { None } else { Some(output(needed)?) };
        // Neutral until something is written, even if the buffer itself is refused below.
        if let Some(needed) = &mut needed {
            needed.write(0);
        }
        let buffer = optional_slice_mut(buffer.cast::<u8>(), size)?.unwrap_or(&mut []);
        Ok(TextOut { buffer, needed })
    }

    /// Writes `text` following the module's convention: `Err(DCOM_ERROR_BUFFER_TOO_SMALL)`
    /// when it had to be cut.
    pub(crate) fn write(self, text: impl fmt::Display) -> Result<(), dcom_result> {
        let mut out = Truncating { buffer: self.buffer, written: 0, len: 0, truncated: false };
        write!(out, "{text}").expect("writing to a slice never fails");
        if let Some(nul) = out.buffer.get_mut(out.written) {
            *nul = 0;
        }
        if let Some(mut needed) = self.needed {
            needed.write(out.len + 1);
        }
        if out.len + 1 > out.buffer.len() {
            return Err(DCOM_ERROR_BUFFER_TOO_SMALL);
        }
        Ok(())
    }

    /// Writes `text` if it fits, else as much as fits; never an error (for outputs that are
    /// a side channel of another result, such as `dcom_rule_create_ex`'s message).
    pub(crate) fn write_if_room(self, text: impl fmt::Display) {
        let _ = self.write(text);
    }

    /// No text at all (as opposed to the empty string): `*needed` is 0 and the buffer, if it
    /// has room, holds the empty string. Used for "no alert" and as the neutral value of a
    /// failed call.
    pub(crate) fn nothing(&mut self) {
        if let Some(first) = self.buffer.first_mut() {
            *first = 0;
        }
        if let Some(needed) = &mut self.needed {
            needed.write(0);
        }
    }
}

/// Writes `text` to the caller's buffer following the module's convention.
///
/// # Safety
/// `buffer` must be NULL or valid for `size` bytes of writes; `needed` must be NULL or valid
/// for a write.
pub(crate) unsafe fn write_text(
    text: impl fmt::Display,
    buffer: *mut c_char,
    size: usize,
    needed: *mut usize,
) -> Result<(), dcom_result> {
    TextOut::new(buffer, size, needed)?.write(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::{DCOM_ERROR_NULL_ARGUMENT, DCOM_OK};

    fn run(text: &str, size: usize) -> (dcom_result, Vec<u8>, usize) {
        let mut buffer = vec![0xAAu8; size];
        let mut needed = 0;
        let ptr = if size == 0 { std::ptr::null_mut() } else { buffer.as_mut_ptr().cast() };
        let code = unsafe { write_text(text, ptr, size, &mut needed) }.map_or_else(|e| e, |()| DCOM_OK);
        (code, buffer, needed)
    }

    #[test]
    fn fits_exactly_or_not() {
        assert_eq!(run("abc", 4), (DCOM_OK, b"abc\0".to_vec(), 4));
        assert_eq!(run("abc", 3), (DCOM_ERROR_BUFFER_TOO_SMALL, b"ab\0".to_vec(), 4));
        assert_eq!(run("abc", 1), (DCOM_ERROR_BUFFER_TOO_SMALL, b"\0".to_vec(), 4));
        assert_eq!(run("abc", 0), (DCOM_ERROR_BUFFER_TOO_SMALL, vec![], 4));
        assert_eq!(run("", 1), (DCOM_OK, b"\0".to_vec(), 1));
    }

    #[test]
    fn truncation_keeps_utf8_whole() {
        // "é" is two bytes: with room for 2 bytes of text, "aé" cannot keep half of it.
        let (code, buffer, needed) = run("aé", 3);
        assert_eq!((code, needed), (DCOM_ERROR_BUFFER_TOO_SMALL, 4));
        assert_eq!(&buffer[..2], b"a\0");
    }

    #[test]
    fn null_buffer_with_size_is_an_error_and_needed_is_optional() {
        let mut needed = 0;
        let code = unsafe { write_text("x", std::ptr::null_mut(), 5, &mut needed) };
        assert_eq!(code, Err(DCOM_ERROR_NULL_ARGUMENT));
        let mut buffer = [0u8; 2];
        let code = unsafe { write_text("x", buffer.as_mut_ptr().cast(), 2, std::ptr::null_mut()) };
        assert_eq!((code, buffer), (Ok(()), *b"x\0"));
    }
}
