//! Arrow data from Python → core's Arrow view (`dcom_detect_core::source::arrow`).
//!
//! Data arrives through the Arrow PyCapsule interface, without depending on pyarrow:
//! `__arrow_c_stream__` (preferred: pyarrow `Table` / `RecordBatch` / `RecordBatchReader` /
//! `ChunkedArray`, polars `DataFrame` / `Series`, pandas ≥ 2.2 `DataFrame`, DuckDB results,
//! …) or `__arrow_c_array__` (a struct array or a record batch). The capsules' C structs are
//! moved into arrow-rs's importers (`ffi_stream::ArrayStreamReader`, `ffi::from_ffi`), which
//! take ownership of the producer's buffers without copying them; the capsules are left
//! released, as the protocol asks. Each imported array must be a struct (a table's rows);
//! its fields are the columns.
//!
//! Everything after the import runs with the interpreter released, in core: the view, the
//! matching, the records alerts are written from. Nothing here creates a Python object per
//! row: results are two byte buffers turned into numpy arrays at the end.

use std::ffi::CStr;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::ffi::{from_ffi, FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::ffi_stream::{ArrayStreamReader, FFI_ArrowArrayStream};
use arrow_array::{make_array, Array, ArrayRef};
use arrow_schema::{ArrowError, DataType};
use dcom_detect_core::source::arrow::{evaluate_batches, BatchView, ColumnError, ColumnMap, PARALLEL_MIN_ROWS};
use dcom_detect_core::{AlertOptions, AlertWriter, Origin, Position, Rule};
use pyo3::exceptions::{PyImportError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyCapsule, PyMapping, PyString, PyTuple};

use crate::errors;
use crate::scan::{Alert, AlertData};

const STREAM: &CStr = c"arrow_array_stream";
const SCHEMA: &CStr = c"arrow_schema";
const ARRAY: &CStr = c"arrow_array";

/// What `data` was: a stream of arrays, or one array.
pub(crate) enum Imported {
    Stream(ArrayStreamReader),
    Array(ArrayRef),
}

/// Imports `data` through its Arrow PyCapsule methods (with the interpreter held: the
/// producer's methods are Python). A pandas DataFrame older than pandas 2.2 (no
/// `__arrow_c_stream__`) goes through `pyarrow.Table.from_pandas`.
pub(crate) fn import(py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<Imported> {
    if data.hasattr("__arrow_c_stream__")? {
        let capsule = data.call_method0("__arrow_c_stream__")?;
        let capsule = capsule.cast::<PyCapsule>().map_err(|_| not_a_capsule("__arrow_c_stream__"))?;
        let pointer = capsule.pointer_checked(Some(STREAM))?;
        // SAFETY: the capsule holds an ArrowArrayStream (its name says so); `from_raw` moves
        // the struct out and marks the capsule's copy released, so it is released once.
        let reader = unsafe { ArrayStreamReader::from_raw(pointer.as_ptr().cast::<FFI_ArrowArrayStream>()) }
            .map_err(|e| arrow_error(&e))?;
        return Ok(Imported::Stream(reader));
    }
    if data.hasattr("__arrow_c_array__")? {
        let pair = data.call_method0("__arrow_c_array__")?;
        let pair = pair.cast::<PyTuple>().map_err(|_| not_a_capsule("__arrow_c_array__"))?;
        if pair.len() != 2 {
            return Err(not_a_capsule("__arrow_c_array__"));
        }
        let schema = pair.get_item(0)?;
        let array = pair.get_item(1)?;
        let schema = schema.cast::<PyCapsule>().map_err(|_| not_a_capsule("__arrow_c_array__"))?;
        let array = array.cast::<PyCapsule>().map_err(|_| not_a_capsule("__arrow_c_array__"))?;
        let schema_pointer = schema.pointer_checked(Some(SCHEMA))?;
        let array_pointer = array.pointer_checked(Some(ARRAY))?;
        // SAFETY: the capsules hold an ArrowSchema and an ArrowArray (their names say so).
        // The array is moved out (its capsule's copy marked released); the schema is only
        // borrowed while the capsule is alive and released by the capsule.
        let data = unsafe {
            let array = FFI_ArrowArray::from_raw(array_pointer.as_ptr().cast::<FFI_ArrowArray>());
            let schema = &*schema_pointer.as_ptr().cast::<FFI_ArrowSchema>();
            from_ffi(array, schema)
        }
        .map_err(|e| arrow_error(&e))?;
        return Ok(Imported::Array(make_array(data)));
    }
    let module = data.get_type().module().map(|m| m.to_string()).unwrap_or_default();
    if module.starts_with("pandas") {
        let table = py
            .import("pyarrow")
            .map_err(|_| PyImportError::new_err("matching a pandas DataFrame needs pyarrow: pip install pyarrow"))?
            .getattr("Table")?
            .call_method1("from_pandas", (data,))?;
        return import(py, &table);
    }
    Err(PyTypeError::new_err(format!(
        "data must support the Arrow PyCapsule interface (__arrow_c_stream__ or __arrow_c_array__): a pyarrow \
         Table, RecordBatch or ChunkedArray of structs, a polars DataFrame, a pandas DataFrame, ...; not {}",
        errors::type_name(data)
    )))
}

fn not_a_capsule(method: &str) -> PyErr {
    PyTypeError::new_err(format!("{method}() did not return what the Arrow PyCapsule interface specifies"))
}

/// Why matching imported data failed.
pub(crate) enum Failure {
    Arrow(ArrowError),
    Column(ColumnError),
    NotATable(DataType),
}

impl Failure {
    pub(crate) fn into_pyerr(self, py: Python<'_>) -> PyErr {
        match self {
            Failure::Arrow(e) => arrow_error(&e),
            Failure::Column(e) => errors::column_error(py, &e),
            Failure::NotATable(t) => PyTypeError::new_err(format!(
                "data must be a table (a struct array whose fields are the columns), not an array of {t}"
            )),
        }
    }
}

fn arrow_error(e: &ArrowError) -> PyErr {
    PyValueError::new_err(format!("could not import the Arrow data: {e}"))
}

/// Calls `each` with the view of every batch of `data`, in order.
pub(crate) fn for_each_batch(
    rule: &Rule,
    columns: &ColumnMap,
    data: Imported,
    mut each: impl FnMut(&BatchView<'_>) -> Result<(), Failure>,
) -> Result<(), Failure> {
    for_each_group(rule, columns, data, 0, |views| views.iter().try_for_each(&mut each))
}

/// Calls `each` with the views of consecutive batches of `data`, in order, grouped until a
/// group holds at least `rows` rows (the last may hold fewer), so that matching a group on
/// several threads keeps them busy however small the batches are. A group keeps its
/// batches' arrays alive (reference counts, not copies) until `each` returns.
pub(crate) fn for_each_group(
    rule: &Rule,
    columns: &ColumnMap,
    data: Imported,
    rows: usize,
    mut each: impl FnMut(&[BatchView<'_>]) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let mut group: Vec<ArrayRef> = Vec::new();
    let mut flush = |group: &mut Vec<ArrayRef>| -> Result<(), Failure> {
        let views = group
            .iter()
            .map(|array| BatchView::of_struct(rule, columns, array.as_struct()).map_err(Failure::Column))
            .collect::<Result<Vec<_>, _>>()?;
        each(&views)?;
        drop(views);
        group.clear();
        Ok(())
    };
    let add = |group: &mut Vec<ArrayRef>, array: ArrayRef| -> Result<usize, Failure> {
        if array.as_struct_opt().is_none() {
            return Err(Failure::NotATable(array.data_type().clone()));
        }
        let len = array.len();
        group.push(array);
        Ok(len)
    };
    match data {
        Imported::Array(array) => {
            add(&mut group, array)?;
            flush(&mut group)
        }
        Imported::Stream(reader) => {
            let mut pending = 0;
            for array in reader {
                pending += add(&mut group, array.map_err(Failure::Arrow)?)?;
                if pending >= rows {
                    flush(&mut group)?;
                    pending = 0;
                }
            }
            if group.is_empty() {
                Ok(())
            } else {
                flush(&mut group)
            }
        }
    }
}

/// The `columns` argument: a mapping of ECS path → column path, or None.
pub(crate) fn column_map(columns: Option<&Bound<'_, PyAny>>) -> PyResult<ColumnMap> {
    let mut map = ColumnMap::new();
    let Some(columns) = columns.filter(|c| !c.is_none()) else { return Ok(map) };
    let mapping = columns
        .cast::<PyMapping>()
        .map_err(|_| errors::wrong_type("columns", "a mapping of ECS field path to column name", columns))?;
    for item in mapping.items()?.iter() {
        let (key, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
        let (Ok(key), Ok(value)) = (key.cast::<PyString>(), value.cast::<PyString>()) else {
            return Err(PyTypeError::new_err("columns must map str (an ECS field path) to str (a column name)"));
        };
        map.insert(&key.to_cow()?, &value.to_cow()?);
    }
    Ok(map)
}

/// `Rule.match_arrow`: per row, whether it raises an alert and the bits of the branches that
/// fired, as numpy arrays.
pub(crate) fn match_arrow<'py>(
    py: Python<'py>,
    rule: &Arc<Rule>,
    data: &Bound<'py, PyAny>,
    columns: Option<&Bound<'py, PyAny>>,
    branches: bool,
    threads: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let numpy = py
        .import("numpy")
        .map_err(|_| PyImportError::new_err("Rule.match_arrow returns numpy arrays: pip install numpy"))?;
    let columns = column_map(columns)?;
    let imported = import(py, data)?;
    let mut matched: Vec<bool> = Vec::new();
    let mut bits: Vec<u8> = Vec::new();
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    // Groups of a few shares per thread: small batches (a table read in chunks of a few
    // hundred rows) still keep every thread busy, and thread start-up stays negligible.
    let group_rows = threads.saturating_mul(4 * PARALLEL_MIN_ROWS);
    py.detach(|| {
        for_each_group(rule, &columns, imported, group_rows, |views| {
            evaluate_batches(rule, views, threads, &mut matched, &mut bits);
            Ok(())
        })
    })
    .map_err(|f| f.into_pyerr(py))?;
    let bool_dtype = numpy.getattr("bool_")?;
    let matched = PyByteArray::new_with(py, matched.len(), |buffer| {
        for (out, m) in buffer.iter_mut().zip(&matched) {
            *out = u8::from(*m);
        }
        Ok(())
    })?;
    let matched = numpy.call_method1("frombuffer", (matched, bool_dtype))?;
    if !branches {
        return Ok(matched);
    }
    let bits = numpy.call_method1("frombuffer", (PyByteArray::new(py, &bits), numpy.getattr("uint8")?))?;
    Ok(PyTuple::new(py, [matched, bits])?.into_any())
}

/// `Rule.alerts_arrow`: the ECS alert of every matching row, written by core's `AlertWriter`
/// from the row's JSON record (`BatchView::write_json`).
pub(crate) fn alerts_arrow(
    py: Python<'_>,
    rule: &Arc<Rule>,
    data: &Bound<'_, PyAny>,
    columns: Option<&Bound<'_, PyAny>>,
    file: Option<String>,
    first_row: Option<u64>,
    include_original: bool,
) -> PyResult<Vec<Alert>> {
    let columns = column_map(columns)?;
    let imported = import(py, data)?;
    let file: Option<Arc<str>> = file.map(Arc::from);
    let mut alerts = Vec::new();
    py.detach(|| {
        let mut writer = AlertWriter::new(rule, AlertOptions { include_original });
        let mut record = Vec::new();
        let mut row_base = 0u64;
        for_each_batch(rule, &columns, imported, |view| {
            for index in 0..view.len() {
                let row = view.row(index);
                let verdict = rule.evaluate(&row);
                if !verdict.is_match() {
                    continue;
                }
                record.clear();
                view.write_json(index, &mut record);
                let position = first_row.map(|first| Position::Row { row: first + row_base + index as u64 });
                let origin = Origin { file: file.as_deref(), position };
                // The record decodes to the verdict the row gave (core's tests hold it to
                // that), so a failure here is a bug worth an error, not a silent gap.
                let alert = match writer.document(&record, &origin) {
                    Ok(Some(alert)) => alert,
                    Ok(None) => {
                        return Err(Failure::Arrow(ArrowError::ComputeError(format!(
                            "internal error: row {} matched but its record gave no alert",
                            row_base + index as u64
                        ))))
                    }
                    Err(e) => {
                        return Err(Failure::Arrow(ArrowError::ComputeError(format!(
                            "internal error writing the alert of row {}: {e}",
                            row_base + index as u64
                        ))))
                    }
                };
                alerts.push(AlertData::new(alert, file.clone(), position));
            }
            row_base += view.len() as u64;
            Ok(())
        })
    })
    .map_err(|f| f.into_pyerr(py))?;
    Ok(alerts.into_iter().map(Alert::from).collect())
}
