//! The Sigma export and the event view it is checked against: `sigma(profile)` (core's
//! [`dcom_detect_core::export::sigma`]), `SIGMA_FIELDS` (the view's ECS fields and the Sigma
//! fields they map to) and `event_view(event)` (what the engine's event view reads of an
//! event, by ECS path).
//!
//! # Cost
//! `sigma`: one new string of a few kilobytes per call. `event_view`: one decode of the event
//! (a `dict` is serialised first, as `scan_records` does) and one new dict of lists.

use std::sync::OnceLock;

use dcom_detect_core::export::sigma as core_sigma;
use dcom_detect_core::view::ecs::ViewField;
use dcom_detect_core::Rule;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::errors;
use crate::event::{append_event_or_raise, with_workspace};

/// The Sigma export of a profile: the seed rule, then (`"elastic"`, `"extended"`) each of
/// the profile's correlation rules over its base rules, as one multi-document YAML.
#[pyfunction]
#[pyo3(signature = (profile = "seed"))]
pub(crate) fn sigma(profile: &str) -> PyResult<String> {
    Ok(core_sigma::profile(crate::rule::parse_profile(profile)?))
}

/// The ECS path of each view field that has a Sigma field, and that Sigma field
/// (`process.executable` → `Image`, ...).
pub(crate) fn sigma_fields(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    for (view, sigma) in core_sigma::FIELDS {
        d.set_item(view.path(), sigma)?;
    }
    Ok(d)
}

/// What the engine's event view reads of one event (a `dict`, JSON `str` or `bytes`): each
/// view field that has values, by ECS path, with its values as text in document order. Raw
/// Windows events (Sysmon, 4688, ...) are read through the view's mapping, so
/// `process.name` of a Sysmon 1 event is its `Image`'s basename.
#[pyfunction]
pub(crate) fn event_view<'py>(py: Python<'py>, event: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
    static RULE: OnceLock<Rule> = OnceLock::new();
    let rule = RULE.get_or_init(Rule::default);
    with_workspace(|ws| {
        ws.record.clear();
        append_event_or_raise(py, event, &mut ws.record, None)?;
        let doc = ws.decoder.decode(rule.view_paths(), &ws.record).map_err(|e| errors::bad_event(py, &e, None))?;
        let out = PyDict::new(py);
        for field in ViewField::ALL {
            let values: Vec<String> = doc.view(field).map(|v| v.to_string()).collect();
            if !values.is_empty() {
                out.set_item(field.path(), PyList::new(py, values)?)?;
            }
        }
        Ok(out)
    })
}
