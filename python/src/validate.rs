//! `ValidationReport`: core's validation report (`dcom_detect_core::validate`) — the rule
//! against the telemetry of its testing methodology, and against real recordings — as a
//! Python object holding the report's table and JSON.

use std::path::PathBuf;

use dcom_detect_core::validate::validate;
use dcom_detect_core::Rule;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::errors;

/// What `paths` may be.
const PATHS_KINDS: &str = "a path (str or os.PathLike) or an iterable of paths";

/// The report of `Rule.validate`.
#[pyclass(frozen, module = "dcom_detect", name = "ValidationReport")]
pub struct ValidationReport {
    ok: bool,
    table: String,
    json: String,
    steps: usize,
    recordings: usize,
}

impl ValidationReport {
    /// Runs core's report with `rule` on its bundled events and on `paths` (None: none), with
    /// the interpreter released.
    pub(crate) fn run(py: Python<'_>, rule: &Rule, paths: Option<&Bound<'_, PyAny>>) -> PyResult<ValidationReport> {
        let paths = match paths {
            None => Vec::new(),
            Some(value) => extract_paths(value)?,
        };
        let report =
            py.detach(|| validate(rule, &paths)).map_err(|e| errors::unreadable_message(py, &e.to_string()))?;
        Ok(ValidationReport {
            ok: report.ok(),
            table: report.to_table(),
            json: report.to_json().to_string(),
            steps: report.steps.len(),
            recordings: report.files.len(),
        })
    }
}

fn extract_paths(value: &Bound<'_, PyAny>) -> PyResult<Vec<PathBuf>> {
    let one = |v: &Bound<'_, PyAny>| -> PyResult<PathBuf> {
        if v.is_instance_of::<PyString>() || v.hasattr("__fspath__")? {
            v.extract().map_err(|_| errors::wrong_type("paths", PATHS_KINDS, v))
        } else {
            Err(errors::wrong_type("each path", "a str or os.PathLike", v))
        }
    };
    if value.is_instance_of::<PyString>() || value.hasattr("__fspath__")? {
        return Ok(vec![one(value)?]);
    }
    let iterator = value.try_iter().map_err(|_| errors::wrong_type("paths", PATHS_KINDS, value))?;
    iterator.map(|item| one(&item?)).collect()
}

#[pymethods]
impl ValidationReport {
    /// Whether every verdict is the expected one (every methodology step in every form, and
    /// every labelled recording), with no rejected record.
    #[getter]
    fn ok(&self) -> bool {
        self.ok
    }

    /// The report as a table for people (what was expected, what fired, and why the rule as
    /// written misses what it misses).
    #[getter]
    fn table(&self) -> &str {
        &self.table
    }

    /// The report as one line of JSON, for CI.
    #[getter]
    fn json(&self) -> &str {
        &self.json
    }

    /// The report as a new dict (parsed from `json`).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import("json")?.call_method1("loads", (&self.json,))
    }

    fn __str__(&self) -> &str {
        &self.table
    }

    fn __repr__(&self) -> String {
        format!(
            "<ValidationReport {}: {} methodology steps, {} recordings>",
            if self.ok { "ok" } else { "FAILED" },
            self.steps,
            self.recordings
        )
    }
}
