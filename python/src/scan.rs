//! `Scan`: core's streaming scan on a Rust thread, delivering `Alert`s to a Python iterator.
//!
//! ```text
//!  source ──► scan thread (core: scan_path / scan_ndjson / Scanner, AlertWriter) ──► bounded
//!  channel ──► Scan.__next__ (receives with the interpreter released) ──► Alert
//! ```
//! The thread runs without the interpreter except to pull data from Python sources (a file
//! object's `read(n)`, an iterable's next record), which it does with the interpreter held
//! for just that call. Alerts, rejected records, suppressed matches and skipped files travel
//! in input order through one channel of at most [`CHANNEL_ITEMS`] items, so a consumer that
//! stops reading pauses the scan and memory stays bounded whatever the input. Iterating the
//! `Scan` yields the alerts and keeps the first `retain` rejected records, suppressed matches
//! and skipped files ([`Retained`]); `Scan.events()` yields every item. Counts are shared
//! through [`Shared`], exact, and readable at any time. Dropping or closing the `Scan` asks
//! the thread to stop at the next record.
//!
//! Paths (one or many, files or directories) are walked and recognised by core's
//! [`Inputs`]; each file is scanned in its format by core.
//!
//! Everything a scan decides (what a record is, how it is numbered and decoded, what
//! matches, what an alert contains) is core's; this module moves bytes and results across.

use std::io::{self, Read};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use dcom_detect_core::correlate::{Profile, Session};
use dcom_detect_core::scan::{scan_ndjson, Found, Outcome, Position, ScanError, ScanOptions, Scanner, Stats};
use dcom_detect_core::source::arrow::ColumnMap;
use dcom_detect_core::source::maybe_gzip;
use dcom_detect_core::source::{scan_opened_with, Format, Input, Inputs, Opened, SkipReason};
use dcom_detect_core::{AlertOptions, AlertWriter, BranchSet, Origin, Rule};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyDict, PyIterator, PyList, PyString, PyTuple};

use crate::errors;
use crate::event;
use crate::rule::{branch_names, py_str};

/// Items (alerts, rejected records, suppressed matches, skipped files) in flight between the
/// scan thread and the iterator.
const CHANNEL_ITEMS: usize = 256;

/// Bytes per chunk of NDJSON. A chunk's results (an entry of about 56 bytes per rejected
/// record) live until they are delivered; core delivers a chunk with more than 4096 of them
/// in parts and lets only the chunk being delivered have more than one part in flight, so
/// they take a few MB whatever the lines' length. A parallel scan has up to about 17 chunks in
/// flight: a quarter of core's default of 1 MiB keeps a million 25-byte bad lines, and 20
/// million one-byte ones, near 22 MB (`python/benches/bad_lines_rss.py`) at the same speed on
/// good data (64 KiB would cost a third of it).
const CHUNK_BYTES: usize = 256 << 10;

/// How often a waiting iterator checks for Ctrl-C and refreshes the progress bar.
const TICK: Duration = Duration::from_millis(100);

/// The options of `Rule.scan` that reach the scan.
pub(crate) struct ScanArgs {
    /// Where Parquet files hold the fields (ECS path → column path).
    pub(crate) columns: ColumnMap,
    pub(crate) progress: bool,
    pub(crate) threads: usize,
    pub(crate) prefilter: bool,
    pub(crate) include_original: bool,
    /// How many rejected records, suppressed matches and skipped files iteration keeps.
    pub(crate) retain: usize,
    /// The profile whose stateful rules run beside the seed rule.
    pub(crate) profile: Profile,
}

/// What a scan reads.
pub(crate) enum Source {
    /// Files and directories (checked to exist when the scan was created, so that a missing
    /// path fails at once), walked and recognised by core's `Inputs`.
    Paths(Vec<PathBuf>),
    /// The process's standard input.
    Stdin,
    /// A binary file object (anything whose `read(n)` returns bytes).
    Reader(Py<PyAny>),
    /// An iterator of records (`str`, `bytes` or `dict`), one record per item.
    Records(Py<PyIterator>),
}

/// Why a scan stopped before the end of its input.
enum Failure {
    /// The input (the file named, when there are several) could not be read.
    Io(io::Error, Option<Arc<str>>),
    /// Python code the scan called (a file object's `read`, an iterator) raised.
    Python(PyErr),
}

/// State shared by the scan thread and the `Scan` object.
struct Shared {
    /// Set when the `Scan` is closed or dropped: the thread stops at the next record.
    cancelled: AtomicBool,
    /// Bytes read from the source as stored (compressed bytes of a gzip file): the progress.
    source_bytes: AtomicU64,
    /// Bytes of NDJSON read (after decompression), for live stats.
    ndjson_bytes: AtomicU64,
    live: Mutex<Live>,
}

#[derive(Default)]
struct Live {
    /// Live: `matched`, `suppressed` and `rejected` (and, for iterables, every count); final
    /// when `complete`.
    stats: Stats,
    /// Alerts of the profile's stateful rules (`elastic` or `extended`).
    correlations: u64,
    complete: bool,
    /// Stats are final (the thread has finished), whether or not the input was read to its end.
    finished: bool,
    failure: Option<Failure>,
}

/// One result of a scan, in input order.
pub(crate) enum Item {
    Alert(AlertData),
    Rejected(Rejected),
    Suppressed(Suppressed),
    Skipped(Skipped),
}

impl Item {
    fn into_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(match self {
            Item::Alert(a) => Py::new(py, Alert::from(a))?.into_any(),
            Item::Rejected(r) => Py::new(py, r)?.into_any(),
            Item::Suppressed(s) => Py::new(py, s)?.into_any(),
            Item::Skipped(s) => Py::new(py, s)?.into_any(),
        })
    }
}

/// What iterating a `Scan` for alerts keeps of the other items: the first `limit` of each kind.
#[derive(Default)]
struct Retained {
    limit: usize,
    rejected: Vec<Rejected>,
    suppressed: Vec<Suppressed>,
    skipped: Vec<Skipped>,
}

impl Retained {
    fn keep(&mut self, item: Item) {
        match item {
            Item::Alert(_) => {}
            Item::Rejected(r) if self.rejected.len() < self.limit => self.rejected.push(r),
            Item::Suppressed(s) if self.suppressed.len() < self.limit => self.suppressed.push(s),
            Item::Skipped(s) if self.skipped.len() < self.limit => self.skipped.push(s),
            _ => {}
        }
    }
}

impl Shared {
    fn live(&self) -> MutexGuard<'_, Live> {
        // A panic while holding the lock leaves plain counters: still worth reading.
        self.live.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }
}

/// An alert on its way to Python.
pub(crate) struct AlertData {
    json: String,
    branches: BranchSet,
    /// The correlation rule's short name, for the alert of a correlation.
    correlation: Option<&'static str>,
    file: Option<Arc<str>>,
    position: Option<Position>,
    timestamp: Option<String>,
    host: Option<String>,
    user: Option<String>,
}

/// A progress bar (`dcom_detect._progress.Bar`).
struct Progress {
    bar: Py<PyAny>,
    /// What the bar counts.
    unit: ProgressUnit,
    last: Instant,
    total: Option<u64>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ProgressUnit {
    Bytes,
    Records,
}

/// A scan in progress: iterate it for `Alert`s.
#[pyclass(frozen, module = "dcom_detect", name = "Scan")]
pub struct Scan {
    /// None once the scan has finished and its end has been reported.
    receiver: Mutex<Option<Receiver<Item>>>,
    shared: Arc<Shared>,
    retained: Mutex<Retained>,
    yielded: AtomicU64,
    progress: Mutex<Option<Progress>>,
    description: String,
}

impl Scan {
    /// Starts scanning `source` (what `Rule.scan` takes: see [`classify`]).
    pub(crate) fn start(py: Python<'_>, rule: Arc<Rule>, source: &Bound<'_, PyAny>, args: ScanArgs) -> PyResult<Scan> {
        let (source, file_name, description) = classify(py, source)?;
        Scan::start_source(py, rule, source, file_name, description, args)
    }

    /// Starts scanning records (what `Rule.scan_records` takes: see [`classify_records`]).
    pub(crate) fn start_records(
        py: Python<'_>,
        rule: Arc<Rule>,
        records: &Bound<'_, PyAny>,
        args: ScanArgs,
    ) -> PyResult<Scan> {
        let (source, description) = classify_records(py, records)?;
        Scan::start_source(py, rule, source, None, description, args)
    }

    fn start_source(
        py: Python<'_>,
        rule: Arc<Rule>,
        source: Source,
        file_name: Option<String>,
        description: String,
        args: ScanArgs,
    ) -> PyResult<Scan> {
        let shared = Arc::new(Shared {
            cancelled: AtomicBool::new(false),
            source_bytes: AtomicU64::new(0),
            ndjson_bytes: AtomicU64::new(0),
            live: Mutex::new(Live::default()),
        });
        let progress = if args.progress { Some(Progress::new(py, &source, &description)?) } else { None };
        let options = ScanOptions {
            prefilter: args.prefilter,
            threads: args.threads,
            chunk_bytes: CHUNK_BYTES,
            profile: args.profile,
            ..ScanOptions::default()
        };
        let alert_options = AlertOptions { include_original: args.include_original };
        let (sender, receiver) = mpsc::sync_channel(CHANNEL_ITEMS);
        let job = Job {
            rule,
            options,
            columns: args.columns,
            alert_options,
            source,
            file_name: file_name.map(Arc::from),
            sender,
            shared: Arc::clone(&shared),
        };
        std::thread::Builder::new()
            .name("dcom-detect-scan".into())
            .spawn(move || job.run())
            .map_err(|e| PyRuntimeError::new_err(format!("could not start the scan thread: {e}")))?;
        Ok(Scan {
            receiver: Mutex::new(Some(receiver)),
            shared,
            retained: Mutex::new(Retained { limit: args.retain, ..Retained::default() }),
            yielded: AtomicU64::new(0),
            progress: Mutex::new(progress),
            description,
        })
    }

    fn progress(&self) -> MutexGuard<'_, Option<Progress>> {
        self.progress.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Refreshes the progress bar (at most every [`TICK`] unless `force`).
    fn tick(&self, py: Python<'_>, force: bool) -> PyResult<()> {
        let mut guard = self.progress();
        let Some(progress) = guard.as_mut() else { return Ok(()) };
        if !force && progress.last.elapsed() < TICK {
            return Ok(());
        }
        progress.last = Instant::now();
        let done = match progress.unit {
            ProgressUnit::Bytes => self.shared.source_bytes.load(Ordering::Relaxed),
            ProgressUnit::Records => self.shared.live().stats.records,
        };
        let alerts = self.yielded.load(Ordering::Relaxed);
        progress.bar.call_method1(py, "update_to", (done, alerts))?;
        Ok(())
    }

    /// Brings the bar to its end and closes it.
    fn close_progress(&self, py: Python<'_>) -> PyResult<()> {
        let progress = self.progress().take();
        if let Some(progress) = progress {
            let finished = self.shared.live().complete;
            let done = match (progress.unit, progress.total, finished) {
                (ProgressUnit::Bytes, Some(total), true) => total,
                (ProgressUnit::Bytes, _, _) => self.shared.source_bytes.load(Ordering::Relaxed),
                (ProgressUnit::Records, _, _) => self.shared.live().stats.records,
            };
            let alerts = self.yielded.load(Ordering::Relaxed);
            progress.bar.call_method1(py, "update_to", (done, alerts))?;
            progress.bar.call_method0(py, "close")?;
        }
        Ok(())
    }

    fn retained(&self) -> MutexGuard<'_, Retained> {
        self.retained.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits (without the interpreter, at most about [`TICK`]) for the next alert, or for the
    /// next item of any kind when `all`; other items are kept in [`Retained`] (or dropped
    /// beyond its limit) on the way.
    fn receive(&self, py: Python<'_>, all: bool) -> Result<Item, RecvTimeoutError> {
        py.detach(|| {
            let guard = self.receiver.lock().unwrap_or_else(|p| p.into_inner());
            let Some(receiver) = guard.as_ref() else { return Err(RecvTimeoutError::Disconnected) };
            let started = Instant::now();
            loop {
                let left = TICK.saturating_sub(started.elapsed());
                match receiver.recv_timeout(left) {
                    Ok(item @ Item::Alert(_)) => return Ok(item),
                    Ok(item) if all => return Ok(item),
                    Ok(item) => self.retained().keep(item),
                    Err(e) => return Err(e),
                }
                if started.elapsed() >= TICK {
                    return Err(RecvTimeoutError::Timeout);
                }
            }
        })
    }

    /// The next alert (or item of any kind, when `all`), or None at the end of the scan.
    fn next_item(&self, py: Python<'_>, all: bool) -> PyResult<Option<Item>> {
        loop {
            match self.receive(py, all) {
                Ok(item) => {
                    if matches!(item, Item::Alert(_)) {
                        self.yielded.fetch_add(1, Ordering::Relaxed);
                    }
                    self.tick(py, false)?;
                    return Ok(Some(item));
                }
                Err(RecvTimeoutError::Timeout) => {
                    py.check_signals()?;
                    self.tick(py, false)?;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let was_running = self.receiver.lock().unwrap_or_else(|p| p.into_inner()).take().is_some();
                    if !was_running {
                        return Ok(None);
                    }
                    self.close_progress(py)?;
                    let failure = self.shared.live().failure.take();
                    return match failure {
                        None => Ok(None),
                        Some(failure) => Err(self.failure_error(py, failure)),
                    };
                }
            }
        }
    }

    fn next_alert(&self, py: Python<'_>) -> PyResult<Option<Alert>> {
        match self.next_item(py, false)? {
            Some(Item::Alert(data)) => Ok(Some(Alert::from(data))),
            Some(_) => unreachable!("receive(all = false) returns alerts only"),
            None => Ok(None),
        }
    }

    fn failure_error(&self, py: Python<'_>, failure: Failure) -> PyErr {
        match failure {
            Failure::Io(error, file) => errors::unreadable(py, file.as_deref().unwrap_or(&self.description), &error),
            Failure::Python(cause) => {
                let error = errors::unreadable_message(py, &format!("{}: reading stopped: {cause}", self.description));
                error.set_cause(py, Some(cause));
                error
            }
        }
    }
}

#[pymethods]
impl Scan {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Alert>> {
        self.next_alert(py)
    }

    /// The scan's counts: final once `done`; while running, `matched`, `suppressed`,
    /// `rejected` and `bytes` are current.
    #[getter]
    fn stats(&self) -> ScanStats {
        let live = self.shared.live();
        let mut stats = live.stats;
        if !live.finished {
            stats.bytes = stats.bytes.max(self.shared.ndjson_bytes.load(Ordering::Relaxed));
        }
        ScanStats::new(stats, live.correlations, live.complete)
    }

    /// The first `retain` records that could not be read, among those iteration has passed,
    /// in input order (`stats.rejected` counts them all).
    #[getter]
    fn rejected(&self) -> Vec<Rejected> {
        self.retained().rejected.clone()
    }

    /// The first `retain` records on which the rule fired but an exception item suppressed
    /// the alert, among those iteration has passed, in input order.
    #[getter]
    fn suppressed(&self) -> Vec<Suppressed> {
        self.retained().suppressed.clone()
    }

    /// The first `retain` files skipped while walking the paths, among those iteration has
    /// passed, in input order.
    #[getter]
    fn skipped(&self) -> Vec<Skipped> {
        self.retained().skipped.clone()
    }

    /// How many rejected records, suppressed matches and skipped files (each) iteration keeps.
    #[getter]
    fn retain(&self) -> usize {
        self.retained().limit
    }

    /// Every result in input order: `Alert`, `Rejected`, `Suppressed` and `Skipped` items,
    /// through the same bounded channel; the items it yields are not kept.
    fn events(slf: &Bound<'_, Self>) -> ScanEvents {
        ScanEvents { scan: slf.clone().unbind() }
    }

    /// Whether the scan thread has finished (the input was read to its end, or failed, or the
    /// scan was closed).
    #[getter]
    fn done(&self) -> bool {
        self.shared.live().finished
    }

    /// Stops the scan (the rest of the input is not read) and closes the progress bar.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.shared.cancelled.store(true, Ordering::Relaxed);
        self.receiver.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.close_progress(py)
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    /// Runs the scan to its end and returns all its alerts as a pandas DataFrame.
    fn to_pandas<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let this = slf.get();
        if this.yielded.load(Ordering::Relaxed) > 0 {
            return Err(PyRuntimeError::new_err(
                "some alerts of this scan were already consumed; start a new scan, or collect the \
                 alerts yourself and use dcom_detect.alerts_to_frame(alerts)",
            ));
        }
        let alerts = PyList::empty(py);
        while let Some(alert) = this.next_alert(py)? {
            alerts.append(alert)?;
        }
        py.import("dcom_detect._frame")?.call_method1("alerts_to_frame", (alerts,))
    }

    fn __repr__(&self) -> String {
        let live = self.shared.live();
        let state = if live.finished { "done" } else { "running" };
        format!(
            "<Scan {} {state}: {} alerts yielded, {} records, {} suppressed, {} rejected>",
            py_str(&self.description),
            self.yielded.load(Ordering::Relaxed),
            live.stats.records,
            live.stats.suppressed,
            live.stats.rejected
        )
    }
}

/// `Scan.events()`: every result of a scan, in input order.
#[pyclass(frozen, module = "dcom_detect", name = "ScanEvents")]
pub struct ScanEvents {
    scan: Py<Scan>,
}

#[pymethods]
impl ScanEvents {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match self.scan.get().next_item(py, true)? {
            Some(item) => Ok(Some(item.into_py(py)?)),
            None => Ok(None),
        }
    }

    /// The scan.
    #[getter]
    fn scan(&self, py: Python<'_>) -> Py<Scan> {
        self.scan.clone_ref(py)
    }
}

impl Drop for Scan {
    fn drop(&mut self) {
        self.shared.cancelled.store(true, Ordering::Relaxed);
        if let Some(progress) = self.progress().take() {
            Python::try_attach(|py| {
                let _ = progress.bar.call_method0(py, "close");
            });
        }
    }
}

impl Progress {
    fn new(py: Python<'_>, source: &Source, description: &str) -> PyResult<Progress> {
        let (unit, total) = match source {
            Source::Paths(paths) => {
                let total = match paths.as_slice() {
                    [one] => std::fs::metadata(one).ok().filter(|m| m.is_file()).map(|m| m.len()),
                    _ => None,
                };
                (ProgressUnit::Bytes, total)
            }
            Source::Stdin | Source::Reader(_) => (ProgressUnit::Bytes, None),
            Source::Records(_) => (ProgressUnit::Records, None),
        };
        let unit_name = match unit {
            ProgressUnit::Bytes => "B",
            ProgressUnit::Records => "records",
        };
        let bar = py.import("dcom_detect._progress")?.getattr("Bar")?.call1((total, unit_name, description))?;
        Ok(Progress { bar: bar.unbind(), unit, last: Instant::now() - TICK, total })
    }
}

const SCAN_EXPECTED: &str = "a path (str or os.PathLike) to a file or directory, a list or tuple of paths, \
     '-' for standard input, or a binary file object";

/// The hint for records given where paths are expected.
const USE_SCAN_RECORDS: &str = "to scan records (dicts or JSON text), use Rule.scan_records(records)";

/// Whether `text` starts (after whitespace) like JSON text rather than a path.
fn looks_like_json(text: &str) -> bool {
    matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['))
}

/// A path given to `Rule.scan`: `str` or `os.PathLike`; None for anything else.
fn as_path(item: &Bound<'_, PyAny>) -> PyResult<Option<PathBuf>> {
    if item.is_instance_of::<PyString>() || item.hasattr("__fspath__")? {
        return Ok(item.extract::<PathBuf>().ok());
    }
    Ok(None)
}

/// Checks that a path given to `Rule.scan` exists (a missing path fails at once, with the
/// fix when it looks like a record).
fn check_path(py: Python<'_>, path: &PathBuf, what: &str) -> PyResult<()> {
    match std::fs::metadata(path) {
        Ok(_) => Ok(()),
        Err(error) => {
            let name = path.to_string_lossy();
            if looks_like_json(&name) {
                return Err(PyTypeError::new_err(format!(
                    "{what} looks like a JSON record, not a path: {USE_SCAN_RECORDS}, or Rule.evaluate(record) for one"
                )));
            }
            Err(errors::unreadable(py, &name, &error))
        }
    }
}

/// Works out what kind of source `Rule.scan` was given: paths (a `str` or `os.PathLike`, or
/// a list, tuple or other iterable of them: files or directories), `-`, or a binary file
/// object. Records are refused with the fix (`Rule.scan_records`): a path is never taken
/// for a record, nor a record for a path.
fn classify(py: Python<'_>, source: &Bound<'_, PyAny>) -> PyResult<(Source, Option<String>, String)> {
    if let Some(path) = as_path(source)? {
        let name = path.to_string_lossy().into_owned();
        if name == "-" {
            return Ok((Source::Stdin, Some(name.clone()), "<stdin>".into()));
        }
        check_path(py, &path, "source")?;
        return Ok((Source::Paths(vec![path]), Some(name.clone()), name));
    }
    if source.is_instance_of::<PyString>() || source.hasattr("__fspath__")? {
        return Err(errors::wrong_type("source", SCAN_EXPECTED, source));
    }
    if source.is_instance_of::<PyBytes>() || source.is_instance_of::<pyo3::types::PyByteArray>() {
        return Err(PyTypeError::new_err(format!(
            "source must be {SCAN_EXPECTED}, not {}: wrap data in io.BytesIO(...), pass a path as str, \
             or {USE_SCAN_RECORDS}",
            errors::type_name(source)
        )));
    }
    if source.is_instance_of::<PyDict>() {
        return Err(PyTypeError::new_err(format!(
            "source must be {SCAN_EXPECTED}, not dict: to evaluate one event use Rule.evaluate; {USE_SCAN_RECORDS}"
        )));
    }
    if source.hasattr("read")? {
        let io = py.import("io")?;
        if source.is_instance(&io.getattr("TextIOBase")?)? {
            return Err(PyTypeError::new_err(
                "source is a text file object: open the file in binary mode ('rb'), or pass its path",
            ));
        }
        let name = source.getattr("name").ok().and_then(|n| n.extract::<String>().ok());
        let description = name.clone().unwrap_or_else(|| format!("<{}>", errors::type_name(source)));
        return Ok((Source::Reader(source.clone().unbind()), name, description));
    }
    let Ok(items) = source.try_iter() else {
        return Err(errors::wrong_type("source", SCAN_EXPECTED, source));
    };
    // Paths are few: collect them, refusing the first item that is not one.
    let mut paths = Vec::new();
    for (index, item) in items.enumerate() {
        let item = item?;
        let what = format!("item {index} of source");
        match as_path(&item)? {
            Some(path) if path.as_os_str() == "-" => {
                return Err(PyTypeError::new_err(format!(
                    "{what} is '-': scan standard input on its own, Rule.scan('-')"
                )));
            }
            Some(path) => {
                check_path(py, &path, &what)?;
                paths.push(path);
            }
            None => {
                let kind = errors::type_name(&item);
                let records = item.is_instance_of::<PyDict>()
                    || item.is_instance_of::<PyBytes>()
                    || item.is_instance_of::<pyo3::types::PyByteArray>();
                let message = match (records, paths.is_empty()) {
                    (true, true) => {
                        format!("Rule.scan takes paths, and {what} is a record ({kind}): {USE_SCAN_RECORDS}")
                    }
                    (true, false) => format!(
                        "source mixes paths and records ({what} is {kind}): give paths to Rule.scan, \
                         and records to Rule.scan_records"
                    ),
                    (false, _) => format!("{what} must be a path (str or os.PathLike), not {kind}"),
                };
                return Err(PyTypeError::new_err(message));
            }
        }
    }
    let description = match paths.as_slice() {
        [one] => one.to_string_lossy().into_owned(),
        _ => format!("{} paths", paths.len()),
    };
    Ok((Source::Paths(paths), None, description))
}

/// Works out what `Rule.scan_records` was given: an iterable of records (dicts, or JSON
/// text as `str` / `bytes`), one record per item. A path, or a list whose first item is a
/// path, is refused with the fix (`Rule.scan`).
fn classify_records(py: Python<'_>, records: &Bound<'_, PyAny>) -> PyResult<(Source, String)> {
    const USE_SCAN: &str = "to scan files or directories, use Rule.scan(paths)";
    let kind = errors::type_name(records);
    if records.hasattr("__fspath__")?
        || (records.is_instance_of::<PyString>() && !looks_like_json(&records.extract::<String>()?))
    {
        return Err(PyTypeError::new_err(format!(
            "records must be an iterable of records (dicts or JSON text), not a path ({kind}): {USE_SCAN}"
        )));
    }
    if records.is_instance_of::<PyString>()
        || records.is_instance_of::<PyBytes>()
        || records.is_instance_of::<pyo3::types::PyByteArray>()
        || records.is_instance_of::<PyDict>()
    {
        return Err(PyTypeError::new_err(format!(
            "records must be an iterable of records, not one {kind}: wrap it in a list ([record]), \
             or use Rule.evaluate(record)"
        )));
    }
    if records.hasattr("read")? {
        return Err(PyTypeError::new_err(format!(
            "records must be an iterable of records, not a file object ({kind}): {USE_SCAN}"
        )));
    }
    // A list or tuple whose first item is a path was meant for Rule.scan.
    if let Ok(first) = records.get_item(0) {
        if records.is_instance_of::<PyList>() || records.is_instance_of::<PyTuple>() {
            let path_like = first.hasattr("__fspath__")?
                || (first.is_instance_of::<PyString>() && {
                    let text: String = first.extract()?;
                    !looks_like_json(&text) && !text.trim().is_empty() && std::fs::metadata(&text).is_ok()
                });
            if path_like {
                return Err(PyTypeError::new_err(format!(
                    "item 0 of records is a path to an existing file or directory, not a record: {USE_SCAN}"
                )));
            }
        }
    }
    let _ = py;
    match records.try_iter() {
        Ok(iterator) => Ok((Source::Records(iterator.unbind()), format!("<{kind}>"))),
        Err(_) => {
            Err(errors::wrong_type("records", "an iterable of records (dicts, or JSON text as str or bytes)", records))
        }
    }
}

/// Everything the scan thread needs.
struct Job {
    rule: Arc<Rule>,
    options: ScanOptions,
    columns: ColumnMap,
    alert_options: AlertOptions,
    source: Source,
    file_name: Option<Arc<str>>,
    sender: SyncSender<Item>,
    shared: Arc<Shared>,
}

impl Job {
    // `(Failure, Stats)` is returned once per scan, not per record: its size is no cost.
    #[allow(clippy::result_large_err)]
    fn run(self) {
        let Job { rule, options, columns, alert_options, source, file_name, sender, shared } = self;
        let mut sink = Sink {
            rule: &rule,
            writer: AlertWriter::new(&rule, alert_options),
            session: options.profile.correlates().then(|| Session::new(&rule, options.profile, alert_options)),
            file: file_name,
            sender,
            shared: &shared,
        };
        let one_file = |result: Result<Stats, (Failure, Stats)>| {
            let count = |mut stats: Stats| {
                stats.files = 1;
                stats
            };
            result.map(count).map_err(|(failure, stats)| (failure, count(stats)))
        };
        let result: Result<Stats, (Failure, Stats)> = match source {
            Source::Paths(paths) => scan_paths(&rule, &options, &columns, paths, &mut sink),
            Source::Stdin => {
                one_file(ndjson(&rule, &options, &shared, maybe_gzip(stored(io::stdin(), &shared)), &mut sink))
            }
            Source::Reader(object) => {
                let reader = PyReader { object: Some(object), shared: Arc::clone(&shared) };
                one_file(ndjson(&rule, &options, &shared, maybe_gzip(stored(reader, &shared)), &mut sink))
            }
            Source::Records(iterator) => scan_records(&rule, &options, iterator, &mut sink),
        };
        if !shared.cancelled() {
            sink.finish();
        }
        let mut live = shared.live();
        match result {
            Ok(stats) => {
                live.stats = stats;
                live.complete = !shared.cancelled();
            }
            Err((failure, stats)) => {
                live.stats = stats;
                // A Python exception behind an I/O error says more than the I/O error.
                if live.failure.is_none() {
                    live.failure = Some(failure);
                }
            }
        }
        live.finished = true;
        // The sender is dropped on return: the iterator sees the end.
    }
}

fn io_failure(error: ScanError) -> (Failure, Stats) {
    (Failure::Io(error.error, None), error.stats)
}

/// Scans the files core's [`Inputs`] finds for `paths`, one after the other, each in its
/// format; skipped files are reported and counted. The first file that fails mid-way stops
/// the scan (its name goes with the error).
#[allow(clippy::result_large_err)]
fn scan_paths(
    rule: &Rule,
    options: &ScanOptions,
    columns: &ColumnMap,
    paths: Vec<PathBuf>,
    sink: &mut Sink<'_>,
) -> Result<Stats, (Failure, Stats)> {
    let shared = sink.shared;
    let mut totals = Stats::default();
    for input in Inputs::new(paths) {
        if shared.cancelled() {
            break;
        }
        match input {
            Input::Skipped { path, reason } => {
                totals.skipped_files += 1;
                shared.live().stats = totals;
                let unreadable = reason.is_unreadable() || matches!(reason, SkipReason::Unsupported(_));
                let skipped = Skipped { path: path.to_string_lossy().into(), reason: reason.to_string(), unreadable };
                if sink.sender.send(Item::Skipped(skipped)).is_err() {
                    break;
                }
            }
            Input::File(opened) => {
                let name: Arc<str> = opened.path.to_string_lossy().into();
                sink.file = Some(Arc::clone(&name));
                let result = scan_file(rule, options, columns, opened, sink);
                let (stats, failure) = match result {
                    Ok(stats) => (stats, None),
                    Err((failure, stats)) => (stats, Some(failure)),
                };
                totals.add(&stats);
                totals.files += 1;
                shared.live().stats = totals;
                if let Some(failure) = failure {
                    let failure = match failure {
                        Failure::Io(error, _) => Failure::Io(error, Some(name)),
                        other => other,
                    };
                    return Err((failure, totals));
                }
            }
        }
    }
    Ok(totals)
}

/// Scans one opened file in its format: NDJSON and gzip here (counting bytes for the
/// progress bar), EVTX and Parquet by core.
#[allow(clippy::result_large_err)]
fn scan_file(
    rule: &Rule,
    options: &ScanOptions,
    columns: &ColumnMap,
    opened: Opened,
    sink: &mut Sink<'_>,
) -> Result<Stats, (Failure, Stats)> {
    let shared = sink.shared;
    match opened.format {
        Format::Ndjson | Format::Gzip => {
            let raw = Counted { inner: opened.into_raw(), counter: sink.shared_arc(), ndjson: false };
            ndjson(rule, options, &sink.shared_arc(), maybe_gzip(raw), sink)
        }
        Format::Evtx | Format::Parquet => {
            let len = opened.len().unwrap_or(0);
            let result =
                scan_opened_with(rule, options, columns, opened, |found| sink.found(found)).map_err(io_failure);
            shared.source_bytes.fetch_add(len, Ordering::Relaxed);
            result
        }
    }
}

/// Scans NDJSON from `reader` (already wrapped for gzip); counts decompressed bytes.
// The error is returned once per scan: its size does not matter.
#[allow(clippy::result_large_err)]
fn ndjson<R: Read + Send + 'static>(
    rule: &Rule,
    options: &ScanOptions,
    shared: &Arc<Shared>,
    reader: io::Result<R>,
    sink: &mut Sink<'_>,
) -> Result<Stats, (Failure, Stats)> {
    let reader = reader.map_err(|e| (Failure::Io(e, None), Stats::default()))?;
    let reader = Counted { inner: reader, counter: Arc::clone(shared), ndjson: true };
    scan_ndjson(rule, options, reader, |found| sink.found(found)).map_err(io_failure)
}

/// Receives core's findings on the scan thread: alerts go to the channel, rejected records
/// and suppressed matches to the shared lists.
struct Sink<'s> {
    rule: &'s Rule,
    writer: AlertWriter<'s>,
    /// The stateful rules' run, with the `elastic` or `extended` profile.
    session: Option<Session<'s>>,
    file: Option<Arc<str>>,
    sender: SyncSender<Item>,
    shared: &'s Arc<Shared>,
}

impl Sink<'_> {
    fn shared_arc(&self) -> Arc<Shared> {
        Arc::clone(self.shared)
    }

    fn found(&mut self, found: Found<'_>) -> ControlFlow<()> {
        if self.shared.cancelled() {
            return ControlFlow::Break(());
        }
        if found.observation.is_some() {
            if let Some(mut session) = self.session.take() {
                let mut flow = ControlFlow::Continue(());
                session.feed_found(&found, self.file.as_deref(), |alert, file, position| {
                    if flow.is_continue() {
                        flow = self.correlation(alert, file, position);
                    }
                });
                self.session = Some(session);
                flow?;
            }
        }
        let Found { position, record, outcome, .. } = found;
        match outcome {
            Outcome::Matched(_) => {
                let origin = Origin { file: self.file.as_deref(), position: Some(position) };
                let alert = match self.writer.document(record, &origin) {
                    Ok(Some(alert)) => alert,
                    // A record core matched always yields an alert; if that ever breaks, the
                    // record is reported rather than lost.
                    Ok(None) => {
                        return self.reject(position, "internal error: a matched record gave no alert".into(), None);
                    }
                    Err(error) => {
                        return self.reject(
                            position,
                            format!("internal error writing the alert: {error}"),
                            Some(error.offset()),
                        );
                    }
                };
                self.shared.live().stats.matched += 1;
                let alert = AlertData::new(alert, self.file.clone(), Some(position));
                if self.sender.send(Item::Alert(alert)).is_err() {
                    return ControlFlow::Break(());
                }
            }
            Outcome::Rejected(error) => {
                return self.reject(position, error.kind().to_string(), Some(error.offset()));
            }
            // Suppressed by an exception item: no alert, but listed and counted.
            Outcome::Suppressed { branches, item } => {
                let suppressed = Suppressed {
                    file: self.file.clone(),
                    position,
                    branches,
                    item: self.rule.exceptions().items()[item].name().into(),
                    item_index: item,
                };
                self.shared.live().stats.suppressed += 1;
                return self.send(Item::Suppressed(suppressed));
            }
            // Core reports no such record; nothing to do if it ever did.
            Outcome::NotMatched => {}
        }
        ControlFlow::Continue(())
    }

    /// Sends the alert of a correlation.
    fn correlation(&self, alert: dcom_detect_core::Alert, file: Option<&str>, position: Position) -> ControlFlow<()> {
        self.shared.live().correlations += 1;
        self.send(Item::Alert(AlertData::new(alert, file.map(Arc::from), Some(position))))
    }

    /// Ends the correlation run: sends the alerts of what it still held.
    fn finish(&mut self) {
        if let Some(mut session) = self.session.take() {
            let mut flow = ControlFlow::Continue(());
            session.finish(|alert, file, position| {
                if flow.is_continue() {
                    flow = self.correlation(alert, file, position);
                }
            });
        }
    }

    /// Sends an item (waiting while the channel is full); stops the scan when the `Scan` is
    /// gone.
    fn send(&self, item: Item) -> ControlFlow<()> {
        match self.sender.send(item) {
            Ok(()) => ControlFlow::Continue(()),
            Err(_) => ControlFlow::Break(()),
        }
    }

    /// Counts and reports a rejected record.
    fn reject(&self, position: Position, reason: String, error_offset: Option<usize>) -> ControlFlow<()> {
        self.shared.live().stats.rejected += 1;
        self.send(Item::Rejected(Rejected {
            file: self.file.clone(),
            position,
            reason,
            error_offset: error_offset.map(|o| o as u64),
        }))
    }
}

impl AlertData {
    /// Core's alert, with where its record came from.
    pub(crate) fn new(alert: dcom_detect_core::Alert, file: Option<Arc<str>>, position: Option<Position>) -> AlertData {
        let timestamp = alert.timestamp().map(str::to_owned);
        let host = alert.host().map(str::to_owned);
        let user = alert.user().map(str::to_owned);
        let branches = alert.branches();
        let correlation = alert.correlation().map(|r| r.name());
        AlertData { json: alert.into_json(), branches, correlation, file, position, timestamp, host, user }
    }
}

/// One record per item of a Python iterator, through core's `Scanner::evaluate`.
///
/// Items are numbered from 1 (blank items too, so that iterating a file's lines numbers them
/// as the file scan does); `offset` is the sum of the UTF-8 lengths of the items before.
/// Blank items (only spaces, tabs, `\r` and `\n`) are counted as blank lines, as in a file.
/// Every item is parsed: the prefilter applies to byte streams only.
#[allow(clippy::result_large_err)]
fn scan_records(
    rule: &Rule,
    options: &ScanOptions,
    iterator: Py<PyIterator>,
    sink: &mut Sink<'_>,
) -> Result<Stats, (Failure, Stats)> {
    let mut scanner = Scanner::new(rule, options);
    let mut record = Vec::new();
    let mut stats = Stats::default();
    let mut line = 0u64;
    let mut offset = 0u64;
    let iterator = Some(iterator);
    let result = loop {
        if sink.shared.cancelled() {
            break Ok(());
        }
        record.clear();
        let next = Python::try_attach(|py| -> PyResult<Option<Result<(), String>>> {
            let Some(iterator) = iterator.as_ref() else { return Ok(None) };
            let Some(item) = iterator.bind(py).clone().next() else { return Ok(None) };
            let item = item?;
            Ok(Some(match event::append_event(&item, &mut record) {
                Ok(true) => Ok(()),
                Ok(false) if item.hasattr("__fspath__").unwrap_or(false) => Err(format!(
                    "the item is a path ({}), not a record: scan files with Rule.scan(paths)",
                    errors::type_name(&item)
                )),
                Ok(false) => Err(format!("the item is {}, not str, bytes or dict", errors::type_name(&item))),
                Err(e) => Err(e.into_pyerr(py, None).to_string()),
            }))
        });
        let item = match next {
            None => break Err(Failure::Io(io::Error::other("the Python interpreter is shutting down"), None)),
            Some(Err(err)) => break Err(Failure::Python(err)),
            Some(Ok(None)) => break Ok(()),
            Some(Ok(Some(item))) => item,
        };
        line += 1;
        let position = Position::Line { line, offset };
        offset += record.len() as u64;
        stats.bytes += record.len() as u64;
        if let Err(reason) = item {
            stats.records += 1;
            stats.rejected += 1;
            let flow = sink.reject(position, reason, None);
            sink.shared.live().stats = stats;
            if flow.is_break() {
                break Ok(());
            }
            continue;
        }
        if record.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')) {
            stats.blank_lines += 1;
            sink.shared.live().stats = stats;
            continue;
        }
        let (outcome, observation) = scanner.evaluate_observed(&record);
        stats.count(&outcome);
        let flow = match (&outcome, observation) {
            (Outcome::NotMatched, None) => ControlFlow::Continue(()),
            // As a scan reports them: a rejected record without its bytes.
            (Outcome::Rejected(_), _) => {
                sink.found(Found { position, record: &[], outcome: outcome.as_ref(), observation: None })
            }
            _ => sink.found(Found { position, record: &record, outcome: outcome.as_ref(), observation }),
        };
        // The sink counted too; the loop's own counts are the truth for this source.
        sink.shared.live().stats = stats;
        if flow.is_break() {
            break Ok(());
        }
    };
    // Release the iterator with the interpreter held.
    Python::try_attach(move |_py| drop(iterator));
    result.map(|()| stats).map_err(|failure| (failure, stats))
}

/// `reader`, counting the bytes read as stored (the progress of a scan).
fn stored<R: Read>(reader: R, shared: &Arc<Shared>) -> Counted<R> {
    Counted { inner: reader, counter: Arc::clone(shared), ndjson: false }
}

/// Counts the bytes read through it into [`Shared`].
struct Counted<R> {
    inner: R,
    counter: Arc<Shared>,
    /// Counts decompressed NDJSON (else bytes as stored).
    ndjson: bool,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let counter = if self.ndjson { &self.counter.ndjson_bytes } else { &self.counter.source_bytes };
        counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A Python binary file object as a `Read`: each read calls its `read(n)` with the
/// interpreter held.
struct PyReader {
    /// None once released.
    object: Option<Py<PyAny>>,
    shared: Arc<Shared>,
}

impl Read for PyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.shared.cancelled() || buf.is_empty() {
            return Ok(0);
        }
        let Some(object) = self.object.as_ref() else { return Ok(0) };
        let result = Python::try_attach(|py| -> PyResult<usize> {
            let data = object.bind(py).call_method1("read", (buf.len(),))?;
            if data.is_none() {
                return Err(PyTypeError::new_err("read() returned None: non-blocking streams are not supported"));
            }
            if data.is_instance_of::<PyString>() {
                return Err(PyTypeError::new_err("read() returned str: open the file in binary mode ('rb')"));
            }
            let bytes: PyBackedBytes = data.extract().map_err(|_| {
                PyTypeError::new_err(format!("read() returned {}, not bytes", errors::type_name(&data)))
            })?;
            if bytes.len() > buf.len() {
                return Err(PyTypeError::new_err(format!("read({}) returned {} bytes", buf.len(), bytes.len())));
            }
            buf[..bytes.len()].copy_from_slice(&bytes);
            Ok(bytes.len())
        });
        match result {
            Some(Ok(n)) => Ok(n),
            Some(Err(err)) => {
                let message = err.to_string();
                let mut live = self.shared.live();
                if live.failure.is_none() {
                    live.failure = Some(Failure::Python(err));
                }
                Err(io::Error::other(message))
            }
            None => Err(io::Error::other("the Python interpreter is shutting down")),
        }
    }
}

impl Drop for PyReader {
    fn drop(&mut self) {
        if let Some(object) = self.object.take() {
            Python::try_attach(move |_py| drop(object));
        }
    }
}

/// One ECS alert (`docs/semantics.md` §9), exactly as core's `AlertWriter` wrote it.
#[pyclass(frozen, module = "dcom_detect", name = "Alert")]
pub struct Alert {
    json: String,
    branches: BranchSet,
    correlation: Option<&'static str>,
    file: Option<Arc<str>>,
    /// None for alerts written without a position (`Rule.alerts_arrow(first_row=None)`).
    position: Option<Position>,
    timestamp: Option<String>,
    host: Option<String>,
    user: Option<String>,
}

impl From<AlertData> for Alert {
    fn from(a: AlertData) -> Alert {
        Alert {
            json: a.json,
            branches: a.branches,
            correlation: a.correlation,
            file: a.file,
            position: a.position,
            timestamp: a.timestamp,
            host: a.host,
            user: a.user,
        }
    }
}

/// The numeric getters of a class that knows where its record is (`fn located(&self) ->
/// Option<Position>`): one `#[pymethods]` block per class (pyo3's `multiple-pymethods`), so
/// `Alert`, `Rejected` and `Suppressed` describe a position in the same words.
macro_rules! position_getters {
    ($class:ty) => {
        #[pymethods]
        impl $class {
            /// 1-based line number (NDJSON files, streams and iterables), or None.
            #[getter]
            fn line(&self) -> Option<u64> {
                self.located().and_then(|p| p.line())
            }

            /// Byte offset of the line's start (in the decompressed stream), or None.
            #[getter]
            fn offset(&self) -> Option<u64> {
                self.located().and_then(|p| p.offset())
            }

            /// 1-based position of the record in an EVTX file, or None.
            #[getter]
            fn record(&self) -> Option<u64> {
                self.located().and_then(|p| p.record())
            }

            /// The EVTX record's `EventRecordID`, when it could be read, or None.
            #[getter]
            fn record_id(&self) -> Option<u64> {
                self.located().and_then(|p| p.record_id())
            }

            /// 1-based row of a table (Parquet, Arrow), or None.
            #[getter]
            fn row(&self) -> Option<u64> {
                self.located().and_then(|p| p.row())
            }
        }
    };
}

impl Alert {
    fn located(&self) -> Option<Position> {
        self.position
    }
}

impl Rejected {
    fn located(&self) -> Option<Position> {
        Some(self.position)
    }
}

impl Suppressed {
    fn located(&self) -> Option<Position> {
        Some(self.position)
    }
}

position_getters!(Alert);
position_getters!(Rejected);
position_getters!(Suppressed);

#[pymethods]
impl Alert {
    /// The alert as one line of JSON (no newline), byte for byte as every front end writes it.
    #[getter]
    fn json(&self) -> &str {
        &self.json
    }

    /// For the alert of a stateful rule, its name: `"D2"`, `"D2L"` or `"D3"`
    /// (`profile="extended"`), `"mmc20"`, `"shellwindows"` or `"hta"` (`profile="elastic"`);
    /// None for the seed rule's alerts.
    #[getter]
    fn correlation(&self) -> Option<&'static str> {
        self.correlation
    }

    /// The alert as a new dict (parsed from `json`).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import("json")?.call_method1("loads", (&self.json,))
    }

    /// The branches that fired, in rule order.
    #[getter]
    fn branches<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        branch_names(py, self.branches)
    }

    /// The branches as a bit set: 1 = office_child, 2 = dcomcnfg, 4 = dcom_command_line.
    #[getter]
    fn bits(&self) -> u8 {
        self.branches.bits()
    }

    /// The file the event came from (`-` for standard input), or None.
    #[getter]
    fn file(&self) -> Option<&str> {
        self.file.as_deref()
    }

    /// Where the event is, e.g. `line 3 (byte 1200)`, `record 7 (EventRecordID 9833)` or
    /// `row 12`; None for an alert written without a position.
    #[getter]
    fn position(&self) -> Option<String> {
        self.position.map(|p| p.to_string())
    }

    /// The event's `@timestamp` as written in the alert, or None.
    #[getter]
    fn timestamp(&self) -> Option<&str> {
        self.timestamp.as_deref()
    }

    /// `host.name` (or `host.hostname`) of the event, or None.
    #[getter]
    fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// `user.domain\user.name` (or `user.name`) of the event, or None.
    #[getter]
    fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    fn _repr_html_<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        slf.py().import("dcom_detect._render")?.call_method1("alert_html", (slf,))
    }

    fn __str__(&self) -> &str {
        &self.json
    }

    fn __repr__(&self) -> String {
        let branches: Vec<&str> = self.branches.iter().map(|b| b.name()).collect();
        let mut out = format!("<Alert {}", branches.join("+"));
        if let Some(host) = &self.host {
            out.push_str(&format!(" host={}", py_str(host)));
        }
        if let Some(timestamp) = &self.timestamp {
            out.push_str(&format!(" at {timestamp}"));
        }
        match (&self.file, self.position) {
            (Some(file), Some(position)) => out.push_str(&format!(" from {file}:{position}")),
            (Some(file), None) => out.push_str(&format!(" from {file}")),
            (None, Some(position)) => out.push_str(&format!(" from {position}")),
            (None, None) => {}
        }
        out.push('>');
        out
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Alert>().is_ok_and(|o| {
            let o = o.get();
            o.json == self.json && o.position == self.position && o.file == self.file
        })
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.json.hash(&mut h);
        h.finish()
    }
}

/// A record a scan could not read.
#[pyclass(frozen, module = "dcom_detect", name = "Rejected")]
#[derive(Clone)]
pub struct Rejected {
    file: Option<Arc<str>>,
    position: Position,
    reason: String,
    error_offset: Option<u64>,
}

#[pymethods]
impl Rejected {
    /// The file (`-` for standard input), or None.
    #[getter]
    fn file(&self) -> Option<&str> {
        self.file.as_deref()
    }

    /// Where the record is, e.g. `line 9 (byte 5120)`.
    #[getter]
    fn position(&self) -> String {
        self.position.to_string()
    }

    /// Why the record was rejected.
    #[getter]
    fn reason(&self) -> &str {
        &self.reason
    }

    /// Byte offset inside the record where reading failed, when known.
    #[getter]
    fn error_offset(&self) -> Option<u64> {
        self.error_offset
    }

    fn __str__(&self) -> String {
        let at = match self.error_offset {
            Some(o) => format!(" at byte {o} of the record"),
            None => String::new(),
        };
        match &self.file {
            Some(file) => format!("{file}: {}: {}{at}", self.position, self.reason),
            None => format!("{}: {}{at}", self.position, self.reason),
        }
    }

    fn __repr__(&self) -> String {
        format!("<Rejected {}>", self.__str__())
    }
}

/// A record on which the rule fired but an exception item suppressed the alert.
#[pyclass(frozen, module = "dcom_detect", name = "Suppressed")]
#[derive(Clone)]
pub struct Suppressed {
    file: Option<Arc<str>>,
    position: Position,
    branches: BranchSet,
    /// The suppressing item's name.
    item: Arc<str>,
    /// Its index in `Rule.exceptions`.
    item_index: usize,
}

#[pymethods]
impl Suppressed {
    /// The file (`-` for standard input), or None.
    #[getter]
    fn file(&self) -> Option<&str> {
        self.file.as_deref()
    }

    /// Where the record is, e.g. `line 9 (byte 5120)`.
    #[getter]
    fn position(&self) -> String {
        self.position.to_string()
    }

    /// The branches that fired, in rule order.
    #[getter]
    fn branches<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        branch_names(py, self.branches)
    }

    /// The branches as a bit set: 1 = office_child, 2 = dcomcnfg, 4 = dcom_command_line.
    #[getter]
    fn bits(&self) -> u8 {
        self.branches.bits()
    }

    /// The name of the exception item that suppressed the alert.
    #[getter]
    fn item(&self) -> &str {
        &self.item
    }

    /// The item's index in `Rule.exceptions`.
    #[getter]
    fn item_index(&self) -> usize {
        self.item_index
    }

    fn __str__(&self) -> String {
        let branches: Vec<&str> = self.branches.iter().map(|b| b.name()).collect();
        let what = format!("{} suppressed by {}", branches.join("+"), py_str(&self.item));
        match &self.file {
            Some(file) => format!("{file}: {}: {what}", self.position),
            None => format!("{}: {what}", self.position),
        }
    }

    fn __repr__(&self) -> String {
        format!("<Suppressed {}>", self.__str__())
    }
}

/// A file a scan of paths did not read, and why.
#[pyclass(frozen, module = "dcom_detect", name = "Skipped")]
#[derive(Clone)]
pub struct Skipped {
    path: Arc<str>,
    reason: String,
    unreadable: bool,
}

#[pymethods]
impl Skipped {
    /// The file's path (as found by walking the directory given).
    #[getter]
    fn path(&self) -> &str {
        &self.path
    }

    /// Why it was skipped: its content is none of the formats, it could not be read, ...
    #[getter]
    fn reason(&self) -> &str {
        &self.reason
    }

    /// Whether it was skipped because it could not be read (or its format is not built in),
    /// rather than because its content is not events.
    #[getter]
    fn unreadable(&self) -> bool {
        self.unreadable
    }

    fn __str__(&self) -> String {
        format!("{}: {}", self.path, self.reason)
    }

    fn __repr__(&self) -> String {
        format!("<Skipped {}>", self.__str__())
    }
}

/// The counts of a scan. They add up:
/// `records == matched + suppressed + not_matched + rejected`.
#[pyclass(frozen, eq, get_all, module = "dcom_detect", name = "ScanStats")]
#[derive(Clone, PartialEq, Eq)]
pub struct ScanStats {
    /// Records read (non-blank lines, EVTX records, or items).
    records: u64,
    /// Records on which the rule fired and raised an alert.
    matched: u64,
    /// Records on which the rule fired but an exception item suppressed the alert.
    suppressed: u64,
    /// Records on which it did not.
    not_matched: u64,
    /// Of `not_matched`: records the prefilter ruled out without parsing them.
    prefiltered: u64,
    /// Records that could not be read.
    rejected: u64,
    /// Blank lines (not records).
    blank_lines: u64,
    /// Input bytes (decompressed).
    bytes: u64,
    /// Files (and streams) scanned.
    files: u64,
    /// Files skipped while walking the paths (named by `Scan.skipped` / `Scan.events()`).
    skipped_files: u64,
    /// Alerts of the profile's stateful rules (`elastic` or `extended`); they are not in
    /// `matched`.
    correlations: u64,
    /// Whether the input was read to its end (False while running, after an error, or when
    /// the scan was closed early).
    complete: bool,
}

impl ScanStats {
    fn new(s: Stats, correlations: u64, complete: bool) -> ScanStats {
        ScanStats {
            correlations,
            records: s.records,
            matched: s.matched,
            suppressed: s.suppressed,
            not_matched: s.not_matched,
            prefiltered: s.prefiltered,
            rejected: s.rejected,
            blank_lines: s.blank_lines,
            bytes: s.bytes,
            files: s.files,
            skipped_files: s.skipped_files,
            complete,
        }
    }
}

#[pymethods]
impl ScanStats {
    /// The counts as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("records", self.records)?;
        d.set_item("matched", self.matched)?;
        d.set_item("suppressed", self.suppressed)?;
        d.set_item("not_matched", self.not_matched)?;
        d.set_item("prefiltered", self.prefiltered)?;
        d.set_item("rejected", self.rejected)?;
        d.set_item("blank_lines", self.blank_lines)?;
        d.set_item("bytes", self.bytes)?;
        d.set_item("files", self.files)?;
        d.set_item("skipped_files", self.skipped_files)?;
        d.set_item("correlations", self.correlations)?;
        d.set_item("complete", self.complete)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "ScanStats(records={}, matched={}, suppressed={}, not_matched={}, prefiltered={}, rejected={}, blank_lines={}, bytes={}, files={}, skipped_files={}, correlations={}, complete={})",
            self.records,
            self.matched,
            self.suppressed,
            self.not_matched,
            self.prefiltered,
            self.rejected,
            self.blank_lines,
            self.bytes,
            self.files,
            self.skipped_files,
            self.correlations,
            if self.complete { "True" } else { "False" }
        )
    }
}
