//! The rules in other languages, generated from the definitions the engine evaluates
//! ([`crate::rule::definition`], [`crate::correlate`]): one source of truth, no hand-kept
//! copies. Feature-independent; no dependency beyond the standard library.
//!
//! - [`sigma`]: the seed rule as one Sigma rule, each correlation rule of the `elastic` and
//!   `extended` profiles as a Sigma correlation rule over generated base rules
//!   (`docs/export.md`). Other query languages (Splunk, EQL, ES|QL, Lucene, Kusto, SQL) are
//!   converted from this Sigma by pySigma in the Python package (`dcom-detect[sigma]`).

pub mod sigma;
