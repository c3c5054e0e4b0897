//! Arrow record batches → the borrowed field view, read in place (feature `arrow`).
//!
//! [`BatchView`] resolves, once per batch, where each field the rule (and its tuning) reads
//! lives in the batch's columns; [`BatchView::row`] is then one row as [`Fields`], whose
//! values are `&str`s pointing into the Arrow buffers. [`match_batch`] evaluates every row
//! and returns Arrow arrays; [`BatchView::evaluate_into`] appends to caller-owned vectors.
//!
//! # Where a field's values come from
//! A field is looked up by its ECS path (`process.parent.name`), or by the column path a
//! [`ColumnMap`] gives for it. A path names a column the way Elasticsearch's document model
//! names a field (`docs/semantics.md` §4, Document model): any split of the dotted path into a top-level column and
//! nested struct fields, so `process.parent.name` is found in a flat column named
//! `process.parent.name`, in `process` → `parent` → `name` structs, or in a `process` struct
//! with a `parent.name` field. Every column that matches contributes its values, in schema
//! order (as a JSON document that gives a field both ways has both values). A field that no
//! column holds is absent: its comparisons are false. With a [`ColumnMap`] entry, the field
//! is read from the mapped column only.
//!
//! # Types
//! | Arrow type | values |
//! |---|---|
//! | `Utf8`, `LargeUtf8`, `Utf8View` | the string, in place |
//! | `Dictionary(<any integer>, Utf8 \| LargeUtf8 \| Utf8View)` | the dictionary's string, in place |
//! | `List`, `LargeList`, `FixedSizeList` of any of these (nested too) | every element: a multi-valued field |
//! | `Struct` on the way to the field, and lists of structs | as JSON objects and arrays of objects: flattened |
//! | `Boolean` | `"true"` / `"false"`, as Elasticsearch indexes a JSON boolean in a keyword field |
//! | `Int8` … `UInt64` | the decimal text (`123`), as a JSON number in a keyword field; formatted once per batch |
//! | `Null` | no value |
//!
//! A null (at any level: the row, a struct, a list, an element, a dictionary key or value)
//! is no value, as `null` and `[null]` are in JSON. Other types (floats, whose JSON text a
//! column cannot recover; binary; temporal; decimals; maps; unions) are refused with a
//! [`ColumnError`] naming the column, as is a column that is a struct where the rule reads a
//! value or a value where it reads a struct (Elasticsearch rejects such a document). Tables
//! are read as ECS: the raw Sysmon / 4688 mapping of the JSON decoder does not apply.
//!
//! # Cost and trust
//! Building a view allocates a little per batch (the lookup of each field: O(columns ×
//! fields)), plus one string buffer per integer column that a field reads. Reading a row
//! allocates nothing and costs what the rule costs on a JSON document, without the parse.
//! Arrays are trusted to be valid Arrow data, as arrow-rs trusts the C Data Interface:
//! arrays from another library are what that library made them (use arrow-rs's
//! `ArrayData::validate_full` first for untrusted producers).

use std::collections::HashMap;
use std::fmt;
use std::io::Write as _;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Int16Type, Int32Type, Int64Type, Int8Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type, UInt64Type,
    UInt8Type,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, DictionaryArray, LargeStringArray, PrimitiveArray, RecordBatch, StringArray,
    StringViewArray, StructArray, UInt8Array,
};
use arrow_buffer::{ArrowNativeType, NullBuffer};
use arrow_schema::{DataType, Fields as SchemaFields, TimeUnit};

use crate::rule::Rule;
use crate::view::event::Fields;
use crate::view::field::{Field, FieldSet};
use crate::view::text::Text;

/// [`BatchView::evaluate_parallel`] gives each thread at least this many rows.
pub const PARALLEL_MIN_ROWS: usize = 16_384;

/// The most struct and list levels between a top-level column and a field's values.
pub const MAX_LEVELS: usize = 8;

/// Where to read fields whose columns are not named by their ECS path: ECS path → column
/// path (dotted, resolved like an ECS path: flat, nested or both).
///
/// ```
/// use dcom_detect_core::source::arrow::ColumnMap;
/// let columns: ColumnMap = [("process.name", "exe"), ("process.parent.name", "parent.exe")].into_iter().collect();
/// assert_eq!(columns.column("process.name"), "exe");
/// assert_eq!(columns.column("event.type"), "event.type");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ColumnMap {
    entries: HashMap<Box<str>, Box<str>>,
}

impl ColumnMap {
    /// No mapping: every field is read from its ECS path.
    pub fn new() -> ColumnMap {
        ColumnMap::default()
    }

    /// Reads the field `ecs_path` from `column` (replacing an earlier entry).
    pub fn insert(&mut self, ecs_path: &str, column: &str) {
        self.entries.insert(ecs_path.into(), column.into());
    }

    /// The column path the field `ecs_path` is read from.
    pub fn column<'a>(&'a self, ecs_path: &'a str) -> &'a str {
        self.entries.get(ecs_path).map_or(ecs_path, |c| c)
    }

    /// Whether the field `ecs_path` is read from another column than its own path.
    fn remaps(&self, ecs_path: &str) -> bool {
        self.entries.get(ecs_path).is_some_and(|c| **c != *ecs_path)
    }

    /// The entries, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (&**k, &**v))
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<'a> FromIterator<(&'a str, &'a str)> for ColumnMap {
    fn from_iter<I: IntoIterator<Item = (&'a str, &'a str)>>(iter: I) -> ColumnMap {
        let mut map = ColumnMap::new();
        for (ecs_path, column) in iter {
            map.insert(ecs_path, column);
        }
        map
    }
}

/// Why a batch cannot be read: a column the rule reads has a type or shape it cannot take.
///
/// `kind` says what is wrong, as a value a program can match; `Display` gives the sentence
/// for people, naming the column (and the field read from it, when they differ).
///
/// ```
/// # use std::sync::Arc;
/// use arrow_array::{ArrayRef, Float64Array, RecordBatch};
/// use arrow_schema::DataType;
/// use dcom_detect_core::source::arrow::{match_batch, ColumnErrorKind, ColumnMap};
/// use dcom_detect_core::Rule;
///
/// let pid: ArrayRef = Arc::new(Float64Array::from(vec![1.5]));
/// let batch = RecordBatch::try_from_iter([("process.name", pid)]).unwrap();
/// let error = match_batch(&Rule::default(), &batch, &ColumnMap::new()).unwrap_err();
/// assert_eq!(error.kind, ColumnErrorKind::Float(DataType::Float64));
/// assert_eq!(error.column, "process.name");
/// assert!(error.to_string().starts_with("column \"process.name\": is Float64 (floating point)"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnError {
    /// The field being looked up (its ECS path).
    pub field: String,
    /// The column (path) at fault: the field's path, or the column a [`ColumnMap`] names
    /// for it.
    pub column: String,
    /// What is wrong.
    pub kind: ColumnErrorKind,
}

/// What is wrong with a column: the kinds of [`ColumnError`]. `Display` gives the reason
/// without the column.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ColumnErrorKind {
    /// The [`ColumnMap`] names a column the data does not hold.
    NotInData,
    /// Two columns on the field's path have this name (Elasticsearch rejects a document
    /// with a key twice).
    DuplicateName(String),
    /// A column on the field's path (named here, relative to its parent) holds values of
    /// this type where the field needs a struct to go on.
    NotAStruct {
        /// The column's name.
        name: String,
        /// What it holds.
        data_type: DataType,
    },
    /// More than [`MAX_LEVELS`] nested struct and list levels lead to the field's values.
    TooDeep,
    /// A struct or map where the rule reads a value: its type.
    Struct(DataType),
    /// A dictionary whose values are not strings: the values' type.
    Dictionary(DataType),
    /// Floating point numbers, whose JSON text (what Elasticsearch would index) cannot be
    /// recovered: the column's type.
    Float(DataType),
    /// Any other type the view does not read as text (binary, temporal, decimal, union...).
    Unsupported(DataType),
}

impl fmt::Display for ColumnErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnErrorKind::NotInData => f.write_str("is not in the data (it is named in the column mapping)"),
            ColumnErrorKind::DuplicateName(name) => {
                write!(f, "two columns are named {name:?} (Elasticsearch rejects a document with a key twice)")
            }
            ColumnErrorKind::NotAStruct { name, data_type } => {
                write!(f, "column {name:?} is {data_type} where the field needs a struct")
            }
            ColumnErrorKind::TooDeep => write!(f, "more than {MAX_LEVELS} nested struct and list levels"),
            ColumnErrorKind::Struct(_) => f.write_str("is a struct where the rule reads a value"),
            ColumnErrorKind::Dictionary(values) => {
                write!(f, "is a dictionary of {values}; only dictionaries of strings are read")
            }
            ColumnErrorKind::Float(data_type) => write!(
                f,
                "is {data_type} (floating point): the JSON text Elasticsearch would index cannot be recovered; \
                 cast it to a string"
            ),
            ColumnErrorKind::Unsupported(data_type) => write!(
                f,
                "is {data_type}; strings, string lists, dictionaries of strings, booleans and integers are read"
            ),
        }
    }
}

impl fmt::Display for ColumnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field == self.column {
            write!(f, "column {:?}: {}", self.column, self.kind)
        } else {
            write!(f, "column {:?} (read as {}): {}", self.column, self.field, self.kind)
        }
    }
}

impl std::error::Error for ColumnError {}

/// The strings of a string array of any of the three layouts.
#[derive(Clone, Copy, Debug)]
enum Strings<'b> {
    Utf8(&'b StringArray),
    LargeUtf8(&'b LargeStringArray),
    View(&'b StringViewArray),
}

impl<'b> Strings<'b> {
    fn of(array: &'b dyn Array) -> Option<Strings<'b>> {
        match array.data_type() {
            DataType::Utf8 => Some(Strings::Utf8(array.as_string::<i32>())),
            DataType::LargeUtf8 => Some(Strings::LargeUtf8(array.as_string::<i64>())),
            DataType::Utf8View => Some(Strings::View(array.as_string_view())),
            _ => None,
        }
    }

    #[inline]
    fn get(self, i: usize) -> Option<&'b str> {
        match self {
            Strings::Utf8(a) => (i < a.len() && a.is_valid(i)).then(|| a.value(i)),
            Strings::LargeUtf8(a) => (i < a.len() && a.is_valid(i)).then(|| a.value(i)),
            Strings::View(a) => (i < a.len() && a.is_valid(i)).then(|| a.value(i)),
        }
    }
}

/// The keys of a dictionary array, by key type.
#[derive(Clone, Copy, Debug)]
enum Keys<'b> {
    I8(&'b PrimitiveArray<Int8Type>),
    I16(&'b PrimitiveArray<Int16Type>),
    I32(&'b PrimitiveArray<Int32Type>),
    I64(&'b PrimitiveArray<Int64Type>),
    U8(&'b PrimitiveArray<UInt8Type>),
    U16(&'b PrimitiveArray<UInt16Type>),
    U32(&'b PrimitiveArray<UInt32Type>),
    U64(&'b PrimitiveArray<UInt64Type>),
}

macro_rules! each_key_type {
    ($keys:expr, $k:ident => $body:expr) => {
        match $keys {
            Keys::I8($k) => $body,
            Keys::I16($k) => $body,
            Keys::I32($k) => $body,
            Keys::I64($k) => $body,
            Keys::U8($k) => $body,
            Keys::U16($k) => $body,
            Keys::U32($k) => $body,
            Keys::U64($k) => $body,
        }
    };
}

impl<'b> Keys<'b> {
    /// The keys and values of a dictionary array with integer keys.
    fn of(array: &'b dyn Array) -> Option<(Keys<'b>, &'b ArrayRef)> {
        fn parts<K: arrow_array::types::ArrowDictionaryKeyType>(
            d: &DictionaryArray<K>,
        ) -> (&PrimitiveArray<K>, &ArrayRef) {
            (d.keys(), d.values())
        }
        let DataType::Dictionary(key, _) = array.data_type() else { return None };
        Some(match **key {
            DataType::Int8 => parts(array.as_dictionary::<Int8Type>()).map_keys(Keys::I8),
            DataType::Int16 => parts(array.as_dictionary::<Int16Type>()).map_keys(Keys::I16),
            DataType::Int32 => parts(array.as_dictionary::<Int32Type>()).map_keys(Keys::I32),
            DataType::Int64 => parts(array.as_dictionary::<Int64Type>()).map_keys(Keys::I64),
            DataType::UInt8 => parts(array.as_dictionary::<UInt8Type>()).map_keys(Keys::U8),
            DataType::UInt16 => parts(array.as_dictionary::<UInt16Type>()).map_keys(Keys::U16),
            DataType::UInt32 => parts(array.as_dictionary::<UInt32Type>()).map_keys(Keys::U32),
            DataType::UInt64 => parts(array.as_dictionary::<UInt64Type>()).map_keys(Keys::U64),
            _ => return None,
        })
    }

    /// The dictionary index of element `i`, unless the key is null.
    #[inline]
    fn get(self, i: usize) -> Option<usize> {
        each_key_type!(self, k => (i < k.len() && k.is_valid(i)).then(|| k.value(i)).and_then(|v| v.to_usize()))
    }
}

trait MapKeys<'b, K> {
    fn map_keys(self, f: impl FnOnce(K) -> Keys<'b>) -> (Keys<'b>, &'b ArrayRef);
}

impl<'b, K> MapKeys<'b, K> for (K, &'b ArrayRef) {
    fn map_keys(self, f: impl FnOnce(K) -> Keys<'b>) -> (Keys<'b>, &'b ArrayRef) {
        (f(self.0), self.1)
    }
}

/// The array that finally holds a field's values.
#[derive(Debug)]
enum Leaf<'b> {
    /// A `Null` column: never a value.
    Nothing,
    Strings(Strings<'b>),
    Dictionary(Keys<'b>, Strings<'b>),
    Boolean(&'b BooleanArray),
    /// Integers, formatted once for the batch.
    Formatted(StringArray),
}

impl Leaf<'_> {
    #[inline]
    fn get(&self, i: usize) -> Option<&str> {
        match self {
            Leaf::Nothing => None,
            Leaf::Strings(s) => s.get(i),
            Leaf::Dictionary(keys, values) => keys.get(i).and_then(|k| values.get(k)),
            Leaf::Boolean(b) => (i < b.len() && b.is_valid(i)).then(|| if b.value(i) { "true" } else { "false" }),
            Leaf::Formatted(s) => (i < s.len() && s.is_valid(i)).then(|| s.value(i)),
        }
    }
}

/// One struct or list level between a column and its values.
#[derive(Clone, Copy, Debug)]
enum Level<'b> {
    Struct(Option<&'b NullBuffer>),
    List(&'b [i32], Option<&'b NullBuffer>),
    LargeList(&'b [i64], Option<&'b NullBuffer>),
    FixedSizeList(usize, Option<&'b NullBuffer>),
}

impl Level<'_> {
    /// The range of child indices under element `i`; None when the element is null.
    #[inline]
    fn children(self, i: usize) -> Option<(usize, usize)> {
        let valid = |nulls: Option<&NullBuffer>| nulls.is_none_or(|n| n.is_valid(i));
        match self {
            Level::Struct(nulls) => valid(nulls).then_some((i, i + 1)),
            Level::List(offsets, nulls) => {
                let (&start, &end) = (offsets.get(i)?, offsets.get(i + 1)?);
                valid(nulls).then_some((start as usize, end as usize))
            }
            Level::LargeList(offsets, nulls) => {
                let (&start, &end) = (offsets.get(i)?, offsets.get(i + 1)?);
                valid(nulls).then_some((start as usize, end as usize))
            }
            Level::FixedSizeList(size, nulls) => valid(nulls).then(|| (i * size, (i + 1) * size)),
        }
    }
}

/// One column holding values of a field: the levels down to it and the leaf.
#[derive(Debug)]
struct Source<'b> {
    levels: Vec<Level<'b>>,
    leaf: Leaf<'b>,
    shape: Shape<'b>,
}

/// The common arrangements of levels, read without the general walk.
#[derive(Debug)]
enum Shape<'b> {
    /// Structs only: one value at the row's index when every struct is valid there.
    Flat { nulls: Vec<&'b NullBuffer> },
    /// Structs, one list, structs: the list's elements under the row.
    OneList { above: Vec<&'b NullBuffer>, list: Level<'b>, below: Vec<&'b NullBuffer> },
    /// Anything else: the depth-first walk ([`SourceValues`]).
    Deep,
}

impl<'b> Source<'b> {
    fn new(levels: Vec<Level<'b>>, leaf: Leaf<'b>) -> Source<'b> {
        let lists = levels.iter().filter(|l| !matches!(l, Level::Struct(_))).count();
        let struct_nulls = |levels: &[Level<'b>]| -> Vec<&'b NullBuffer> {
            levels
                .iter()
                .filter_map(|l| match l {
                    Level::Struct(nulls) => *nulls,
                    _ => None,
                })
                .collect()
        };
        let shape = match lists {
            0 => Shape::Flat { nulls: struct_nulls(&levels) },
            1 => {
                let at = levels.iter().position(|l| !matches!(l, Level::Struct(_))).expect("one list");
                Shape::OneList {
                    above: struct_nulls(&levels[..at]),
                    list: levels[at],
                    below: struct_nulls(&levels[at + 1..]),
                }
            }
            _ => Shape::Deep,
        };
        Source { levels, leaf, shape }
    }
}

/// One batch (a record batch, or a struct array whose fields are the columns) as seen by one
/// rule. See the [module documentation](self).
#[derive(Debug)]
pub struct BatchView<'b> {
    schema: &'b SchemaFields,
    columns: &'b [ArrayRef],
    row_nulls: Option<&'b NullBuffer>,
    rows: usize,
    /// By field id: the columns holding the field's values.
    sources: Vec<Vec<Source<'b>>>,
    /// Fields read from another column than their own path: (field index, ECS path).
    remapped: Vec<(usize, Box<str>)>,
}

impl<'b> BatchView<'b> {
    /// The view of a record batch for `rule` (its fields and exception fields).
    pub fn of_batch(rule: &Rule, columns: &ColumnMap, batch: &'b RecordBatch) -> Result<BatchView<'b>, ColumnError> {
        BatchView::new(rule.fields(), columns, batch.schema_ref().fields(), batch.columns(), None, batch.num_rows())
    }

    /// The view of a struct array whose fields are the columns; a null element is an event
    /// without fields.
    pub fn of_struct(rule: &Rule, columns: &ColumnMap, array: &'b StructArray) -> Result<BatchView<'b>, ColumnError> {
        BatchView::new(rule.fields(), columns, array.fields(), array.columns(), array.nulls(), array.len())
    }

    /// The view of `rows` rows held by `arrays` (described by `schema`), for the fields of
    /// `fields`; `row_nulls` marks rows that are null as a whole.
    ///
    /// # Panics
    /// If `schema` and `arrays` differ in length, or an array is shorter than `rows`.
    pub fn new(
        fields: &FieldSet,
        columns: &ColumnMap,
        schema: &'b SchemaFields,
        arrays: &'b [ArrayRef],
        row_nulls: Option<&'b NullBuffer>,
        rows: usize,
    ) -> Result<BatchView<'b>, ColumnError> {
        assert_eq!(schema.len(), arrays.len(), "one array per schema field");
        assert!(arrays.iter().all(|a| a.len() >= rows), "every array holds every row");
        let mut sources = Vec::with_capacity(fields.len());
        let mut remapped = Vec::new();
        for field in fields.iter() {
            let column = columns.column(field.path());
            let mut found = Vec::new();
            let mut levels = Vec::new();
            let at = Lookup { field: field.path(), column };
            at.resolve(column, schema, arrays, &mut levels, &mut found)?;
            if columns.remaps(field.path()) {
                if found.is_empty() {
                    return Err(at.error(column, ColumnErrorKind::NotInData));
                }
                remapped.push((field.id().index(), field.path().into()));
            }
            sources.push(found);
        }
        Ok(BatchView { schema, columns: arrays, row_nulls, rows, sources, remapped })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Row `index` as an event.
    ///
    /// # Panics
    /// If `index` is not less than [`len`](Self::len).
    #[inline]
    pub fn row(&self, index: usize) -> Row<'_, 'b> {
        assert!(index < self.rows, "row {index} of a batch of {}", self.rows);
        let null = self.row_nulls.is_some_and(|n| n.is_null(index));
        Row { view: self, index, null }
    }

    /// Evaluates every row, appending to `matched` whether it raises an alert
    /// ([`Verdict::is_match`](crate::Verdict::is_match)) and to `branches` the bits of the
    /// branches that fired ([`BranchSet::bits`](crate::BranchSet::bits); set also when an
    /// exception suppressed the alert). Allocates nothing once the vectors have room.
    pub fn evaluate_into(&self, rule: &Rule, matched: &mut Vec<bool>, branches: &mut Vec<u8>) {
        self.evaluate_parallel(rule, 1, matched, branches);
    }

    /// [`evaluate_into`](Self::evaluate_into) on `threads` threads: [`evaluate_batches`]
    /// with this one batch.
    pub fn evaluate_parallel(&self, rule: &Rule, threads: usize, matched: &mut Vec<bool>, branches: &mut Vec<u8>) {
        evaluate_batches(rule, std::slice::from_ref(self), threads, matched, branches);
    }

    /// Appends row `index` as one JSON object (no newline) to `out`: every column, structs
    /// as objects, lists as arrays, with nulls left out, and each remapped field under its
    /// ECS path instead of its column's. This is the record alerts are written from
    /// ([`crate::AlertWriter`]); decoding it gives the verdict the row gives.
    ///
    /// Values are written as JSON: strings, booleans, integers, finite floats; timestamps as
    /// RFC 3339 strings (`Z` when the column has a time zone) and dates as `YYYY-MM-DD`.
    /// Values of other types (binary, decimals, durations, maps, unions, NaN) are left out,
    /// and so is a column named like an earlier one of the same struct (the view refuses
    /// such a pair when the rule reads it).
    /// Allocates (alerts are written for matches only).
    pub fn write_json(&self, index: usize, out: &mut Vec<u8>) {
        let row = self.row(index);
        out.push(b'{');
        let mut first = true;
        if !row.null {
            let mut path = String::new();
            for (k, (field, array)) in self.schema.iter().zip(self.columns).enumerate() {
                if !repeated(self.schema, k) {
                    self.write_member(field.name(), array, index, &mut path, &mut first, out);
                }
            }
            for (id, ecs_path) in &self.remapped {
                let mut values = self.sources[*id].iter().flat_map(|s| SourceValues::new(s, index));
                let Some(value) = values.next() else { continue };
                member_key(ecs_path, &mut first, out);
                match values.next() {
                    None => write_string(value, out),
                    Some(second) => {
                        out.push(b'[');
                        write_string(value, out);
                        for v in std::iter::once(second).chain(values) {
                            out.push(b',');
                            write_string(v, out);
                        }
                        out.push(b']');
                    }
                }
            }
        }
        out.push(b'}');
    }

    /// Writes `"name": value` unless the value is null or unwritable, or the member is a
    /// field read from another column.
    fn write_member(
        &self,
        name: &str,
        array: &ArrayRef,
        i: usize,
        path: &mut String,
        first: &mut bool,
        out: &mut Vec<u8>,
    ) {
        let parent = path.len();
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(name);
        if !self.remapped.iter().any(|(_, ecs)| **ecs == **path) {
            let mark = out.len();
            let was_first = *first;
            member_key(name, first, out);
            if !self.write_value(array, i, path, out) {
                out.truncate(mark);
                *first = was_first;
            }
        }
        path.truncate(parent);
    }

    /// Writes element `i` of `array` as JSON; false (and nothing written) when it is null or
    /// of a type that is not written.
    fn write_value(&self, array: &ArrayRef, i: usize, path: &mut String, out: &mut Vec<u8>) -> bool {
        if i >= array.len() || array.is_null(i) {
            return false;
        }
        macro_rules! number {
            ($t:ty) => {{
                let _ = write!(out, "{}", array.as_primitive::<$t>().value(i));
                true
            }};
        }
        match array.data_type() {
            DataType::Boolean => {
                out.extend_from_slice(if array.as_boolean().value(i) { b"true" } else { b"false" });
                true
            }
            DataType::Int8 => number!(Int8Type),
            DataType::Int16 => number!(Int16Type),
            DataType::Int32 => number!(Int32Type),
            DataType::Int64 => number!(Int64Type),
            DataType::UInt8 => number!(UInt8Type),
            DataType::UInt16 => number!(UInt16Type),
            DataType::UInt32 => number!(UInt32Type),
            DataType::UInt64 => number!(UInt64Type),
            DataType::Float32 => {
                write_float(f64::from(array.as_primitive::<arrow_array::types::Float32Type>().value(i)), out)
            }
            DataType::Float64 => write_float(array.as_primitive::<arrow_array::types::Float64Type>().value(i), out),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                match Strings::of(array.as_ref()).and_then(|s| s.get(i)) {
                    Some(s) => {
                        write_string(s, out);
                        true
                    }
                    None => false,
                }
            }
            DataType::Dictionary(..) => match Keys::of(array.as_ref()) {
                Some((keys, values)) => keys.get(i).is_some_and(|k| self.write_value(values, k, path, out)),
                None => false,
            },
            DataType::Timestamp(unit, zone) => {
                let value = match unit {
                    TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(i),
                    TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().value(i),
                    TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(i),
                    TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(i),
                };
                write_timestamp(value, *unit, zone.is_some(), out);
                true
            }
            DataType::Date32 => {
                let days = i64::from(array.as_primitive::<Date32Type>().value(i));
                out.push(b'"');
                write_date(days, out);
                out.push(b'"');
                true
            }
            DataType::Date64 => {
                let days = array.as_primitive::<Date64Type>().value(i).div_euclid(86_400_000);
                out.push(b'"');
                write_date(days, out);
                out.push(b'"');
                true
            }
            DataType::Struct(_) => {
                let s = array.as_struct();
                out.push(b'{');
                let mut first = true;
                for (k, (field, child)) in s.fields().iter().zip(s.columns()).enumerate() {
                    if !repeated(s.fields(), k) {
                        self.write_member(field.name(), child, i, path, &mut first, out);
                    }
                }
                out.push(b'}');
                true
            }
            DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) => {
                let (values, start, end) = match array.data_type() {
                    DataType::List(_) => {
                        let l = array.as_list::<i32>();
                        (l.values(), l.value_offsets()[i] as usize, l.value_offsets()[i + 1] as usize)
                    }
                    DataType::LargeList(_) => {
                        let l = array.as_list::<i64>();
                        (l.values(), l.value_offsets()[i] as usize, l.value_offsets()[i + 1] as usize)
                    }
                    _ => {
                        let l = array.as_fixed_size_list();
                        let start = l.value_offset_at(i);
                        (l.values(), start, start + l.value_length() as usize)
                    }
                };
                out.push(b'[');
                let mut first = true;
                for k in start..end {
                    let mark = out.len();
                    if !first {
                        out.push(b',');
                    }
                    if self.write_value(values, k, path, out) {
                        first = false;
                    } else {
                        out.truncate(mark);
                    }
                }
                out.push(b']');
                true
            }
            _ => false,
        }
    }
}

/// Whether field `k` has the name of an earlier field of the same struct (a JSON object
/// cannot hold a key twice: the record keeps the first).
fn repeated(fields: &SchemaFields, k: usize) -> bool {
    let name = fields[k].name();
    fields.iter().take(k).any(|f| f.name() == name)
}

fn member_key(name: &str, first: &mut bool, out: &mut Vec<u8>) {
    if !*first {
        out.push(b',');
    }
    *first = false;
    write_string(name, out);
    out.push(b':');
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, s).expect("writing JSON to a Vec cannot fail");
}

fn write_float(value: f64, out: &mut Vec<u8>) -> bool {
    if !value.is_finite() {
        return false;
    }
    serde_json::to_writer(&mut *out, &value).expect("writing JSON to a Vec cannot fail");
    true
}

/// `"YYYY-MM-DDTHH:MM:SS[.fraction][Z]"` with as many fraction digits as the unit has.
fn write_timestamp(value: i64, unit: TimeUnit, utc: bool, out: &mut Vec<u8>) {
    let (per_second, digits) = match unit {
        TimeUnit::Second => (1, 0),
        TimeUnit::Millisecond => (1_000, 3),
        TimeUnit::Microsecond => (1_000_000, 6),
        TimeUnit::Nanosecond => (1_000_000_000, 9),
    };
    let seconds = value.div_euclid(per_second);
    let fraction = value.rem_euclid(per_second);
    let (days, in_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    out.push(b'"');
    write_date(days, out);
    let _ = write!(out, "T{:02}:{:02}:{:02}", in_day / 3600, in_day / 60 % 60, in_day % 60);
    if digits > 0 {
        let _ = write!(out, ".{fraction:0digits$}");
    }
    if utc {
        out.push(b'Z');
    }
    out.push(b'"');
}

/// The civil date of a day number (days since 1970-01-01), proleptic Gregorian.
fn write_date(days: i64, out: &mut Vec<u8>) {
    let (year, month, day) = crate::view::time::civil_from_days(days);
    let _ = write!(out, "{year:04}-{month:02}-{day:02}");
}

/// The field being looked up and the column path it is read from, for errors.
struct Lookup<'p> {
    field: &'p str,
    column: &'p str,
}

impl Lookup<'_> {
    fn error(&self, column: &str, kind: ColumnErrorKind) -> ColumnError {
        ColumnError { field: self.field.into(), column: column.into(), kind }
    }

    /// Finds every column of `schema` that holds `path` (a dotted path relative to it),
    /// below `levels`.
    fn resolve<'b>(
        &self,
        path: &str,
        schema: &'b SchemaFields,
        arrays: &'b [ArrayRef],
        levels: &mut Vec<Level<'b>>,
        found: &mut Vec<Source<'b>>,
    ) -> Result<(), ColumnError> {
        let on_path = |name: &str| {
            path == name || (path.len() > name.len() && path.starts_with(name) && path.as_bytes()[name.len()] == b'.')
        };
        for (i, field) in schema.iter().enumerate() {
            let name = field.name().as_str();
            if on_path(name) && schema.iter().skip(i + 1).any(|other| other.name() == name) {
                return Err(self.error(self.column, ColumnErrorKind::DuplicateName(name.into())));
            }
        }
        for (field, array) in schema.iter().zip(arrays) {
            let name = field.name().as_str();
            if path == name {
                let depth = levels.len();
                let inner = self.unwrap_lists(array.as_ref(), levels)?;
                let leaf = self.leaf(inner)?;
                found.push(Source::new(levels.clone(), leaf));
                levels.truncate(depth);
            } else if path.len() > name.len() && path.starts_with(name) && path.as_bytes()[name.len()] == b'.' {
                let depth = levels.len();
                let inner = self.unwrap_lists(array.as_ref(), levels)?;
                match inner.data_type() {
                    DataType::Struct(_) => {
                        let s = inner.as_struct();
                        levels.push(Level::Struct(s.nulls()));
                        self.check_depth(levels)?;
                        self.resolve(&path[name.len() + 1..], s.fields(), s.columns(), levels, found)?;
                    }
                    DataType::Null => {}
                    other => {
                        let kind = ColumnErrorKind::NotAStruct { name: name.into(), data_type: other.clone() };
                        return Err(self.error(self.column, kind));
                    }
                }
                levels.truncate(depth);
            }
        }
        Ok(())
    }

    fn check_depth(&self, levels: &[Level<'_>]) -> Result<(), ColumnError> {
        if levels.len() > MAX_LEVELS {
            return Err(self.error(self.column, ColumnErrorKind::TooDeep));
        }
        Ok(())
    }

    /// Adds a level per list around `array`; returns the innermost array.
    fn unwrap_lists<'b>(
        &self,
        mut array: &'b dyn Array,
        levels: &mut Vec<Level<'b>>,
    ) -> Result<&'b dyn Array, ColumnError> {
        loop {
            match array.data_type() {
                DataType::List(_) => {
                    let l = array.as_list::<i32>();
                    levels.push(Level::List(l.value_offsets(), l.nulls()));
                    array = l.values().as_ref();
                }
                DataType::LargeList(_) => {
                    let l = array.as_list::<i64>();
                    levels.push(Level::LargeList(l.value_offsets(), l.nulls()));
                    array = l.values().as_ref();
                }
                DataType::FixedSizeList(_, size) => {
                    let l = array.as_fixed_size_list();
                    levels.push(Level::FixedSizeList(*size as usize, l.nulls()));
                    array = l.values().as_ref();
                }
                _ => return Ok(array),
            }
            self.check_depth(levels)?;
        }
    }

    fn leaf<'b>(&self, array: &'b dyn Array) -> Result<Leaf<'b>, ColumnError> {
        if let Some(strings) = Strings::of(array) {
            return Ok(Leaf::Strings(strings));
        }
        let leaf = match array.data_type() {
            DataType::Null => Leaf::Nothing,
            DataType::Boolean => Leaf::Boolean(array.as_boolean()),
            DataType::Int8 => Leaf::Formatted(format_integers(array.as_primitive::<Int8Type>())),
            DataType::Int16 => Leaf::Formatted(format_integers(array.as_primitive::<Int16Type>())),
            DataType::Int32 => Leaf::Formatted(format_integers(array.as_primitive::<Int32Type>())),
            DataType::Int64 => Leaf::Formatted(format_integers(array.as_primitive::<Int64Type>())),
            DataType::UInt8 => Leaf::Formatted(format_integers(array.as_primitive::<UInt8Type>())),
            DataType::UInt16 => Leaf::Formatted(format_integers(array.as_primitive::<UInt16Type>())),
            DataType::UInt32 => Leaf::Formatted(format_integers(array.as_primitive::<UInt32Type>())),
            DataType::UInt64 => Leaf::Formatted(format_integers(array.as_primitive::<UInt64Type>())),
            DataType::Dictionary(_, value_type) => {
                let values = Keys::of(array).and_then(|(keys, values)| Some((keys, Strings::of(values.as_ref())?)));
                match values {
                    Some((keys, strings)) => Leaf::Dictionary(keys, strings),
                    None => return Err(self.error(self.column, ColumnErrorKind::Dictionary((**value_type).clone()))),
                }
            }
            other @ (DataType::Struct(_) | DataType::Map(..)) => {
                return Err(self.error(self.column, ColumnErrorKind::Struct(other.clone())));
            }
            other @ (DataType::Float16 | DataType::Float32 | DataType::Float64) => {
                return Err(self.error(self.column, ColumnErrorKind::Float(other.clone())));
            }
            other => return Err(self.error(self.column, ColumnErrorKind::Unsupported(other.clone()))),
        };
        Ok(leaf)
    }
}

fn format_integers<T>(array: &PrimitiveArray<T>) -> StringArray
where
    T: arrow_array::ArrowPrimitiveType,
    T::Native: fmt::Display,
{
    use std::fmt::Write as _;
    let mut text = arrow_array::builder::StringBuilder::with_capacity(array.len(), array.len() * 8);
    for value in array.iter() {
        match value {
            Some(n) => {
                let _ = write!(text, "{n}");
                text.append_value("");
            }
            None => text.append_null(),
        }
    }
    text.finish()
}

/// Evaluates every row of `views`, in order, as [`BatchView::evaluate_into`] does, on
/// `threads` threads (0: one per available core). The rows of all the views are cut into
/// contiguous shares, one per thread, across batch boundaries, so many small batches (a
/// table read in chunks of a few hundred rows) keep every thread busy; results are in row
/// order whatever the thread count. Fewer threads are used when there are under
/// [`PARALLEL_MIN_ROWS`] rows per thread. Besides the vectors' growth, allocates only what
/// spawning scoped threads does.
pub fn evaluate_batches(
    rule: &Rule,
    views: &[BatchView<'_>],
    threads: usize,
    matched: &mut Vec<bool>,
    branches: &mut Vec<u8>,
) {
    let rows: usize = views.iter().map(BatchView::len).sum();
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let threads = threads.min(rows / PARALLEL_MIN_ROWS).max(1);
    let (start_m, start_b) = (matched.len(), branches.len());
    matched.resize(start_m + rows, false);
    branches.resize(start_b + rows, 0);
    let (matched, branches) = (&mut matched[start_m..], &mut branches[start_b..]);
    if threads == 1 {
        evaluate_rows(rule, views, 0, matched, branches);
        return;
    }
    let share = rows.div_ceil(threads);
    std::thread::scope(|scope| {
        for (part, (matched, branches)) in matched.chunks_mut(share).zip(branches.chunks_mut(share)).enumerate() {
            scope.spawn(move || evaluate_rows(rule, views, part * share, matched, branches));
        }
    });
}

/// Evaluates the rows `first..first + matched.len()` of the concatenation of `views` into
/// the two slices (of equal length).
fn evaluate_rows(rule: &Rule, views: &[BatchView<'_>], mut first: usize, matched: &mut [bool], branches: &mut [u8]) {
    let mut out = matched.iter_mut().zip(branches.iter_mut());
    for view in views {
        if first >= view.len() {
            first -= view.len();
            continue;
        }
        // The range first: `zip` stops on it without taking an output slot.
        for (index, (m, b)) in (first..view.len()).zip(out.by_ref()) {
            let row = view.row(index);
            let verdict = rule.evaluate(&row);
            *m = verdict.is_match();
            *b = verdict.branches().bits();
        }
        first = 0;
    }
}

/// One row of a [`BatchView`]: an event whose values live in the batch's buffers.
#[derive(Clone, Copy, Debug)]
pub struct Row<'v, 'b> {
    view: &'v BatchView<'b>,
    index: usize,
    /// The whole row is null (a null element of a struct array).
    null: bool,
}

impl Row<'_, '_> {
    /// The row's index in its batch.
    pub fn index(&self) -> usize {
        self.index
    }
}

impl<'v, 'b> Fields for Row<'v, 'b> {
    type Values<'s>
        = RowValues<'s>
    where
        Self: 's;

    #[inline]
    fn values<'s>(&'s self, field: &'s Field) -> RowValues<'s> {
        let sources: &'s [Source<'b>] = match self.view.sources.get(field.id().index()) {
            Some(sources) if !self.null => sources,
            _ => &[],
        };
        RowValues { sources: sources.iter(), current: None, row: self.index }
    }
}

/// The values of one field in one [`Row`]: each source column's, in schema order.
#[derive(Clone, Debug)]
pub struct RowValues<'s> {
    sources: std::slice::Iter<'s, Source<'s>>,
    current: Option<Walk<'s>>,
    row: usize,
}

/// Where [`RowValues`] is within one source.
#[derive(Clone, Debug)]
enum Walk<'s> {
    /// The elements `next..end` of a [`Shape::OneList`] source.
    List {
        source: &'s Source<'s>,
        below: &'s [&'s NullBuffer],
        next: usize,
        end: usize,
    },
    Deep(SourceValues<'s>),
}

impl<'s> Iterator for RowValues<'s> {
    type Item = Text<'s>;

    #[inline]
    fn next(&mut self) -> Option<Text<'s>> {
        let row = self.row;
        loop {
            match &mut self.current {
                Some(Walk::List { source, below, next, end }) => {
                    while *next < *end {
                        let i = *next;
                        *next += 1;
                        if below.iter().all(|n| n.is_valid(i)) {
                            if let Some(v) = source.leaf.get(i) {
                                return Some(Text::utf8(v));
                            }
                        }
                    }
                }
                Some(Walk::Deep(walk)) => {
                    if let Some(v) = walk.next() {
                        return Some(Text::utf8(v));
                    }
                }
                None => {}
            }
            self.current = None;
            let source = self.sources.next()?;
            match &source.shape {
                Shape::Flat { nulls } => {
                    if nulls.iter().all(|n| n.is_valid(row)) {
                        if let Some(v) = source.leaf.get(row) {
                            return Some(Text::utf8(v));
                        }
                    }
                }
                Shape::OneList { above, list, below } => {
                    if above.iter().all(|n| n.is_valid(row)) {
                        if let Some((next, end)) = list.children(row) {
                            self.current = Some(Walk::List { source, below, next, end });
                        }
                    }
                }
                Shape::Deep => self.current = Some(Walk::Deep(SourceValues::new(source, row))),
            }
        }
    }
}

/// A depth-first walk of one source column's values for one row, in a fixed-size stack.
#[derive(Clone, Debug)]
struct SourceValues<'s> {
    source: &'s Source<'s>,
    /// Per level: the next index to visit and the end of the range, at that level.
    frames: [(usize, usize); MAX_LEVELS + 1],
    depth: usize,
}

impl<'s> SourceValues<'s> {
    #[inline]
    fn new(source: &'s Source<'s>, row: usize) -> SourceValues<'s> {
        let mut frames = [(0, 0); MAX_LEVELS + 1];
        frames[0] = (row, row + 1);
        SourceValues { source, frames, depth: 0 }
    }
}

impl<'s> Iterator for SourceValues<'s> {
    type Item = &'s str;

    #[inline]
    fn next(&mut self) -> Option<&'s str> {
        let levels = &self.source.levels;
        loop {
            let (next, end) = self.frames[self.depth];
            if next >= end {
                if self.depth == 0 {
                    return None;
                }
                self.depth -= 1;
                continue;
            }
            self.frames[self.depth].0 = next + 1;
            match levels.get(self.depth) {
                None => {
                    if let Some(v) = self.source.leaf.get(next) {
                        return Some(v);
                    }
                }
                Some(level) => {
                    if let Some(range) = level.children(next) {
                        self.depth += 1;
                        self.frames[self.depth] = range;
                    }
                }
            }
        }
    }
}

/// The verdicts of a batch as Arrow arrays, one element per row.
#[derive(Clone, Debug)]
pub struct Matches {
    /// Whether the row raises an alert (no nulls).
    pub matched: BooleanArray,
    /// The bits of the branches that fired (1 `office_child`, 2 `dcomcnfg`, 4
    /// `dcom_command_line`), also when an exception suppressed the alert (no nulls).
    pub branches: UInt8Array,
}

/// Evaluates `rule` on every row of `batch`. Allocates the two output arrays and the view
/// (see [`BatchView`]); nothing per row.
pub fn match_batch(rule: &Rule, batch: &RecordBatch, columns: &ColumnMap) -> Result<Matches, ColumnError> {
    let view = BatchView::of_batch(rule, columns, batch)?;
    let mut matched = Vec::with_capacity(view.len());
    let mut branches = Vec::with_capacity(view.len());
    view.evaluate_into(rule, &mut matched, &mut branches);
    Ok(Matches { matched: BooleanArray::from(matched), branches: UInt8Array::from(branches) })
}

/// The indices of the top-level columns of `schema` that a view for `fields` may read (a
/// superset: every column whose name is a field's column path or a prefix of it). A
/// reader can skip the others (Parquet: a projection).
pub fn columns_read(fields: &FieldSet, columns: &ColumnMap, schema: &SchemaFields) -> Vec<usize> {
    let wanted = |name: &str| {
        fields.iter().any(|f| {
            let path = columns.column(f.path());
            path == name || (path.len() > name.len() && path.starts_with(name) && path.as_bytes()[name.len()] == b'.')
        })
    };
    schema.iter().enumerate().filter(|(_, f)| wanted(f.name())).map(|(i, _)| i).collect()
}
