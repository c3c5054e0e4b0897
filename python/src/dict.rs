//! Python dicts read in place: a walk over dicts, lists and strings that drives core's
//! [`TreeReader`], descending only into keys that lead to a field the rule or its exceptions
//! read. Nothing is serialised.
//!
//! The verdict is the one `json.dumps(event)` would get, whenever `json.dumps` succeeds,
//! with the differences core's [`tree`](dcom_detect_core::view::tree) module states (a subtree no
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

use std::sync::{Arc, Weak};

use dcom_detect_core::{Container, Cursor, DecodeError, Document, Key, Rule, TreeReader};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::errors;
use crate::event::{without_surrogates, EventError};

/// Reads `dict` into a document, visiting only what `reader`'s paths want. `keys` caches
/// resolved keys for `rule`, whose paths `reader` reads.
pub(crate) fn read<'d>(
    mut reader: TreeReader<'d>,
    keys: &mut KeyCache,
    rule: &Arc<Rule>,
    dict: &Bound<'_, PyDict>,
) -> Result<Document<'d>, EventError> {
    keys.serve(rule);
    let root = reader.root();
    object(&mut reader, keys, dict, root, 0)?;
    reader.finish().map_err(rejected)
}

fn rejected(error: DecodeError) -> EventError {
    EventError::bad_value(error.kind().to_string())
}

/// Keys already resolved, by key object and parent: a direct-mapped table of
/// [`KeyCache::SLOTS`] entries, each holding a strong reference to its key `str`, so that its
/// address cannot be reused by another object while the entry lives (a `str` never changes).
///
/// Python dicts built the same way share their key objects (literals and other interned
/// strings, column names), so after the first event a key costs a pointer comparison instead
/// of a UTF-8 view and a lookup in the trie of wanted paths. A key seen for the first time
/// (`json.loads` makes new ones per call) replaces what its slot held: one reference count
/// each way. Cleared when the rule changes; memory: the table plus the keys it holds.
#[derive(Default)]
pub(crate) struct KeyCache {
    /// The rule the entries were resolved for (held weakly: its address is not reused while
    /// this lives).
    rule: Weak<Rule>,
    slots: Vec<Slot>,
}

struct Slot {
    key: Option<Py<PyString>>,
    parent: usize,
    resolved: Key,
}

impl KeyCache {
    /// A power of two.
    const SLOTS: usize = 1024;

    /// Makes the cache serve `rule`, dropping entries resolved for another.
    fn serve(&mut self, rule: &Arc<Rule>) {
        if !std::ptr::eq(self.rule.as_ptr(), Arc::as_ptr(rule)) {
            self.slots.clear();
            self.rule = Arc::downgrade(rule);
        }
    }

    /// The slot of `(key, parent)`: the top bits of a multiplicative (Fibonacci) hash of the
    /// key's address mixed with the parent's ordinal, so that keys allocated close together
    /// and the same key under different parents spread over the table.
    #[inline]
    fn index(key: *mut ffi::PyObject, parent: Cursor) -> usize {
        let mixed = (key as u64) ^ ((parent.ordinal() as u64) << 48);
        (mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - Self::SLOTS.trailing_zeros())) as usize
    }

    /// The cached resolution of `key` under `parent`.
    #[inline]
    fn get(&self, key: *mut ffi::PyObject, parent: Cursor) -> Option<Key> {
        let slot = self.slots.get(Self::index(key, parent))?;
        let held = slot.key.as_ref()?;
        (held.as_ptr() == key && slot.parent == parent.ordinal()).then_some(slot.resolved)
    }

    fn insert(&mut self, key: &Bound<'_, PyString>, parent: Cursor, resolved: Key) {
        if self.slots.is_empty() {
            self.slots.resize_with(Self::SLOTS, || Slot { key: None, parent: 0, resolved });
        }
        let slot = &mut self.slots[Self::index(key.as_ptr(), parent)];
        *slot = Slot { key: Some(key.clone().unbind()), parent: parent.ordinal(), resolved };
    }
}

fn object(
    reader: &mut TreeReader<'_>,
    keys: &mut KeyCache,
    dict: &Bound<'_, PyDict>,
    at: Cursor,
    depth: usize,
) -> Result<(), EventError> {
    reader.open(at, depth, Container::Object).map_err(rejected)?;
    let py = dict.py();
    let mut position: ffi::Py_ssize_t = 0;
    let mut key: *mut ffi::PyObject = std::ptr::null_mut();
    let mut value: *mut ffi::PyObject = std::ptr::null_mut();
    // Borrowed references, so that the values of unwanted keys are never touched (no
    // reference count written: on large batches that write is a cache miss per value, and
    // was most of the cost). Sound because nothing between `PyDict_Next` and the last use of
    // a borrowed pointer runs Python code: the key is read at once, and a wanted value is
    // owned (`to_owned`) before it is read. `PyDict_Next` itself stays memory-safe if Python
    // code run while reading a value (a float subclass's `__repr__`, say) changes the dict.
    // SAFETY: `dict` is a live dict and the interpreter is held; see above for the pointers.
    while unsafe { ffi::PyDict_Next(dict.as_ptr(), &mut position, &mut key, &mut value) } != 0 {
        let resolved = match keys.get(key, at) {
            Some(resolved) => Ok(resolved),
            None => {
                // SAFETY: `PyDict_Next` returned a non-NULL borrowed reference, valid until
                // Python code runs.
                let key = unsafe { Borrowed::from_ptr(py, key) };
                let Ok(text) = key.cast::<PyString>() else {
                    let repr = key.repr().map(|r| r.to_string()).unwrap_or_default();
                    return Err(EventError::type_error(format!(
                        "keys must be str, not {} (key {repr})",
                        errors::type_name(&key)
                    )));
                };
                let resolved = match text.to_str() {
                    Ok(k) => reader.resolve(at, k),
                    Err(_) => reader.resolve(at, &without_surrogates(&text)),
                };
                if let Ok(resolved) = resolved {
                    keys.insert(&text, at, resolved);
                }
                resolved
            }
        };
        let child = resolved.map(|k| reader.enter(k));
        if matches!(child, Ok(c) if !reader.wants(c)) {
            continue;
        }
        // SAFETY: as for the key.
        let borrowed = unsafe { Borrowed::from_ptr(py, value) };
        if let (Ok(child), Some(text)) = (&child, as_str(&borrowed)) {
            // A string is read at once, without running Python code: no reference needed.
            string(reader, *child, &text);
        } else {
            // SAFETY: as for the key; both owned before anything else runs.
            let key = unsafe { Borrowed::from_ptr(py, key) }.to_owned();
            let value = borrowed.to_owned();
            let located =
                |e: EventError| e.within(|| format!("[{}]", key.repr().map(|r| r.to_string()).unwrap_or_default()));
            let child = child.map_err(|e| located(rejected(e)))?;
            item(reader, keys, &value, child, depth + 1).map_err(located)?;
        }
    }
    Ok(())
}

fn array<'py>(
    reader: &mut TreeReader<'_>,
    keys: &mut KeyCache,
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    at: Cursor,
    depth: usize,
) -> Result<(), EventError> {
    reader.open(at, depth, Container::Array).map_err(rejected)?;
    for (i, value) in items.enumerate() {
        item(reader, keys, &value, at, depth + 1).map_err(|e| e.within(|| format!("[{i}]")))?;
    }
    Ok(())
}

/// One value at `at`, enclosed by `depth` containers.
fn item(
    reader: &mut TreeReader<'_>,
    keys: &mut KeyCache,
    value: &Bound<'_, PyAny>,
    at: Cursor,
    depth: usize,
) -> Result<(), EventError> {
    if let Some(text) = as_str(value) {
        string(reader, at, &text);
    } else if let Some(dict) = as_dict(value) {
        object(reader, keys, &dict, at, depth)?;
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
        array(reader, keys, list.iter(), at, depth)?;
    } else if let Ok(tuple) = value.cast::<PyTuple>() {
        array(reader, keys, tuple.iter(), at, depth)?;
    } else {
        return Err(crate::event::unserialisable(value));
    }
    Ok(())
}

/// `value` as a `str` (an instance of `str` or of a subclass). An exact `str` is recognised
/// by its type pointer, without the call to `PyType_GetFlags` the limited API's
/// `PyUnicode_Check` makes.
#[inline]
fn as_str<'a, 'py>(value: &'a Bound<'py, PyAny>) -> Option<Borrowed<'a, 'py, PyString>> {
    // SAFETY: `value` is a live object; reading its type is what `Py_TYPE` does.
    if unsafe { ffi::Py_TYPE(value.as_ptr()) } == &raw mut ffi::PyUnicode_Type {
        // SAFETY: its type is exactly `str`.
        return Some(unsafe { value.cast_unchecked::<PyString>() }.as_borrowed());
    }
    value.cast::<PyString>().ok().map(|s| s.as_borrowed())
}

/// `value` as a `dict` (or a subclass), as [`as_str`] does for `str`.
#[inline]
fn as_dict<'a, 'py>(value: &'a Bound<'py, PyAny>) -> Option<Borrowed<'a, 'py, PyDict>> {
    // SAFETY: as in `as_str`.
    if unsafe { ffi::Py_TYPE(value.as_ptr()) } == &raw mut ffi::PyDict_Type {
        // SAFETY: its type is exactly `dict`.
        return Some(unsafe { value.cast_unchecked::<PyDict>() }.as_borrowed());
    }
    value.cast::<PyDict>().ok().map(|d| d.as_borrowed())
}

/// A `str` at `at`: its text, with an unpaired surrogate as U+FFFD (as JSON text would be
/// decoded).
#[inline]
fn string(reader: &mut TreeReader<'_>, at: Cursor, text: &Bound<'_, PyString>) {
    if reader.wants_scalar(at) {
        match text.to_str() {
            Ok(s) => reader.scalar(at, s),
            Err(_) => reader.scalar(at, &without_surrogates(text)),
        }
    }
}
