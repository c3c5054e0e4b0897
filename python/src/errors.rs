//! Core errors → the package's Python exceptions.
//!
//! The exception classes are defined in Python (`dcom_detect/_errors.py`, where they can
//! carry documented attributes and derive from `ValueError` / `OSError`); this module looks
//! them up once and builds instances from core's error types.

use std::io;

use dcom_detect_core::source::arrow::{ColumnError, ColumnErrorKind};
use dcom_detect_core::{DecodeError, ExceptionsError};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyType>> {
    let module = ERRORS.get_or_try_init(py, || py.import("dcom_detect._errors").map(Bound::unbind))?;
    Ok(module.bind(py).getattr(name)?.cast_into::<PyType>()?)
}

/// Instantiates `name` with `args` and keyword arguments; an error while doing so is returned
/// in its place (it says more than a second-hand message would).
fn build<'py>(
    py: Python<'py>,
    name: &str,
    args: impl pyo3::call::PyCallArgs<'py>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyErr {
    match class(py, name).and_then(|cls| cls.call(args, kwargs)) {
        Ok(instance) => PyErr::from_value(instance),
        Err(err) => err,
    }
}

/// `BadEventError` for a record core rejected; `index` is the event's position in a batch.
pub(crate) fn bad_event(py: Python<'_>, error: &DecodeError, index: Option<usize>) -> PyErr {
    let reason = error.kind().to_string();
    let message = match index {
        Some(i) => format!("event {i}: {error}"),
        None => error.to_string(),
    };
    bad_event_parts(py, &message, &reason, Some(error.offset()), index)
}

/// `BadEventError` from its parts.
pub(crate) fn bad_event_parts(
    py: Python<'_>,
    message: &str,
    reason: &str,
    offset: Option<usize>,
    index: Option<usize>,
) -> PyErr {
    let kwargs = PyDict::new(py);
    let filled = kwargs
        .set_item("reason", reason)
        .and_then(|()| kwargs.set_item("offset", offset))
        .and_then(|()| kwargs.set_item("index", index));
    if let Err(err) = filled {
        return err;
    }
    build(py, "BadEventError", (message,), Some(&kwargs))
}

/// `ExceptionsFileError` for an exceptions file core refused: core's message (which names
/// the item, entry and field), prefixed with the file's path when it came from one, and its
/// parts as attributes.
pub(crate) fn bad_exceptions(py: Python<'_>, error: &ExceptionsError, path: Option<&str>) -> PyErr {
    let message = match path {
        Some(path) => format!("{path}: {error}"),
        None => error.to_string(),
    };
    let kwargs = PyDict::new(py);
    let (item, item_name) = match &error.item {
        Some((n, name)) => (Some(*n), name.as_deref()),
        None => (None, None),
    };
    let filled = kwargs
        .set_item("path", path)
        .and_then(|()| kwargs.set_item("reason", error.problem.to_string()))
        .and_then(|()| kwargs.set_item("item", item))
        .and_then(|()| kwargs.set_item("item_name", item_name))
        .and_then(|()| kwargs.set_item("entry", error.entry))
        .and_then(|()| kwargs.set_item("field", error.field.as_deref()));
    if let Err(err) = filled {
        return err;
    }
    build(py, "ExceptionsFileError", (message,), Some(&kwargs))
}

/// `ExceptionsFileError` for an exceptions structure the binding could not serialise (a
/// value JSON cannot carry, such as NaN); `reason` is what is wrong without the location.
pub(crate) fn bad_exceptions_value(py: Python<'_>, message: &str, reason: &str) -> PyErr {
    let kwargs = PyDict::new(py);
    if let Err(err) = kwargs.set_item("reason", reason) {
        return err;
    }
    build(py, "ExceptionsFileError", (message,), Some(&kwargs))
}

/// `UnreadableInputError` for an I/O error on `what` (a path or a description): with
/// `errno`, `strerror` and `filename` when the operating system gave an error number.
pub(crate) fn unreadable(py: Python<'_>, what: &str, error: &io::Error) -> PyErr {
    match error.raw_os_error() {
        Some(errno) => {
            let strerror = io::Error::from_raw_os_error(errno).to_string();
            // "No such file or directory (os error 2)" → "No such file or directory"
            let strerror = strerror.split(" (os error").next().unwrap_or(&strerror).to_owned();
            build(py, "UnreadableInputError", (errno, strerror, what), None)
        }
        None => build(py, "UnreadableInputError", (format!("{what}: {error}"),), None),
    }
}

/// `UnreadableInputError` with a plain message.
pub(crate) fn unreadable_message(py: Python<'_>, message: &str) -> PyErr {
    build(py, "UnreadableInputError", (message,), None)
}

/// `TypeError` naming what was expected and the type that was given.
pub(crate) fn wrong_type(what: &str, expected: &str, given: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!("{what} must be {expected}, not {}", type_name(given)))
}

/// The qualified type name of `value`, for messages (`datetime.datetime`, `int`).
pub(crate) fn type_name(value: &Bound<'_, PyAny>) -> String {
    let ty = value.get_type();
    let name = ty.qualname().map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
    match ty.module().map(|m| m.to_string()) {
        Ok(module) if module != "builtins" => format!("{module}.{name}"),
        _ => name,
    }
}

/// `ColumnError` for a column core's Arrow view refused: its kind as a stable name
/// (`ColumnError.kind`), the kind's sentence as the reason.
pub(crate) fn column_error(py: Python<'_>, error: &ColumnError) -> PyErr {
    let kind = match error.kind {
        ColumnErrorKind::NotInData => "not_in_data",
        ColumnErrorKind::DuplicateName(_) => "duplicate_name",
        ColumnErrorKind::NotAStruct { .. } => "not_a_struct",
        ColumnErrorKind::TooDeep => "too_deep",
        ColumnErrorKind::Struct(_) => "struct",
        ColumnErrorKind::Dictionary(_) => "dictionary",
        ColumnErrorKind::Float(_) => "float",
        ColumnErrorKind::Unsupported(_) => "unsupported_type",
        // A kind core adds before this table learns it.
        _ => "other",
    };
    let kwargs = PyDict::new(py);
    let filled = kwargs
        .set_item("reason", error.kind.to_string())
        .and_then(|()| kwargs.set_item("kind", kind))
        .and_then(|()| kwargs.set_item("field", &error.field))
        .and_then(|()| kwargs.set_item("column", &error.column));
    if let Err(err) = filled {
        return err;
    }
    build(py, "ColumnError", (error.to_string(),), Some(&kwargs))
}
