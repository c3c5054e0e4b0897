//! The rule handle, its options (case folding, exceptions), its exception items, and the
//! rule's static texts (EQL, version, branch names).

use std::ffi::c_char;
use std::mem::size_of;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use dcom_detect_core::{CaseFolding, Options, Rule, EQL_SOURCE};

use crate::args::{input, optional_slice, output};
use crate::buffer::TextOut;
use crate::event::dcom_str;
use crate::result::{
    dcom_result, guard, guard_value, DCOM_ERROR_BAD_EXCEPTIONS, DCOM_ERROR_INTERNAL, DCOM_ERROR_INVALID_OPTION,
    DCOM_ERROR_OUT_OF_RANGE,
};

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

/// How to build a rule: passed to `dcom_rule_create` / `dcom_rule_create_ex`.
///
/// Versioned by size, like Linux's `clone3`: set `struct_size` to `sizeof(dcom_rule_options)`
/// and zero every field you do not set (a designated initializer does both):
///
/// ```c
/// dcom_rule_options options = {
///     .struct_size = sizeof(dcom_rule_options),
///     .case_folding = DCOM_CASE_FOLDING_UNICODE_SIMPLE,
///     .exceptions = json, .exceptions_len = json_len,   // tuning, optional
/// };
/// ```
///
/// Every field's zero value is its default. Read only during `dcom_rule_create`; never kept
/// (the exceptions are compiled into the rule, the buffer may be freed right after).
///
/// Versions, by `struct_size`: 8 (version 1: `case_folding`) and
/// `sizeof(dcom_rule_options)` (version 2, adds `exceptions`: 24 bytes on 64-bit targets).
/// Later versions only append fields. A program built against an older header keeps working
/// with a newer library; a program built against a newer header gets
/// `DCOM_ERROR_INVALID_OPTION` from an older library only if it sets a field that library does
/// not know. Only 4-byte alignment is required of the pointer, as version 1 needed.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct dcom_rule_options {
    /// `sizeof(dcom_rule_options)` as the caller compiled it.
    pub struct_size: u32,
    /// `DCOM_CASE_FOLDING_ASCII` (0, the default) or `DCOM_CASE_FOLDING_UNICODE_SIMPLE`: how
    /// `in~` and `:` compare letters (and the exceptions' `matches`).
    pub case_folding: u32,
    /// Tuning (version 2): the exceptions file's JSON, `exceptions_len` bytes (the format of
    /// `examples/exceptions.json` and docs: named items, each an AND of conditions on any ECS
    /// field with Elastic's operators). `{NULL, 0}` = no exceptions (the default); a non-NULL
    /// pointer with length 0 is an empty file, which is refused. A file that is refused makes
    /// `dcom_rule_create` fail with `DCOM_ERROR_BAD_EXCEPTIONS`; `dcom_rule_create_ex` also
    /// says which item, entry and field is wrong. The library never reads files itself: load
    /// the bytes however the sensor loads its configuration.
    pub exceptions: *const u8,
    /// Length of `exceptions` in bytes.
    pub exceptions_len: usize,
}

/// The size of the first version of `dcom_rule_options` (`struct_size`, `case_folding`).
const OPTIONS_SIZE_V1: u32 = 8;
/// The size of the current version (adds `exceptions`, `exceptions_len`).
const OPTIONS_SIZE_V2: u32 = size_of::<dcom_rule_options>() as u32;
// Version 2 appends its fields right after version 1's, without padding on any target.
const _: () =
    assert!(OPTIONS_SIZE_V2 as usize == OPTIONS_SIZE_V1 as usize + size_of::<*const u8>() + size_of::<usize>());
/// The largest `struct_size` accepted: a guard against reading far past a corrupted struct.
const OPTIONS_SIZE_MAX: u32 = 4096;

/// Why a rule was not created: the code and a message for `dcom_rule_create_ex`.
struct Refusal {
    code: dcom_result,
    message: String,
}

impl From<dcom_result> for Refusal {
    fn from(code: dcom_result) -> Refusal {
        Refusal { code, message: code.message().to_owned() }
    }
}

fn invalid_option(message: String) -> Refusal {
    Refusal { code: DCOM_ERROR_INVALID_OPTION, message }
}

/// The options a caller gave, read without ever touching bytes past its `struct_size`.
struct Parsed<'a> {
    options: Options,
    exceptions: Option<&'a [u8]>,
}

/// Reads the caller's options: the fields this version knows, and a check that any newer
/// fields past them are zero (unset).
///
/// # Safety
/// `options` is NULL or points to `struct_size` readable bytes (the `struct_size` it holds),
/// unchanged during the call; a non-NULL `exceptions` is valid for `exceptions_len` bytes.
unsafe fn parse_options<'a>(options: *const dcom_rule_options) -> Result<Parsed<'a>, Refusal> {
    if options.is_null() {
        return Ok(Parsed { options: Options::default(), exceptions: None });
    }
    // A version-1 caller's struct is only 4-byte aligned and only 8 bytes long, so the struct
    // is never referenced as a whole: `struct_size` first, then exactly that many bytes.
    let size = input(options.cast::<u32>())?;
    let size = *size;
    if !(size == OPTIONS_SIZE_V1 || (OPTIONS_SIZE_V2..=OPTIONS_SIZE_MAX).contains(&size)) {
        return Err(invalid_option(format!(
            "dcom_rule_options.struct_size is {size}: expected {OPTIONS_SIZE_V1} (version 1) or \
             sizeof(dcom_rule_options), {OPTIONS_SIZE_V2} (version 2)"
        )));
    }
    let known = size.min(OPTIONS_SIZE_V2) as usize;
    let mut copy = std::mem::MaybeUninit::<dcom_rule_options>::zeroed();
    std::ptr::copy_nonoverlapping(options.cast::<u8>(), copy.as_mut_ptr().cast::<u8>(), known);
    // SAFETY: all-zero bytes are a valid `dcom_rule_options` (integers and a NULL pointer),
    // and the caller's bytes were copied over a prefix of them.
    let copy = copy.assume_init();
    if size > OPTIONS_SIZE_V2 {
        let newer = std::slice::from_raw_parts(options.cast::<u8>().add(known), (size - OPTIONS_SIZE_V2) as usize);
        if newer.iter().any(|&b| b != 0) {
            return Err(invalid_option(format!(
                "dcom_rule_options has non-zero fields past the {OPTIONS_SIZE_V2} bytes this library knows \
                 (built against a newer header?)"
            )));
        }
    }
    let case_folding = match copy.case_folding {
        DCOM_CASE_FOLDING_ASCII => CaseFolding::Ascii,
        DCOM_CASE_FOLDING_UNICODE_SIMPLE => CaseFolding::UnicodeSimple,
        other => {
            return Err(invalid_option(format!(
                "dcom_rule_options.case_folding is {other}: expected DCOM_CASE_FOLDING_ASCII (0) or \
                 DCOM_CASE_FOLDING_UNICODE_SIMPLE (1)"
            )))
        }
    };
    let exceptions = optional_slice(copy.exceptions, copy.exceptions_len)
        .map_err(|code| Refusal { code, message: format!("dcom_rule_options.exceptions: {}", code.message()) })?;
    Ok(Parsed { options: Options { case_folding }, exceptions })
}

/// Compiles the rule from the caller's options.
///
/// # Safety
/// As [`parse_options`].
unsafe fn compile(options: *const dcom_rule_options) -> Result<Rule, Refusal> {
    let parsed = parse_options(options)?;
    let Some(exceptions) = parsed.exceptions else { return Ok(Rule::new(parsed.options)) };
    let rule = Rule::with_exceptions(parsed.options, exceptions)
        .map_err(|error| Refusal { code: DCOM_ERROR_BAD_EXCEPTIONS, message: error.to_string() })?;
    // `dcom_verdict.suppressed_by` is an `int32_t`.
    let items = rule.exceptions().items().len();
    if i32::try_from(items).is_err() {
        return Err(Refusal {
            code: DCOM_ERROR_BAD_EXCEPTIONS,
            message: format!("bad exceptions file: {items} items, more than the {} supported", i32::MAX),
        });
    }
    Ok(rule)
}

/// The compiled rule, with its exceptions. Opaque; create with `dcom_rule_create`, free with
/// `dcom_rule_destroy`.
///
/// Thread safety: immutable once created, so one handle may be used by any number of threads
/// at once, with no locking, until it is destroyed (which must not race with any use).
/// A `dcom_session` created from the rule shares it: the handle may be destroyed before its
/// sessions, which keep the rule alive until they are destroyed themselves.
pub struct dcom_rule {
    /// Shared with the sessions created from this rule, so that destroying the handle
    /// while a session lives is safe (the rule is freed with the last of them).
    pub(crate) rule: Arc<Rule>,
}

const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<dcom_rule>();
};

/// Compiles the rule (and its exceptions, if the options give some).
///
/// `options` may be NULL for the defaults (ASCII case folding, no exceptions). On success
/// `*rule` receives a new handle, to be freed with `dcom_rule_destroy`; on failure `*rule` is
/// set to NULL. Equivalent to `dcom_rule_create_ex(options, rule, NULL, 0, NULL)`; use
/// `dcom_rule_create_ex` to learn why an exceptions file or an option was refused.
///
/// Errors: `DCOM_ERROR_NULL_ARGUMENT` (`rule` is NULL, or `exceptions` NULL with a length),
/// `DCOM_ERROR_MISALIGNED_POINTER`, `DCOM_ERROR_INVALID_LENGTH`, `DCOM_ERROR_INVALID_OPTION`,
/// `DCOM_ERROR_BAD_EXCEPTIONS`, `DCOM_ERROR_INTERNAL`.
///
/// Cost: allocates (a few kilobytes, plus the compiled exceptions); meant to be called once,
/// not per event. Thread-safe.
///
/// # Safety
/// `options` is NULL or points to a `dcom_rule_options` whose `struct_size` bytes are
/// readable, with `exceptions` NULL or valid for `exceptions_len` bytes; `rule` is valid for
/// a write.
#[no_mangle]
pub unsafe extern "C" fn dcom_rule_create(options: *const dcom_rule_options, rule: *mut *mut dcom_rule) -> dcom_result {
    dcom_rule_create_ex(options, rule, std::ptr::null_mut(), 0, std::ptr::null_mut())
}

/// `dcom_rule_create`, and on failure an English message saying why, written to `message`
/// (`message_size` bytes; `*message_needed` receives the size the message needs).
///
/// For a refused exceptions file (`DCOM_ERROR_BAD_EXCEPTIONS`) the message names the item
/// (1-based number and name), the entry (1-based) and the field, for example
/// `bad exceptions file: item 2 ("Finance"), entry 1 (field "host.name"): unknown operator
/// "equals"; expected one of ...`. For an invalid option it names the field and the values
/// accepted; for other failures it is `dcom_result_message`'s text. On success the message is
/// the empty string.
///
/// The message follows the library's text-output convention, except that the function's
/// result is always the creation's: a message that does not fit is cut (at a UTF-8 boundary,
/// NUL-terminated) and `*message_needed` (if not NULL) tells the size that would hold it all;
/// `DCOM_ERROR_BUFFER_TOO_SMALL` is never returned. `{NULL, 0}` writes no message. The
/// message arguments are checked first: `message` NULL with a non-zero `message_size` is
/// `DCOM_ERROR_NULL_ARGUMENT` before anything else is done.
///
/// Errors: as `dcom_rule_create`. Cost: as `dcom_rule_create`. Thread-safe.
///
/// # Safety
/// As `dcom_rule_create`; `message` is NULL or valid for `message_size` bytes of writes;
/// `message_needed` is NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn dcom_rule_create_ex(
    options: *const dcom_rule_options,
    rule: *mut *mut dcom_rule,
    message: *mut c_char,
    message_size: usize,
    message_needed: *mut usize,
) -> dcom_result {
    guard(|| {
        let text = TextOut::new(message, message_size, message_needed)?;
        let refused = |text: TextOut<'_>, refusal: Refusal| {
            // The creation's code is the result: a cut message is reported through the size.
            let _ = text.write(&refusal.message);
            Err(refusal.code)
        };
        let mut out = match output(rule) {
            Ok(out) => out,
            Err(code) => return refused(text, Refusal { code, message: format!("rule: {}", code.message()) }),
        };
        out.write(std::ptr::null_mut());
        // A panic while compiling (a bug) still gets its message.
        let compiled = panic::catch_unwind(AssertUnwindSafe(|| compile(options)))
            .unwrap_or_else(|_| Err(DCOM_ERROR_INTERNAL.into()));
        match compiled {
            Ok(compiled) => {
                out.write(Box::into_raw(Box::new(dcom_rule { rule: Arc::new(compiled) })));
                text.write_if_room("");
                Ok(())
            }
            Err(refusal) => refused(text, refusal),
        }
    })
}

/// Frees a rule. NULL is allowed and does nothing. The handle must not be in use by any
/// other thread, and must not be used again. Sessions created from it stay valid (they share
/// the compiled rule, freed with the last of them).
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

/// The number of exception items the rule was created with into `*count` (0 without
/// exceptions). Items are numbered from 0 in file order, as `dcom_verdict.suppressed_by`
/// reports them.
///
/// Errors: `DCOM_ERROR_NULL_ARGUMENT`, `DCOM_ERROR_MISALIGNED_POINTER`. No allocation.
/// Thread-safe.
///
/// # Safety
/// `rule` is NULL or a live handle; `count` is NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn dcom_rule_exception_count(rule: *const dcom_rule, count: *mut usize) -> dcom_result {
    guard(|| {
        let mut out = output(count)?;
        out.write(0);
        out.write(input(rule)?.rule.exceptions().items().len());
        Ok(())
    })
}

/// The name of exception item `index` (0-based, file order; the `suppressed_by` of a
/// verdict) into `*name`: UTF-8, not NUL-terminated (print it with `"%.*s", (int)name.len,
/// name.ptr`), borrowed from the rule and valid until `dcom_rule_destroy`. On failure
/// `*name` is `{NULL, 0}`.
///
/// Errors: `DCOM_ERROR_NULL_ARGUMENT`, `DCOM_ERROR_MISALIGNED_POINTER`,
/// `DCOM_ERROR_OUT_OF_RANGE` (`index` is not below `dcom_rule_exception_count`). No
/// allocation, no copy. Thread-safe.
///
/// # Safety
/// `rule` is NULL or a live handle; `name` is NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn dcom_rule_exception_name(
    rule: *const dcom_rule,
    index: usize,
    name: *mut dcom_str,
) -> dcom_result {
    guard(|| {
        let mut out = output(name)?;
        out.write(dcom_str { ptr: std::ptr::null(), len: 0 });
        let item = input(rule)?.rule.exceptions().items().get(index).ok_or(DCOM_ERROR_OUT_OF_RANGE)?;
        out.write(dcom_str { ptr: item.name().as_ptr(), len: item.name().len() });
        Ok(())
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
        let mut rule = std::ptr::dangling_mut::<dcom_rule>(); // not NULL, to see it reset
        let code = unsafe { dcom_rule_create(options, &mut rule) };
        (code, rule)
    }

    /// `(code, rule, message)` of `dcom_rule_create_ex` with a 512-byte message buffer.
    fn create_ex(options: *const dcom_rule_options) -> (dcom_result, *mut dcom_rule, String) {
        let mut rule = std::ptr::dangling_mut::<dcom_rule>();
        let mut message = [0xAAu8; 512];
        let mut needed = 0;
        let code = unsafe { dcom_rule_create_ex(options, &mut rule, message.as_mut_ptr().cast(), 512, &mut needed) };
        assert!((1..=512).contains(&needed), "needed {needed}");
        assert_eq!(message[needed - 1], 0);
        (code, rule, String::from_utf8(message[..needed - 1].to_vec()).unwrap())
    }

    fn options(case_folding: u32, exceptions: &[u8]) -> dcom_rule_options {
        dcom_rule_options {
            struct_size: size_of::<dcom_rule_options>() as u32,
            case_folding,
            exceptions: if exceptions.is_empty() { std::ptr::null() } else { exceptions.as_ptr() },
            exceptions_len: exceptions.len(),
        }
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

        let unicode = options(DCOM_CASE_FOLDING_UNICODE_SIMPLE, b"");
        let (code, rule) = create(&unicode);
        assert_eq!(code, DCOM_OK);
        assert_eq!(folding(rule), DCOM_CASE_FOLDING_UNICODE_SIMPLE);
        unsafe { dcom_rule_destroy(rule) };

        let cases = [
            (dcom_rule_options { case_folding: 2, ..unicode }, "case_folding is 2"),
            (dcom_rule_options { struct_size: 4, ..unicode }, "struct_size is 4"),
            (dcom_rule_options { struct_size: 0, ..unicode }, "struct_size is 0"),
            // Between version 1 and version 2: no header ever declared such a struct.
            (dcom_rule_options { struct_size: OPTIONS_SIZE_V2 - 4, ..unicode }, "expected 8 (version 1)"),
        ];
        for (bad, message) in cases {
            assert_eq!(create(&bad), (DCOM_ERROR_INVALID_OPTION, std::ptr::null_mut()), "{bad:?}");
            let (code, rule, text) = create_ex(&bad);
            assert_eq!((code, rule), (DCOM_ERROR_INVALID_OPTION, std::ptr::null_mut()));
            assert!(text.contains(message), "{text}");
        }
        assert_eq!(unsafe { dcom_rule_create(&unicode, std::ptr::null_mut()) }, DCOM_ERROR_NULL_ARGUMENT);
        let null_exceptions = dcom_rule_options { exceptions_len: 3, ..unicode };
        let (code, rule, text) = create_ex(&null_exceptions);
        assert_eq!((code, rule), (DCOM_ERROR_NULL_ARGUMENT, std::ptr::null_mut()));
        assert!(text.starts_with("dcom_rule_options.exceptions: "), "{text}");
    }

    /// A program built against the first header passes an 8-byte, 4-byte-aligned struct:
    /// only those 8 bytes are read.
    #[test]
    fn version_1_struct_is_read_within_its_size() {
        #[repr(C, align(4))]
        struct V1Tail {
            v1: [u32; 3], // pad, struct_size, case_folding: the struct sits at offset 4
        }
        let mut boxed = Box::new(V1Tail { v1: [0, 8, DCOM_CASE_FOLDING_UNICODE_SIMPLE] });
        let ptr = unsafe { (boxed.v1.as_mut_ptr().add(1)).cast::<dcom_rule_options>() };
        // Not 8-aligned when the box is 8-aligned: version 1 only needed 4.
        let (code, rule) = create(ptr);
        assert_eq!(code, DCOM_OK);
        assert_eq!(folding(rule), DCOM_CASE_FOLDING_UNICODE_SIMPLE);
        unsafe { dcom_rule_destroy(rule) };
        let misaligned = (ptr as usize + 2) as *const dcom_rule_options;
        assert_eq!(create(misaligned).0, DCOM_ERROR_MISALIGNED_POINTER);
    }

    /// A caller compiled against a newer header: unknown fields are accepted only when zero.
    #[test]
    fn newer_options_struct() {
        #[repr(C)]
        struct Newer {
            v2: dcom_rule_options,
            something_new: u64,
        }
        let mut newer = Newer { v2: options(1, b""), something_new: 0 };
        newer.v2.struct_size = size_of::<Newer>() as u32;
        let (code, rule) = create(&newer.v2);
        assert_eq!(code, DCOM_OK);
        assert_eq!(folding(rule), DCOM_CASE_FOLDING_UNICODE_SIMPLE);
        unsafe { dcom_rule_destroy(rule) };
        newer.something_new = 1;
        let (code, rule, text) = create_ex(&newer.v2);
        assert_eq!((code, rule), (DCOM_ERROR_INVALID_OPTION, std::ptr::null_mut()));
        assert!(text.contains("newer header"), "{text}");
        newer.v2.struct_size = OPTIONS_SIZE_MAX + 1;
        assert_eq!(create(&newer.v2).0, DCOM_ERROR_INVALID_OPTION);
    }

    const TWO_ITEMS: &[u8] = br#"{"exceptions":[
        {"name":"jump hosts","entries":[{"field":"host.name","operator":"is","value":"jump-01"}]},
        {"name":"svc \u00e9","entries":[{"field":"user.name","operator":"exists"}]}]}"#;

    #[test]
    fn exceptions_are_compiled_and_named() {
        let (code, rule, text) = create_ex(&options(0, TWO_ITEMS));
        assert_eq!((code, text.as_str()), (DCOM_OK, ""));
        let mut count = 99;
        assert_eq!(unsafe { dcom_rule_exception_count(rule, &mut count) }, DCOM_OK);
        assert_eq!(count, 2);
        let name = |index| {
            let mut name = dcom_str { ptr: std::ptr::dangling::<u8>(), len: 9 };
            let code = unsafe { dcom_rule_exception_name(rule, index, &mut name) };
            let text =
                (!name.ptr.is_null()).then(|| unsafe { std::slice::from_raw_parts(name.ptr, name.len) }.to_vec());
            (code, text)
        };
        assert_eq!(name(0), (DCOM_OK, Some(b"jump hosts".to_vec())));
        assert_eq!(name(1), (DCOM_OK, Some("svc é".as_bytes().to_vec())));
        assert_eq!(name(2), (DCOM_ERROR_OUT_OF_RANGE, None));
        assert_eq!(name(usize::MAX), (DCOM_ERROR_OUT_OF_RANGE, None));
        unsafe {
            assert_eq!(dcom_rule_exception_count(rule, std::ptr::null_mut()), DCOM_ERROR_NULL_ARGUMENT);
            assert_eq!(dcom_rule_exception_count(std::ptr::null(), &mut count), DCOM_ERROR_NULL_ARGUMENT);
            assert_eq!(count, 0);
            let mut name = dcom_str { ptr: std::ptr::null(), len: 0 };
            assert_eq!(dcom_rule_exception_name(std::ptr::null(), 0, &mut name), DCOM_ERROR_NULL_ARGUMENT);
            assert_eq!(dcom_rule_exception_name(rule, 0, std::ptr::null_mut()), DCOM_ERROR_NULL_ARGUMENT);
            dcom_rule_destroy(rule);
        }
        let (code, rule) = create(std::ptr::null());
        assert_eq!(code, DCOM_OK);
        assert_eq!(unsafe { dcom_rule_exception_count(rule, &mut count) }, DCOM_OK);
        assert_eq!(count, 0);
        unsafe { dcom_rule_destroy(rule) };
    }

    #[test]
    fn bad_exceptions_are_refused_with_core_message() {
        let bad = br#"[{"name":"ok","entries":[{"field":"a","operator":"exists"}]},
            {"name":"second","entries":[{"field":"host.name","operator":"equals","value":"x"}]}]"#;
        let expected = Rule::with_exceptions(Options::default(), bad).unwrap_err().to_string();
        assert!(expected.contains(r#"item 2 ("second"), entry 1 (field "host.name"): unknown operator "equals""#));
        let (code, rule, text) = create_ex(&options(0, bad));
        assert_eq!((code, rule, text), (DCOM_ERROR_BAD_EXCEPTIONS, std::ptr::null_mut(), expected));
        assert_eq!(create(&options(0, bad)), (DCOM_ERROR_BAD_EXCEPTIONS, std::ptr::null_mut()));
        // A present but empty buffer is an (empty, invalid) file, not "no exceptions".
        let empty = dcom_rule_options { exceptions: b"x".as_ptr(), exceptions_len: 0, ..options(0, b"") };
        let (code, _, text) = create_ex(&empty);
        assert_eq!(code, DCOM_ERROR_BAD_EXCEPTIONS);
        assert!(text.starts_with("bad exceptions file: not valid JSON"), "{text}");
    }

    #[test]
    fn create_ex_message_buffer() {
        let bad = br#"[{"name":"x","entries":[]}]"#;
        let full = Rule::with_exceptions(Options::default(), bad).unwrap_err().to_string();
        let mut rule = std::ptr::null_mut();
        let mut needed = 0;
        // Size only; the result stays the creation's.
        let code = unsafe { dcom_rule_create_ex(&options(0, bad), &mut rule, std::ptr::null_mut(), 0, &mut needed) };
        assert_eq!((code, needed), (DCOM_ERROR_BAD_EXCEPTIONS, full.len() + 1));
        // Cut, NUL-terminated.
        let mut small = [0xAAu8; 12];
        let code =
            unsafe { dcom_rule_create_ex(&options(0, bad), &mut rule, small.as_mut_ptr().cast(), 12, &mut needed) };
        assert_eq!((code, needed), (DCOM_ERROR_BAD_EXCEPTIONS, full.len() + 1));
        assert_eq!(&small[..], format!("{}\0", &full[..11]).as_bytes());
        // Success: the empty message.
        let code =
            unsafe { dcom_rule_create_ex(std::ptr::null(), &mut rule, small.as_mut_ptr().cast(), 12, &mut needed) };
        assert_eq!((code, needed, small[0]), (DCOM_OK, 1, 0));
        unsafe { dcom_rule_destroy(rule) };
        let code =
            unsafe { dcom_rule_create_ex(std::ptr::null(), &mut rule, std::ptr::null_mut(), 0, std::ptr::null_mut()) };
        assert_eq!(code, DCOM_OK);
        unsafe { dcom_rule_destroy(rule) };
        // Bad message arguments are refused first, and `rule` is not touched.
        let mut untouched = std::ptr::dangling_mut::<dcom_rule>();
        let code =
            unsafe { dcom_rule_create_ex(std::ptr::null(), &mut untouched, std::ptr::null_mut(), 5, &mut needed) };
        assert_eq!((code, untouched), (DCOM_ERROR_NULL_ARGUMENT, std::ptr::dangling_mut()));
        // A NULL `rule` is explained.
        let mut message = [0u8; 64];
        let code = unsafe {
            dcom_rule_create_ex(std::ptr::null(), std::ptr::null_mut(), message.as_mut_ptr().cast(), 64, &mut needed)
        };
        assert_eq!(code, DCOM_ERROR_NULL_ARGUMENT);
        assert!(message.starts_with(b"rule: a required pointer is NULL"));
    }

    #[test]
    fn destroy_accepts_null() {
        unsafe { dcom_rule_destroy(std::ptr::null_mut()) };
    }
}
