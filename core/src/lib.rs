//! # dcom-detect-core
//!
//! The engine of dcom-detect: Elastic Security's EQL rule for lateral movement over DCOM
//! (MITRE ATT&CK T1021.003), evaluated with Elasticsearch's own semantics, outside
//! Elasticsearch, without allocating on the match path.
//!
//! The data flows in one direction, one module per step:
//!
//! | step | module | what it guarantees |
//! |---|---|---|
//! | sources | [`source`] (with `io`), [`scan`], `evtx`, `parquet`, `arrow` | format by content, folders walked; every record accounted for, in input order |
//! | bytes → fields | [`ecs`] (with [`json`](crate::ecs) lexing), [`tree`] (a host language's dicts), [`time`] | ECS, Sysmon 1 and 4688 in every wrapper; Elasticsearch's document model; no allocation in steady state |
//! | fields | [`event`], [`field`], [`text`] | a borrowed, multi-valued view; UTF-8 or UTF-16; time and host on request |
//! | fields → verdict | [`rule`] ([`definition`], [`wildcard`], [`fold`], [`exceptions`]; [`prefilter`] skips) | exact EQL semantics; never allocates |
//! | verdict → alert | [`alert`] | one ECS alert document, byte-identical from every door |
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
#[cfg(feature = "arrow")]
pub mod arrow;
pub mod definition;
pub mod ecs;
pub mod error;
pub mod event;
#[cfg(feature = "evtx")]
pub mod evtx;
pub mod exceptions;
pub mod field;
pub mod fold;
mod frame;
mod json;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod prefilter;
pub mod rule;
pub mod scan;
#[cfg(feature = "io")]
pub mod source;
pub mod text;
pub mod time;
pub mod tree;
#[cfg(feature = "io")]
pub mod validate;
pub mod wildcard;

/// Every error type of the crate in one place, each a typed value (kinds and problems are
/// enums a program can match on; `Display` gives the sentence for people).
pub mod errors {
    #[cfg(feature = "arrow")]
    pub use crate::arrow::ColumnError;
    pub use crate::error::{DecodeError, ErrorKind};
    pub use crate::exceptions::{ExceptionsError, Problem};
    pub use crate::field::TooManyFields;
    pub use crate::scan::ScanError;
    #[cfg(feature = "io")]
    pub use crate::source::UnsupportedFormat;
    pub use crate::text::InvalidUtf16;
}

pub use alert::{Alert, AlertOptions, AlertWriter, Origin};
pub use ecs::{Decoder, Document, Limits, Schema};
pub use error::{DecodeError, ErrorKind};
pub use event::{Fields, ProcessEvent, Values};
pub use exceptions::{Exceptions, ExceptionsError, Problem};
pub use field::{Field, FieldId, FieldSet, Mapping};
pub use fold::CaseFolding;
pub use prefilter::Prefilter;
pub use rule::{
    Branch, BranchSet, DcomCommandLine, Metadata, OfficeChild, Options, Rule, Verdict, EQL_SOURCE, METADATA,
};
pub use scan::{scan_ndjson, Found, Outcome, Position, ScanError, ScanOptions, Scanner, Stats};
#[cfg(feature = "io")]
pub use source::{scan_path, Format, Input, Inputs, Opened, SkipReason, UnsupportedFormat};
pub use text::Text;
pub use time::Timestamp;
pub use tree::{Container, Cursor, Key, TreeReader};
