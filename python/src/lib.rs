//! `dcom_detect._native`: the Python binding of dcom-detect's engine.
//!
//! Thin by design: it translates Python objects to core's inputs and core's results to Python
//! objects, and core's errors to the package's exceptions; every behaviour (decoding, the
//! document model, matching, scanning, alert contents) is `dcom-detect-core`'s. The Python
//! package (`python/dcom_detect/`) re-exports these classes and adds presentation only
//! (HTML cards, DataFrames, progress bars, the command line).
//!
//! | module | what |
//! |---|---|
//! | [`arrow`] | Arrow PyCapsules (`__arrow_c_stream__`, `__arrow_c_array__`) → core's Arrow view; `match_arrow`, `alerts_arrow` |
//! | [`correlator`] | `Correlator`: core's correlation `Session` fed records and Arrow batches in input order; `CorrelatorStats` |
//! | [`event`] | Python events (dict, JSON str, bytes) → JSON bytes for core's decoder |
//! | [`exceptions`] | the `exceptions` argument (path, JSON, dict / list) → JSON bytes for core; `ExceptionItem` |
//! | [`rule`] | `Rule`, `Verdict` and its evidence; `match_many` with the interpreter released |
//! | [`scan`] | `Scan` (core's scan on a thread, alerts through a bounded channel), `Alert`, `ScanStats`, `Rejected`, `Suppressed`, `Skipped`; paths walked by core's `Inputs` |
//! | [`sigma`] | `sigma(profile)` (core's Sigma export), `SIGMA_FIELDS` |
//! | [`view`] | `event_view(event)`: the engine's view of one event, with its time |
//! | [`validate`] | `ValidationReport`: core's validation report, run with the interpreter released |
//! | [`errors`] | core errors → `BadEventError`, `ExceptionsFileError`, `UnreadableInputError`, `TypeError` |

use pyo3::prelude::*;

mod arrow;
mod correlator;
mod dict;
mod errors;
mod event;
mod exceptions;
mod rule;
mod scan;
mod sigma;
mod validate;
mod view;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("EQL_SOURCE", dcom_detect_core::EQL_SOURCE)?;
    let profiles = dcom_detect_core::correlate::Profile::ALL.map(|p| p.name());
    m.add("PROFILES", pyo3::types::PyTuple::new(m.py(), profiles)?)?;
    m.add_class::<rule::PyRule>()?;
    m.add_class::<rule::Verdict>()?;
    m.add_class::<rule::OfficeChild>()?;
    m.add_class::<rule::DcomCommandLine>()?;
    m.add_class::<correlator::Correlator>()?;
    m.add_class::<correlator::CorrelatorStats>()?;
    m.add_class::<scan::Scan>()?;
    m.add_class::<scan::Alert>()?;
    m.add_class::<scan::Rejected>()?;
    m.add_class::<scan::ScanStats>()?;
    m.add_class::<scan::Suppressed>()?;
    m.add_class::<scan::Skipped>()?;
    m.add_class::<scan::ScanEvents>()?;
    m.add_class::<exceptions::ExceptionItem>()?;
    m.add_class::<validate::ValidationReport>()?;
    m.add_function(wrap_pyfunction!(rule_metadata, m)?)?;
    m.add_function(wrap_pyfunction!(correlation_rules, m)?)?;
    m.add_function(wrap_pyfunction!(sigma::sigma, m)?)?;
    m.add_function(wrap_pyfunction!(view::event_view, m)?)?;
    m.add("SIGMA_FIELDS", sigma::sigma_fields(m.py())?)?;
    Ok(())
}

/// A profile's stateful rules, in order (`"extended"` by default, `"elastic"`, or `"seed"`:
/// none): for each, a new dict with `rule` (`"D2"`, `"D2L"`, `"D3"`; `"mmc20"`,
/// `"shellwindows"`, `"hta"`), `id`, `name`, `description`, `severity`, `risk_score`, `eql`
/// (ours: one sequence per order of its events; Elastic's: verbatim) and `guide` (its triage
/// guide, `docs/triage/`).
#[pyfunction]
#[pyo3(signature = (profile = "extended"))]
fn correlation_rules<'py>(py: Python<'py>, profile: &str) -> PyResult<Vec<Bound<'py, pyo3::types::PyDict>>> {
    rule::parse_profile(profile)?
        .rules()
        .iter()
        .map(|rule| {
            let meta = rule.metadata();
            let d = pyo3::types::PyDict::new(py);
            d.set_item("rule", rule.name())?;
            d.set_item("id", meta.id)?;
            d.set_item("name", meta.name)?;
            d.set_item("description", meta.description)?;
            d.set_item("severity", meta.severity)?;
            d.set_item("risk_score", meta.risk_score)?;
            d.set_item("eql", rule.eql())?;
            d.set_item("sigma", dcom_detect_core::export::sigma::correlation_rule(*rule))?;
            d.set_item("guide", meta.guide)?;
            Ok(d)
        })
        .collect()
}

/// The rule's metadata as a new dict (the same as `Rule().metadata`).
#[pyfunction]
fn rule_metadata(py: Python<'_>) -> PyResult<Bound<'_, pyo3::types::PyDict>> {
    rule::rule_metadata(py)
}
