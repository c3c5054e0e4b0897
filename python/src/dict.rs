//! Python dicts read in place: a walk over dicts, lists and strings that drives core's
//! [`TreeReader`], descending only into keys that lead to a field the rule or its exceptions
//! read. Nothing is serialised.
//!
//! The verdict is the one `json.dumps(event)` would get, whenever `json.dumps` succeeds,
//! with the differences core's [`tree`](dcom_detect_core::tree) module states (a subtree no
//! rule field goes through is not looked at: a `datetime`, a numpy value or a NaN there is
//! fine) and these, on the paths that are walked:
//! - a key that is not a `str` is a `TypeError` (`json.dumps` would turn `1` into `"1"`);
//! - NaN and infinities are a `BadEventError` (they are not JSON; Elasticsearch rejects them);
//! - a value JSON cannot carry (`datetime`, `set`, …) is a `TypeError`.
//!
//! Values are taken as `json.dumps` writes them: `str` (and subclasses such as `StrEnum`) as
//! text, with an unpaired surrogate as U+FFFD; `int` (and `IntEnum`) in decimal; `float` as
//! its `repr`; `True`/`False` as `true`/`false`; `None` as no value; `list` and `tuple` as
//! arrays.
//!
//! # Cost
//! One `PyDict` iteration per walked dict (the top level, `event`, `process`,
//! `process.parent`, … and the raw Windows wrappers' maps), a UTF-8 view of each key (cached
//! by CPython), and a copy of each wanted string; no allocation once the decoder's buffers
//! have grown, except for floats (formatted by Python's `repr`) and integers beyond 64 bits.

use dcom_detect_core::{Container, Cursor, DecodeError, Document, TreeReader};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::errors;
use crate::event::{without_surrogates, EventError};

/// Reads `dict` into a document, visiting only what `reader`'s paths want.
pub(crate) fn read<'d>(mut reader: TreeReader<'d>, dict: &Bound<'_, PyDict>) -> Result<Document<'d>, EventError> {
    let root = reader.root();
    object(&mut reader, dict, root, 0)?;
    reader.finish().map_err(rejected)
}

fn rejected(error: DecodeError) -> EventError {
    EventError::bad_value(error.kind().to_string())
}

fn object(reader: &mut TreeReader<'_>, dict: &Bound<'_, PyDict>, at: Cursor, depth: usize) -> Result<(), EventError> {
    reader.open(at, depth, Container::Object).map_err(rejected)?;
    for (key, value) in dict.iter() {
        let Ok(key_text) = key.cast::<PyString>() else {
            let repr = key.repr().map(|r| r.to_string()).unwrap_or_default();
            return Err(EventError::type_error(format!(
                "keys must be str, not {} (key {repr})",
                errors::type_name(&key)
            )));
        };
        let child = match key_text.to_str() {
            Ok(k) => reader.key(at, k),
            Err(_) => reader.key(at, &without_surrogates(key_text)),
        };
        let located =
            |e: EventError| e.within(|| format!("[{}]", key.repr().map(|r| r.to_string()).unwrap_or_default()));
        let child = child.map_err(|e| located(rejected(e)))?;
        if reader.wants(child) {
            item(reader, &value, child, depth + 1).map_err(located)?;
        }
    }
    Ok(())
}

fn array<'py>(
    reader: &mut TreeReader<'_>,
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    at: Cursor,
    depth: usize,
) -> Result<(), EventError> {
    reader.open(at, depth, Container::Array).map_err(rejected)?;
    for (i, value) in items.enumerate() {
        item(reader, &value, at, depth + 1).map_err(|e| e.within(|| format!("[{i}]")))?;
    }
    Ok(())
}

/// One value at `at`, enclosed by `depth` containers.
fn item(reader: &mut TreeReader<'_>, value: &Bound<'_, PyAny>, at: Cursor, depth: usize) -> Result<(), EventError> {
    if let Ok(text) = value.cast::<PyString>() {
        if reader.wants_scalar(at) {
            match text.to_str() {
                Ok(s) => reader.scalar(at, s),
                Err(_) => reader.scalar(at, &without_surrogates(text)),
            }
        }
    } else if let Ok(dict) = value.cast::<PyDict>() {
        object(reader, dict, at, depth)?;
    } else if value.is_none() {
    } else if let Ok(flag) = value.cast::<PyBool>() {
        if reader.wants_scalar(at) {
            reader.scalar(at, if flag.is_true() { "true" } else { "false" });
        }
    } else if let Ok(int) = value.cast::<PyInt>() {
        if reader.wants_scalar(at) {
            if let Ok(n) = int.extract::<i64>() {
                reader.scalar(at, itoa::Buffer::new().format(n));
            } else {
                let text = crate::event::int_text(int)?;
                reader.scalar(at, &text);
            }
        }
    } else if let Ok(float) = value.cast::<PyFloat>() {
        crate::event::check_finite(float)?;
        if reader.wants_scalar(at) {
            reader.scalar(at, &crate::event::float_repr(float)?);
        }
    } else if let Ok(list) = value.cast::<PyList>() {
        array(reader, list.iter(), at, depth)?;
    } else if let Ok(tuple) = value.cast::<PyTuple>() {
        array(reader, tuple.iter(), at, depth)?;
    } else {
        return Err(crate::event::unserialisable(value));
    }
    Ok(())
}
