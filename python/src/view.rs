//! `event_view(event)`: what the engine's event view reads of one event, by ECS path, and
//! when the engine takes it to have happened; the Sigma equivalence test and the notebook's
//! hunting pivots (`dcom_detect.pivot`) read events through it instead of mapping raw Windows
//! events a second time.
//!
//! # Cost
//! One decode of the event (a `dict` is serialised first, as `scan_records` does) and one new
//! dict of lists.

use std::sync::OnceLock;

use dcom_detect_core::correlate::{event_time, Clock};
use dcom_detect_core::view::ecs::ViewField;
use dcom_detect_core::Rule;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::errors;
use crate::event::{append_event_or_raise, with_workspace};

/// What the engine's event view reads of one event (a `dict`, JSON `str` or `bytes`): each
/// view field that has values, by ECS path, with its values as text in document order. Raw
/// Windows events (Sysmon, 4688, ...) are read through the view's mapping, so
/// `process.name` of a Sysmon 1 event is its `Image`'s basename. Then what the engine derives:
/// `dcom_detect.event` (how it read the event: `ecs`, `sysmon_1`, `sysmon_3`, `4688`, `5156`,
/// `4624`), `dcom_detect.time` and `dcom_detect.clock` (when it happened, as the correlation
/// reads it: `utc`, or `local` for NXLog's `EventTime`, with the collector's time as
/// `dcom_detect.collected`), and `dcom_detect.local_time` (NXLog's `EventTime` whenever the
/// event carries one).
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
        let one = |key: &str, value: String| out.set_item(key, PyList::new(py, [value])?);
        one("dcom_detect.event", doc.schema().kind_name().to_owned())?;
        if let Some((time, clock)) = event_time(&doc) {
            one("dcom_detect.time", time.to_string())?;
            match clock {
                Clock::Utc => one("dcom_detect.clock", "utc".to_owned())?,
                Clock::Local { collected } => {
                    one("dcom_detect.clock", "local".to_owned())?;
                    if let Some(collected) = collected {
                        one("dcom_detect.collected", collected.to_string())?;
                    }
                }
            }
        }
        if let Some(local) = doc.local_time() {
            one("dcom_detect.local_time", local.to_string())?;
        }
        Ok(out)
    })
}
