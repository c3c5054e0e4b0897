//! The Sigma export: `sigma(profile)` (core's [`dcom_detect_core::export::sigma`]) and
//! `SIGMA_FIELDS` (the view's ECS fields and the Sigma fields they map to; the equivalence
//! test reads events through [`crate::view::event_view`]).
//!
//! # Cost
//! `sigma`: one new string of a few kilobytes per call.

use dcom_detect_core::export::sigma as core_sigma;
use pyo3::prelude::*;
use pyo3::types::PyDict;

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
