//! The Arrow view (`arrow` module) and the Parquet scan (`parquet` module): every column
//! type and null pattern, flat and nested columns, lists, the column mapping, refusals,
//! parity with the JSON decoder on the golden corpus (several table layouts, both case
//! foldings, with exceptions), the JSON records alerts are written from, and no allocation
//! per row.

mod counting;

use std::ops::ControlFlow;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, FixedSizeListBuilder, Int64Builder, LargeListBuilder, LargeStringBuilder, ListBuilder,
    StringBuilder, StringDictionaryBuilder, StringViewBuilder,
};
use arrow_array::types::{Int32Type, UInt8Type};
use arrow_array::{
    Array, ArrayRef, BinaryArray, Float64Array, Int32Array, NullArray, RecordBatch, StringArray, StructArray,
    TimestampMillisecondArray,
};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, Field as ArrowField, Fields as ArrowFields, Schema};
use counting::allocations_during;
use dcom_detect_core::source::arrow::{evaluate_batches, match_batch, BatchView, ColumnErrorKind, ColumnMap};
use dcom_detect_core::view::ecs::Schema as DocSchema;
use dcom_detect_core::{CaseFolding, Decoder, Fields, Found, Options, Outcome, Position, Rule};

const RULE_PATHS: [&str; 5] =
    ["event.category", "event.type", "process.name", "process.parent.name", "process.command_line"];

fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<ArrowField> =
        columns.iter().map(|(name, a)| ArrowField::new(*name, a.data_type().clone(), true)).collect();
    let arrays = columns.into_iter().map(|(_, a)| a).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
}

fn utf8(values: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

fn structs(columns: Vec<(&str, ArrayRef)>, nulls: Option<NullBuffer>) -> ArrayRef {
    let fields: ArrowFields =
        columns.iter().map(|(name, a)| ArrowField::new(*name, a.data_type().clone(), true)).collect();
    Arc::new(StructArray::new(fields, columns.into_iter().map(|(_, a)| a).collect(), nulls))
}

fn list(rows: &[Option<Vec<Option<&str>>>]) -> ArrayRef {
    let mut b = ListBuilder::new(StringBuilder::new());
    for row in rows {
        match row {
            Some(values) => {
                for v in values {
                    b.values().append_option(*v);
                }
                b.append(true);
            }
            None => b.append(false),
        }
    }
    Arc::new(b.finish())
}

/// The values of `path` in each row, as the view gives them.
fn values_of(rule: &Rule, columns: &ColumnMap, batch: &RecordBatch, path: &str) -> Vec<Vec<String>> {
    let view = BatchView::of_batch(rule, columns, batch).unwrap();
    let field = rule.fields().get(rule.fields().id(path).expect("a rule field"));
    (0..view.len()).map(|i| view.row(i).values(field).map(|t| t.to_string()).collect()).collect()
}

fn bits(rule: &Rule, batch: &RecordBatch, columns: &ColumnMap) -> Vec<u8> {
    match_batch(rule, batch, columns).unwrap().branches.values().to_vec()
}

/// Three rows: a start under MMC (office_child), dcomcnfg, and nothing.
fn three_rows(name: ArrayRef, parent: ArrayRef) -> RecordBatch {
    batch(vec![
        ("event.category", utf8(&[Some("process"), Some("process"), Some("process")])),
        ("event.type", utf8(&[Some("start"), Some("start"), Some("start")])),
        ("process.name", name),
        ("process.parent.name", parent),
    ])
}

#[test]
fn every_string_layout_reads_the_same() {
    let rule = Rule::default();
    let none = ColumnMap::new();
    let names = [Some("cmd.exe"), Some("dcomcnfg.exe"), None];
    let parents = [Some("MMC.exe"), None, Some("mmc.exe")];
    let expected = vec![1u8, 2, 0];

    let utf8_batch = three_rows(utf8(&names), utf8(&parents));
    assert_eq!(bits(&rule, &utf8_batch, &none), expected);

    let large = |v: &[Option<&str>]| -> ArrayRef {
        let mut b = LargeStringBuilder::new();
        v.iter().for_each(|s| b.append_option(*s));
        Arc::new(b.finish())
    };
    assert_eq!(bits(&rule, &three_rows(large(&names), large(&parents)), &none), expected);

    // String views: short values are inlined, long ones (over 12 bytes) live in data buffers.
    let view = |v: &[Option<&str>]| -> ArrayRef {
        let mut b = StringViewBuilder::new();
        v.iter().for_each(|s| b.append_option(*s));
        Arc::new(b.finish())
    };
    assert_eq!(bits(&rule, &three_rows(view(&names), view(&parents)), &none), expected);
    let long = three_rows(view(&[Some("cmd.exe"), Some("x"), None]), view(&[Some("EXCEL.EXE"), None, None]));
    let cmd = "C:\\Windows\\System32\\cmd.exe /c powershell -Exec Bypass -c \"[activator]::CreateInstance([type]::GetTypeFromProgID('MMC20.Application')) # DCOM\"";
    let long = batch(
        long.schema()
            .fields()
            .iter()
            .zip(long.columns())
            .map(|(f, a)| (f.name().as_str(), a.clone()))
            .chain([("process.command_line", view(&[None, Some(cmd), Some("dcom")]))])
            .collect(),
    );
    assert_eq!(bits(&rule, &long, &none), vec![1, 4, 0]);

    // Dictionaries: any integer key type, string values of every layout, null keys.
    let dict32 = |v: &[Option<&str>]| -> ArrayRef {
        let mut b = StringDictionaryBuilder::<Int32Type>::new();
        v.iter().for_each(|s| match s {
            Some(s) => {
                b.append_value(s);
            }
            None => b.append_null(),
        });
        Arc::new(b.finish())
    };
    assert_eq!(bits(&rule, &three_rows(dict32(&names), dict32(&parents)), &none), expected);
    let dict8_view = |v: &[Option<&str>]| -> ArrayRef {
        let values: Vec<&str> = v.iter().flatten().copied().collect();
        let keys: Vec<Option<u8>> = {
            let mut k = 0;
            v.iter()
                .map(|s| {
                    s.map(|_| {
                        k += 1;
                        k - 1
                    })
                })
                .collect()
        };
        let dict_values: ArrayRef = {
            let mut b = StringViewBuilder::new();
            values.iter().for_each(|s| b.append_value(s));
            Arc::new(b.finish())
        };
        Arc::new(
            arrow_array::DictionaryArray::<UInt8Type>::try_new(arrow_array::UInt8Array::from(keys), dict_values)
                .unwrap(),
        )
    };
    assert_eq!(bits(&rule, &three_rows(dict8_view(&names), dict8_view(&parents)), &none), expected);
}

#[test]
fn dictionary_with_null_values_gives_no_value() {
    let rule = Rule::default();
    let values: ArrayRef = utf8(&[Some("dcomcnfg.exe"), None]);
    let keys = Int32Array::from(vec![Some(0), Some(1), None]);
    let names: ArrayRef = Arc::new(arrow_array::DictionaryArray::<Int32Type>::try_new(keys, values).unwrap());
    let b = three_rows(names, utf8(&[None, None, None]));
    assert_eq!(values_of(&rule, &ColumnMap::new(), &b, "process.name"), vec![vec!["dcomcnfg.exe"], vec![], vec![]]);
    assert_eq!(bits(&rule, &b, &ColumnMap::new()), vec![2, 0, 0]);
}

#[test]
fn lists_are_multi_valued_fields_with_null_elements_and_null_lists() {
    let rule = Rule::default();
    let none = ColumnMap::new();
    let category = list(&[
        Some(vec![Some("host"), Some("process")]),
        Some(vec![None, Some("process")]),
        None,
        Some(vec![]),
        Some(vec![Some("process")]),
    ]);
    let b = batch(vec![
        ("event.category", category),
        ("event.type", list(&vec![Some(vec![Some("start")]); 5])),
        ("process.name", utf8(&[Some("dcomcnfg.exe"); 5])),
        (
            "process.command_line",
            list(&[
                None,
                None,
                None,
                None,
                // Two values may satisfy the two patterns (docs/semantics.md §1, multi-valued fields).
                Some(vec![Some("a DCOM thing"), None, Some("b -Exec")]),
            ]),
        ),
    ]);
    assert_eq!(
        values_of(&rule, &none, &b, "event.category"),
        vec![vec!["host", "process"], vec!["process"], vec![], vec![], vec!["process"]]
    );
    assert_eq!(bits(&rule, &b, &none), vec![2, 2, 0, 0, 6]);

    // LargeList and FixedSizeList, nested lists.
    let mut large = LargeListBuilder::new(StringBuilder::new());
    for v in [["x", "process"], ["process", "y"], ["a", "b"]] {
        v.iter().for_each(|s| large.values().append_value(s));
        large.append(true);
    }
    let mut fixed = FixedSizeListBuilder::new(StringBuilder::new(), 2);
    for (v, valid) in [(["start", "end"], true), (["start", "start"], false), (["start", "x"], true)] {
        v.iter().for_each(|s| fixed.values().append_value(s));
        fixed.append(valid);
    }
    let mut nested = ListBuilder::new(ListBuilder::new(StringBuilder::new()));
    for row in
        [vec![vec!["x"], vec!["dcomcnfg.exe"]], vec![vec![], vec!["dcomcnfg.exe", "y"]], vec![vec!["dcomcnfg.exe"]]]
    {
        for inner in row {
            inner.iter().for_each(|s| nested.values().values().append_value(s));
            nested.values().append(true);
        }
        nested.append(true);
    }
    let b = batch(vec![
        ("event.category", Arc::new(large.finish())),
        ("event.type", Arc::new(fixed.finish())),
        ("process.name", Arc::new(nested.finish())),
    ]);
    assert_eq!(values_of(&rule, &none, &b, "process.name")[1], vec!["dcomcnfg.exe", "y"]);
    assert_eq!(values_of(&rule, &none, &b, "event.type"), vec![vec!["start", "end"], vec![], vec!["start", "x"]]);
    assert_eq!(bits(&rule, &b, &none), vec![2, 0, 0]);
}

#[test]
fn nested_structs_dotted_names_and_both_ways_at_once() {
    let rule = Rule::default();
    let none = ColumnMap::new();
    // process { name, parent { name } } with a null parent in row 1 and a null process in
    // row 2; row 3's parent name comes from a `parent.name` field of the struct.
    let parent = structs(
        vec![("name", utf8(&[Some("winword.exe"), Some("winword.exe"), Some("winword.exe"), None]))],
        Some(NullBuffer::from(vec![true, false, true, true])),
    );
    let process = structs(
        vec![
            ("name", utf8(&[Some("cmd.exe"), Some("cmd.exe"), Some("cmd.exe"), Some("mshta.exe")])),
            ("parent", parent),
            ("parent.name", utf8(&[None, None, None, Some("OUTLOOK.EXE")])),
        ],
        Some(NullBuffer::from(vec![true, true, false, true])),
    );
    let event = structs(
        vec![("category", utf8(&[Some("process"); 4])), ("type", list(&vec![Some(vec![Some("start")]); 4]))],
        None,
    );
    let b = batch(vec![("event", event.clone()), ("process", process.clone())]);
    assert_eq!(
        values_of(&rule, &none, &b, "process.parent.name"),
        vec![vec!["winword.exe"], vec![], vec![], vec!["OUTLOOK.EXE"]]
    );
    assert_eq!(bits(&rule, &b, &none), vec![1, 0, 0, 1]);

    // A flat `process.name` column beside the struct: the field has both values, in schema
    // order (a JSON document giving a field both ways has both).
    let b = batch(vec![
        ("event", event),
        ("process", process),
        ("process.name", utf8(&[Some("dcomcnfg.exe"), None, Some("dcomcnfg.exe"), None])),
    ]);
    assert_eq!(
        values_of(&rule, &none, &b, "process.name"),
        vec![vec!["cmd.exe", "dcomcnfg.exe"], vec!["cmd.exe"], vec!["dcomcnfg.exe"], vec!["mshta.exe"]]
    );
    assert_eq!(bits(&rule, &b, &none), vec![3, 0, 2, 1]);
}

#[test]
fn lists_of_structs_flatten_like_arrays_of_objects() {
    // {"process": [{"name": "a"}, {"name": "dcomcnfg.exe"}]}
    let rule = Rule::default();
    let inner = structs(vec![("name", utf8(&[Some("a"), Some("dcomcnfg.exe"), Some("b"), None]))], None);
    let field = Arc::new(ArrowField::new("item", inner.data_type().clone(), true));
    let processes: ArrayRef = Arc::new(arrow_array::ListArray::new(
        field,
        arrow_buffer::OffsetBuffer::new(vec![0, 2, 4].into()),
        inner,
        None,
    ));
    let b = batch(vec![
        ("event.category", utf8(&[Some("process"); 2])),
        ("event.type", utf8(&[Some("start"); 2])),
        ("process", processes),
    ]);
    assert_eq!(values_of(&rule, &ColumnMap::new(), &b, "process.name"), vec![vec!["a", "dcomcnfg.exe"], vec!["b"]]);
    assert_eq!(bits(&rule, &b, &ColumnMap::new()), vec![2, 0]);
}

#[test]
fn struct_array_input_with_null_rows() {
    let rule = Rule::default();
    let rows = structs(
        vec![
            ("event.category", utf8(&[Some("process"); 3])),
            ("event.type", utf8(&[Some("start"); 3])),
            ("process.name", utf8(&[Some("dcomcnfg.exe"); 3])),
        ],
        Some(NullBuffer::from(vec![true, false, true])),
    );
    let rows = rows.as_any().downcast_ref::<StructArray>().unwrap();
    let view = BatchView::of_struct(&rule, &ColumnMap::new(), rows).unwrap();
    let got: Vec<u8> = (0..view.len()).map(|i| rule.evaluate(&view.row(i)).branches().bits()).collect();
    assert_eq!(got, vec![2, 0, 2]);
    let mut json = Vec::new();
    view.write_json(1, &mut json);
    assert_eq!(json, b"{}");
}

#[test]
fn missing_and_null_typed_columns_are_absent() {
    let rule = Rule::default();
    let b = batch(vec![
        ("event.category", utf8(&[Some("process")])),
        ("event.type", Arc::new(NullArray::new(1))),
        ("process.name", utf8(&[Some("dcomcnfg.exe")])),
    ]);
    assert_eq!(bits(&rule, &b, &ColumnMap::new()), vec![0]);
    let b = batch(vec![("process.name", utf8(&[Some("dcomcnfg.exe")]))]);
    assert_eq!(bits(&rule, &b, &ColumnMap::new()), vec![0]);
    // A whole `process` struct of type null is absent too.
    let b = batch(vec![("process", Arc::new(NullArray::new(1)))]);
    assert_eq!(bits(&rule, &b, &ColumnMap::new()), vec![0]);
}

#[test]
fn booleans_and_integers_are_their_json_text() {
    // Exception fields of other types: `process.code_signature.trusted` is a boolean column,
    // `process.pid` an integer one.
    let exceptions = br#"[{"name": "signed", "entries": [
        {"field": "process.code_signature.trusted", "operator": "is", "value": "true"},
        {"field": "process.pid", "operator": "is one of", "value": ["4", "-7"]}]}]"#;
    let rule = Rule::with_exceptions(Options::default(), exceptions).unwrap();
    let mut trusted = BooleanBuilder::new();
    trusted.append_value(true);
    trusted.append_value(true);
    trusted.append_null();
    trusted.append_value(false);
    let mut pid = Int64Builder::new();
    pid.append_value(4);
    pid.append_value(-7);
    pid.append_value(4);
    pid.append_null();
    let b = batch(vec![
        ("event.category", utf8(&[Some("process"); 4])),
        ("event.type", utf8(&[Some("start"); 4])),
        ("process.name", utf8(&[Some("dcomcnfg.exe"); 4])),
        ("process.code_signature.trusted", Arc::new(trusted.finish())),
        ("process.pid", Arc::new(pid.finish())),
    ]);
    let m = match_batch(&rule, &b, &ColumnMap::new()).unwrap();
    assert_eq!(m.branches.values().to_vec(), vec![2, 2, 2, 2]);
    let matched: Vec<bool> = m.matched.iter().map(Option::unwrap).collect();
    assert_eq!(matched, vec![false, false, true, true]);
    let view = BatchView::of_batch(&rule, &ColumnMap::new(), &b).unwrap();
    assert_eq!(rule.evaluate(&view.row(0)).suppressed_by, Some(0));
}

#[test]
fn column_mapping_reads_other_names_and_only_them() {
    let rule = Rule::default();
    let b = batch(vec![
        ("category", utf8(&[Some("process"); 2])),
        ("kind", utf8(&[Some("start"); 2])),
        ("image", structs(vec![("file", utf8(&[Some("dcomcnfg.exe"), Some("cmd.exe")]))], None)),
        ("process.name", utf8(&[Some("cmd.exe"), Some("dcomcnfg.exe")])),
    ]);
    let columns: ColumnMap =
        [("event.category", "category"), ("event.type", "kind"), ("process.name", "image.file")].into_iter().collect();
    assert_eq!(values_of(&rule, &columns, &b, "process.name"), vec![vec!["dcomcnfg.exe"], vec!["cmd.exe"]]);
    assert_eq!(bits(&rule, &b, &columns), vec![2, 0]);
    // The record written for alerts names the field by its ECS path, without the
    // natural column the mapping replaced.
    let view = BatchView::of_batch(&rule, &columns, &b).unwrap();
    let mut json = Vec::new();
    view.write_json(0, &mut json);
    let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(value["process.name"], "dcomcnfg.exe");
    assert_eq!(value["event.category"], "process");
    assert_eq!(value["image"]["file"], "dcomcnfg.exe");
    let mut decoder = Decoder::new();
    let doc = decoder.decode(rule.paths(), &json).unwrap();
    assert_eq!(rule.evaluate(&doc).branches().bits(), 2);
    // A mapped column the data lacks is an error, not an absent field.
    let typo: ColumnMap = [("process.name", "imgae.file")].into_iter().collect();
    let err = BatchView::of_batch(&rule, &typo, &b).unwrap_err();
    assert!(err.to_string().contains("imgae.file"), "{err}");
    assert_eq!(
        (err.kind, err.field.as_str(), err.column.as_str()),
        (ColumnErrorKind::NotInData, "process.name", "imgae.file")
    );
}

#[test]
fn columns_of_other_types_and_shapes_are_refused_with_their_name() {
    let rule = Rule::default();
    let floats = batch(vec![("process.name", Arc::new(Float64Array::from(vec![1.0])) as ArrayRef)]);
    let err = BatchView::of_batch(&rule, &ColumnMap::new(), &floats).unwrap_err();
    assert!(err.to_string().contains("process.name") && err.to_string().contains("Float64"), "{err}");
    assert_eq!(err.kind, ColumnErrorKind::Float(DataType::Float64));
    let object =
        batch(vec![("process", structs(vec![("name", structs(vec![("x", utf8(&[Some("a")]))], None))], None))]);
    let err = BatchView::of_batch(&rule, &ColumnMap::new(), &object).unwrap_err();
    assert!(err.to_string().contains("struct"), "{err}");
    assert!(matches!(err.kind, ColumnErrorKind::Struct(DataType::Struct(_))), "{err:?}");
    let value_for_object = batch(vec![("process", utf8(&[Some("cmd.exe")]))]);
    let err = BatchView::of_batch(&rule, &ColumnMap::new(), &value_for_object).unwrap_err();
    assert!(err.to_string().contains("\"process\""), "{err}");
    assert_eq!(err.kind, ColumnErrorKind::NotAStruct { name: "process".into(), data_type: DataType::Utf8 });
    let binary = batch(vec![("process.name", Arc::new(BinaryArray::from(vec![&b"x"[..]])) as ArrayRef)]);
    let err = BatchView::of_batch(&rule, &ColumnMap::new(), &binary).unwrap_err();
    assert_eq!(err.kind, ColumnErrorKind::Unsupported(DataType::Binary), "{err}");
    // The same name twice where the rule reads: a JSON document with a key twice.
    let twice = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            ArrowField::new("process.name", DataType::Utf8, true),
            ArrowField::new("process.name", DataType::Utf8, true),
        ])),
        vec![utf8(&[Some("a")]), utf8(&[Some("dcomcnfg.exe")])],
    )
    .unwrap();
    let err = BatchView::of_batch(&rule, &ColumnMap::new(), &twice).unwrap_err();
    assert!(err.to_string().contains("twice"), "{err}");
    assert_eq!(err.kind, ColumnErrorKind::DuplicateName("process.name".into()));
    // Elsewhere, the record written for alerts keeps the first.
    let elsewhere = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            ArrowField::new("process.name", DataType::Utf8, true),
            ArrowField::new("tag", DataType::Utf8, true),
            ArrowField::new("tag", DataType::Utf8, true),
        ])),
        vec![utf8(&[Some("dcomcnfg.exe")]), utf8(&[Some("first")]), utf8(&[Some("second")])],
    )
    .unwrap();
    let view = BatchView::of_batch(&rule, &ColumnMap::new(), &elsewhere).unwrap();
    let mut json = Vec::new();
    view.write_json(0, &mut json);
    assert_eq!(json, br#"{"process.name":"dcomcnfg.exe","tag":"first"}"#);
    // Columns the rule does not read may have any type.
    let other = batch(vec![
        ("process.name", utf8(&[Some("dcomcnfg.exe")])),
        ("event.risk_score", Arc::new(Float64Array::from(vec![1.5])) as ArrayRef),
    ]);
    assert!(BatchView::of_batch(&rule, &ColumnMap::new(), &other).is_ok());
}

#[test]
fn records_written_for_alerts_keep_values_and_leave_nulls_out() {
    let rule = Rule::default();
    let b = batch(vec![
        (
            "@timestamp",
            Arc::new(TimestampMillisecondArray::from(vec![1_700_000_000_123]).with_timezone("UTC")) as ArrayRef,
        ),
        (
            "event",
            structs(
                vec![("category", list(&[Some(vec![Some("process"), None])])), ("type", utf8(&[Some("start")]))],
                None,
            ),
        ),
        (
            "process",
            structs(
                vec![
                    ("name", utf8(&[Some("cmd.exe")])),
                    ("pid", Arc::new(Int32Array::from(vec![Some(42)])) as ArrayRef),
                    ("title", utf8(&[None])),
                    ("score", Arc::new(Float64Array::from(vec![0.5])) as ArrayRef),
                    ("parent", structs(vec![("name", utf8(&[Some("MMC.EXE")]))], None)),
                    ("command_line", utf8(&[Some("cmd /c \"quoted\" \\ \u{e9}")])),
                ],
                None,
            ),
        ),
        ("host", structs(vec![("name", utf8(&[None]))], Some(NullBuffer::from(vec![false])))),
    ]);
    let view = BatchView::of_batch(&rule, &ColumnMap::new(), &b).unwrap();
    let mut json = Vec::new();
    view.write_json(0, &mut json);
    let text = String::from_utf8(json.clone()).unwrap();
    assert_eq!(
        text,
        r#"{"@timestamp":"2023-11-14T22:13:20.123Z","event":{"category":["process"],"type":"start"},"process":{"name":"cmd.exe","pid":42,"score":0.5,"parent":{"name":"MMC.EXE"},"command_line":"cmd /c \"quoted\" \\ é"}}"#
    );
    let mut decoder = Decoder::new();
    let doc = decoder.decode(rule.paths(), &json).unwrap();
    assert_eq!(rule.evaluate(&doc).branches().bits(), 1);
}

// ---------------------------------------------------------------------------------------
// Parity with the JSON decoder on the golden corpus.

struct Golden {
    line: usize,
    record: &'static [u8],
    expected: [i32; 2],
}

fn golden() -> Vec<Golden> {
    let bytes: &'static [u8] = include_bytes!("golden/events.ndjson");
    let mut records: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    assert_eq!(records.pop(), Some(&b""[..]));
    include_str!("golden/expected.tsv")
        .lines()
        .skip(1)
        .map(|row| {
            let cols: Vec<&str> = row.split('\t').collect();
            let line: usize = cols[0].parse().unwrap();
            Golden { line, record: records[line - 1], expected: [cols[1].parse().unwrap(), cols[2].parse().unwrap()] }
        })
        .collect()
}

/// For each valid ECS golden record: the values of every field `rule` reads, as decoded.
fn golden_values(rule: &Rule) -> Vec<(usize, [i32; 2], Vec<Vec<String>>)> {
    let mut decoder = Decoder::new();
    let mut out = Vec::new();
    for case in golden() {
        let Ok(doc) = decoder.decode(rule.paths(), case.record) else { continue };
        if doc.schema() != DocSchema::Ecs {
            continue;
        }
        let values = rule.fields().iter().map(|f| doc.values(f).map(|t| t.to_string()).collect()).collect();
        out.push((case.line, case.expected, values));
    }
    out
}

/// The table layouts the parity test builds from the same values.
#[derive(Clone, Copy, Debug)]
enum Layout {
    /// `List<Utf8>` columns named by ECS path.
    FlatLists,
    /// `LargeList<LargeUtf8>`.
    LargeLists,
    /// Nested structs (`event`, `process` → `parent`) of `List<Utf8View>`.
    NestedViews,
    /// `List<Dictionary<Int32, Utf8>>`.
    Dictionaries,
    /// The first value in a flat `Utf8` column, the others in a nested list of the same
    /// field: both ways at once.
    SplitFlatAndNested,
}

fn string_list(rows: &[&Vec<String>], layout: Layout) -> ArrayRef {
    match layout {
        Layout::FlatLists | Layout::SplitFlatAndNested => {
            let mut b = ListBuilder::new(StringBuilder::new());
            for r in rows {
                r.iter().for_each(|v| b.values().append_value(v));
                b.append(true);
            }
            Arc::new(b.finish())
        }
        Layout::LargeLists => {
            let mut b = LargeListBuilder::new(LargeStringBuilder::new());
            for r in rows {
                r.iter().for_each(|v| b.values().append_value(v));
                b.append(true);
            }
            Arc::new(b.finish())
        }
        Layout::NestedViews => {
            let mut b = ListBuilder::new(StringViewBuilder::new());
            for r in rows {
                r.iter().for_each(|v| b.values().append_value(v));
                // An empty list is null one row in two: both mean no value.
                b.append(!r.is_empty() || rows.len().is_multiple_of(2));
            }
            Arc::new(b.finish())
        }
        Layout::Dictionaries => {
            let mut b = ListBuilder::new(StringDictionaryBuilder::<Int32Type>::new());
            for r in rows {
                r.iter().for_each(|v| {
                    b.values().append_value(v);
                });
                b.append(true);
            }
            Arc::new(b.finish())
        }
    }
}

/// Builds `(column path, array)` pairs for the fields and nests them per layout.
fn table(paths: &[String], rows: &[Vec<Vec<String>>], layout: Layout) -> RecordBatch {
    let column = |f: usize, pick: &dyn Fn(&Vec<String>) -> Vec<String>| -> ArrayRef {
        let picked: Vec<Vec<String>> = rows.iter().map(|r| pick(&r[f])).collect();
        let refs: Vec<&Vec<String>> = picked.iter().collect();
        string_list(&refs, layout)
    };
    match layout {
        Layout::FlatLists | Layout::LargeLists | Layout::Dictionaries => {
            let columns: Vec<(String, ArrayRef)> =
                paths.iter().enumerate().map(|(f, p)| (p.clone(), column(f, &|v| v.clone()))).collect();
            batch(columns.iter().map(|(p, a)| (p.as_str(), a.clone())).collect())
        }
        Layout::SplitFlatAndNested => {
            let mut columns: Vec<(String, ArrayRef)> = Vec::new();
            for (f, p) in paths.iter().enumerate() {
                let first: Vec<Option<&str>> = rows.iter().map(|r| r[f].first().map(String::as_str)).collect();
                columns.push((p.clone(), utf8(&first)));
                let (top, rest) = p.split_once('.').unwrap();
                let rest_values = column(f, &|v| v.iter().skip(1).cloned().collect());
                columns.push((top.to_owned(), structs(vec![(rest, rest_values)], None)));
            }
            // Several structs share a top-level name; merge them into one per name.
            let mut merged: Vec<(String, Vec<(String, ArrayRef)>)> = Vec::new();
            let mut flat: Vec<(String, ArrayRef)> = Vec::new();
            for (name, array) in columns {
                if let Some(s) = array.as_any().downcast_ref::<StructArray>() {
                    let children: Vec<(String, ArrayRef)> =
                        s.fields().iter().zip(s.columns()).map(|(f, a)| (f.name().clone(), a.clone())).collect();
                    match merged.iter_mut().find(|(n, _)| *n == name) {
                        Some((_, c)) => c.extend(children),
                        None => merged.push((name, children)),
                    }
                } else {
                    flat.push((name, array));
                }
            }
            let mut all: Vec<(String, ArrayRef)> = flat;
            for (name, children) in merged {
                all.push((name, structs(children.iter().map(|(n, a)| (n.as_str(), a.clone())).collect(), None)));
            }
            batch(all.iter().map(|(p, a)| (p.as_str(), a.clone())).collect())
        }
        Layout::NestedViews => {
            // Nest every path fully: a.b.c → a { b { c } }.
            type Nested = (Vec<String>, ArrayRef);
            fn nest(entries: Vec<Nested>) -> Vec<(String, ArrayRef)> {
                let mut groups: Vec<(String, Vec<Nested>)> = Vec::new();
                let mut leaves = Vec::new();
                for (mut parts, array) in entries {
                    if parts.len() == 1 {
                        leaves.push((parts.remove(0), array));
                        continue;
                    }
                    let head = parts.remove(0);
                    match groups.iter_mut().find(|(h, _)| *h == head) {
                        Some((_, g)) => g.push((parts, array)),
                        None => groups.push((head, vec![(parts, array)])),
                    }
                }
                for (head, group) in groups {
                    let children = nest(group);
                    leaves.push((head, structs(children.iter().map(|(n, a)| (n.as_str(), a.clone())).collect(), None)));
                }
                leaves
            }
            let entries = paths
                .iter()
                .enumerate()
                .map(|(f, p)| (p.split('.').map(str::to_owned).collect(), column(f, &|v| v.clone())))
                .collect();
            let columns = nest(entries);
            batch(columns.iter().map(|(p, a)| (p.as_str(), a.clone())).collect())
        }
    }
}

fn rules() -> Vec<(Rule, usize)> {
    let exceptions = include_bytes!("../../examples/exceptions.json");
    let mut rules = Vec::new();
    for (i, folding) in [CaseFolding::Ascii, CaseFolding::UnicodeSimple].into_iter().enumerate() {
        let options = Options { case_folding: folding };
        rules.push((Rule::new(options), i));
        rules.push((Rule::with_exceptions(options, exceptions).unwrap(), i));
    }
    rules
}

#[test]
fn golden_corpus_parity_in_every_layout() {
    let layouts =
        [Layout::FlatLists, Layout::LargeLists, Layout::NestedViews, Layout::Dictionaries, Layout::SplitFlatAndNested];
    for (rule, folding) in rules() {
        let cases = golden_values(&rule);
        assert!(cases.len() > 80, "most golden records are valid ECS ({})", cases.len());
        let paths: Vec<String> = rule.fields().iter().map(|f| f.path().to_owned()).collect();
        let rows: Vec<Vec<Vec<String>>> = cases.iter().map(|(_, _, v)| v.clone()).collect();
        // The JSON decoder's verdicts on the same records.
        let mut decoder = Decoder::new();
        let json: Vec<(u8, bool)> = cases
            .iter()
            .map(|(line, _, _)| {
                let record = golden().into_iter().find(|g| g.line == *line).unwrap().record;
                let doc = decoder.decode(rule.paths(), record).unwrap();
                let verdict = rule.evaluate(&doc);
                (verdict.branches().bits(), verdict.is_match())
            })
            .collect();
        for (case, (bits, _)) in cases.iter().zip(&json) {
            assert_eq!(i32::from(*bits), case.1[folding], "line {}: decoder vs expected.tsv", case.0);
        }
        for layout in layouts {
            let b = table(&paths, &rows, layout);
            let m = match_batch(&rule, &b, &ColumnMap::new()).unwrap();
            for (i, (case, (bits, matched))) in cases.iter().zip(&json).enumerate() {
                assert_eq!(
                    (m.branches.value(i), m.matched.value(i)),
                    (*bits, *matched),
                    "line {} in {layout:?} ({:?}, {} exception items)",
                    case.0,
                    rule.options().case_folding,
                    rule.exceptions().items().len()
                );
            }
            // The records alerts are written from decode to the same verdicts.
            let view = BatchView::of_batch(&rule, &ColumnMap::new(), &b).unwrap();
            let mut record = Vec::new();
            for (i, (case, (bits, matched))) in cases.iter().zip(&json).enumerate() {
                record.clear();
                view.write_json(i, &mut record);
                let doc = decoder.decode(rule.paths(), &record).unwrap_or_else(|e| {
                    panic!("line {} in {layout:?}: {e}: {}", case.0, String::from_utf8_lossy(&record))
                });
                let v = rule.evaluate(&doc);
                assert_eq!(
                    (v.branches().bits(), v.is_match()),
                    (*bits, *matched),
                    "line {} record in {layout:?}",
                    case.0
                );
            }
        }
    }
}

#[test]
fn parallel_evaluation_gives_the_serial_results_in_order() {
    let rule = Rule::with_exceptions(Options::default(), include_bytes!("../../examples/exceptions.json")).unwrap();
    let cases = golden_values(&rule);
    let paths: Vec<String> = rule.fields().iter().map(|f| f.path().to_owned()).collect();
    // Enough rows for several threads: the golden rows, repeated.
    let rows: Vec<Vec<Vec<String>>> = (0..(3 * dcom_detect_core::source::arrow::PARALLEL_MIN_ROWS / cases.len() + 1))
        .flat_map(|_| cases.iter().map(|c| c.2.clone()))
        .collect();
    let b = table(&paths, &rows, Layout::NestedViews);
    let view = BatchView::of_batch(&rule, &ColumnMap::new(), &b).unwrap();
    let (mut m1, mut b1) = (vec![true], vec![9]);
    view.evaluate_into(&rule, &mut m1, &mut b1);
    for threads in [0, 2, 3, 7] {
        let (mut m, mut bits) = (vec![true], vec![9]);
        view.evaluate_parallel(&rule, threads, &mut m, &mut bits);
        assert_eq!((&m, &bits), (&m1, &b1), "{threads} threads");
    }
    assert_eq!(m1.len(), rows.len() + 1);
    assert!(b1.iter().skip(1).any(|&b| b != 0));
}

#[test]
fn many_small_batches_are_shared_across_threads_in_row_order() {
    let rule = Rule::with_exceptions(Options::default(), include_bytes!("../../examples/exceptions.json")).unwrap();
    let cases = golden_values(&rule);
    let paths: Vec<String> = rule.fields().iter().map(|f| f.path().to_owned()).collect();
    let rows: Vec<Vec<Vec<String>>> = (0..(3 * dcom_detect_core::source::arrow::PARALLEL_MIN_ROWS / cases.len() + 1))
        .flat_map(|_| cases.iter().map(|c| c.2.clone()))
        .collect();
    // Uneven batches, empty ones included, so that thread shares start and end mid-batch.
    let mut batches = Vec::new();
    let (mut start, mut size) = (0, 0);
    while start < rows.len() {
        let end = (start + size).min(rows.len());
        batches.push(table(&paths, &rows[start..end], Layout::FlatLists));
        start = end;
        size = (size * 7 + 13) % 997;
    }
    let views: Vec<BatchView<'_>> =
        batches.iter().map(|b| BatchView::of_batch(&rule, &ColumnMap::new(), b).unwrap()).collect();
    let whole = table(&paths, &rows, Layout::FlatLists);
    let (mut m1, mut b1) = (Vec::new(), Vec::new());
    BatchView::of_batch(&rule, &ColumnMap::new(), &whole).unwrap().evaluate_into(&rule, &mut m1, &mut b1);
    for threads in [1, 0, 2, 3, 7] {
        let (mut m, mut bits) = (vec![false], vec![0]);
        evaluate_batches(&rule, &views, threads, &mut m, &mut bits);
        assert_eq!((&m[1..], &bits[1..]), (&m1[..], &b1[..]), "{threads} threads");
    }
    assert!(views.iter().any(|v| v.is_empty()) && m1.iter().any(|&m| m));
}

#[test]
fn the_row_path_allocates_nothing() {
    let rule = Rule::new(Options { case_folding: CaseFolding::UnicodeSimple });
    let tuned = Rule::with_exceptions(Options::default(), include_bytes!("../../examples/exceptions.json")).unwrap();
    for rule in [rule, tuned] {
        let cases = golden_values(&rule);
        let paths: Vec<String> = rule.fields().iter().map(|f| f.path().to_owned()).collect();
        let rows: Vec<Vec<Vec<String>>> = cases.into_iter().map(|(_, _, v)| v).collect();
        for layout in [Layout::FlatLists, Layout::NestedViews, Layout::Dictionaries, Layout::SplitFlatAndNested] {
            let b = table(&paths, &rows, layout);
            let view = BatchView::of_batch(&rule, &ColumnMap::new(), &b).unwrap();
            let mut matched = Vec::with_capacity(view.len());
            let mut branches = Vec::with_capacity(view.len());
            let mut fired = 0;
            let n = allocations_during(|| {
                for _ in 0..20 {
                    matched.clear();
                    branches.clear();
                    view.evaluate_into(&rule, &mut matched, &mut branches);
                    for i in 0..view.len() {
                        fired += usize::from(rule.evaluate(&view.row(i)).fired());
                    }
                }
            });
            assert_eq!(n, 0, "{layout:?}: {n} allocations");
            assert!(fired > 0);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Parquet.

fn write_parquet(batch: &RecordBatch, rows_per_group: usize) -> tempfile_path::TempPath {
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;
    let path = tempfile_path::TempPath::new("parquet");
    let file = std::fs::File::create(&path.0).unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(rows_per_group))
        .set_compression(parquet::basic::Compression::SNAPPY)
        .build();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
    path
}

mod tempfile_path {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    pub struct TempPath(pub PathBuf);

    impl TempPath {
        pub fn new(ext: &str) -> TempPath {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            TempPath(std::env::temp_dir().join(format!("dcom-arrow-{}-{n}.{ext}", std::process::id())))
        }
    }

    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

#[test]
fn parquet_scan_reports_every_match_by_row_as_the_batch_path_does() {
    for (rule, _) in rules() {
        let cases = golden_values(&rule);
        let paths: Vec<String> = rule.fields().iter().map(|f| f.path().to_owned()).collect();
        let rows: Vec<Vec<Vec<String>>> = cases.iter().map(|(_, _, v)| v.clone()).collect();
        let b = table(&paths, &rows, Layout::NestedViews);
        let m = match_batch(&rule, &b, &ColumnMap::new()).unwrap();
        let file = write_parquet(&b, 7);
        let mut found = Vec::new();
        let mut decoder = Decoder::new();
        let stats = dcom_detect_core::source::parquet::scan_parquet_path(&rule, &ColumnMap::new(), &file.0, |f| {
            match f {
                Found { position: Position::Row { row }, record, outcome: Outcome::Matched(branches), .. } => {
                    assert!(rule.evaluate(&decoder.decode(rule.paths(), record).unwrap()).is_match());
                    found.push((row, branches.bits(), None));
                }
                Found { position: Position::Row { row }, outcome: Outcome::Suppressed { branches, item }, .. } => {
                    found.push((row, branches.bits(), Some(item)))
                }
                other => panic!("{other:?}"),
            }
            ControlFlow::Continue(())
        })
        .unwrap();
        let view = BatchView::of_batch(&rule, &ColumnMap::new(), &b).unwrap();
        let expected: Vec<(u64, u8, Option<usize>)> = (0..view.len())
            .filter_map(|i| {
                let row = view.row(i);
                let v = rule.evaluate(&row);
                v.fired().then(|| (i as u64 + 1, v.branches().bits(), v.suppressed_by))
            })
            .collect();
        assert_eq!(found, expected);
        assert_eq!(stats.records, rows.len() as u64);
        assert_eq!(stats.matched, m.matched.true_count() as u64);
        assert_eq!(stats.records, stats.matched + stats.suppressed + stats.not_matched + stats.rejected);
        assert!(stats.bytes > 0);
    }
}

#[test]
fn parquet_scan_stops_when_asked_and_refuses_what_it_cannot_read() {
    let rule = Rule::default();
    let b = batch(vec![
        ("event.category", utf8(&[Some("process"); 20])),
        ("event.type", utf8(&[Some("start"); 20])),
        ("process.name", utf8(&[Some("dcomcnfg.exe"); 20])),
    ]);
    let file = write_parquet(&b, 6);
    let mut seen = 0;
    let stats = dcom_detect_core::source::parquet::scan_parquet_path(&rule, &ColumnMap::new(), &file.0, |_| {
        seen += 1;
        if seen == 8 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert_eq!(seen, 8);
    assert!(stats.records < 20);

    let not_parquet = tempfile_path::TempPath::new("parquet");
    std::fs::write(&not_parquet.0, b"{\"a\": 1}\n").unwrap();
    let err = dcom_detect_core::source::parquet::scan_parquet_path(&rule, &ColumnMap::new(), &not_parquet.0, |_| {
        ControlFlow::Continue(())
    })
    .unwrap_err();
    assert_eq!(err.error.kind(), std::io::ErrorKind::InvalidData);

    let floats = batch(vec![("process.name", Arc::new(Float64Array::from(vec![1.0; 3])) as ArrayRef)]);
    let file = write_parquet(&floats, 2);
    let err = dcom_detect_core::source::parquet::scan_parquet_path(&rule, &ColumnMap::new(), &file.0, |_| {
        ControlFlow::Continue(())
    })
    .unwrap_err();
    assert!(err.to_string().contains("process.name"), "{err}");
}

#[test]
fn rule_paths_are_the_rule_fields() {
    let rule = Rule::default();
    let paths: Vec<&str> = rule.fields().iter().map(|f| f.path()).collect();
    assert_eq!(paths, RULE_PATHS);
    let _ = DataType::Utf8;
}
