//! # dcom-detect-ffi: the C ABI of dcom-detect
//!
//! `libdcom_detect.a` / `libdcom_detect.so` and `include/dcom_detect.h` (generated from this
//! crate by cbindgen; `tests/it/header.rs` checks the committed copy is current). The crate
//! only translates: C pointers and strings into core's borrowed views, core's results and
//! errors into `dcom_result` codes. Every behaviour lives in `dcom-detect-core`.
//!
//! | door | function | per-call cost |
//! |---|---|---|
//! | struct of UTF-8 strings (the sensor's hot path) | `dcom_rule_match` (branch bits), `dcom_rule_evaluate` (verdict with exceptions) | validation + evaluation; no allocation, lock or copy |
//! | struct of UTF-16 strings (ETW) | `dcom_rule_match_utf16`, `dcom_rule_evaluate_utf16` | surrogate check + evaluation; no allocation, lock or copy |
//! | one JSON record | `dcom_rule_match_json`, `dcom_rule_evaluate_json` | one decode pass; no allocation in steady state (per-thread `dcom_scratch`) |
//! | one JSON record → ECS alert | `dcom_rule_alert_json` | as `dcom_rule_evaluate_json`; only an alert allocates (inside core) |
//! | a stream of JSON records → the alerts of a profile (`seed`, `elastic`, `extended`) | `dcom_session_feed_json`, then `dcom_session_next_alert` | one decode + `O(pending)` on the record's host; no allocation after warm-up for a record that completes no alert |
//! | a stream of struct events → the same | `dcom_session_feed_event`, `_event16` (each as the record `dcom_event_json` writes) | the record written into a reused buffer, then as above |
//!
//! Tuning: `dcom_rule_options.exceptions` (the JSON of an exceptions file) is compiled into the
//! rule by `dcom_rule_create` (`dcom_rule_create_ex` also explains a refusal); a
//! `dcom_verdict` says what fired and which item, if any, suppressed the alert
//! (`dcom_rule_exception_name` names it).
//!
//! ## Conventions (the same for every function)
//! - Names are `dcom_<object>_<verb>`. Every function that can fail returns a
//!   [`dcom_result`]; `dcom_result_message` describes each code.
//! - Handles (`dcom_rule`, `dcom_scratch`, `dcom_session`) are opaque, created through an
//!   out-parameter by `_create` and freed by a NULL-tolerant `_destroy`.
//! - Inputs are borrowed for the duration of the call only and never kept. Strings are
//!   `(pointer, length)`, never NUL-terminated; a NULL pointer with length 0 means absent.
//! - Every pointer is checked for NULL and alignment, and every length for size, before use
//!   (`args`); what cannot be checked (that memory is readable) is the caller's promise.
//! - No panic crosses the boundary: every export runs inside `catch_unwind` (`result::guard`)
//!   and turns one into `DCOM_ERROR_INTERNAL`.
//! - Thread safety is stated on each type: a `dcom_rule` is shared freely; a `dcom_scratch`
//!   and a `dcom_session` belong to one thread at a time (a concurrent call is refused with
//!   `DCOM_ERROR_SCRATCH_BUSY` / `DCOM_ERROR_SESSION_BUSY`, never a data race).

#![deny(missing_docs)]
#![allow(non_camel_case_types)]

// cbindgen emits items in the order it reads them, so this order (the data flow) is the
// header's. One comment per module keeps rustfmt from sorting them.
// Result codes, their messages, the panic guard.
pub mod result;
// The rule handle, its options and exception items, static texts.
pub mod rule;
// The rule's metadata.
pub mod metadata;
// What an evaluation returns.
pub mod verdict;
// The struct doors (UTF-8, UTF-16).
pub mod event;
// The JSON door and the per-thread scratch.
pub mod json;
// ECS alerts.
pub mod alert;
// The stateful correlation door.
pub mod session;
// Text out through caller buffers.
pub mod buffer;
// Pointer and length checks.
mod args;

pub use alert::{
    dcom_origin, dcom_rule_alert_json, DCOM_ALERT_INCLUDE_ORIGINAL, DCOM_POSITION_EVTX, DCOM_POSITION_LINE,
    DCOM_POSITION_NONE,
};
pub use event::{
    dcom_event, dcom_event16, dcom_event16_json, dcom_event_json, dcom_field, dcom_field16, dcom_rule_evaluate,
    dcom_rule_evaluate_utf16, dcom_rule_match, dcom_rule_match_utf16, dcom_str, dcom_str16,
};
pub use json::{
    dcom_rule_evaluate_json, dcom_rule_match_json, dcom_scratch, dcom_scratch_create, dcom_scratch_destroy,
    dcom_scratch_error_message, dcom_scratch_error_offset,
};
pub use metadata::{dcom_attack_ref, dcom_metadata, dcom_rule_guide, dcom_rule_metadata};
pub use result::{dcom_result, dcom_result_message};
pub use rule::{
    dcom_branch_name, dcom_rule, dcom_rule_case_folding, dcom_rule_create, dcom_rule_create_ex, dcom_rule_destroy,
    dcom_rule_eql, dcom_rule_exception_count, dcom_rule_exception_name, dcom_rule_options, dcom_version,
    DCOM_BRANCH_ALL, DCOM_BRANCH_DCOMCNFG, DCOM_BRANCH_DCOM_COMMAND_LINE, DCOM_BRANCH_OFFICE_CHILD,
    DCOM_CASE_FOLDING_ASCII, DCOM_CASE_FOLDING_UNICODE_SIMPLE,
};
pub use session::{
    dcom_session, dcom_session_create, dcom_session_destroy, dcom_session_error_message, dcom_session_error_offset,
    dcom_session_feed_event, dcom_session_feed_event16, dcom_session_feed_json, dcom_session_finish,
    dcom_session_get_stats, dcom_session_limits, dcom_session_limits_default, dcom_session_next_alert,
    dcom_session_stats, DCOM_PROFILE_ELASTIC, DCOM_PROFILE_EXTENDED, DCOM_PROFILE_SEED, DCOM_SESSION_MAX_HOSTS,
    DCOM_SESSION_MAX_PENDING, DCOM_SESSION_MAX_QUEUE,
};
pub use verdict::{dcom_verdict, DCOM_NOT_SUPPRESSED};
