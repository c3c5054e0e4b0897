//! Parquet files → the Arrow view, row group by row group (feature `parquet`).
//!
//! [`scan_parquet`] reads a file's row groups in order and evaluates every row through
//! [`crate::source::arrow::BatchView`], exactly as an Arrow batch is matched; it reports matches and
//! suppressed matches through the same [`Found`] callback as the NDJSON and EVTX scans, with
//! [`Position::Row`] (1-based row number in the file) and the row written as a JSON record
//! ([`BatchView::write_json`]) for [`crate::AlertWriter`], so that a table made from an NDJSON
//! file gives the alerts that file gives (with rows for lines).
//!
//! # Memory and cost
//! Each row group is read twice at most: first only the leaf columns the rule and its
//! exceptions read (`process.name`, not the whole `process` struct), in batches of
//! [`BATCH_ROWS`] rows; then, only when it
//! has matches, every column of just the matching rows, to write their records. Memory is
//! bounded by one row group's projected columns. A row group in which no column the rule
//! reads exists is counted without being read. Nothing allocates per row on the match path
//! (see [`crate::source::arrow`]).
//!
//! With a profile that correlates, [`scan_parquet_observing`] reads every column of every
//! row instead, to observe each row for the profile's stateful rules.
//!
//! # Errors
//! A file that is not Parquet, a corrupt page, a compression codec that is not built in
//! (brotli) or a column the view refuses ([`crate::source::arrow::ColumnError`]) stops the scan with a
//! [`ScanError`] (`InvalidData`); the rows before it were reported and counted. Parquet has no
//! per-record failure: `rejected` stays 0.

use std::fs::File;
use std::io;
use std::ops::ControlFlow;
use std::path::Path;

use ::parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
};
use ::parquet::arrow::ProjectionMask;

use arrow_schema::DataType;

use crate::correlate::{may_observe, Observer, Profile};
use crate::rule::Rule;
use crate::scan::{Found, Outcome, Position, ScanError, Stats};
use crate::source::arrow::{columns_read, BatchView, ColumnMap};
use crate::view::ecs::Decoder;

/// The first (and last) four bytes of a Parquet file.
pub const MAGIC: &[u8; 4] = b"PAR1";

/// Rows per Arrow batch while matching.
pub const BATCH_ROWS: usize = 8192;

/// Scans the Parquet file at `path`; see [`scan_parquet`].
pub fn scan_parquet_path<F>(rule: &Rule, columns: &ColumnMap, path: &Path, sink: F) -> Result<Stats, ScanError>
where
    F: FnMut(Found<'_>) -> ControlFlow<()>,
{
    let file = File::open(path).map_err(|error| ScanError { error, stats: Stats::default() })?;
    scan_parquet(rule, columns, file, sink)
}

/// A row the first pass over a row group reported: its index in the group and its outcome
/// (`Matched` or `Suppressed`: a row group is read without rejections).
struct Hit {
    index: usize,
    outcome: Outcome,
}

/// Scans a Parquet file, calling `sink` for every match and suppressed match in row order;
/// returns the counts (`bytes`: the compressed size of the row groups read). `sink` may stop
/// the scan early with `ControlFlow::Break`.
pub fn scan_parquet<F>(rule: &Rule, columns: &ColumnMap, file: File, mut sink: F) -> Result<Stats, ScanError>
where
    F: FnMut(Found<'_>) -> ControlFlow<()>,
{
    let mut stats = Stats::default();
    let failed = |error: ::parquet::errors::ParquetError, stats: Stats| ScanError { error: invalid(error), stats };
    let metadata = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(|e| failed(e, stats))?;
    let schema = metadata.schema().clone();
    let read = columns_read(rule.fields(), columns, schema.fields());
    let projection = leaves_read(rule, columns, &metadata)
        .unwrap_or_else(|| ProjectionMask::roots(metadata.parquet_schema(), read.iter().copied()));
    let mut hits: Vec<Hit> = Vec::new();
    let mut record = Vec::new();
    let mut first_row = 0u64;
    let groups = metadata.metadata().row_groups().len();
    for group in 0..groups {
        let group_meta = metadata.metadata().row_group(group);
        let rows = usize::try_from(group_meta.num_rows()).unwrap_or(0);
        hits.clear();
        if !read.is_empty() {
            let reader = open(&file, &metadata, group, projection.clone(), None).map_err(|e| failed(e, stats))?;
            let mut base = 0;
            for batch in reader {
                let batch = batch.map_err(|e| ScanError { error: invalid(e), stats })?;
                let view = BatchView::of_batch(rule, columns, &batch)
                    .map_err(|e| ScanError { error: io::Error::new(io::ErrorKind::InvalidData, e), stats })?;
                for index in 0..view.len() {
                    let row = view.row(index);
                    let outcome = Outcome::of(&rule.evaluate(&row));
                    if outcome != Outcome::NotMatched {
                        hits.push(Hit { index: base + index, outcome });
                    }
                }
                base += view.len();
            }
        }
        stats.records += rows as u64;
        stats.bytes += u64::try_from(group_meta.compressed_size()).unwrap_or(0);
        let matched = hits.iter().filter(|h| h.outcome.is_alert()).count() as u64;
        stats.matched += matched;
        stats.suppressed += hits.len() as u64 - matched;
        stats.not_matched += rows as u64 - hits.len() as u64;
        if !hits.is_empty() {
            // Every column of the matching rows only, to write their records.
            let selection = RowSelection::from_consecutive_ranges(hits.iter().map(|h| h.index..h.index + 1), rows);
            let reader =
                open(&file, &metadata, group, ProjectionMask::all(), Some(selection)).map_err(|e| failed(e, stats))?;
            let mut next = hits.iter();
            for batch in reader {
                let batch = batch.map_err(|e| ScanError { error: invalid(e), stats })?;
                let view = BatchView::of_batch(rule, columns, &batch)
                    .map_err(|e| ScanError { error: io::Error::new(io::ErrorKind::InvalidData, e), stats })?;
                for index in 0..view.len() {
                    let Some(hit) = next.next() else { break };
                    record.clear();
                    view.write_json(index, &mut record);
                    let position = Position::Row { row: first_row + hit.index as u64 + 1 };
                    if sink(Found { position, record: &record, outcome: hit.outcome.as_ref(), observation: None })
                        .is_break()
                    {
                        return Ok(stats);
                    }
                }
            }
        }
        first_row += rows as u64;
    }
    Ok(stats)
}

/// [`scan_parquet`] for a profile with stateful rules ([`Profile::correlates`]): every row is
/// also observed for `profile`'s rules and reported when it matters to them, so the caller's
/// [`crate::correlate::Session`] correlates a table as it does the NDJSON file it was made
/// from (with rows for lines).
///
/// # Cost
/// One pass over every column of every row group (the partners' fields are anywhere): each
/// row is matched through the Arrow view, then written as a JSON record and decoded once
/// with the event view for its observation (for `extended`, only a record
/// [`may_observe`] keeps). Memory is bounded by one batch of
/// [`BATCH_ROWS`] rows and one record.
pub fn scan_parquet_observing<F>(
    rule: &Rule,
    columns: &ColumnMap,
    profile: Profile,
    file: File,
    mut sink: F,
) -> Result<Stats, ScanError>
where
    F: FnMut(Found<'_>) -> ControlFlow<()>,
{
    let mut stats = Stats::default();
    let failed = |error: ::parquet::errors::ParquetError, stats: Stats| ScanError { error: invalid(error), stats };
    let metadata = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(|e| failed(e, stats))?;
    let observer = Observer::new(profile);
    let mut decoder = Decoder::new();
    let mut record = Vec::new();
    let mut row_number = 0u64;
    for group in 0..metadata.metadata().row_groups().len() {
        let group_meta = metadata.metadata().row_group(group);
        let reader = open(&file, &metadata, group, ProjectionMask::all(), None).map_err(|e| failed(e, stats))?;
        for batch in reader {
            let batch = batch.map_err(|e| ScanError { error: invalid(e), stats })?;
            let view = BatchView::of_batch(rule, columns, &batch)
                .map_err(|e| ScanError { error: io::Error::new(io::ErrorKind::InvalidData, e), stats })?;
            for index in 0..view.len() {
                row_number += 1;
                let outcome: Outcome = Outcome::of(&rule.evaluate(&view.row(index)));
                record.clear();
                view.write_json(index, &mut record);
                // `extended` observes only what may_observe keeps (a sound byte test).
                let observable = profile != Profile::Extended || may_observe(&record);
                let observation = match (&observer, observable) {
                    (Some(observer), true) => {
                        decoder.decode(rule.view_paths(), &record).ok().and_then(|d| observer.observe(&d))
                    }
                    _ => None,
                };
                stats.count(&outcome);
                if outcome == Outcome::NotMatched && observation.is_none() {
                    continue;
                }
                let position = Position::Row { row: row_number };
                if sink(Found { position, record: &record, outcome: outcome.as_ref(), observation }).is_break() {
                    return Ok(stats);
                }
            }
        }
        stats.bytes += u64::try_from(group_meta.compressed_size()).unwrap_or(0);
    }
    Ok(stats)
}

/// The leaf columns (Parquet's unit of storage) under the fields the rule reads: for a
/// wide `process` struct, `process.name`, `process.parent.name` and `process.command_line`
/// only. Leaves are numbered in the depth-first order of the Arrow schema, which is
/// Parquet's; None (read whole top-level columns) if the count does not come out right.
fn leaves_read(rule: &Rule, columns: &ColumnMap, metadata: &ArrowReaderMetadata) -> Option<ProjectionMask> {
    fn walk(data_type: &DataType, path: &mut String, leaves: &mut Vec<String>) {
        match data_type {
            DataType::Struct(fields) => {
                for field in fields {
                    let parent = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(field.name());
                    walk(field.data_type(), path, leaves);
                    path.truncate(parent);
                }
            }
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) | DataType::Map(f, _) => {
                walk(f.data_type(), path, leaves)
            }
            _ => leaves.push(path.clone()),
        }
    }
    let mut leaves = Vec::new();
    walk(&DataType::Struct(metadata.schema().fields().clone()), &mut String::new(), &mut leaves);
    let descriptor = metadata.parquet_schema();
    if leaves.len() != descriptor.num_columns() {
        return None;
    }
    let related = |leaf: &str, wanted: &str| {
        let below = |long: &str, short: &str| {
            long.len() > short.len() && long.starts_with(short) && long.as_bytes()[short.len()] == b'.'
        };
        leaf == wanted || below(leaf, wanted) || below(wanted, leaf)
    };
    let wanted: Vec<&str> = rule.fields().iter().map(|f| columns.column(f.path())).collect();
    let chosen = leaves.iter().enumerate().filter(|(_, leaf)| wanted.iter().any(|w| related(leaf, w))).map(|(i, _)| i);
    Some(ProjectionMask::leaves(descriptor, chosen))
}

fn open(
    file: &File,
    metadata: &ArrowReaderMetadata,
    group: usize,
    projection: ProjectionMask,
    selection: Option<RowSelection>,
) -> ::parquet::errors::Result<::parquet::arrow::arrow_reader::ParquetRecordBatchReader> {
    let input = file.try_clone().map_err(|e| ::parquet::errors::ParquetError::External(Box::new(e)))?;
    let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(input, metadata.clone())
        .with_row_groups(vec![group])
        .with_projection(projection)
        .with_batch_size(BATCH_ROWS);
    if let Some(selection) = selection {
        builder = builder.with_row_selection(selection);
    }
    builder.build()
}

fn invalid(error: impl std::error::Error + Send + Sync + 'static) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}
