//! Streaming scans of NDJSON (plain or gzip, any reader) with every record accounted for.
//!
//! A scan reads its input in chunks that end on line boundaries, finds candidate lines with
//! the [`Prefilter`] (unless disabled), decodes and evaluates only those, and reports, in input
//! order, every match, suppressed match and rejected record through a callback ([`Found`]: a
//! position, the record's bytes and its [`Outcome`], the one per-record result every scan and
//! source shares). Its [`Stats`] account for every line:
//! `records = matched + suppressed + not_matched + rejected`, and blank lines are counted
//! apart. A record is one line; blank lines (empty, or only spaces, tabs and `\r`) are not
//! records; `\r\n` endings and a UTF-8 byte order mark at the start of the stream are accepted.
//!
//! # Memory and cost
//! Memory is bounded by the chunk size plus the longest record allowed
//! ([`Limits::max_record_bytes`]): a longer line is skipped while it is read, reported as
//! rejected ([`ErrorKind::TooLarge`]), and never buffered whole. The results waiting to be
//! delivered are bounded too, whatever the lines' length: a chunk's matches and rejections
//! are handed over in parts of at most 4096 (see `BATCH_HITS`). Nothing allocates per record
//! in steady state. With `threads > 1`, one extra thread reads (and decompresses) while
//! `threads` others scan chunks; results are delivered in input order whatever the thread
//! count.
//!
//! A record the prefilter rules out is counted as not matched without being parsed when it is
//! plainly one JSON object (`core/src/source/frame.rs` says exactly what that means); any other
//! ruled-out line is parsed, so truncated, binary, non-object and too deeply nested lines are
//! rejected with their exact error whether or not they could match. A syntax error or a
//! duplicate key inside a well-framed line that cannot match is seen only with the prefilter
//! disabled, which validates every line.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::ops::{ControlFlow, Range};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use crate::correlate::{Observed, Observer, Profile};
use crate::error::{DecodeError, ErrorKind};
use crate::rule::prefilter::Prefilter;
use crate::rule::{BranchSet, Rule};
use crate::source::frame;
use crate::view::ecs::{Decoder, Limits};

/// How to scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanOptions {
    /// Skip lines that cannot match without parsing them (default on).
    pub prefilter: bool,
    /// Per-record limits.
    pub limits: Limits,
    /// Worker threads; 0 means one per available core, 1 scans on the calling thread.
    pub threads: usize,
    /// Bytes read per chunk (default 1 MiB).
    pub chunk_bytes: usize,
    /// The profile whose stateful rules the records are observed for (default
    /// [`Profile::Seed`]: none). With another profile records are decoded with the event
    /// view: with `elastic` every record; with `extended` and the prefilter, every record
    /// [`Rule::observing_prefilter`] keeps: the rule's candidates and every record holding
    /// one of [`may_observe`](crate::correlate::may_observe)'s words, in one search (the
    /// others give no observation). Records the profile's rules observe are reported
    /// even when they did not match ([`Found::observation`]), for a
    /// [`Session`](crate::correlate::Session) of the same profile to feed on.
    pub profile: Profile,
}

impl Default for ScanOptions {
    fn default() -> ScanOptions {
        ScanOptions {
            prefilter: true,
            limits: Limits { max_record_bytes: 16 << 20, ..Limits::default() },
            threads: 1,
            chunk_bytes: 1 << 20,
            profile: Profile::Seed,
        }
    }
}

/// Where a record is in its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Position {
    /// An NDJSON line: 1-based line number and byte offset of the line's start (in the
    /// decompressed stream for gzip input).
    Line {
        /// 1-based line number.
        line: u64,
        /// Byte offset of the line's first byte.
        offset: u64,
    },
    /// An EVTX record.
    Evtx {
        /// 1-based position of the record in the file.
        ordinal: u64,
        /// The record's `EventRecordID`, when it could be read.
        record_id: Option<u64>,
    },
    /// A row of a table (a Parquet file, an Arrow batch).
    Row {
        /// 1-based row number (row `n` of a table made from an NDJSON file is line `n` when
        /// the file has no blank lines).
        row: u64,
    },
}

impl Position {
    /// The 1-based line number of an NDJSON record.
    ///
    /// ```
    /// use dcom_detect_core::Position;
    /// let evtx = Position::Evtx { ordinal: 7, record_id: Some(9833) };
    /// assert_eq!((evtx.line(), evtx.record(), evtx.record_id()), (None, Some(7), Some(9833)));
    /// let line = Position::Line { line: 3, offset: 120 };
    /// assert_eq!((line.line(), line.offset(), line.row()), (Some(3), Some(120), None));
    /// ```
    pub fn line(&self) -> Option<u64> {
        match *self {
            Position::Line { line, .. } => Some(line),
            _ => None,
        }
    }

    /// The byte offset of an NDJSON record's line.
    pub fn offset(&self) -> Option<u64> {
        match *self {
            Position::Line { offset, .. } => Some(offset),
            _ => None,
        }
    }

    /// The 1-based position of an EVTX record in its file.
    pub fn record(&self) -> Option<u64> {
        match *self {
            Position::Evtx { ordinal, .. } => Some(ordinal),
            _ => None,
        }
    }

    /// The `EventRecordID` of an EVTX record, when it could be read.
    pub fn record_id(&self) -> Option<u64> {
        match *self {
            Position::Evtx { record_id, .. } => record_id,
            _ => None,
        }
    }

    /// The 1-based row of a table record.
    pub fn row(&self) -> Option<u64> {
        match *self {
            Position::Row { row } => Some(row),
            _ => None,
        }
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Position::Line { line, offset } => write!(f, "line {line} (byte {offset})"),
            Position::Evtx { ordinal, record_id: Some(id) } => write!(f, "record {ordinal} (EventRecordID {id})"),
            Position::Evtx { ordinal, record_id: None } => write!(f, "record {ordinal}"),
            Position::Row { row } => write!(f, "row {row}"),
        }
    }
}

/// Counts for a scan; they add up: `records == matched + suppressed + not_matched + rejected`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records read (non-blank lines, or EVTX records).
    pub records: u64,
    /// Records on which the rule fired and raised an alert.
    pub matched: u64,
    /// Records on which the rule fired but an exception item suppressed the alert.
    pub suppressed: u64,
    /// Records on which it did not.
    pub not_matched: u64,
    /// Of `not_matched`: records the prefilter ruled out without parsing.
    pub prefiltered: u64,
    /// Records that could not be read (each was reported with its position).
    pub rejected: u64,
    /// Blank lines (not records).
    pub blank_lines: u64,
    /// Input bytes consumed (decompressed).
    pub bytes: u64,
    /// Files scanned (by scans of several paths; see [`crate::source::Inputs`]).
    pub files: u64,
    /// Files skipped by scans of several paths (unrecognised content, unreadable).
    pub skipped_files: u64,
}

impl Stats {
    /// Counts one record with this outcome: `records` and the outcome's own count, so that
    /// the counts keep adding up. (A record the prefilter ruled out is also counted in
    /// `prefiltered`, by the scan.)
    pub fn count<E>(&mut self, outcome: &Outcome<E>) {
        self.records += 1;
        match outcome {
            Outcome::Matched(_) => self.matched += 1,
            Outcome::Suppressed { .. } => self.suppressed += 1,
            Outcome::NotMatched => self.not_matched += 1,
            Outcome::Rejected(_) => self.rejected += 1,
        }
    }

    /// Adds `other`'s counts to these (the totals of several inputs).
    pub fn add(&mut self, other: &Stats) {
        self.records += other.records;
        self.matched += other.matched;
        self.suppressed += other.suppressed;
        self.not_matched += other.not_matched;
        self.prefiltered += other.prefiltered;
        self.rejected += other.rejected;
        self.blank_lines += other.blank_lines;
        self.bytes += other.bytes;
        self.files += other.files;
        self.skipped_files += other.skipped_files;
    }
}

/// What a scan reports about one record: where it is, its bytes, and its [`Outcome`].
///
/// Every scan (NDJSON, EVTX, Parquet, the paths of [`crate::source::Inputs`]) calls its sink
/// with one `Found` per record whose outcome is [`Outcome::Matched`], [`Outcome::Suppressed`]
/// or [`Outcome::Rejected`], in input order; a record that did not match is only counted
/// ([`Stats::not_matched`]), never reported, so `outcome` is never [`Outcome::NotMatched`].
///
/// A plain `Copy` value of three borrows, valid for the call only: the error of a rejected
/// record is borrowed from the scan, not cloned.
///
/// ```
/// use std::ops::ControlFlow;
/// use dcom_detect_core::{scan_ndjson, Outcome, Rule, ScanOptions};
///
/// let alert = r#"{"event":{"category":"process","type":"start"},"process":{"name":"dcomcnfg.exe"}}"#;
/// let input = format!("{alert}\nnot json\n{{}}\n");
/// let mut seen = Vec::new();
/// let stats = scan_ndjson(&Rule::default(), &ScanOptions::default(), input.as_bytes(), |found| {
///     seen.push(match found.outcome {
///         Outcome::Matched(branches) => format!("{}: alert {}", found.position, branches.bits()),
///         Outcome::Suppressed { item, .. } => format!("{}: suppressed by item {item}", found.position),
///         Outcome::Rejected(error) => format!("{}: {error}", found.position),
///         Outcome::NotMatched => unreachable!("never reported"),
///     });
///     ControlFlow::Continue(())
/// })
/// .unwrap();
/// assert_eq!(seen[0], "line 1 (byte 0): alert 2");
/// assert_eq!(seen[1], "line 2 (byte 82): the record is not a JSON object at byte 0");
/// assert_eq!((seen.len(), stats.records, stats.not_matched), (2, 3, 1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found<'a> {
    /// Where the record is.
    pub position: Position,
    /// The record's bytes as the rule read them (an NDJSON line without its newline, an
    /// EVTX record's JSON rendering, a table row written as JSON), to write an alert from or
    /// re-decode for the verdict's evidence. Empty for a rejected record, whose bytes may
    /// be too long to keep or not be text at all: its position says where to look.
    pub record: &'a [u8],
    /// What the record came to: [`Outcome::NotMatched`] only for a record reported for its
    /// observation.
    pub outcome: Outcome<&'a DecodeError>,
    /// What the record is to the scan's profile ([`ScanOptions::profile`]), if anything.
    pub observation: Option<Observed>,
}

/// A scan that failed as a whole (the input could not be read); records before the failure
/// were reported and counted.
#[derive(Debug)]
pub struct ScanError {
    /// The I/O error.
    pub error: io::Error,
    /// Counts up to the failure.
    pub stats: Stats,
}

impl std::fmt::Display for ScanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "input error after {} records: {}", self.stats.records, self.error)
    }
}

impl std::error::Error for ScanError {}

/// What evaluating the rule on one record came to: the one per-record result of every scan
/// and every source.
///
/// The variants partition records exactly as [`Stats`] counts them (see [`Stats::count`]):
/// a record is matched (an alert), suppressed (the rule fired, an exception item took the
/// alert back), not matched (no branch fired), or rejected (it could not be read, so the
/// rule was not evaluated). In the outcomes the engine builds ([`Outcome::of`], scans),
/// `Matched` and `Suppressed` hold a non-empty [`BranchSet`].
///
/// `E` is the rejection's error: an owned [`DecodeError`] by default (what
/// [`Scanner::evaluate`] returns and what a parallel scan buffers), a borrowed
/// `&DecodeError` in a [`Found`] ([`Outcome::as_ref`]). Only an owned `Rejected` may hold
/// heap memory (a duplicate key's name, an EVTX parser's message); the other variants are
/// a few bytes of plain data, and borrowing, matching or counting an outcome never
/// allocates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome<E = DecodeError> {
    /// The rule fired on these branches and raised an alert.
    Matched(BranchSet),
    /// The rule fired on these branches, but an exception item suppressed the alert.
    Suppressed {
        /// The branches that fired.
        branches: BranchSet,
        /// The suppressing item's index in [`Rule::exceptions`] (the first item, in file
        /// order, whose conditions all hold).
        item: usize,
    },
    /// No branch fired.
    NotMatched,
    /// The record could not be read; the rule was not evaluated.
    Rejected(E),
}

impl<E> Outcome<E> {
    /// The outcome a verdict stands for (never `Rejected`: a verdict is of a record that was
    /// read).
    ///
    /// ```
    /// use dcom_detect_core::{Outcome, ProcessEvent, Rule};
    /// let rule = Rule::default();
    /// let event = ProcessEvent { name: "cmd.exe".into(), parent_name: "mmc.exe".into(), ..ProcessEvent::start() };
    /// let outcome: Outcome = Outcome::of(&rule.evaluate(&event));
    /// assert!(outcome.is_alert());
    /// assert_eq!(outcome.branches().bits(), 1);
    /// ```
    pub fn of(verdict: &crate::rule::Verdict<'_>) -> Outcome<E> {
        let branches = verdict.branches();
        match (branches.is_empty(), verdict.suppressed_by) {
            (true, _) => Outcome::NotMatched,
            (false, Some(item)) => Outcome::Suppressed { branches, item },
            (false, None) => Outcome::Matched(branches),
        }
    }

    /// The same outcome with the error borrowed (what a [`Found`] carries).
    pub fn as_ref(&self) -> Outcome<&E> {
        match self {
            Outcome::Matched(branches) => Outcome::Matched(*branches),
            Outcome::Suppressed { branches, item } => Outcome::Suppressed { branches: *branches, item: *item },
            Outcome::NotMatched => Outcome::NotMatched,
            Outcome::Rejected(error) => Outcome::Rejected(error),
        }
    }

    /// The branches that fired, whether or not the alert was suppressed; empty when the
    /// record did not match or was rejected.
    pub fn branches(&self) -> BranchSet {
        match self {
            Outcome::Matched(branches) | Outcome::Suppressed { branches, .. } => *branches,
            Outcome::NotMatched | Outcome::Rejected(_) => BranchSet::EMPTY,
        }
    }

    /// Whether the record raised an alert (`Matched`).
    pub fn is_alert(&self) -> bool {
        matches!(self, Outcome::Matched(_))
    }

    /// Why the record was rejected, if it was.
    pub fn error(&self) -> Option<&E> {
        match self {
            Outcome::Rejected(error) => Some(error),
            _ => None,
        }
    }
}

impl<E: Clone> Outcome<&E> {
    /// The same outcome with its own copy of the error (to keep a [`Found`]'s outcome past
    /// the sink's call; clones the error of a rejected record only).
    pub fn cloned(self) -> Outcome<E> {
        match self {
            Outcome::Matched(branches) => Outcome::Matched(branches),
            Outcome::Suppressed { branches, item } => Outcome::Suppressed { branches, item },
            Outcome::NotMatched => Outcome::NotMatched,
            Outcome::Rejected(error) => Outcome::Rejected(error.clone()),
        }
    }
}

/// Evaluates records one at a time with reusable buffers: the single-record building block
/// of every scan. One per thread.
#[derive(Debug)]
pub struct Scanner<'r> {
    rule: &'r Rule,
    decoder: Decoder,
    /// The rule's prefilter, when enabled.
    prefilter: Option<&'r Prefilter>,
    /// The prefilter's lowercase copy of the current chunk.
    folded: Vec<u8>,
    /// The depth limit, for telling which ruled-out lines are plainly well-formed.
    max_depth: usize,
    /// The profile's observer, when the scan observes.
    observer: Option<Observer>,
}

impl<'r> Scanner<'r> {
    /// A scanner for `rule` with these options.
    pub fn new(rule: &'r Rule, options: &ScanOptions) -> Scanner<'r> {
        Scanner {
            rule,
            decoder: Decoder::with_limits(options.limits),
            // `extended` also keeps what may give an observation (the words of `may_observe`,
            // in the same search); `elastic` decodes all.
            prefilter: match (options.prefilter, options.profile) {
                (false, _) | (true, Profile::Elastic) => None,
                (true, Profile::Extended) => Some(rule.observing_prefilter()),
                (true, Profile::Seed) => Some(rule.prefilter()),
            },
            folded: Vec::new(),
            max_depth: options.limits.max_depth,
            observer: Observer::new(options.profile),
        }
    }

    /// The rule.
    pub fn rule(&self) -> &'r Rule {
        self.rule
    }

    /// Evaluates one record (a JSON document): any of the four outcomes, `Rejected` with the
    /// decoder's error. Does not consult the prefilter. Allocates nothing once the decoder's
    /// buffers have grown, except the name a rejection's error may carry (a duplicate key).
    pub fn evaluate(&mut self, record: &[u8]) -> Outcome {
        evaluate(self.rule, &mut self.decoder, record)
    }

    /// [`evaluate`](Self::evaluate), and what the record is to the scan's profile
    /// ([`ScanOptions::profile`]; `None` for the seed profile). The verdict is the same: the
    /// view's paths never change it.
    pub fn evaluate_observed(&mut self, record: &[u8]) -> (Outcome, Option<Observed>) {
        evaluate_observed(self.rule, &mut self.decoder, self.observer.as_ref(), record)
    }

    /// Scans a chunk of complete lines into `batch` (cleared first), handing the batch to
    /// `flush` whenever it holds `max_hits` hits with lines left to scan: `flush` must take
    /// the batch's results and leave it cleared, and may stop the scan with `Break`. Each
    /// part (flushed or left in `batch` at the end) numbers its lines and offsets from its own
    /// start and counts exactly its own lines and bytes, so parts delivered in order are the
    /// chunk delivered whole. A part holds at most `max_hits` hits (`max_hits` 0 means 1).
    fn scan_chunk<F>(&mut self, chunk: &[u8], batch: &mut Batch, max_hits: usize, mut flush: F) -> ControlFlow<()>
    where
        F: FnMut(&mut Batch) -> ControlFlow<()>,
    {
        batch.clear();
        let max_hits = max_hits.max(1);
        let mut pos = 0;
        let mut line = 0u64;
        // Where the part in `batch` starts.
        let (mut part_pos, mut part_line) = (0usize, 0u64);
        let mut candidates = self.prefilter.map(|p| p.candidates(chunk, &mut self.folded));
        let mut next_candidate = match &mut candidates {
            Some(c) => c.next_from(0),
            None => Some(0),
        };
        while pos < chunk.len() {
            let end = memchr::memchr(b'\n', &chunk[pos..]).map_or(chunk.len(), |i| pos + i);
            let record = &chunk[pos..end];
            if is_blank(record) {
                batch.stats.blank_lines += 1;
            } else {
                let candidate = candidates.is_none() || next_candidate.is_some_and(|c| c < end);
                if candidate || !frame::is_plain_object(record, self.max_depth) {
                    let (outcome, observation) =
                        evaluate_observed(self.rule, &mut self.decoder, self.observer.as_ref(), record);
                    batch.stats.count(&outcome);
                    let (line, offset) = (line - part_line, (pos - part_pos) as u64);
                    let keep = match (&outcome, &observation) {
                        (Outcome::NotMatched, None) => None,
                        (Outcome::Rejected(_), _) => Some(false),
                        (Outcome::NotMatched, Some(o)) => Some(o.is_anchor_candidate()),
                        (Outcome::Matched(_) | Outcome::Suppressed { .. }, _) => Some(true),
                    };
                    if let Some(keep) = keep {
                        let start = batch.records.len();
                        if keep {
                            batch.records.extend_from_slice(record);
                        }
                        batch.hits.push(Hit { line, offset, record: start..batch.records.len(), outcome });
                        if self.observer.is_some() {
                            batch.observations.push(observation);
                        }
                    }
                } else {
                    batch.stats.count(&Outcome::<DecodeError>::NotMatched);
                    batch.stats.prefiltered += 1;
                }
            }
            line += 1;
            pos = end + 1;
            if let (Some(walk), Some(c)) = (&mut candidates, next_candidate) {
                if c < pos {
                    next_candidate = if pos < chunk.len() { walk.next_from(pos) } else { None };
                }
            }
            if batch.hits.len() >= max_hits && pos < chunk.len() {
                batch.lines = line - part_line;
                batch.stats.bytes = (pos - part_pos) as u64;
                flush(batch)?;
                debug_assert!(batch.hits.is_empty() && batch.records.is_empty());
                (part_pos, part_line) = (pos, line);
            }
        }
        batch.lines = line - part_line;
        batch.stats.bytes = (chunk.len() - part_pos) as u64;
        ControlFlow::Continue(())
    }
}

/// The outcome of one record and, with an observer, what the record is to its profile.
pub(crate) fn evaluate_observed(
    rule: &Rule,
    decoder: &mut Decoder,
    observer: Option<&Observer>,
    record: &[u8],
) -> (Outcome, Option<Observed>) {
    match observer {
        None => (evaluate(rule, decoder, record), None),
        Some(observer) => rule
            .evaluate_json_with(rule.view_paths(), decoder, record, |doc, verdict| {
                (Outcome::of(verdict), observer.observe(doc))
            })
            .unwrap_or_else(|e| (Outcome::Rejected(e), None)),
    }
}

fn evaluate(rule: &Rule, decoder: &mut Decoder, record: &[u8]) -> Outcome {
    rule.evaluate_json(decoder, record, |_, verdict| Outcome::of(verdict)).unwrap_or_else(Outcome::Rejected)
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|&b| crate::view::json::is_whitespace(b))
}

/// The results of one chunk: hits in order, the bytes of matched records, and counts.
#[derive(Debug, Default)]
struct Batch {
    hits: Vec<Hit>,
    /// Each hit's observation, in step with `hits`, when the scan observes (else empty).
    observations: Vec<Option<Observed>>,
    records: Vec<u8>,
    stats: Stats,
    /// Lines in the chunk (for numbering the next one).
    lines: u64,
}

impl Batch {
    fn clear(&mut self) {
        self.hits.clear();
        self.observations.clear();
        self.records.clear();
        self.stats = Stats::default();
        self.lines = 0;
    }
}

/// A reported record of a [`Batch`], until the collector delivers it as a [`Found`].
#[derive(Debug)]
struct Hit {
    /// 0-based line within the part.
    line: u64,
    /// Offset within the part.
    offset: u64,
    /// The record's bytes in [`Batch::records`]: empty for a rejected record (its bytes are
    /// not kept) and for an observation that is no anchor candidate.
    record: Range<usize>,
    /// [`Outcome::NotMatched`] only for a record kept for its observation.
    outcome: Outcome,
}

/// What a chunk reader yields.
enum Piece<'a> {
    /// Complete lines (the last one may lack its newline at the end of input).
    Lines(&'a [u8]),
    /// One line longer than the limit, already skipped; `bytes` includes its newline if any.
    Oversized { bytes: u64 },
}

/// Splits a byte stream into chunks of whole lines, skipping lines over the limit.
struct LineChunks<R> {
    reader: R,
    buf: Vec<u8>,
    /// Bytes of `buf` holding data.
    filled: usize,
    /// Bytes at the front of `buf` already handed out.
    consumed: usize,
    chunk_bytes: usize,
    max_record: usize,
    eof: bool,
    /// A read error, reported once the data read before it has been handed out.
    error: Option<io::Error>,
    at_start: bool,
}

impl<R: Read> LineChunks<R> {
    fn new(reader: R, chunk_bytes: usize, max_record: usize) -> LineChunks<R> {
        LineChunks {
            reader,
            buf: Vec::new(),
            filled: 0,
            consumed: 0,
            chunk_bytes: chunk_bytes.max(1),
            max_record,
            eof: false,
            error: None,
            at_start: true,
        }
    }

    /// Reads until `buf` holds at least `want` bytes or the input ends (or fails: the error is
    /// kept for after the data).
    fn fill(&mut self, want: usize) -> io::Result<()> {
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        while self.filled < want && !self.eof {
            match self.reader.read(&mut self.buf[self.filled..want]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.error = Some(e);
                    self.eof = true;
                }
            }
        }
        Ok(())
    }

    /// The next piece, or None at the end of input. Also returns bytes skipped before it (a
    /// byte order mark).
    fn next_piece(&mut self) -> io::Result<Option<(u64, Piece<'_>)>> {
        // Keep the unconsumed tail (a partial line) at the front.
        if self.consumed > 0 {
            self.buf.copy_within(self.consumed..self.filled, 0);
            self.filled -= self.consumed;
            self.consumed = 0;
        }
        let mut skipped = 0;
        let mut want = self.chunk_bytes;
        loop {
            self.fill(want.max(3))?;
            if self.at_start {
                self.at_start = false;
                if self.buf[..self.filled].starts_with(b"\xEF\xBB\xBF") {
                    self.buf.copy_within(3..self.filled, 0);
                    self.filled -= 3;
                    skipped = 3;
                }
            }
            if self.filled == 0 {
                return match self.error.take() {
                    Some(e) => Err(e),
                    None => Ok(None),
                };
            }
            if let Some(last_newline) = memchr::memrchr(b'\n', &self.buf[..self.filled]) {
                self.consumed = last_newline + 1;
                return Ok(Some((skipped, Piece::Lines(&self.buf[..self.consumed]))));
            }
            if self.eof {
                self.consumed = self.filled;
                return Ok(Some((skipped, Piece::Lines(&self.buf[..self.consumed]))));
            }
            // One partial line fills the buffer.
            if self.filled > self.max_record {
                let bytes = self.skip_line()?;
                return Ok(Some((skipped, Piece::Oversized { bytes })));
            }
            want = (self.filled + self.chunk_bytes).min(self.max_record + 2).max(self.filled + 1);
        }
    }

    /// Discards the rest of the current line (through its newline); returns its full length.
    fn skip_line(&mut self) -> io::Result<u64> {
        let mut bytes = self.filled as u64;
        self.filled = 0;
        self.consumed = 0;
        loop {
            self.fill(self.chunk_bytes)?;
            if self.filled == 0 {
                return Ok(bytes);
            }
            if let Some(nl) = memchr::memchr(b'\n', &self.buf[..self.filled]) {
                bytes += nl as u64 + 1;
                self.consumed = nl + 1;
                return Ok(bytes);
            }
            bytes += self.filled as u64;
            self.filled = 0;
        }
    }
}

/// Delivers a batch's hits in order and folds its counts into the totals.
struct Collector<F> {
    sink: F,
    stats: Stats,
    /// Lines before the batch being delivered.
    lines: u64,
    /// Stream offset of the batch being delivered.
    offset: u64,
    stopped: bool,
    /// Hits received by a parallel scan and not yet delivered, and their most at any time.
    pending_hits: usize,
    peak_pending_hits: usize,
}

impl<F: FnMut(Found<'_>) -> ControlFlow<()>> Collector<F> {
    /// A collector that has delivered nothing yet.
    fn new(sink: F) -> Collector<F> {
        Collector {
            sink,
            stats: Stats::default(),
            lines: 0,
            offset: 0,
            stopped: false,
            pending_hits: 0,
            peak_pending_hits: 0,
        }
    }

    fn deliver(&mut self, batch: &Batch) {
        for (i, hit) in batch.hits.iter().enumerate() {
            if self.stopped {
                break;
            }
            let position = Position::Line { line: self.lines + hit.line + 1, offset: self.offset + hit.offset };
            let observation = batch.observations.get(i).copied().flatten();
            let record = &batch.records[hit.record.clone()];
            let found = Found { position, record, outcome: hit.outcome.as_ref(), observation };
            debug_assert!(found.outcome != Outcome::NotMatched || observation.is_some());
            self.stopped = (self.sink)(found).is_break();
        }
        self.stats.add(&batch.stats);
        self.lines += batch.lines;
        self.offset += batch.stats.bytes;
    }

    fn oversized(&mut self, bytes: u64, limit: usize) {
        let error = DecodeError::new(ErrorKind::TooLarge(limit), 0);
        let position = Position::Line { line: self.lines + 1, offset: self.offset };
        let outcome = Outcome::Rejected(&error);
        if !self.stopped {
            self.stopped = (self.sink)(Found { position, record: &[], outcome, observation: None }).is_break();
        }
        self.stats.count(&outcome);
        self.stats.bytes += bytes;
        self.lines += 1;
        self.offset += bytes;
    }
}

/// Scans NDJSON from `reader`, calling `sink` for every record that matched, was suppressed
/// or was rejected (never for one that did not match), in input order; returns the counts.
/// `sink` may stop the scan early with `ControlFlow::Break`.
pub fn scan_ndjson<R, F>(rule: &Rule, options: &ScanOptions, reader: R, sink: F) -> Result<Stats, ScanError>
where
    R: Read + Send,
    F: FnMut(Found<'_>) -> ControlFlow<()>,
{
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let mut collector = Collector::new(sink);
    let result = if threads <= 1 {
        scan_serial(rule, options, reader, &mut collector)
    } else {
        scan_parallel(rule, options, reader, threads, &mut collector)
    };
    match result {
        Ok(()) => Ok(collector.stats),
        Err(error) => Err(ScanError { error, stats: collector.stats }),
    }
}

fn scan_serial<R, F>(rule: &Rule, options: &ScanOptions, reader: R, collector: &mut Collector<F>) -> io::Result<()>
where
    R: Read,
    F: FnMut(Found<'_>) -> ControlFlow<()>,
{
    let mut chunks = LineChunks::new(reader, options.chunk_bytes, options.limits.max_record_bytes);
    let mut scanner = Scanner::new(rule, options);
    let mut batch = Batch::default();
    while !collector.stopped {
        let Some((skipped, piece)) = chunks.next_piece()? else {
            break;
        };
        collector.offset += skipped;
        collector.stats.bytes += skipped;
        match piece {
            Piece::Lines(lines) => {
                let flow = scanner.scan_chunk(lines, &mut batch, BATCH_HITS, |part| {
                    collector.deliver(part);
                    part.clear();
                    if collector.stopped {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                });
                if flow.is_continue() {
                    collector.deliver(&batch);
                }
            }
            Piece::Oversized { bytes } => collector.oversized(bytes, options.limits.max_record_bytes),
        }
    }
    Ok(())
}

/// A chunk on its way to a scanning thread (recycled).
struct Work {
    seq: u64,
    chunk: Vec<u8>,
}

/// A result for the collector, in sequence order: `(seq, part)`.
enum Done {
    /// A part of a chunk's results; the last part brings the chunk back for reuse.
    Lines {
        batch: Batch,
        chunk: Option<Vec<u8>>,
    },
    Oversized {
        bytes: u64,
    },
    Skipped(u64),
}

/// Most hits (matches, suppressed matches, rejected records) one [`Batch`] holds: a chunk
/// with more is delivered in parts (see [`Scanner::scan_chunk`]). This is what bounds a
/// scan's memory whatever its lines' length: a hit (position, record range, [`Outcome`])
/// takes 64 bytes on 64-bit targets, so a chunk of one-byte bad lines would otherwise hold
/// 32 times its size in hits.
///
/// In a parallel scan only the chunk being delivered may have more than one part in flight:
/// a worker that has handed over a full part of a later chunk waits for its turn before
/// scanning on. So at most `workers` parts wait in the collector, at most `4 * workers` in
/// its queue and one is filled per worker: `(6 * threads + 1) * BATCH_HITS` hits (about
/// 3.4 MB at 2 threads), plus the chunks in flight (`chunk_bytes` each: about `7 * threads`). The
/// cost is one hand-over per `BATCH_HITS` hits, and nothing on input with few hits.
const BATCH_HITS: usize = 4096;

fn scan_parallel<R, F>(
    rule: &Rule,
    options: &ScanOptions,
    reader: R,
    threads: usize,
    collector: &mut Collector<F>,
) -> io::Result<()>
where
    R: Read + Send,
    F: FnMut(Found<'_>) -> ControlFlow<()>,
{
    scan_parallel_with(rule, options, reader, threads, BATCH_HITS, collector)
}

fn scan_parallel_with<R, F>(
    rule: &Rule,
    options: &ScanOptions,
    reader: R,
    threads: usize,
    max_hits: usize,
    collector: &mut Collector<F>,
) -> io::Result<()>
where
    R: Read + Send,
    F: FnMut(Found<'_>) -> ControlFlow<()>,
{
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Condvar;
    // The reading thread mostly waits on I/O (or decompresses); every core scans.
    let workers = threads.max(1);
    // Bounded queues keep memory constant: a few chunks in flight per worker.
    let (work_tx, work_rx) = mpsc::sync_channel::<Work>(workers * 2);
    let work_rx = Arc::new(Mutex::new(work_rx));
    let (done_tx, done_rx) = mpsc::sync_channel::<((u64, u32), Done)>(workers * 4);
    // Delivered chunks and batches, for reuse.
    let chunk_pool = Mutex::new(Vec::<Vec<u8>>::new());
    let batch_pool = Mutex::new(Vec::<Batch>::new());
    let take_batch = || batch_pool.lock().ok().and_then(|mut pool| pool.pop()).unwrap_or_default();
    let stop = AtomicBool::new(false);
    // The sequence number being delivered: a worker with a later chunk waits for it before
    // scanning past its first part.
    let turn = (Mutex::new(0u64), Condvar::new());

    std::thread::scope(|scope| -> io::Result<()> {
        for _ in 0..workers {
            let work_rx = Arc::clone(&work_rx);
            let done_tx = done_tx.clone();
            let (stop, turn, take_batch) = (&stop, &turn, &take_batch);
            scope.spawn(move || {
                let mut scanner = Scanner::new(rule, options);
                loop {
                    let next = work_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok(Work { seq, chunk })) = next else {
                        break;
                    };
                    let mut batch = take_batch();
                    let mut part = 0u32;
                    let flow = scanner.scan_chunk(&chunk, &mut batch, max_hits, |full| {
                        let full = std::mem::replace(full, take_batch());
                        if done_tx.send(((seq, part), Done::Lines { batch: full, chunk: None })).is_err() {
                            return ControlFlow::Break(());
                        }
                        part += 1;
                        let (current, wake) = turn;
                        let Ok(mut current) = current.lock() else {
                            return ControlFlow::Break(());
                        };
                        while *current < seq && !stop.load(Ordering::Relaxed) {
                            current = match wake.wait(current) {
                                Ok(current) => current,
                                Err(_) => return ControlFlow::Break(()),
                            };
                        }
                        if stop.load(Ordering::Relaxed) {
                            ControlFlow::Break(())
                        } else {
                            ControlFlow::Continue(())
                        }
                    });
                    if flow.is_break()
                        || done_tx.send(((seq, part), Done::Lines { batch, chunk: Some(chunk) })).is_err()
                    {
                        break;
                    }
                }
            });
        }
        // Only the workers may hold the queue's receiving end: when they are gone, the
        // reader's next send fails and it stops.
        drop(work_rx);
        let reader_done = done_tx;
        let (stop, chunk_pool) = (&stop, &chunk_pool);
        let reading = scope.spawn(move || -> io::Result<()> {
            let mut chunks = LineChunks::new(reader, options.chunk_bytes, options.limits.max_record_bytes);
            let mut seq = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let Some((skipped, piece)) = chunks.next_piece()? else {
                    break;
                };
                if skipped > 0 {
                    if reader_done.send(((seq, 0), Done::Skipped(skipped))).is_err() {
                        break;
                    }
                    seq += 1;
                }
                let sent = match piece {
                    Piece::Lines(lines) => {
                        let mut chunk = chunk_pool.lock().ok().and_then(|mut pool| pool.pop()).unwrap_or_default();
                        chunk.clear();
                        chunk.extend_from_slice(lines);
                        work_tx.send(Work { seq, chunk }).is_ok()
                    }
                    Piece::Oversized { bytes } => reader_done.send(((seq, 0), Done::Oversized { bytes })).is_ok(),
                };
                if !sent {
                    break;
                }
                seq += 1;
            }
            Ok(())
        });
        // Deliver in sequence order, part by part.
        let mut pending: BTreeMap<(u64, u32), Done> = BTreeMap::new();
        let mut next = (0u64, 0u32);
        'receiving: for (key, done) in done_rx.iter() {
            if let Done::Lines { batch, .. } = &done {
                collector.pending_hits += batch.hits.len();
                collector.peak_pending_hits = collector.peak_pending_hits.max(collector.pending_hits);
            }
            pending.insert(key, done);
            while let Some(done) = pending.remove(&next) {
                match done {
                    Done::Lines { mut batch, chunk } => {
                        collector.pending_hits -= batch.hits.len();
                        collector.deliver(&batch);
                        batch.clear();
                        if let Ok(mut pool) = batch_pool.lock() {
                            pool.push(batch);
                        }
                        match chunk {
                            Some(chunk) => {
                                if let Ok(mut pool) = chunk_pool.lock() {
                                    pool.push(chunk);
                                }
                                next = (next.0 + 1, 0);
                            }
                            None => next.1 += 1,
                        }
                    }
                    Done::Oversized { bytes } => {
                        collector.oversized(bytes, options.limits.max_record_bytes);
                        next = (next.0 + 1, 0);
                    }
                    Done::Skipped(bytes) => {
                        collector.offset += bytes;
                        collector.stats.bytes += bytes;
                        next = (next.0 + 1, 0);
                    }
                }
                if collector.stopped {
                    stop.store(true, Ordering::Relaxed);
                }
                if next.1 == 0 || collector.stopped {
                    // A new chunk's turn (or the end): wake the workers waiting for it.
                    if let Ok(mut current) = turn.0.lock() {
                        *current = next.0;
                    }
                    turn.1.notify_all();
                }
                if collector.stopped {
                    break 'receiving;
                }
            }
        }
        drop(done_rx);
        reading.join().unwrap_or_else(|_| Err(io::Error::other("the reading thread panicked")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bound of [`BATCH_HITS`], without measuring memory: a parallel scan of a file of
    /// one-byte bad lines, with 32,768 lines a chunk and parts of 100 hits, never has more
    /// than a few parts' hits waiting in the collector, and reports every line in order.
    #[test]
    fn parallel_scans_hold_a_bounded_number_of_hits() {
        let lines = 400_000u64;
        let input = "x\n".repeat(lines as usize);
        let rule = Rule::default();
        let options = ScanOptions { threads: 3, chunk_bytes: 64 << 10, ..ScanOptions::default() };
        let max_hits = 100;
        let mut expected_line = 0;
        let sink = |found: Found<'_>| {
            expected_line += 1;
            assert_eq!(found.position.line(), Some(expected_line));
            assert!(matches!(found.outcome, Outcome::Rejected(_)));
            ControlFlow::Continue(())
        };
        let mut collector = Collector::new(sink);
        scan_parallel_with(&rule, &options, input.as_bytes(), 3, max_hits, &mut collector).expect("scan");
        let (stats, peak) = (collector.stats, collector.peak_pending_hits);
        assert_eq!((stats.records, stats.rejected, stats.bytes), (lines, lines, 2 * lines));
        assert_eq!(expected_line, lines);
        // Waiting: one part per worker of a later chunk, the queue's 4 per worker, and the
        // current chunk's part.
        assert!(peak <= (3 + 3 * 4 + 1) * max_hits, "peak of {peak} hits waiting");
        assert!(peak >= max_hits);
    }

    /// The size [`BATCH_HITS`]'s memory bound is computed with.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_hit_takes_64_bytes() {
        assert_eq!(std::mem::size_of::<Hit>(), 64);
    }

    /// Without parts, a chunk's hits would all wait: the test above can fail.
    #[test]
    fn one_part_per_chunk_holds_a_whole_chunk() {
        let input = "x\n".repeat(200_000);
        let rule = Rule::default();
        let options = ScanOptions { threads: 2, chunk_bytes: 64 << 10, ..ScanOptions::default() };
        let mut collector = Collector::new(|_: Found<'_>| ControlFlow::Continue(()));
        scan_parallel_with(&rule, &options, input.as_bytes(), 2, usize::MAX, &mut collector).expect("scan");
        assert!(collector.peak_pending_hits >= 32 << 10, "peak {}", collector.peak_pending_hits);
    }
}
