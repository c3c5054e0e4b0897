//! Turning C pointers into Rust references, checking everything that can be checked.
//!
//! C can hand over any bit pattern. What can be checked without touching the memory is
//! checked here, and a failure becomes a result code instead of undefined behaviour:
//! NULL (`DCOM_ERROR_NULL_ARGUMENT`), alignment (`DCOM_ERROR_MISALIGNED_POINTER`), and a length
//! whose byte size exceeds `isize::MAX` (`DCOM_ERROR_INVALID_LENGTH`, the limit
//! `slice::from_raw_parts` requires). What cannot be checked (that the memory is readable
//! for the stated length and not written during the call) is the caller's promise, stated
//! in each function's documentation.

use std::mem::{align_of, size_of};

use crate::result::{dcom_result, DCOM_ERROR_INVALID_LENGTH, DCOM_ERROR_MISALIGNED_POINTER, DCOM_ERROR_NULL_ARGUMENT};

#[inline]
fn is_aligned<T>(ptr: *const T) -> bool {
    (ptr as usize).is_multiple_of(align_of::<T>())
}

/// A required input: `&T` from a non-NULL, aligned pointer.
///
/// # Safety
/// If non-NULL and aligned, `ptr` must point to a valid `T` that is not written during `'a`.
#[inline]
pub(crate) unsafe fn input<'a, T>(ptr: *const T) -> Result<&'a T, dcom_result> {
    if ptr.is_null() {
        return Err(DCOM_ERROR_NULL_ARGUMENT);
    }
    if !is_aligned(ptr) {
        return Err(DCOM_ERROR_MISALIGNED_POINTER);
    }
    Ok(&*ptr)
}

/// An optional input: `None` for NULL.
///
/// # Safety
/// As [`input`].
#[inline]
pub(crate) unsafe fn optional_input<'a, T>(ptr: *const T) -> Result<Option<&'a T>, dcom_result> {
    if ptr.is_null() {
        Ok(None)
    } else {
        input(ptr).map(Some)
    }
}

/// A required out-parameter. It is only ever written (never read), so the target may be
/// uninitialised.
///
/// # Safety
/// If non-NULL and aligned, `ptr` must be valid for a write of `T` during `'a`, with no
/// other access to it.
#[inline]
pub(crate) unsafe fn output<'a, T>(ptr: *mut T) -> Result<Out<'a, T>, dcom_result> {
    if ptr.is_null() {
        return Err(DCOM_ERROR_NULL_ARGUMENT);
    }
    if !is_aligned(ptr) {
        return Err(DCOM_ERROR_MISALIGNED_POINTER);
    }
    Ok(Out { ptr, _lifetime: std::marker::PhantomData })
}

/// An optional out-parameter: `None` for NULL.
///
/// # Safety
/// As [`output`].
#[inline]
pub(crate) unsafe fn optional_output<'a, T>(ptr: *mut T) -> Result<Option<Out<'a, T>>, dcom_result> {
    if ptr.is_null() {
        Ok(None)
    } else {
        output(ptr).map(Some)
    }
}

/// A checked out-parameter.
pub(crate) struct Out<'a, T> {
    ptr: *mut T,
    _lifetime: std::marker::PhantomData<&'a mut T>,
}

impl<T> Out<'_, T> {
    /// Writes the value (without reading or dropping what was there).
    #[inline]
    pub(crate) fn write(&mut self, value: T) {
        // SAFETY: checked non-NULL and aligned by `output`; the caller promised validity.
        unsafe { self.ptr.write(value) }
    }
}

/// What a `(pointer, length)` pair holds.
#[inline]
fn check_span<T>(ptr: *const T, len: usize) -> Result<bool, dcom_result> {
    if ptr.is_null() {
        return if len == 0 { Ok(false) } else { Err(DCOM_ERROR_NULL_ARGUMENT) };
    }
    if !is_aligned(ptr) {
        return Err(DCOM_ERROR_MISALIGNED_POINTER);
    }
    // `slice::from_raw_parts` requires the total size to fit in `isize`.
    if size_of::<T>() != 0 && len > isize::MAX as usize / size_of::<T>() {
        return Err(DCOM_ERROR_INVALID_LENGTH);
    }
    Ok(true)
}

/// An optional `(pointer, length)` span: `None` for `(NULL, 0)`; `(NULL, n > 0)` is an
/// error. A non-NULL pointer with length 0 is an empty, present slice.
///
/// # Safety
/// If non-NULL, `ptr` must point to `len` valid `T`s that are not written during `'a`.
#[inline]
pub(crate) unsafe fn optional_slice<'a, T>(ptr: *const T, len: usize) -> Result<Option<&'a [T]>, dcom_result> {
    Ok(if check_span(ptr, len)? { Some(std::slice::from_raw_parts(ptr, len)) } else { None })
}

/// A writable `(pointer, length)` span: `None` for `(NULL, 0)`; `(NULL, n > 0)` is an error.
///
/// # Safety
/// If non-NULL, `ptr` must be valid for writes of `len` `T`s during `'a`, with no other access
/// to them.
#[inline]
pub(crate) unsafe fn optional_slice_mut<'a, T>(ptr: *mut T, len: usize) -> Result<Option<&'a mut [T]>, dcom_result> {
    Ok(if check_span(ptr, len)? { Some(std::slice::from_raw_parts_mut(ptr, len)) } else { None })
}

/// A `(pointer, length)` span where `(NULL, 0)` is simply empty.
///
/// # Safety
/// As [`optional_slice`].
#[inline]
pub(crate) unsafe fn slice<'a, T>(ptr: *const T, len: usize) -> Result<&'a [T], dcom_result> {
    Ok(optional_slice(ptr, len)?.unwrap_or(&[]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::DCOM_OK;

    fn code<T>(r: Result<T, dcom_result>) -> dcom_result {
        r.map_or_else(|e| e, |_| DCOM_OK)
    }

    #[test]
    fn spans() {
        let units = [1u16, 2, 3];
        unsafe {
            assert_eq!(optional_slice::<u16>(std::ptr::null(), 0), Ok(None));
            assert_eq!(code(optional_slice::<u16>(std::ptr::null(), 1)), DCOM_ERROR_NULL_ARGUMENT);
            assert_eq!(optional_slice(units.as_ptr(), 3), Ok(Some(&units[..])));
            assert_eq!(optional_slice(units.as_ptr(), 0), Ok(Some(&[][..])));
            let odd = units.as_ptr().cast::<u8>().add(1).cast::<u16>();
            assert_eq!(code(optional_slice(odd, 0)), DCOM_ERROR_MISALIGNED_POINTER);
            assert_eq!(code(optional_slice(units.as_ptr(), usize::MAX)), DCOM_ERROR_INVALID_LENGTH);
            assert_eq!(code(optional_slice(units.as_ptr(), isize::MAX as usize / 2 + 1)), DCOM_ERROR_INVALID_LENGTH);
            assert_eq!(slice::<u16>(std::ptr::null(), 0), Ok(&[][..]));
        }
    }

    #[test]
    fn pointers() {
        let value = 5u32;
        let mut out = 0u32;
        unsafe {
            assert_eq!(input(&value), Ok(&5));
            assert_eq!(code(input::<u32>(std::ptr::null())), DCOM_ERROR_NULL_ARGUMENT);
            assert_eq!(optional_input::<u32>(std::ptr::null()), Ok(None));
            let odd = (&value as *const u32).cast::<u8>().add(1).cast::<u32>();
            assert_eq!(code(input(odd)), DCOM_ERROR_MISALIGNED_POINTER);
            output(&mut out).unwrap().write(9);
            assert_eq!(code(output::<u32>(std::ptr::null_mut())), DCOM_ERROR_NULL_ARGUMENT);
        }
        assert_eq!(out, 9);
    }
}
