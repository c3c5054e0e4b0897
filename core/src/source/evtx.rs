//! EVTX files, read directly with the `evtx` crate (the field's standard parser).
//!
//! Each record is rendered by `evtx` as `evtx_dump`-style JSON (`Event.System.*`,
//! `Event.EventData.*`) and then read by the same decoder as every other input, so Sysmon 1
//! and Security 4688 records map exactly as in [`crate::view::ecs`]. Records are reported with their
//! ordinal and `EventRecordID` ([`Position::Evtx`]); a record or chunk the parser cannot read
//! is reported as rejected ([`ErrorKind::Evtx`]) and the scan goes on with the rest. A file
//! cut short (an incomplete last chunk, or fewer chunks than its header announces), which the
//! parser skips silently, is reported as one more rejected record at the end.
//!
//! # Cost
//! Dominated by `evtx` itself, which allocates a JSON string per record; chunks are parsed
//! on `threads` threads and delivered in file order.

use std::io::{Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::path::Path;

use evtx::{EvtxParser, ParserSettings};

use crate::correlate::Observer;
use crate::error::{DecodeError, ErrorKind};
use crate::rule::Rule;
use crate::scan::{Found, Outcome, Position, ScanError, ScanOptions, Stats};
use crate::view::ecs::Decoder;

/// The first bytes of every EVTX file.
pub const MAGIC: &[u8; 8] = b"ElfFile\0";

/// Size of the file header and of each chunk.
const HEADER_BYTES: u64 = 4096;
const CHUNK_BYTES: u64 = 65536;

/// What the `evtx` parser skips without a word: chunks the header announces but the file does
/// not hold whole (a truncated copy, a file cut while being written). Returns a message when
/// some are missing.
fn missing_chunks(header: &[u8], len: u64) -> Option<String> {
    let announced = header.get(42..44).map_or(0, |b| u64::from(u16::from_le_bytes([b[0], b[1]])));
    let whole = len.saturating_sub(HEADER_BYTES) / CHUNK_BYTES;
    let partial = len.saturating_sub(HEADER_BYTES) % CHUNK_BYTES;
    match (announced > whole, partial > 0) {
        (false, false) => None,
        (_, true) => Some(format!(
            "truncated EVTX file: the last {partial} bytes are an incomplete chunk (chunk {}); its records are lost",
            whole + 1
        )),
        (true, false) => {
            Some(format!("truncated EVTX file: the header announces {announced} chunks, the file holds {whole}"))
        }
    }
}

/// Scans an EVTX file, calling `sink` for every match, suppressed match and rejected record
/// in file order (a [`Found`] with the record's JSON rendering; empty for a rejected one).
pub fn scan_evtx<F>(rule: &Rule, options: &ScanOptions, path: &Path, sink: F) -> Result<Stats, ScanError>
where
    F: FnMut(Found<'_>) -> ControlFlow<()>,
{
    let file = std::fs::File::open(path).map_err(|error| ScanError { error, stats: Stats::default() })?;
    scan_evtx_reader(rule, options, file, sink)
}

/// Scans EVTX data from any seekable reader (a file, an in-memory buffer).
pub fn scan_evtx_reader<R, F>(
    rule: &Rule,
    options: &ScanOptions,
    mut reader: R,
    mut sink: F,
) -> Result<Stats, ScanError>
where
    R: Read + Seek,
    F: FnMut(Found<'_>) -> ControlFlow<()>,
{
    let mut stats = Stats::default();
    let io_error = |error: std::io::Error| ScanError { error, stats: Stats::default() };
    let len = reader.seek(SeekFrom::End(0)).map_err(io_error)?;
    reader.seek(SeekFrom::Start(0)).map_err(io_error)?;
    let mut header = [0u8; 44];
    let n = reader.read(&mut header).map_err(io_error)?;
    let missing = missing_chunks(&header[..n], len);
    reader.seek(SeekFrom::Start(0)).map_err(io_error)?;
    let parser = EvtxParser::from_read_seek(reader)
        .map_err(|e| ScanError { error: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()), stats })?;
    // Compact JSON: less for `evtx` to write and for the decoder to read. (`evtx` also reads
    // 0 threads as one per core.)
    let mut parser = parser.with_configuration(ParserSettings::new().num_threads(options.threads).indent(false));
    let mut decoder = Decoder::with_limits(options.limits);
    let observer = Observer::new(options.profile);
    let paths = if observer.is_some() { rule.view_paths() } else { rule.paths() };
    for (i, record) in parser.records_json().enumerate() {
        let ordinal = i as u64 + 1;
        let (position, outcome, observation, data) = match record {
            Ok(r) => {
                stats.bytes += r.data.len() as u64;
                // The record header's id is renumbered in exported files; the event's own
                // <EventRecordID> is what analysts see.
                let evaluated = rule.evaluate_json_with(paths, &mut decoder, r.data.as_bytes(), |doc, verdict| {
                    let observation = observer.and_then(|o| o.observe(doc));
                    (doc.record_id().unwrap_or(r.event_record_id), Outcome::of(verdict), observation)
                });
                let (record_id, outcome, observation) =
                    evaluated.unwrap_or_else(|e| (r.event_record_id, Outcome::Rejected(e), None));
                (Position::Evtx { ordinal, record_id: Some(record_id) }, outcome, observation, Some(r.data))
            }
            Err(e) => {
                let error = DecodeError::new(ErrorKind::Evtx(e.to_string().into()), 0);
                (Position::Evtx { ordinal, record_id: None }, Outcome::Rejected(error), None, None)
            }
        };
        stats.count(&outcome);
        let text = || data.as_deref().unwrap_or_default().as_bytes();
        let record = match (&outcome, &observation) {
            (Outcome::NotMatched, None) => continue,
            (Outcome::Rejected(_), _) => &[][..],
            (Outcome::NotMatched, Some(o)) if !o.is_anchor_candidate() => &[][..],
            _ => text(),
        };
        if sink(Found { position, record, outcome: outcome.as_ref(), observation }).is_break() {
            return Ok(stats);
        }
    }
    if let Some(message) = missing {
        let outcome = Outcome::Rejected(DecodeError::new(ErrorKind::Evtx(message.into()), 0));
        stats.count(&outcome);
        let position = Position::Evtx { ordinal: stats.records, record_id: None };
        let _ = sink(Found { position, record: &[], outcome: outcome.as_ref(), observation: None });
    }
    Ok(stats)
}
