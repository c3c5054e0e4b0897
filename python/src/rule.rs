//! `Rule` and `Verdict`: core's rule (with its exceptions) and its verdicts, as Python
//! objects.

use std::sync::Arc;

use dcom_detect_core::alert::schema_name;
use dcom_detect_core::correlate::{Profile, UnknownProfile};
use dcom_detect_core::{Branch, BranchSet, CaseFolding, DecodeError, Metadata, Options, Rule, Text, METADATA};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::arrow;
use crate::errors;
use crate::event::{self, with_workspace};
use crate::exceptions::{self, ExceptionItem};
use crate::scan::{Scan, ScanArgs};
use crate::validate::ValidationReport;

/// Events are converted to JSON in batches of about this many bytes before the interpreter
/// is released to decode and match them (bounds memory for any iterable).
const BATCH_BYTES: usize = 4 << 20;

/// The compiled rule and its exceptions. Immutable; share it between threads.
#[pyclass(frozen, module = "dcom_detect", name = "Rule")]
pub struct PyRule {
    pub(crate) rule: Arc<Rule>,
    /// The exceptions file's JSON as given (kept for pickling); None without exceptions.
    exceptions_json: Option<Arc<[u8]>>,
    /// The list of items of the same JSON, parsed, when it has items: rules are equal when
    /// their options and these values are (so a rule built from a file equals one built from
    /// its `json.load`, or from its bare list of items).
    exceptions_value: Option<serde_json::Value>,
}

pub(crate) fn parse_case_folding(value: &Bound<'_, PyAny>) -> PyResult<CaseFolding> {
    let Ok(name) = value.cast::<PyString>() else {
        return Err(errors::wrong_type("case_folding", "'ascii' or 'unicode_simple'", value));
    };
    let name = name.to_cow()?;
    CaseFolding::from_name(&name)
        .ok_or_else(|| PyValueError::new_err(format!("case_folding must be 'ascii' or 'unicode_simple', not {name:?}")))
}

#[pymethods]
impl PyRule {
    #[new]
    #[pyo3(signature = (*, exceptions = None, case_folding = None), text_signature = "(*, exceptions=None, case_folding='ascii')")]
    fn new(
        py: Python<'_>,
        exceptions: Option<&Bound<'_, PyAny>>,
        case_folding: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyRule> {
        let case_folding = match case_folding {
            Some(value) => parse_case_folding(value)?,
            None => CaseFolding::default(),
        };
        let options = Options { case_folding };
        let Some(exceptions) = exceptions.filter(|e| !e.is_none()) else {
            return Ok(PyRule { rule: Arc::new(Rule::new(options)), exceptions_json: None, exceptions_value: None });
        };
        let source = exceptions::read_source(py, exceptions)?;
        let rule = Rule::with_exceptions(options, &source.json)
            .map_err(|e| errors::bad_exceptions(py, &e, source.path.as_deref()))?;
        // Core accepted the same bytes: they are `{"exceptions": [items]}` or `[items]`.
        let exceptions_value = match serde_json::from_slice(&source.json) {
            _ if rule.exceptions().is_empty() => None,
            Ok(serde_json::Value::Object(mut top)) => top.remove("exceptions"),
            Ok(items) => Some(items),
            Err(_) => None,
        };
        Ok(PyRule { rule: Arc::new(rule), exceptions_json: Some(source.json.into()), exceptions_value })
    }

    /// The rule's EQL text, byte for byte as Elastic ships it.
    #[getter]
    fn source(&self) -> &'static str {
        self.rule.source()
    }

    /// The case folding of `in~` and `:` (`"ascii"` or `"unicode_simple"`).
    #[getter]
    fn case_folding(&self) -> &'static str {
        self.rule.options().case_folding.name()
    }

    /// The exception items, in file order (an empty tuple without exceptions).
    #[getter]
    fn exceptions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.rule.exceptions().items().iter().map(ExceptionItem::of))
    }

    /// The rule's metadata as a new dict.
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        metadata_dict(py, self.rule.metadata())
    }

    /// The rule as Sigma YAML (core's `export::sigma`): the seed rule, then with `"elastic"` or
    /// `"extended"` each of the profile's correlation rules over its base rules.
    #[pyo3(signature = (*, profile = "seed"))]
    fn to_sigma(&self, profile: &str) -> PyResult<String> {
        crate::sigma::sigma(profile)
    }

    /// Evaluates the rule on one event.
    fn evaluate(&self, py: Python<'_>, event: &Bound<'_, PyAny>) -> PyResult<Verdict> {
        with_workspace(|ws| {
            let document = event::document(py, &self.rule, ws, event, None)?;
            let verdict = self.rule.evaluate(&document);
            Ok(Verdict::from_core(&self.rule, &verdict, schema_name(document.schema())))
        })
    }

    /// Whether the event raises an alert (the rule fires and no exception item suppresses it).
    fn matches(&self, py: Python<'_>, event: &Bound<'_, PyAny>) -> PyResult<bool> {
        with_workspace(|ws| Ok(self.rule.matches(&event::document(py, &self.rule, ws, event, None)?)))
    }

    /// Whether each event of an iterable raises an alert.
    fn match_many(&self, py: Python<'_>, events: &Bound<'_, PyAny>) -> PyResult<Vec<bool>> {
        if events.is_instance_of::<PyDict>()
            || events.is_instance_of::<PyString>()
            || events.is_instance_of::<pyo3::types::PyBytes>()
        {
            return Err(PyTypeError::new_err(format!(
                "events must be an iterable of events, not a single {} (use Rule.matches for one event)",
                errors::type_name(events)
            )));
        }
        let iterator = events
            .try_iter()
            .map_err(|_| errors::wrong_type("events", "an iterable of dicts, JSON str or JSON bytes", events))?;
        let mut results = Vec::new();
        let mut batch = Batch::default();
        for (index, item) in iterator.enumerate() {
            let item = item?;
            if item.is_instance_of::<PyDict>() {
                // Read in place, with the interpreter held (after the JSON text before it).
                self.match_batch(py, &mut batch, &mut results)?;
                batch.first += 1;
                let matched = with_workspace(|ws| {
                    Ok::<_, PyErr>(self.rule.matches(&event::document(py, &self.rule, ws, &item, Some(index))?))
                })?;
                results.push(matched);
                continue;
            }
            event::append_event_or_raise(py, &item, &mut batch.records, Some(index))?;
            batch.ends.push(batch.records.len());
            if batch.records.len() >= BATCH_BYTES {
                self.match_batch(py, &mut batch, &mut results)?;
            }
        }
        self.match_batch(py, &mut batch, &mut results)?;
        Ok(results)
    }

    /// Scans paths (files of any format, recognised by content, or directories walked
    /// recursively), standard input or a binary file object. `retain` (default 1000): how
    /// many rejected records, suppressed matches and skipped files iteration keeps.
    /// `profile`: `"seed"` (default, the rule alone), `"elastic"` (also Elastic's three DCOM
    /// sequence rules) or `"extended"` (also the correlation rules D2, D2L, D3); with either
    /// of the last two every record is decoded, the prefilter is not used.
    #[pyo3(signature = (source, *, progress = false, threads = 0, prefilter = true, include_original = false, columns = None, retain = 1000, profile = "seed"))]
    #[allow(clippy::too_many_arguments)]
    fn scan(
        &self,
        py: Python<'_>,
        source: &Bound<'_, PyAny>,
        progress: bool,
        threads: usize,
        prefilter: bool,
        include_original: bool,
        columns: Option<&Bound<'_, PyAny>>,
        retain: usize,
        profile: &str,
    ) -> PyResult<Scan> {
        let columns = arrow::column_map(columns)?;
        let profile = parse_profile(profile)?;
        Scan::start(
            py,
            Arc::clone(&self.rule),
            source,
            ScanArgs { columns, progress, threads, prefilter, include_original, retain, profile },
        )
    }

    /// Scans records (dicts, or JSON text as str / bytes), one per item of an iterable.
    #[pyo3(signature = (records, *, progress = false, include_original = false, retain = 1000, profile = "seed"))]
    fn scan_records(
        &self,
        py: Python<'_>,
        records: &Bound<'_, PyAny>,
        progress: bool,
        include_original: bool,
        retain: usize,
        profile: &str,
    ) -> PyResult<Scan> {
        Scan::start_records(
            py,
            Arc::clone(&self.rule),
            records,
            ScanArgs {
                columns: Default::default(),
                progress,
                threads: 1,
                prefilter: false,
                include_original,
                retain,
                profile: parse_profile(profile)?,
            },
        )
    }

    /// Whether each row of Arrow data raises an alert (numpy bool array), optionally with the
    /// bits of the branches that fired (numpy uint8 array).
    #[pyo3(signature = (data, *, columns = None, branches = false, threads = 0))]
    fn match_arrow<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
        columns: Option<&Bound<'py, PyAny>>,
        branches: bool,
        threads: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        arrow::match_arrow(py, &self.rule, data, columns, branches, threads)
    }

    /// Whether each row of a pandas or polars DataFrame raises an alert, as a boolean Series
    /// of the same kind.
    #[pyo3(signature = (frame, *, columns = None, threads = 0))]
    fn match_frame<'py>(
        slf: &Bound<'py, Self>,
        frame: &Bound<'py, PyAny>,
        columns: Option<&Bound<'py, PyAny>>,
        threads: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        py.import("dcom_detect._frame")?.call_method1("match_frame", (slf, frame, columns, threads))
    }

    /// The ECS alert of every row of Arrow data that raises one, in row order.
    #[pyo3(
        signature = (data, *, columns = None, file = None, first_row = Some(1), include_original = false),
        text_signature = "($self, data, *, columns=None, file=None, first_row=1, include_original=False)"
    )]
    fn alerts_arrow(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        columns: Option<&Bound<'_, PyAny>>,
        file: Option<String>,
        first_row: Option<u64>,
        include_original: bool,
    ) -> PyResult<Vec<crate::scan::Alert>> {
        arrow::alerts_arrow(py, &self.rule, data, columns, file, first_row, include_original)
    }

    /// A stateful correlation run with this rule (`Correlator`): feed it records or Arrow
    /// batches in input order, get back the correlation alerts each call completes.
    #[pyo3(signature = (*, profile = "extended", include_original = false))]
    fn correlator(&self, profile: &str, include_original: bool) -> PyResult<crate::correlator::Correlator> {
        crate::correlator::Correlator::create(Arc::clone(&self.rule), profile, include_original)
    }

    /// Runs the validation report with this rule (its case folding and exceptions).
    #[pyo3(signature = (paths = None))]
    fn validate(&self, py: Python<'_>, paths: Option<&Bound<'_, PyAny>>) -> PyResult<ValidationReport> {
        ValidationReport::run(py, &self.rule, paths)
    }

    fn __repr__(&self) -> String {
        let items = self.rule.exceptions().items();
        if self.exceptions_json.is_none() {
            return format!("Rule(case_folding={})", py_str(self.case_folding()));
        }
        let names: Vec<String> = items.iter().map(|i| py_str(i.name())).collect();
        let plural = if items.len() == 1 { "item" } else { "items" };
        let listed = if names.is_empty() { String::new() } else { format!(": {}", names.join(", ")) };
        format!("Rule(exceptions=<{} {plural}{listed}>, case_folding={})", items.len(), py_str(self.case_folding()))
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyRule>().is_ok_and(|o| {
            let o = o.get();
            o.rule.options() == self.rule.options() && o.exceptions_value == self.exceptions_value
        })
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.case_folding().hash(&mut h);
        // Equal values have the same items: hash their names.
        for item in self.rule.exceptions().items() {
            item.name().hash(&mut h);
        }
        h.finish()
    }

    /// Pickling: a rule is rebuilt from its options and its exceptions file's JSON.
    fn __getnewargs_ex__<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyTuple>, Bound<'py, PyDict>)> {
        let kwargs = PyDict::new(py);
        if let Some(json) = &self.exceptions_json {
            kwargs.set_item("exceptions", PyBytes::new(py, json))?;
        }
        kwargs.set_item("case_folding", self.case_folding())?;
        Ok((PyTuple::empty(py), kwargs))
    }
}

/// JSON records of a `match_many` batch, back to back.
#[derive(Default)]
struct Batch {
    records: Vec<u8>,
    /// End offset of each record in `records`.
    ends: Vec<usize>,
    /// Index of the batch's first event in the whole iterable.
    first: usize,
}

impl PyRule {
    /// Decodes and matches a batch with the interpreter released; clears the batch.
    fn match_batch(&self, py: Python<'_>, batch: &mut Batch, results: &mut Vec<bool>) -> PyResult<()> {
        if batch.ends.is_empty() {
            return Ok(());
        }
        let rule = &*self.rule;
        let outcome: Result<(), (usize, DecodeError)> = py.detach(|| {
            with_workspace(|ws| {
                let mut start = 0;
                for (i, &end) in batch.ends.iter().enumerate() {
                    let record = &batch.records[start..end];
                    start = end;
                    match rule.evaluate_json(&mut ws.decoder, record, |_, verdict| verdict.is_match()) {
                        Ok(matched) => results.push(matched),
                        Err(error) => return Err((batch.first + i, error)),
                    }
                }
                Ok(())
            })
        });
        batch.first += batch.ends.len();
        batch.records.clear();
        batch.ends.clear();
        outcome.map_err(|(index, error)| errors::bad_event(py, &error, Some(index)))
    }
}

/// The metadata of the rule as a dict (see `RuleMetadata` in `_types.py`).
pub(crate) fn metadata_dict<'py>(py: Python<'py>, meta: &Metadata) -> PyResult<Bound<'py, PyDict>> {
    let attack = |r: &dcom_detect_core::rule::AttackRef| -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("id", r.id)?;
        d.set_item("name", r.name)?;
        d.set_item("reference", r.reference)?;
        Ok(d)
    };
    let threat = PyDict::new(py);
    threat.set_item("framework", meta.threat.framework)?;
    threat.set_item("tactic", attack(&meta.threat.tactic)?)?;
    threat.set_item("technique", attack(&meta.threat.technique)?)?;
    threat.set_item("subtechnique", attack(&meta.threat.subtechnique)?)?;
    let sources = PyList::empty(py);
    for source in meta.data_sources {
        let d = PyDict::new(py);
        d.set_item("name", source.name)?;
        d.set_item("index", source.index)?;
        sources.append(d)?;
    }
    let d = PyDict::new(py);
    d.set_item("id", meta.id)?;
    d.set_item("name", meta.name)?;
    d.set_item("description", meta.description)?;
    d.set_item("version", meta.version)?;
    d.set_item("ruleset", meta.ruleset)?;
    d.set_item("language", meta.language)?;
    d.set_item("severity", meta.severity)?;
    d.set_item("risk_score", meta.risk_score)?;
    d.set_item("confidence", meta.confidence)?;
    d.set_item("references", meta.references.to_vec())?;
    d.set_item("threat", threat)?;
    d.set_item("data_sources", sources)?;
    d.set_item("false_positives", meta.false_positives.to_vec())?;
    d.set_item("branches", Branch::ALL.map(Branch::name).to_vec())?;
    d.set_item("guide", meta.guide)?;
    let branch_guides = PyDict::new(py);
    for g in meta.branch_guides {
        branch_guides.set_item(g.branch.name(), g.guide)?;
    }
    d.set_item("branch_guides", branch_guides)?;
    Ok(d)
}

/// The module-level metadata (the same for every rule).
pub(crate) fn rule_metadata(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    metadata_dict(py, &METADATA)
}

/// Why `office_child` fired: the COM host and the child it started.
#[pyclass(frozen, eq, hash, get_all, module = "dcom_detect", name = "OfficeChild")]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OfficeChild {
    /// The `process.parent.name` value found in the COM host list.
    parent_name: String,
    /// The `process.name` value found in the child list.
    name: String,
}

#[pymethods]
impl OfficeChild {
    fn __repr__(&self) -> String {
        format!("OfficeChild(parent_name={}, name={})", py_str(&self.parent_name), py_str(&self.name))
    }
}

/// Why `dcom_command_line` fired: the command line value(s) matching `*DCOM*` and `*-Exec*`.
#[pyclass(frozen, eq, hash, get_all, module = "dcom_detect", name = "DcomCommandLine")]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DcomCommandLine {
    /// The value that matched `*DCOM*`.
    dcom: String,
    /// The value that matched `*-Exec*` (the same value unless the field has several).
    exec: String,
}

#[pymethods]
impl DcomCommandLine {
    fn __repr__(&self) -> String {
        format!("DcomCommandLine(dcom={}, exec={})", py_str(&self.dcom), py_str(&self.exec))
    }
}

/// The verdict of the rule on one event: the branches that fired, the values that fired
/// them, and the exception item that suppressed the alert. Truthy when the event raises an
/// alert.
#[pyclass(frozen, eq, hash, module = "dcom_detect", name = "Verdict")]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Verdict {
    office_child: Option<OfficeChild>,
    dcomcnfg: Option<String>,
    dcom_command_line: Option<DcomCommandLine>,
    /// The name of the suppressing item.
    suppressed_by: Option<String>,
    schema: &'static str,
}

fn text(t: Text<'_>) -> String {
    t.to_string()
}

impl Verdict {
    fn from_core(rule: &Rule, v: &dcom_detect_core::Verdict<'_>, schema: &'static str) -> Verdict {
        Verdict {
            office_child: v.office_child.map(|o| OfficeChild { parent_name: text(o.parent_name), name: text(o.name) }),
            dcomcnfg: v.dcomcnfg.map(text),
            dcom_command_line: v.dcom_command_line.map(|c| DcomCommandLine { dcom: text(c.dcom), exec: text(c.exec) }),
            suppressed_by: v.suppressed_by.map(|i| rule.exceptions().items()[i].name().to_owned()),
            schema,
        }
    }

    fn branch_set(&self) -> BranchSet {
        let mut set = BranchSet::EMPTY;
        if self.office_child.is_some() {
            set.insert(Branch::OfficeChild);
        }
        if self.dcomcnfg.is_some() {
            set.insert(Branch::Dcomcnfg);
        }
        if self.dcom_command_line.is_some() {
            set.insert(Branch::DcomCommandLine);
        }
        set
    }
}

/// The names of the branches in `set`, in rule order.
pub(crate) fn branch_names(py: Python<'_>, set: BranchSet) -> PyResult<Bound<'_, PyTuple>> {
    PyTuple::new(py, set.iter().map(Branch::name).collect::<Vec<_>>())
}

#[pymethods]
impl Verdict {
    /// `office_child` evidence, or None.
    #[getter]
    fn office_child(&self) -> Option<OfficeChild> {
        self.office_child.clone()
    }

    /// The `process.name` that fired `dcomcnfg`, or None.
    #[getter]
    fn dcomcnfg(&self) -> Option<&str> {
        self.dcomcnfg.as_deref()
    }

    /// `dcom_command_line` evidence, or None.
    #[getter]
    fn dcom_command_line(&self) -> Option<DcomCommandLine> {
        self.dcom_command_line.clone()
    }

    /// How the event was read: `ecs`, or `<event>/<wrapper>` for raw Windows events.
    #[getter]
    fn schema(&self) -> &'static str {
        self.schema
    }

    /// The branches that fired, in rule order.
    #[getter]
    fn branches<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        branch_names(py, self.branch_set())
    }

    /// The branches as a bit set: 1 = office_child, 2 = dcomcnfg, 4 = dcom_command_line.
    #[getter]
    fn bits(&self) -> u8 {
        self.branch_set().bits()
    }

    /// Whether any branch fired (whether or not an exception item suppressed the alert).
    #[getter]
    fn fired(&self) -> bool {
        !self.branch_set().is_empty()
    }

    /// The name of the exception item that suppressed the alert, or None.
    #[getter]
    fn suppressed_by(&self) -> Option<&str> {
        self.suppressed_by.as_deref()
    }

    /// Whether the event raises an alert: some branch fired and no exception item
    /// suppressed it (core's `Verdict::is_match`).
    #[getter]
    fn matched(&self) -> bool {
        self.fired() && self.suppressed_by.is_none()
    }

    fn __bool__(&self) -> bool {
        self.matched()
    }

    fn __repr__(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(item) = &self.suppressed_by {
            parts.push(format!("suppressed_by={}", py_str(item)));
        }
        if let Some(o) = &self.office_child {
            parts.push(format!("office_child={}", o.__repr__()));
        }
        if let Some(name) = &self.dcomcnfg {
            parts.push(format!("dcomcnfg={}", py_str(name)));
        }
        if let Some(c) = &self.dcom_command_line {
            parts.push(format!("dcom_command_line={}", c.__repr__()));
        }
        if parts.is_empty() {
            format!("Verdict(matched=False, schema={})", py_str(self.schema))
        } else {
            let matched = if self.matched() { "True" } else { "False" };
            format!("Verdict(matched={matched}, {}, schema={})", parts.join(", "), py_str(self.schema))
        }
    }
}

/// A Python-style string literal for reprs.
pub(crate) fn py_str(s: &str) -> String {
    Python::attach(|py| PyString::new(py, s).repr().map(|r| r.to_string())).unwrap_or_else(|_| format!("{s:?}"))
}

/// A scan profile by name; a `ValueError` naming the choices otherwise.
pub(crate) fn parse_profile(profile: &str) -> PyResult<Profile> {
    profile.parse().map_err(|e: UnknownProfile| pyo3::exceptions::PyValueError::new_err(e.to_string()))
}
