//! The `exceptions` argument of `Rule`: whatever Python gives (a path, JSON text or bytes,
//! the parsed structure) → the JSON bytes core's `Rule::with_exceptions` compiles; and
//! `ExceptionItem`, what `Rule.exceptions` lists.
//!
//! Which argument is which:
//! - `bytes` / `bytearray`: the file's JSON;
//! - `dict` / `list`: the structure `json.load` returns, serialised as events are
//!   ([`crate::event::append_json_container`]);
//! - `str`: JSON text when, after leading whitespace, it starts with `{` or `[` (no path of
//!   an exceptions file does in practice), else a path;
//! - `os.PathLike`: a path.
//!
//! Reading, parsing and compiling are core's; errors become `UnreadableInputError` (the file
//! could not be read), `ExceptionsFileError` (core refused its contents) or `TypeError`.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyString};

use crate::errors;
use crate::event;
use crate::rule::py_str;

/// The kinds of Python objects `exceptions` may be.
const EXCEPTIONS_KINDS: &str =
    "a path (str or os.PathLike), the file's JSON as bytes or str, or its parsed structure (dict or list)";

/// An exceptions file, as JSON bytes, and the path it was read from.
pub(crate) struct ExceptionsSource {
    pub(crate) json: Vec<u8>,
    pub(crate) path: Option<String>,
}

/// Reads the `exceptions` argument of `Rule` (not None).
pub(crate) fn read_source(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<ExceptionsSource> {
    if let Ok(text) = value.cast::<PyString>() {
        let mut json = Vec::new();
        event::append_str_bytes(text, &mut json);
        let start = json.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(json.len());
        if matches!(json.get(start), Some(b'{' | b'[')) {
            return Ok(ExceptionsSource { json, path: None });
        }
        let path: PathBuf = value.extract()?;
        return read_path(py, path);
    }
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Ok(ExceptionsSource { json: bytes.as_bytes().to_vec(), path: None });
    }
    if let Ok(bytes) = value.cast::<PyByteArray>() {
        return Ok(ExceptionsSource { json: bytes.to_vec(), path: None });
    }
    if value.is_instance_of::<PyDict>() || value.is_instance_of::<PyList>() {
        let mut json = Vec::new();
        return match event::append_json_container(value, &mut json) {
            Ok(()) => Ok(ExceptionsSource { json, path: None }),
            Err(error) if error.is_type_error() => {
                Err(pyo3::exceptions::PyTypeError::new_err(error.located("exceptions")))
            }
            Err(error) => Err(errors::bad_exceptions_value(
                py,
                &error.located("bad exceptions file: exceptions"),
                error.message(),
            )),
        };
    }
    if value.hasattr("__fspath__")? {
        let path: PathBuf = value.extract().map_err(|_| errors::wrong_type("exceptions", EXCEPTIONS_KINDS, value))?;
        return read_path(py, path);
    }
    Err(errors::wrong_type("exceptions", EXCEPTIONS_KINDS, value))
}

fn read_path(py: Python<'_>, path: PathBuf) -> PyResult<ExceptionsSource> {
    let name = path.to_string_lossy().into_owned();
    let json = py.detach(|| std::fs::read(&path)).map_err(|e| errors::unreadable(py, &name, &e))?;
    Ok(ExceptionsSource { json, path: Some(name) })
}

/// One item of a rule's exceptions (`Rule.exceptions`): its name and description.
#[pyclass(frozen, eq, hash, get_all, module = "dcom_detect", name = "ExceptionItem")]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExceptionItem {
    /// The item's name, as verdicts, suppressed records and the command line report it.
    name: String,
    /// The item's description, or None.
    description: Option<String>,
}

impl ExceptionItem {
    pub(crate) fn of(item: &dcom_detect_core::rule::exceptions::Item) -> ExceptionItem {
        ExceptionItem { name: item.name().to_owned(), description: item.description().map(str::to_owned) }
    }
}

#[pymethods]
impl ExceptionItem {
    fn __repr__(&self) -> String {
        match &self.description {
            Some(description) => {
                format!("ExceptionItem(name={}, description={})", py_str(&self.name), py_str(description))
            }
            None => format!("ExceptionItem(name={}, description=None)", py_str(&self.name)),
        }
    }
}
