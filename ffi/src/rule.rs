//! The rule handle, its options, and the rule's static texts (EQL, version, branch names).

use std::ffi::c_char;
use std::mem::size_of;

use dcom_detect_core::{CaseFolding, Options, Rule, EQL_SOURCE};

use crate::args::{input, optional_input, output};
use crate::result::{dcom_result, guard, guard_value, DCOM_ERROR_INVALID_OPTION};

/// Branch bit: a COM host (MMC or an Office application) started a script host or LOLBin
/// (`office_child`).
pub const DCOM_BRANCH_OFFICE_CHILD: u32 = 1;
/// Branch bit: the DCOM configuration tool was started (`dcomcnfg`).
pub const DCOM_BRANCH_DCOMCNFG: u32 = 2;
/// Branch bit: a command line references DCOM and an `-Exec...` switch (`dcom_command_line`).
pub const DCOM_BRANCH_DCOM_COMMAND_LINE: u32 = 4;
/// Every branch bit. A verdict never has bits outside this mask.
pub const DCOM_BRANCH_ALL: u32 = 7;

/// `dcom_rule_options.case_folding`: ASCII letters only, as Elasticsearch has done for years
/// (the default).
pub const DCOM_CASE_FOLDING_ASCII: u32 = 0;
/// `dcom_rule_options.case_folding`: Unicode simple case folding, as Elasticsearch builds
/// with Lucene 10.5 do (U+212A KELVIN SIGN matches `k`).
pub const DCOM_CASE_FOLDING_UNICODE_SIMPLE: u32 = 1;

/// How to build a rule: passed to `dcom_rule_create`.
///
/// Versioned by size, like Linux's `clone3`: set `struct_size` to `sizeof(dcom_rule_options)`
/// and zero every field you do not set (a designated initializer does both):
///
/// ```c
/// dcom_rule_options options = {
///     .struct_size = sizeof(dcom_rule_options),
///     .case_folding = DCOM_CASE_FOLDING_UNICODE_SIMPLE,
/// };
/// ```
///
/// Every field's zero value is its default. Read only during `dcom_rule_create`; never kept. Later versions only append fields (the next one
/// will be the exceptions file or buffer for tuning). A program built against an older header
/// keeps working with a newer library; a program built against a newer header gets
/// `DCOM_ERROR_INVALID_OPTION` from an older library only if it sets a field that library does
/// not know.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dcom_rule_options {
    /// `sizeof(dcom_rule_options)` as the caller compiled it.
    pub struct_size: u32,
    /// `DCOM_CASE_FOLDING_ASCII` (0, the default) or `DCOM_CASE_FOLDING_UNICODE_SIMPLE`: how
    /// `in~` and `:` compare letters.
    pub case_folding: u32,
}

/// The size of the first (and current) version of `dcom_rule_options`.
const OPTIONS_SIZE_V1: u32 = 8;
const _: () = assert!(size_of::<dcom_rule_options>() == OPTIONS_SIZE_V1 as usize);
/// The largest `struct_size` accepted: a guard against reading far past a corrupted struct.
const OPTIONS_SIZE_MAX: u32 = 4096;

impl dcom_rule_options {
    /// Reads the caller's options: the fields this version knows, and a check that any newer
    /// fields past them are zero (unset).
    ///
    /// # Safety
    /// `self` must be followed by `struct_size - OPTIONS_SIZE_V1` readable bytes when
    /// `struct_size` is larger than this version's struct.
    unsafe fn parse(&self) -> Result<Options, dcom_result> {
        if !(OPTIONS_SIZE_V1..=OPTIONS_SIZE_MAX).contains(&self.struct_size) {
            return Err(DCOM_ERROR_INVALID_OPTION);
        }
        let newer_fields = std::slice::from_raw_parts(
            (self as *const Self).cast::<u8>().add(OPTIONS_SIZE_V1 as usize),
            (self.struct_size - OPTIONS_SIZE_V1) as usize,
        );
        if newer_fields.iter().any(|&b| b != 0) {
            return Err(DCOM_ERROR_INVALID_OPTION);
        }
        let case_folding = match self.case_folding {
            DCOM_CASE_FOLDING_ASCII => CaseFolding::Ascii,
            DCOM_CASE_FOLDING_UNICODE_SIMPLE => CaseFolding::UnicodeSimple,
            _ => return Err(DCOM_ERROR_INVALID_OPTION),
        };
        Ok(Options { case_folding })
    }
}

/// The compiled rule. Opaque; create with `dcom_rule_create`, free with `dcom_rule_destroy`.
///
/// Thread safety: immutable once created, so one handle may be used by any number of threads
/// at once, with no locking, until it is destroyed (which must not race with any use).
pub struct dcom_rule {
    pub(crate) rule: Rule,
}

const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<dcom_rule>();
};

/// Compiles the rule.
///
/// `options` may be NULL for the defaults (ASCII case folding). On success `*rule` receives a
/// new handle, to be freed with `dcom_rule_destroy`; on failure `*rule` is set to NULL.
///
/// Errors: `DCOM_ERROR_NULL_ARGUMENT` (`rule` is NULL), `DCOM_ERROR_MISALIGNED_POINTER`,
/// `DCOM_ERROR_INVALID_OPTION`, `DCOM_ERROR_INTERNAL`.
///
/// Cost: allocates (a few kilobytes); meant to be called once, not per event. Thread-safe.
///
/// # Safety
/// `options` is NULL or points to a `dcom_rule_options` whose `struct_size` bytes are
/// readable; `rule` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn dcom_rule_create(options: *const dcom_rule_options, rule: *mut *mut dcom_rule) -> dcom_result {
    guard(|| {
        let mut out = output(rule)?;
        out.write(std::ptr::null_mut());
        let options = match optional_input(options)? {
            Some(o) => o.parse()?,
            None => Options::default(),
        };
        out.write(Box::into_raw(Box::new(dcom_rule { rule: Rule::new(options) })));
        Ok(())
    })
}

/// Frees a rule. NULL is allowed and does nothing. The handle must not be in use by any
/// other thread, and must not be used again.
///
/// # Safety
/// `rule` is NULL or a handle from `dcom_rule_create` not yet destroyed.
#[no_mangle]
pub unsafe extern "C" fn dcom_rule_destroy(rule: *mut dcom_rule) {
    guard_value((), || {
        if !rule.is_null() {
            drop(Box::from_raw(rule));
        }
    })
}

/// The case folding the rule was created with (`DCOM_CASE_FOLDING_*`) into `*case_folding`.
///
/// Errors: `DCOM_ERROR_NULL_ARGUMENT`, `DCOM_ERROR_MISALIGNED_POINTER`. Thread-safe.
///
/// # Safety
/// `rule` is NULL or a live handle; `case_folding` is NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn dcom_rule_case_folding(rule: *const dcom_rule, case_folding: *mut u32) -> dcom_result {
    guard(|| {
        let mut out = output(case_folding)?;
        out.write(DCOM_CASE_FOLDING_ASCII);
        out.write(match input(rule)?.rule.options().case_folding {
            CaseFolding::Ascii => DCOM_CASE_FOLDING_ASCII,
            CaseFolding::UnicodeSimple => DCOM_CASE_FOLDING_UNICODE_SIMPLE,
        });
        Ok(())
    })
}

/// `s` with a NUL appended, at compile time; fails to compile if `s` holds a NUL.
const fn nul_terminated<const N: usize>(s: &str) -> [u8; N] {
    let bytes = s.as_bytes();
    assert!(bytes.len() + 1 == N);
    let mut out = [0u8; N];
    let mut i = 0;
    while i < bytes.len() {
        assert!(bytes[i] != 0, "no NUL inside a C string");
        out[i] = bytes[i];
        i += 1;
    }
    out
}

static EQL_SOURCE_C: [u8; EQL_SOURCE.len() + 1] = nul_terminated(EQL_SOURCE);
static VERSION_C: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The rule's EQL text, byte for byte as Elastic ships it: static, NUL-terminated, UTF-8.
/// Never NULL; never needs freeing. Thread-safe.
#[no_mangle]
pub extern "C" fn dcom_rule_eql() -> *const c_char {
    guard_value(std::ptr::null(), || EQL_SOURCE_C.as_ptr().cast())
}

/// The library's version (`"MAJOR.MINOR.PATCH"`): static, NUL-terminated. Never NULL.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn dcom_version() -> *const c_char {
    guard_value(std::ptr::null(), || VERSION_C.as_ptr().cast())
}

/// The stable name of one branch bit (`"office_child"`, `"dcomcnfg"`,
/// `"dcom_command_line"`): static, NUL-terminated. NULL when `branch` is not exactly one of
/// the `DCOM_BRANCH_*` bits. Thread-safe.
#[no_mangle]
pub extern "C" fn dcom_branch_name(branch: u32) -> *const c_char {
    guard_value(std::ptr::null(), || {
        let name: &'static str = match branch {
            DCOM_BRANCH_OFFICE_CHILD => "office_child\0",
            DCOM_BRANCH_DCOMCNFG => "dcomcnfg\0",
            DCOM_BRANCH_DCOM_COMMAND_LINE => "dcom_command_line\0",
            _ => return std::ptr::null(),
        };
        name.as_ptr().cast()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::*;
    use dcom_detect_core::Branch;
    use std::ffi::CStr;

    #[test]
    fn branch_bits_and_names_are_cores() {
        let bits = [DCOM_BRANCH_OFFICE_CHILD, DCOM_BRANCH_DCOMCNFG, DCOM_BRANCH_DCOM_COMMAND_LINE];
        for (branch, bit) in Branch::ALL.into_iter().zip(bits) {
            assert_eq!(u32::from(branch.bit()), bit);
            let name = unsafe { CStr::from_ptr(dcom_branch_name(bit)) };
            assert_eq!(name.to_str().unwrap(), branch.name());
        }
        assert_eq!(DCOM_BRANCH_ALL, bits.iter().fold(0, |a, b| a | b));
        for not_one_branch in [0, 3, 7, 8, u32::MAX] {
            assert!(dcom_branch_name(not_one_branch).is_null());
        }
    }

    #[test]
    fn static_texts() {
        let eql = unsafe { CStr::from_ptr(dcom_rule_eql()) };
        assert_eq!(eql.to_str().unwrap(), EQL_SOURCE);
        let version = unsafe { CStr::from_ptr(dcom_version()) };
        assert_eq!(version.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }

    fn create(options: *const dcom_rule_options) -> (dcom_result, *mut dcom_rule) {
        let mut rule = 1usize as *mut dcom_rule; // not NULL, to see it reset
        let code = unsafe { dcom_rule_create(options, &mut rule) };
        (code, rule)
    }

    fn folding(rule: *const dcom_rule) -> u32 {
        let mut folding = 99;
        assert_eq!(unsafe { dcom_rule_case_folding(rule, &mut folding) }, DCOM_OK);
        folding
    }

    #[test]
    fn options_are_read_and_checked() {
        let (code, rule) = create(std::ptr::null());
        assert_eq!(code, DCOM_OK);
        assert_eq!(folding(rule), DCOM_CASE_FOLDING_ASCII);
        unsafe { dcom_rule_destroy(rule) };

        let unicode = dcom_rule_options { struct_size: 8, case_folding: DCOM_CASE_FOLDING_UNICODE_SIMPLE };
        let (code, rule) = create(&unicode);
        assert_eq!(code, DCOM_OK);
        assert_eq!(folding(rule), DCOM_CASE_FOLDING_UNICODE_SIMPLE);
        unsafe { dcom_rule_destroy(rule) };

        for bad in [
            dcom_rule_options { struct_size: 8, case_folding: 2 },
            dcom_rule_options { struct_size: 4, case_folding: 0 },
            dcom_rule_options { struct_size: 0, case_folding: 0 },
        ] {
            assert_eq!(create(&bad), (DCOM_ERROR_INVALID_OPTION, std::ptr::null_mut()), "{bad:?}");
        }
        assert_eq!(unsafe { dcom_rule_create(&unicode, std::ptr::null_mut()) }, DCOM_ERROR_NULL_ARGUMENT);
    }

    /// A caller compiled against a newer header: unknown fields are accepted only when zero.
    #[test]
    fn newer_options_struct() {
        #[repr(C)]
        struct Newer {
            v1: dcom_rule_options,
            exceptions: *const u8,
            exceptions_len: usize,
        }
        let mut newer = Newer {
            v1: dcom_rule_options { struct_size: size_of::<Newer>() as u32, case_folding: 1 },
            exceptions: std::ptr::null(),
            exceptions_len: 0,
        };
        let (code, rule) = create(&newer.v1);
        assert_eq!(code, DCOM_OK);
        unsafe { dcom_rule_destroy(rule) };
        newer.exceptions_len = 1;
        assert_eq!(create(&newer.v1), (DCOM_ERROR_INVALID_OPTION, std::ptr::null_mut()));
        newer.v1.struct_size = OPTIONS_SIZE_MAX + 1;
        assert_eq!(create(&newer.v1).0, DCOM_ERROR_INVALID_OPTION);
    }

    #[test]
    fn destroy_accepts_null() {
        unsafe { dcom_rule_destroy(std::ptr::null_mut()) };
    }
}
