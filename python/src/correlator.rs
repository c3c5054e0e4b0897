//! `Correlator`: core's correlation [`Session`] (either stateful profile) as a Python object, fed records and
//! Arrow batches in input order, returning the correlation alerts each call completes.
//!
//! ```text
//!  feed(records)       ─► JSON bytes (event::append_event) ─┐
//!  feed_arrow(batches) ─► BatchView::write_json per row ─────┴► Decoder (the session's
//!      paths) ─► Session::feed (observe, correlate) ─► Alert
//! ```
//!
//! Every record goes through the bytes a scan of the same events decodes: a `dict` is
//! serialised as `Rule.scan_records` serialises it, an Arrow row is written as the JSON record
//! `Rule.alerts_arrow` writes alerts from. So an alert is the one `Rule.scan_records(...,
//! profile=...)` writes for the same records (for Arrow: the rows' records), byte for byte;
//! the anchor's `dcom_detect.source` is its position among everything this
//! correlator was fed (`line` and `offset` for records, as `scan_records` numbers them; `row`
//! for Arrow rows), counted from 1 across calls.
//!
//! A dict is serialised rather than read in place (as `Rule.matches` reads it) because the
//! alerts carry each record's `offset`, the sum of the serialised lengths of the records
//! before it, and the anchor's whole record.
//!
//! # Cost
//! Per record: one serialisation (dicts) or JSON write (Arrow rows) into a reused buffer, one
//! decode of the fields the correlation reads, core's `observe` and correlator step; a copy of
//! the record for an anchor candidate (a COM server start or an explorer child). Memory is
//! bounded by core's limits (`correlate::Limits`, `ElasticLimits`) whatever the input's length. Arrow
//! batches are read with the interpreter released; records need it (they are Python objects).

use std::sync::Arc;

use dcom_detect_core::correlate::{Profile, Session, SessionStats};
use dcom_detect_core::source::arrow::ColumnMap;
use dcom_detect_core::{AlertOptions, Decoder, Position, Rule};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyString};

use crate::arrow::{self, Failure};
use crate::errors;
use crate::event;
use crate::rule::{py_str, PyRule};
use crate::scan::{Alert, AlertData};

type SessionOf<'r> = Session<'r>;

self_cell::self_cell!(
    /// A session and the rule it borrows, kept alive together.
    struct Running {
        owner: Arc<Rule>,
        #[not_covariant]
        dependent: SessionOf,
    }
);

/// A profile with stateful rules, by name (`elastic` or `extended`).
fn parse_profile(profile: &str) -> PyResult<Profile> {
    match crate::rule::parse_profile(profile)? {
        Profile::Seed => Err(PyValueError::new_err(
            "the seed profile has no correlation: use Rule.matches, Rule.alerts_arrow or Rule.scan for its alerts",
        )),
        stateful => Ok(stateful),
    }
}

/// A stateful correlation run (core's `Session`): feed events in input order (records or
/// Arrow batches), get back the correlation alerts each call completes, and call `finish()`
/// at the end of the input for the rest. One thread at a time (calls from several threads
/// are serialised by the object's borrow: a second concurrent call raises).
#[pyclass(module = "dcom_detect", name = "Correlator")]
pub struct Correlator {
    /// None once finished.
    running: Option<Running>,
    profile: Profile,
    include_original: bool,
    decoder: Decoder,
    /// The current record's JSON (reused).
    record: Vec<u8>,
    /// Records and rows fed (the next one is number `fed + 1`).
    fed: u64,
    /// Bytes of the records fed through `feed` (the next record's `offset`).
    offset: u64,
    /// Blank records (skipped, as a scan skips blank lines).
    blank: u64,
    /// Correlation alerts returned.
    alerts: u64,
    /// Alerts completed by a call that then raised: returned by the next call.
    pending: Vec<AlertData>,
    /// The session's counts when it finished.
    final_stats: Option<SessionStats>,
}

impl Correlator {
    pub(crate) fn create(rule: Arc<Rule>, profile: &str, include_original: bool) -> PyResult<Correlator> {
        let profile = parse_profile(profile)?;
        let options = AlertOptions { include_original };
        let running = Running::new(rule, |rule| Session::new(rule, profile, options));
        Ok(Correlator {
            running: Some(running),
            profile,
            include_original,
            decoder: Decoder::new(),
            record: Vec::new(),
            fed: 0,
            offset: 0,
            blank: 0,
            alerts: 0,
            pending: Vec::new(),
            final_stats: None,
        })
    }

    fn running(&mut self) -> PyResult<&mut Running> {
        self.running
            .as_mut()
            .ok_or_else(|| PyRuntimeError::new_err("the correlator is finished: create a new one for more input"))
    }

    /// Decodes `self.record` (the record at `position`) and feeds it to the session; the
    /// alerts it completes go to `self.pending`.
    fn feed_record(&mut self, position: Position) -> Result<(), dcom_detect_core::DecodeError> {
        let Correlator { running, decoder, record, pending, .. } = self;
        let Some(running) = running.as_mut() else { return Ok(()) };
        running.with_dependent_mut(|_, session| {
            let doc = decoder.decode(session.paths(), record)?;
            session.feed(&doc, record, None, position, |alert, file, position| {
                pending.push(AlertData::new(alert, file.map(Arc::from), Some(position)));
            });
            Ok(())
        })
    }

    /// Feeds one Python record; `index` is its position in the call's iterable.
    fn feed_one(&mut self, py: Python<'_>, item: &Bound<'_, PyAny>, index: Option<usize>) -> PyResult<()> {
        self.record.clear();
        match event::append_event(item, &mut self.record) {
            Ok(true) => {}
            Ok(false) => {
                let what = index.map_or_else(|| "record".to_owned(), |i| format!("record {i}"));
                return Err(errors::wrong_type(&what, event::EVENT_KINDS, item));
            }
            Err(e) => return Err(e.into_pyerr(py, index)),
        }
        self.fed += 1;
        let position = Position::Line { line: self.fed, offset: self.offset };
        self.offset += self.record.len() as u64;
        if self.record.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')) {
            self.blank += 1;
            return Ok(());
        }
        self.feed_record(position).map_err(|e| errors::bad_event(py, &e, index))
    }

    /// The alerts completed so far, handed over.
    fn take_alerts(&mut self) -> Vec<Alert> {
        self.alerts += self.pending.len() as u64;
        self.pending.drain(..).map(Alert::from).collect()
    }
}

#[pymethods]
impl Correlator {
    #[new]
    #[pyo3(signature = (rule = None, *, profile = "extended", include_original = false))]
    fn new(rule: Option<&Bound<'_, PyRule>>, profile: &str, include_original: bool) -> PyResult<Correlator> {
        let rule = match rule {
            Some(rule) => Arc::clone(&rule.get().rule),
            None => Arc::new(Rule::default()),
        };
        Correlator::create(rule, profile, include_original)
    }

    /// The profile this correlator runs (`"elastic"` or `"extended"`).
    #[getter]
    fn profile(&self) -> &'static str {
        self.profile.name()
    }

    /// Whether alerts carry their anchor's record as `event.original`.
    #[getter]
    fn include_original(&self) -> bool {
        self.include_original
    }

    /// Records and rows fed so far (the position the next one gets is this plus one).
    #[getter]
    fn fed(&self) -> u64 {
        self.fed
    }

    /// Whether `finish()` was called.
    #[getter]
    fn finished(&self) -> bool {
        self.running.is_none()
    }

    /// Feeds records in input order: one record (a dict, or JSON text as str / bytes) or an
    /// iterable of them. Returns the correlation alerts they complete, in the order core
    /// reports them. Records are numbered across calls (`Alert.line`, `Alert.offset` as
    /// `Rule.scan_records` numbers them); a blank str or bytes record is counted and skipped.
    /// A record that cannot be read raises (`TypeError`, `BadEventError` with its index in
    /// this call): the records before it were fed and the alerts they completed are returned
    /// by the next call; the records after it were not fed.
    fn feed(&mut self, py: Python<'_>, records: &Bound<'_, PyAny>) -> PyResult<Vec<Alert>> {
        self.running()?;
        let single = records.is_instance_of::<PyDict>()
            || records.is_instance_of::<PyString>()
            || records.is_instance_of::<PyBytes>()
            || records.is_instance_of::<PyByteArray>();
        if single {
            self.feed_one(py, records, None)?;
        } else {
            let iterator = records.try_iter().map_err(|_| {
                errors::wrong_type("records", "a record (dict, JSON str or bytes) or an iterable of records", records)
            })?;
            for (index, item) in iterator.enumerate() {
                self.feed_one(py, &item?, Some(index))?;
            }
        }
        Ok(self.take_alerts())
    }

    /// Feeds Arrow data in input order, row after row: anything `Rule.alerts_arrow` reads (a
    /// pyarrow `RecordBatch`, `Table` or `RecordBatchReader`, a polars or pandas DataFrame,
    /// any Arrow PyCapsule producer), with the same `columns` mapping for the rule's fields.
    /// Columns may be flat (`process.parent.name`) or nested structs; the correlation reads
    /// `@timestamp`, `host`, `event`, `process` (pids, entity ids, args, names), `source`,
    /// `destination`, `network` and `winlog.logon` from the row's JSON record. Returns the
    /// correlation alerts they complete; rows are numbered across calls (`Alert.row`).
    #[pyo3(signature = (data, *, columns = None))]
    fn feed_arrow(
        &mut self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        columns: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<Alert>> {
        self.running()?;
        let columns: ColumnMap = arrow::column_map(columns)?;
        let imported = arrow::import(py, data)?;
        let rule = Arc::clone(self.running()?.borrow_owner());
        let outcome = py.detach(|| {
            let mut failure = None;
            let result = arrow::for_each_batch(&rule, &columns, imported, |view| {
                for index in 0..view.len() {
                    self.record.clear();
                    view.write_json(index, &mut self.record);
                    self.fed += 1;
                    if let Err(error) = self.feed_record(Position::Row { row: self.fed }) {
                        failure = Some((self.fed, error));
                        // Stops the walk; `failure` says why.
                        return Err(Failure::Arrow(arrow_schema::ArrowError::ComputeError(String::new())));
                    }
                }
                Ok(())
            });
            (result, failure)
        });
        match outcome {
            (_, Some((row, error))) => {
                let message = format!("row {row}: its record could not be read: {error}");
                Err(errors::bad_event_parts(py, &message, &error.kind().to_string(), Some(error.offset()), None))
            }
            (Err(failure), None) => Err(failure.into_pyerr(py)),
            (Ok(()), None) => Ok(self.take_alerts()),
        }
    }

    /// Ends the input: returns the alerts of what the correlator still holds (and any left by
    /// a call that raised). The correlator takes no input afterwards; `stats` stays readable.
    fn finish(&mut self, py: Python<'_>) -> PyResult<Vec<Alert>> {
        let Some(mut running) = self.running.take() else {
            return Err(PyRuntimeError::new_err("the correlator is already finished"));
        };
        let pending = &mut self.pending;
        py.detach(|| {
            running.with_dependent_mut(|_, session| {
                session.finish(|alert, file, position| {
                    pending.push(AlertData::new(alert, file.map(Arc::from), Some(position)));
                })
            })
        });
        self.final_stats = Some(stats_of(&running));
        Ok(self.take_alerts())
    }

    /// Core's counts for this run so far (see `CorrelatorStats`).
    #[getter]
    fn stats(&self) -> CorrelatorStats {
        let core = match (&self.running, &self.final_stats) {
            (Some(running), _) => stats_of(running),
            (None, Some(stats)) => *stats,
            (None, None) => SessionStats::default(),
        };
        CorrelatorStats::new(core, self.fed, self.blank, self.alerts + self.pending.len() as u64)
    }

    fn __repr__(&self) -> String {
        let state = if self.running.is_some() { "" } else { ", finished" };
        format!("Correlator(profile={}, fed={}{state})", py_str(self.profile.name()), self.fed)
    }
}

fn stats_of(running: &Running) -> SessionStats {
    running.with_dependent(|_, session| session.stats())
}

/// The counts of a correlation run: what was fed, what core's correlator reports (evictions,
/// lateness, expiry: everything that could hide a correlation), and the alerts returned.
#[pyclass(frozen, get_all, module = "dcom_detect", name = "CorrelatorStats")]
#[derive(Clone, Debug)]
pub struct CorrelatorStats {
    /// Records and rows fed.
    records: u64,
    /// Blank records (skipped).
    blank: u64,
    /// Records that gave an observation (a process start, an inbound connection, a network
    /// logon with a host and a time).
    observations: u64,
    /// Correlations found (alerts returned, or held for the next call).
    correlations: u64,
    /// Correlation alerts handed over or ready.
    alerts: u64,
    /// Observations older than what their host had already evaluated (beyond the allowed
    /// lateness): evaluated out of order, their partners may have expired.
    late: u64,
    /// Observations evaluated before the lateness had passed because their host's reorder
    /// buffer was full.
    released_early: u64,
    /// Pending items pushed out by newer ones (a full host).
    evicted_pending: u64,
    /// Hosts evicted for new ones, with everything they held.
    evicted_hosts: u64,
    /// Local-time events of a host whose clock offset was not yet known.
    unaligned: u64,
    /// Times a host's time jumped back by more than the rewind limit and its state started
    /// afresh.
    rewinds: u64,
    /// Sysmon 3 connections whose local end was guessed.
    side_guessed: u64,
    /// Correlations whose alert could not be written (the anchor record no longer decodes).
    unwritten: u64,
    /// Whether anything that could hide a correlation happened: late observations, early
    /// releases, evictions, or unwritten alerts (core's `SessionSummary::lossy`).
    lossy: bool,
}

impl CorrelatorStats {
    /// The counts of either profile (the other profile's are zero): the `elastic` profile's
    /// events, sequences and bounds map onto the same names; it has no hosts, clocks or sides.
    fn new(core: SessionStats, records: u64, blank: u64, alerts: u64) -> CorrelatorStats {
        let s = core.summary();
        CorrelatorStats {
            records,
            blank,
            observations: s.observations,
            correlations: s.correlations,
            alerts,
            late: s.late,
            released_early: s.released_early,
            evicted_pending: s.evicted_pending,
            evicted_hosts: s.evicted_hosts,
            unaligned: s.unaligned,
            rewinds: s.rewinds,
            side_guessed: s.side_guessed,
            unwritten: s.unwritten,
            lossy: s.lossy(),
        }
    }
}

#[pymethods]
impl CorrelatorStats {
    /// The counts as a new dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (name, value) in self.items() {
            d.set_item(name, value)?;
        }
        Ok(d)
    }

    fn __repr__(&self) -> String {
        let parts: Vec<String> = self.items().iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("CorrelatorStats({})", parts.join(", "))
    }
}

impl CorrelatorStats {
    fn items(&self) -> [(&'static str, u64); 13] {
        [
            ("records", self.records),
            ("blank", self.blank),
            ("observations", self.observations),
            ("correlations", self.correlations),
            ("alerts", self.alerts),
            ("late", self.late),
            ("released_early", self.released_early),
            ("evicted_pending", self.evicted_pending),
            ("evicted_hosts", self.evicted_hosts),
            ("unaligned", self.unaligned),
            ("rewinds", self.rewinds),
            ("side_guessed", self.side_guessed),
            ("unwritten", self.unwritten),
        ]
    }
}
