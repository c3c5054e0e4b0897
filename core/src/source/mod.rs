//! Stage 1, bytes → records: where records come from and how a file is read.
//!
//! | module | reads | feature |
//! |---|---|---|
//! | [`files`] | paths and folders; a file's format by its first bytes; gzip | `io` |
//! | `frame` | NDJSON lines: whether a line is plainly one JSON object (for the prefilter) | |
//! | [`evtx`] | Windows event log files, record by record | `evtx` |
//! | [`parquet`] | Parquet files, row group by row group | `parquet` |
//! | [`arrow`] | Arrow record batches, read in place | `arrow` |
//!
//! NDJSON itself is read by [`crate::scan`], whose loop every source feeds: each record is
//! decoded into the [`view`](crate::view), evaluated by the [`rule`](crate::rule) and accounted
//! for in [`Stats`](crate::scan::Stats). Nothing here decides a verdict.

#[cfg(feature = "arrow")]
pub mod arrow;
#[cfg(feature = "evtx")]
pub mod evtx;
#[cfg(feature = "io")]
pub mod files;
pub(crate) mod frame;
#[cfg(feature = "parquet")]
pub mod parquet;

#[cfg(feature = "io")]
pub use files::*;
