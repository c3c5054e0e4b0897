//! # dcom-detect-core
//!
//! The engine of dcom-detect: Elastic Security's EQL rule for lateral movement over DCOM
//! (MITRE ATT&CK T1021.003), evaluated with Elasticsearch's own semantics, outside
//! Elasticsearch, without allocating on the match path.
//!
//! The data flows in one direction, one folder per stage, in this order:
//!
//! | stage | module | what it guarantees |
//! |---|---|---|
//! | bytes → records | [`source`] (files and folders with `io`; `evtx`, `parquet`, `arrow`) | format by content, folders walked, every file read or named as skipped |
//! | records → fields | [`view`] (`ecs` over a JSON lexer, `tree` for a host language's dicts, `time`, `field`, `event`, `text`) | ECS, Sysmon 1 and 4688 in every wrapper; Elasticsearch's document model; no allocation in steady state |
//! | fields → verdict | [`rule`] (`definition`, `wildcard`, `fold`, `exceptions`; `prefilter` skips) | exact EQL semantics; never allocates |
//! | records → outcomes, in order | [`scan`] | every record accounted for (matched, not matched, suppressed, rejected with its position) |
//! | observations → correlations | [`correlate`] (opt-in `extended` profile) | per-host bounded state fed in input order, evaluated in time order within the allowed lateness |
//! | verdict → alert | [`alert`] | one ECS alert document, byte-identical from every door |
//! | rules → other languages | [`export`] (`sigma`) | Sigma generated from the same definitions the engine evaluates; what Sigma cannot express stated in the output |
//!
//! [`validate`] (with `io`) runs the whole pipeline over labelled recordings; [`errors`] gathers
//! every typed error.
//!
//! ```
//! use dcom_detect_core::{Decoder, Rule, Branch};
//!
//! let rule = Rule::default();
//! let mut decoder = Decoder::new();
//! let record = br#"{"event":{"category":["process"],"type":["start"]},
//!   "process":{"name":"cmd.exe","parent":{"name":"MMC.EXE"}}}"#;
//! let document = decoder.decode(rule.paths(), record).unwrap();
//! let verdict = rule.evaluate(&document);
//! assert!(verdict.branches().contains(Branch::OfficeChild));
//! ```
//!
//! The core knows nothing of Python or C: bindings translate types and errors only.

#![deny(missing_docs)]

pub mod alert;
pub mod correlate;
pub mod error;
pub mod export;
pub mod guide;
pub mod rule;
pub mod scan;
pub mod source;
#[cfg(feature = "io")]
pub mod validate;
pub mod view;

/// Every error type of the crate in one place, each a typed value (kinds and problems are
/// enums a program can match on; `Display` gives the sentence for people).
pub mod errors {
    pub use crate::error::{DecodeError, ErrorKind};
    pub use crate::rule::exceptions::{ExceptionsError, Problem};
    pub use crate::scan::ScanError;
    #[cfg(feature = "arrow")]
    pub use crate::source::arrow::{ColumnError, ColumnErrorKind};
    #[cfg(feature = "io")]
    pub use crate::source::UnsupportedFormat;
    pub use crate::view::field::TooManyFields;
    pub use crate::view::text::InvalidUtf16;
}

pub use alert::{Alert, AlertOptions, AlertWriter, Origin};
pub use error::{DecodeError, ErrorKind};
pub use rule::exceptions::{Exceptions, ExceptionsError, Problem};
pub use rule::fold::CaseFolding;
pub use rule::prefilter::Prefilter;
pub use rule::{
    Branch, BranchSet, DcomCommandLine, Metadata, OfficeChild, Options, Rule, Verdict, EQL_SOURCE, METADATA,
};
pub use scan::{scan_ndjson, Found, Outcome, Position, ScanError, ScanOptions, Scanner, Stats};
#[cfg(feature = "io")]
pub use source::{scan_path, Format, Input, Inputs, Opened, SkipReason, UnsupportedFormat};
pub use view::ecs::{Decoder, Document, Limits, Schema};
pub use view::event::{Fields, ProcessEvent, Values};
pub use view::field::{Field, FieldId, FieldSet, Mapping};
pub use view::flat::FlatRecord;
pub use view::text::Text;
pub use view::time::Timestamp;
pub use view::tree::{Container, Cursor, Key, TreeReader};
