//! Python events → documents: a `dict` read in place ([`crate::dict`]), JSON text (`str`,
//! `bytes`, `bytearray`) decoded by core's `Decoder` ([`document`]).
//!
//! Where a whole record is needed as JSON (records of a scan, whose alerts carry the original
//! document, and an exceptions file given as a `dict` or `list`), a `dict` is serialised the
//! way `json.dumps` would serialise it ([`append_event`], [`append_json_container`]): keys in
//! insertion order, `str`, `int`, `float`, `bool`, `None`, `list` and `tuple` values; `str`
//! and `int` subclasses such as enums as their values. Differences from `json.dumps`, all on
//! purpose:
//! - a key that is not a `str` is a `TypeError` (`json.dumps` would quietly turn `1` into
//!   `"1"` and could create a duplicate key);
//! - NaN and infinities are a `BadEventError` (they are not JSON; Elasticsearch rejects them);
//! - a string holding an unpaired surrogate is written with U+FFFD in its place, which is
//!   what the engine makes of the `\udXXX` escape `json.dumps` would write;
//! - nesting deeper than the engine's limit (1000), which includes a container that holds
//!   itself, is a `BadEventError` instead of a `RecursionError`.
//!
//! # Cost
//! Serialising: one pass over the dict, appending to a caller's reusable buffer: no
//! allocation per event once the buffer has grown, except for floats (formatted by Python's
//! `repr`) and integers beyond 64 bits.

use std::cell::RefCell;
use std::sync::Arc;

use dcom_detect_core::{Decoder, Document, Limits, Rule};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::errors;

/// The deepest nesting accepted, as the engine's decoder (`Limits::max_depth`).
fn max_depth() -> usize {
    Limits::default().max_depth
}

/// Why an event could not be serialised, and where in it.
pub(crate) struct EventError {
    /// A `TypeError` (unsupported type) or a `BadEventError` (unsupported value).
    type_error: bool,
    message: String,
    /// The path from the event to the offending value, innermost first.
    path: Vec<String>,
}

impl EventError {
    pub(crate) fn type_error(message: String) -> EventError {
        EventError { type_error: true, message, path: Vec::new() }
    }

    pub(crate) fn bad_value(message: String) -> EventError {
        EventError { type_error: false, message, path: Vec::new() }
    }

    pub(crate) fn within(mut self, segment: impl FnOnce() -> String) -> EventError {
        self.path.push(segment());
        self
    }

    /// Whether the value has a type JSON cannot represent (else a value it cannot carry).
    pub(crate) fn is_type_error(&self) -> bool {
        self.type_error
    }

    /// What is wrong, without the location.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    /// `root` followed by the path to the offending value, then what is wrong:
    /// `event['process']['start']: datetime.datetime is not JSON serialisable`.
    pub(crate) fn located(&self, root: &str) -> String {
        let mut location = root.to_owned();
        for segment in self.path.iter().rev() {
            location.push_str(segment);
        }
        format!("{location}: {}", self.message)
    }

    /// The Python exception; `index` is the event's position in a batch, if any.
    pub(crate) fn into_pyerr(self, py: Python<'_>, index: Option<usize>) -> PyErr {
        let root = match index {
            Some(i) => format!("event {i}"),
            None => "event".to_owned(),
        };
        let message = self.located(&root);
        if self.type_error {
            pyo3::exceptions::PyTypeError::new_err(message)
        } else {
            errors::bad_event_parts(py, &message, &self.message, None, index)
        }
    }
}

/// The kinds of Python objects an event may be.
pub(crate) const EVENT_KINDS: &str = "a dict, a JSON str or JSON bytes";

/// Appends the JSON text of one event (a `dict`, or a JSON `str`, `bytes` or `bytearray`) to
/// `out`. `Ok(false)` when `event` is none of these (nothing is written).
pub(crate) fn append_event(event: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> Result<bool, EventError> {
    if let Ok(dict) = event.cast::<PyDict>() {
        write_dict(dict, out, 1)?;
    } else if let Ok(text) = event.cast::<PyString>() {
        append_str_bytes(text, out);
    } else if let Ok(bytes) = event.cast::<PyBytes>() {
        out.extend_from_slice(bytes.as_bytes());
    } else if let Ok(bytes) = event.cast::<PyByteArray>() {
        out.extend_from_slice(&bytes.to_vec());
    } else {
        return Ok(false);
    }
    Ok(true)
}

/// The document of one event: a `dict` read in place (see [`crate::dict`]), JSON text (`str`,
/// `bytes`, `bytearray`) decoded; a `TypeError` for anything else. `index` is the event's
/// position in a batch, for messages.
pub(crate) fn document<'a>(
    py: Python<'_>,
    rule: &'a Arc<Rule>,
    workspace: &'a mut Workspace,
    event: &'a Bound<'_, PyAny>,
    index: Option<usize>,
) -> PyResult<Document<'a>> {
    let Workspace { decoder, record, keys } = workspace;
    let paths = rule.paths();
    if let Ok(dict) = event.cast::<PyDict>() {
        return crate::dict::read(decoder.read_tree(paths), keys, rule, dict).map_err(|e| e.into_pyerr(py, index));
    }
    let text: &[u8] = if let Ok(bytes) = event.cast::<PyBytes>() {
        bytes.as_bytes()
    } else if let Ok(text) = event.cast::<PyString>() {
        match text.to_str() {
            Ok(s) => s.as_bytes(),
            Err(_) => {
                record.clear();
                append_str_bytes(text, record);
                record
            }
        }
    } else if let Ok(bytes) = event.cast::<PyByteArray>() {
        record.clear();
        record.extend_from_slice(&bytes.to_vec());
        record
    } else {
        let what = index.map_or_else(|| "event".to_owned(), |i| format!("event {i}"));
        return Err(errors::wrong_type(&what, EVENT_KINDS, event));
    };
    decoder.decode(paths, text).map_err(|e| errors::bad_event(py, &e, index))
}

/// Like [`append_event`], with a `TypeError` for anything else.
pub(crate) fn append_event_or_raise(
    py: Python<'_>,
    event: &Bound<'_, PyAny>,
    out: &mut Vec<u8>,
    index: Option<usize>,
) -> PyResult<()> {
    match append_event(event, out) {
        Ok(true) => Ok(()),
        Ok(false) => {
            let what = match index {
                Some(i) => format!("event {i}"),
                None => "event".to_owned(),
            };
            Err(errors::wrong_type(&what, EVENT_KINDS, event))
        }
        Err(e) => Err(e.into_pyerr(py, index)),
    }
}

/// Appends the JSON text of a `dict` or a `list` (an exceptions file given as the structure
/// `json.load` returns), serialised exactly as an event is.
pub(crate) fn append_json_container(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> Result<(), EventError> {
    if let Ok(dict) = value.cast::<PyDict>() {
        write_dict(dict, out, 1)
    } else if let Ok(list) = value.cast::<PyList>() {
        write_array(list.iter(), out, 1)
    } else {
        Err(EventError::type_error(format!("{} is not a dict or a list", errors::type_name(value))))
    }
}

/// A `str`'s UTF-8 bytes (see [`without_surrogates`] for a `str` holding surrogates).
pub(crate) fn append_str_bytes(text: &Bound<'_, PyString>, out: &mut Vec<u8>) {
    match text.to_str() {
        Ok(s) => out.extend_from_slice(s.as_bytes()),
        Err(_) => out.extend_from_slice(without_surrogates(text).as_bytes()),
    }
}

/// A `str` that holds surrogate code points, as a JSON decoder reads the `\uXXXX` escapes
/// `json.dumps` writes for them: a high surrogate followed by a low one is the character
/// they encode, any other surrogate is U+FFFD (as the engine decodes an unpaired escape).
pub(crate) fn without_surrogates(text: &Bound<'_, PyString>) -> String {
    let Ok(encoded) = text.call_method1("encode", ("utf-8", "surrogatepass")) else {
        return text.to_string_lossy().into_owned();
    };
    let Ok(bytes) = encoded.cast::<PyBytes>() else { return text.to_string_lossy().into_owned() };
    let mut rest = bytes.as_bytes();
    let mut out = String::with_capacity(rest.len());
    // A surrogate encoded with `surrogatepass`: ED A0..BF xx (high: A0..AF, low: B0..BF).
    let surrogate = |b: &[u8]| -> Option<u32> {
        (b.len() >= 3 && b[0] == 0xED && (0xA0..=0xBF).contains(&b[1]))
            .then(|| 0xD000 | (u32::from(b[1] & 0x3F) << 6) | u32::from(b[2] & 0x3F))
    };
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                out.push_str(valid);
                break;
            }
            Err(error) => {
                let (valid, tail) = rest.split_at(error.valid_up_to());
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                let high = surrogate(tail);
                let low = tail.get(3..).and_then(surrogate);
                match (high, low) {
                    (Some(h @ 0xD800..=0xDBFF), Some(l @ 0xDC00..=0xDFFF)) => {
                        let c = 0x10000 + ((h - 0xD800) << 10) + (l - 0xDC00);
                        out.push(char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
                        rest = &tail[6..];
                    }
                    (Some(_), _) => {
                        out.push(char::REPLACEMENT_CHARACTER);
                        rest = &tail[3..];
                    }
                    (None, _) => {
                        out.push(char::REPLACEMENT_CHARACTER);
                        rest = &tail[error.error_len().unwrap_or(tail.len()).max(1).min(tail.len())..];
                    }
                }
            }
        }
    }
    out
}

fn write_value(value: &Bound<'_, PyAny>, out: &mut Vec<u8>, depth: usize) -> Result<(), EventError> {
    if let Ok(text) = value.cast::<PyString>() {
        match text.to_str() {
            Ok(s) => write_json_string(s, out),
            Err(_) => write_json_string(&without_surrogates(text), out),
        }
    } else if let Ok(dict) = value.cast::<PyDict>() {
        write_dict(dict, out, depth + 1)?;
    } else if value.is_none() {
        out.extend_from_slice(b"null");
    } else if let Ok(flag) = value.cast::<PyBool>() {
        out.extend_from_slice(if flag.is_true() { b"true" } else { b"false" });
    } else if let Ok(int) = value.cast::<PyInt>() {
        write_int(int, out)?;
    } else if let Ok(float) = value.cast::<PyFloat>() {
        write_float(float, out)?;
    } else if let Ok(list) = value.cast::<PyList>() {
        write_array(list.iter(), out, depth + 1)?;
    } else if let Ok(tuple) = value.cast::<PyTuple>() {
        write_array(tuple.iter(), out, depth + 1)?;
    } else {
        return Err(unserialisable(value));
    }
    Ok(())
}

/// The error for a value of a type JSON cannot carry.
pub(crate) fn unserialisable(value: &Bound<'_, PyAny>) -> EventError {
    EventError::type_error(format!(
        "{} is not JSON serialisable (use dict, list, tuple, str, int, float, bool or None)",
        errors::type_name(value)
    ))
}

fn check_depth(depth: usize) -> Result<(), EventError> {
    if depth > max_depth() {
        return Err(EventError::bad_value(format!(
            "nesting deeper than the limit of {} (or a container that contains itself)",
            max_depth()
        )));
    }
    Ok(())
}

fn write_dict(dict: &Bound<'_, PyDict>, out: &mut Vec<u8>, depth: usize) -> Result<(), EventError> {
    check_depth(depth)?;
    out.push(b'{');
    for (i, (key, value)) in dict.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let Ok(key_text) = key.cast::<PyString>() else {
            let repr = key.repr().map(|r| r.to_string()).unwrap_or_default();
            return Err(EventError::type_error(format!(
                "keys must be str, not {} (key {repr})",
                errors::type_name(&key)
            )));
        };
        match key_text.to_str() {
            Ok(k) => write_json_string(k, out),
            Err(_) => write_json_string(&without_surrogates(key_text), out),
        }
        out.push(b':');
        write_value(&value, out, depth)
            .map_err(|e| e.within(|| format!("[{}]", key.repr().map(|r| r.to_string()).unwrap_or_default())))?;
    }
    out.push(b'}');
    Ok(())
}

fn write_array<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), EventError> {
    check_depth(depth)?;
    out.push(b'[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_value(&item, out, depth).map_err(|e| e.within(|| format!("[{i}]")))?;
    }
    out.push(b']');
    Ok(())
}

fn write_int(int: &Bound<'_, PyInt>, out: &mut Vec<u8>) -> Result<(), EventError> {
    if let Ok(n) = int.extract::<i64>() {
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    } else {
        out.extend_from_slice(int_text(int)?.as_bytes());
    }
    Ok(())
}

/// An `int` (or a subclass such as `IntEnum`) as `json.dumps` writes it: `int.__repr__` of
/// its value.
pub(crate) fn int_text(int: &Bound<'_, PyInt>) -> Result<String, EventError> {
    if let Ok(n) = int.extract::<u64>() {
        return Ok(itoa::Buffer::new().format(n).to_owned());
    }
    let py = int.py();
    let text = py.get_type::<PyInt>().call1((int,)).and_then(|n| n.repr()).map_err(py_failure)?;
    Ok(text.to_string_lossy().into_owned())
}

/// NaN and the infinities are not JSON numbers (and Elasticsearch rejects them).
pub(crate) fn check_finite(float: &Bound<'_, PyFloat>) -> Result<(), EventError> {
    let value = float.value();
    if !value.is_finite() {
        return Err(EventError::bad_value(format!("{value} is not a JSON number")));
    }
    Ok(())
}

/// `float.__repr__` of the value, as `json.dumps` writes it (shortest round trip, Python's
/// exponent style).
pub(crate) fn float_repr(float: &Bound<'_, PyFloat>) -> Result<String, EventError> {
    let text = PyFloat::new(float.py(), float.value()).repr().map_err(py_failure)?;
    Ok(text.to_string_lossy().into_owned())
}

fn write_float(float: &Bound<'_, PyFloat>, out: &mut Vec<u8>) -> Result<(), EventError> {
    check_finite(float)?;
    out.extend_from_slice(float_repr(float)?.as_bytes());
    Ok(())
}

fn py_failure(err: PyErr) -> EventError {
    EventError::bad_value(err.to_string())
}

/// Writes `s` as a JSON string, as core writes strings (serde_json: `"`, `\` and control
/// characters escaped, the rest as is).
fn write_json_string(s: &str, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, s).expect("writing JSON to a Vec cannot fail");
}

/// A decoder, a record buffer and the keys of dicts already read, reused by every
/// single-event call on this thread.
#[derive(Default)]
pub(crate) struct Workspace {
    pub(crate) decoder: Decoder,
    pub(crate) record: Vec<u8>,
    pub(crate) keys: crate::dict::KeyCache,
}

thread_local! {
    static WORKSPACE: RefCell<Workspace> = RefCell::new(Workspace::default());
}

/// Runs `f` with this thread's workspace (or a fresh one if it is already in use higher up
/// the stack).
pub(crate) fn with_workspace<R>(f: impl FnOnce(&mut Workspace) -> R) -> R {
    WORKSPACE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut workspace) => f(&mut workspace),
        Err(_) => f(&mut Workspace::default()),
    })
}
