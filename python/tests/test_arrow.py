"""Rule.match_arrow, Rule.match_frame and Rule.alerts_arrow (core's Arrow view through the
Arrow PyCapsule interface), and Parquet files in Rule.scan and the command line.

Every supported column type and null pattern from pyarrow, polars and pandas; parity with
Rule.evaluate on the golden corpus and with Rule.scan on a generated million-row table;
alerts equal to the NDJSON scan of the same events.
"""

from __future__ import annotations

import io
import json
import pathlib
import random
from collections.abc import Iterator
from typing import Any

import numpy
import pandas
import polars
import pyarrow
import pyarrow.parquet
import pytest

import dcom_detect
from conftest import GoldenCase, golden_cases

START = {"event.category": ["process"], "event.type": ["start"]}


def rule_fields(rule: dcom_detect.Rule) -> list[str]:
    fields = ["event.category", "event.type", "process.name", "process.parent.name", "process.command_line"]
    return fields


def three_rows(name: pyarrow.Array, parent: pyarrow.Array) -> pyarrow.Table:
    return pyarrow.table(
        {
            "event.category": pyarrow.array(["process"] * 3),
            "event.type": pyarrow.array(["start"] * 3),
            "process.name": name,
            "process.parent.name": parent,
        }
    )


NAMES = ["cmd.exe", "dcomcnfg.exe", None]
PARENTS = ["MMC.exe", None, "mmc.exe"]


@pytest.mark.parametrize(
    "string_type",
    [pyarrow.string(), pyarrow.large_string(), pyarrow.string_view()],
    ids=["string", "large_string", "string_view"],
)
def test_string_types(string_type: pyarrow.DataType) -> None:
    table = three_rows(pyarrow.array(NAMES, string_type), pyarrow.array(PARENTS, string_type))
    matched, bits = dcom_detect.Rule().match_arrow(table, branches=True)
    assert matched.dtype == numpy.bool_ and bits.dtype == numpy.uint8
    assert matched.tolist() == [True, True, False]
    assert bits.tolist() == [1, 2, 0]


@pytest.mark.parametrize("index_type", [pyarrow.int8(), pyarrow.uint16(), pyarrow.int32(), pyarrow.int64()])
@pytest.mark.parametrize("value_type", [pyarrow.string(), pyarrow.large_string()])
def test_dictionaries(index_type: pyarrow.DataType, value_type: pyarrow.DataType) -> None:
    def encoded(values: list[str | None]) -> pyarrow.Array:
        return pyarrow.array(values, value_type).dictionary_encode().cast(pyarrow.dictionary(index_type, value_type))

    table = three_rows(encoded(NAMES), encoded(PARENTS))
    assert dcom_detect.Rule().match_arrow(table, branches=True)[1].tolist() == [1, 2, 0]


def test_long_string_views_and_command_lines() -> None:
    command = "powershell.exe -ExecutionPolicy Bypass -c Invoke-DCOM -ComputerName ws-07 -Method MMC20.Application"
    table = pyarrow.table(
        {
            "event.category": ["process"] * 3,
            "event.type": ["start"] * 3,
            "process.command_line": pyarrow.array([command, command.replace("DCOM", "DC0M"), None], pyarrow.string_view()),
        }
    )
    assert dcom_detect.Rule().match_arrow(table).tolist() == [True, False, False]


def test_lists_with_nulls_at_every_level() -> None:
    for list_type in (pyarrow.list_, pyarrow.large_list):
        category = pyarrow.array(
            [["host", "process"], [None, "process"], None, [], ["Process"], ["process"]], list_type(pyarrow.string())
        )
        command_lines = pyarrow.array(
            [None, None, None, None, None, ["a DCOM thing", None, "b -Exec"]], list_type(pyarrow.string_view())
        )
        table = pyarrow.table(
            {
                "event.category": category,
                "event.type": pyarrow.array([["start"]] * 6, list_type(pyarrow.string())),
                "process.name": ["dcomcnfg.exe"] * 6,
                "process.command_line": command_lines,
            }
        )
        assert dcom_detect.Rule().match_arrow(table, branches=True)[1].tolist() == [2, 2, 0, 0, 0, 6]
    fixed = pyarrow.array([["start", "x"], ["x", "y"]], pyarrow.list_(pyarrow.string(), 2))
    table = pyarrow.table({"event.category": ["process"] * 2, "event.type": fixed, "process.name": ["dcomcnfg.exe"] * 2})
    assert dcom_detect.Rule().match_arrow(table).tolist() == [True, False]


def test_nested_structs_dotted_fields_and_struct_nulls() -> None:
    process = pyarrow.array(
        [
            {"name": "cmd.exe", "parent": {"name": "winword.exe"}, "parent.name": None},
            {"name": "cmd.exe", "parent": None, "parent.name": None},
            None,
            {"name": "mshta.exe", "parent": {"name": None}, "parent.name": "OUTLOOK.EXE"},
        ],
        pyarrow.struct(
            [
                ("name", pyarrow.string()),
                ("parent", pyarrow.struct([("name", pyarrow.string())])),
                ("parent.name", pyarrow.string()),
            ]
        ),
    )
    event = pyarrow.array([{"category": ["process"], "type": "start"}] * 4)
    table = pyarrow.table({"event": event, "process": process})
    assert dcom_detect.Rule().match_arrow(table, branches=True)[1].tolist() == [1, 0, 0, 1]
    # A flat column beside the struct adds its values (a field given both ways has both).
    table = table.append_column("process.name", pyarrow.array(["dcomcnfg.exe", None, "dcomcnfg.exe", None]))
    assert dcom_detect.Rule().match_arrow(table, branches=True)[1].tolist() == [3, 0, 2, 1]


def test_lists_of_structs_flatten_like_arrays_of_objects() -> None:
    process = pyarrow.array([[{"name": "a"}, {"name": "dcomcnfg.exe"}], [{"name": "b"}, None], None])
    table = pyarrow.table({"event.category": ["process"] * 3, "event.type": ["start"] * 3, "process": process})
    assert dcom_detect.Rule().match_arrow(table).tolist() == [True, False, False]


def test_null_typed_and_missing_columns_are_absent() -> None:
    table = pyarrow.table(
        {"event.category": ["process"], "event.type": pyarrow.nulls(1), "process.name": ["dcomcnfg.exe"]}
    )
    assert dcom_detect.Rule().match_arrow(table).tolist() == [False]
    assert dcom_detect.Rule().match_arrow(pyarrow.table({"process.name": ["dcomcnfg.exe"]})).tolist() == [False]
    assert dcom_detect.Rule().match_arrow(pyarrow.table({"x": pyarrow.array([], pyarrow.string())})).tolist() == []


def test_booleans_and_integers_read_as_json_text_for_exceptions() -> None:
    rule = dcom_detect.Rule(
        exceptions=[
            {
                "name": "signed",
                "entries": [
                    {"field": "process.code_signature.trusted", "operator": "is", "value": "true"},
                    {"field": "process.pid", "operator": "is", "value": "4"},
                ],
            }
        ]
    )
    table = pyarrow.table(
        {
            **{k: [v[0]] * 4 for k, v in START.items()},
            "process.name": ["dcomcnfg.exe"] * 4,
            "process": pyarrow.array(
                [
                    {"code_signature": {"trusted": True}, "pid": 4},
                    {"code_signature": {"trusted": False}, "pid": 4},
                    {"code_signature": {"trusted": True}, "pid": None},
                    {"code_signature": None, "pid": 4},
                ],
                pyarrow.struct([("code_signature", pyarrow.struct([("trusted", pyarrow.bool_())])), ("pid", pyarrow.uint32())]),
            ),
        }
    )
    matched, bits = rule.match_arrow(table, branches=True)
    assert matched.tolist() == [False, True, True, True]
    assert bits.tolist() == [2, 2, 2, 2]


def test_column_mapping() -> None:
    table = pyarrow.table(
        {
            "category": ["process"] * 2,
            "kind": ["start"] * 2,
            "image": pyarrow.array([{"file": "dcomcnfg.exe"}, {"file": "cmd.exe"}]),
            "process.name": ["cmd.exe", "dcomcnfg.exe"],
        }
    )
    columns = {"event.category": "category", "event.type": "kind", "process.name": "image.file"}
    rule = dcom_detect.Rule()
    assert rule.match_arrow(table, columns=columns).tolist() == [True, False]
    assert rule.match_arrow(table).tolist() == [False, False]
    alerts = rule.alerts_arrow(table, columns=columns)
    assert [a.row for a in alerts] == [1]
    assert alerts[0].to_dict()["process"]["name"] == "dcomcnfg.exe"
    with pytest.raises(dcom_detect.ColumnError) as raised:
        rule.match_arrow(table, columns={"process.name": "imgae.file"})
    assert raised.value.column == "imgae.file" and raised.value.field == "process.name"
    assert raised.value.kind == "not_in_data"
    with pytest.raises(TypeError):
        rule.match_arrow(table, columns={"process.name": 3})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        rule.match_arrow(table, columns=["process.name"])  # type: ignore[arg-type]


def test_columns_the_engine_cannot_read_are_refused_by_name() -> None:
    rule = dcom_detect.Rule()
    with pytest.raises(dcom_detect.ColumnError, match="process.name.*[Ff]loat") as raised:
        rule.match_arrow(pyarrow.table({"process.name": [1.5]}))
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, dcom_detect.DcomDetectError)
    assert raised.value.kind == "float" and raised.value.reason.startswith("is Float64 (floating point)")
    with pytest.raises(dcom_detect.ColumnError, match="struct") as raised:
        rule.match_arrow(pyarrow.table({"process": pyarrow.array([{"name": {"x": "y"}}])}))
    assert raised.value.kind == "struct"
    with pytest.raises(dcom_detect.ColumnError, match='"process"') as raised:
        rule.match_arrow(pyarrow.table({"process": ["cmd.exe"]}))
    assert raised.value.kind == "not_a_struct"
    with pytest.raises(dcom_detect.ColumnError, match="(?i)binary") as raised:
        rule.match_arrow(pyarrow.table({"process.name": pyarrow.array([b"x"])}))
    assert raised.value.kind == "unsupported_type"
    # Columns the rule does not read may have any type.
    assert rule.match_arrow(pyarrow.table({"process.name": ["x"], "score": [1.5], "b": [b"x"]})).tolist() == [False]


class OnlyArray:
    """Exports one struct array through ``__arrow_c_array__`` only."""

    def __init__(self, array: Any) -> None:
        self.array = array

    def __arrow_c_array__(self, requested_schema: Any = None) -> Any:
        return self.array.__arrow_c_array__(requested_schema)


def test_every_pyarrow_container() -> None:
    table = three_rows(pyarrow.array(NAMES), pyarrow.array(PARENTS))
    rule = dcom_detect.Rule()
    expected = [True, True, False]
    batch = table.to_batches()[0]
    assert rule.match_arrow(batch).tolist() == expected
    assert rule.match_arrow(OnlyArray(batch)).tolist() == expected
    arrays = [column.combine_chunks() for column in table.columns]
    rows = pyarrow.StructArray.from_arrays(arrays, names=table.column_names)
    assert rule.match_arrow(OnlyArray(rows)).tolist() == expected
    # A null struct element is an event without fields.
    with_null = pyarrow.StructArray.from_arrays(arrays, names=table.column_names, mask=pyarrow.array([False, True, False]))
    assert rule.match_arrow(OnlyArray(with_null)).tolist() == [True, False, False]
    assert rule.match_arrow(pyarrow.chunked_array([rows, rows])).tolist() == expected * 2
    reader = pyarrow.RecordBatchReader.from_batches(table.schema, [batch, batch, batch])
    assert rule.match_arrow(reader).tolist() == expected * 3
    # Several chunks of one table, and a table with no chunks.
    assert rule.match_arrow(pyarrow.concat_tables([table, table.slice(1)])).tolist() == expected + expected[1:]
    assert rule.match_arrow(table.schema.empty_table()).tolist() == []
    mask = rule.match_arrow(table)
    mask[0] = False  # the caller's to change
    assert table.filter(rule.match_arrow(table)).num_rows == 2


def test_what_is_not_a_table_is_refused() -> None:
    rule = dcom_detect.Rule()
    with pytest.raises(TypeError, match="Arrow PyCapsule"):
        rule.match_arrow([{"process.name": "x"}])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not an array of"):
        rule.match_arrow(pyarrow.chunked_array([["a", "b"]]))
    with pytest.raises(TypeError, match="pandas or polars"):
        rule.match_frame(pyarrow.table({"a": [1]}))


def polars_frame() -> polars.DataFrame:
    return polars.DataFrame(
        {
            "event": [
                {"category": ["process"], "type": ["start"]},
                {"category": ["process"], "type": ["start"]},
                {"category": ["host", "process"], "type": ["start", None]},
                {"category": None, "type": ["start"]},
                None,
            ],
            "process": [
                {"name": "cmd.exe", "parent": {"name": "EXCEL.EXE"}, "command_line": None},
                {"name": "dcomcnfg.exe", "parent": None, "command_line": None},
                {"name": None, "parent": {"name": None}, "command_line": "x DCOM -Exec"},
                {"name": "dcomcnfg.exe", "parent": None, "command_line": None},
                {"name": "dcomcnfg.exe", "parent": None, "command_line": None},
            ],
        }
    )


def test_polars_frames_strings_categoricals_and_nulls() -> None:
    rule = dcom_detect.Rule()
    frame = polars_frame()
    expected = [1, 2, 4, 0, 0]
    assert rule.match_arrow(frame, branches=True)[1].tolist() == expected
    series = rule.match_frame(frame)
    assert isinstance(series, polars.Series) and series.dtype == polars.Boolean and series.name == "dcom_detect"
    assert series.to_list() == [b != 0 for b in expected]
    assert frame.filter(series).height == 3
    flat = frame.unnest("event").unnest("process").rename({"name": "process.name", "command_line": "process.command_line"})
    flat = flat.with_columns(
        polars.col("parent").struct.field("name").alias("process.parent.name"),
        polars.col("process.name").cast(polars.Categorical),
    ).drop("parent")
    flat = flat.rename({"category": "event.category", "type": "event.type"})
    assert rule.match_arrow(flat, branches=True)[1].tolist() == expected
    enum = flat.with_columns(polars.col("process.parent.name").cast(polars.Enum(["EXCEL.EXE", "mmc.exe"])))
    assert rule.match_arrow(enum, branches=True)[1].tolist() == expected
    assert rule.match_arrow(flat.lazy().collect()).tolist() == [b != 0 for b in expected]


def test_pandas_frames_keep_their_index() -> None:
    rule = dcom_detect.Rule()
    frame = pandas.DataFrame(
        {
            "event.category": [["process"], ["process"], None, ["process"]],
            "event.type": ["start", "start", "start", None],
            "process.name": ["cmd.exe", "dcomcnfg.exe", "dcomcnfg.exe", "dcomcnfg.exe"],
            "process.parent.name": pandas.array(["mmc.exe", None, None, None], dtype="string"),
        },
        index=pandas.Index([10, 20, 30, 40], name="id"),
    )
    series = rule.match_frame(frame)
    assert isinstance(series, pandas.Series) and series.dtype == bool
    assert series.index.equals(frame.index)
    assert series.tolist() == [True, True, False, False]
    assert frame[series].index.tolist() == [10, 20]
    assert rule.match_arrow(frame).tolist() == [True, True, False, False]
    categorical = frame.astype({"process.name": "category"})
    assert rule.match_frame(categorical).tolist() == [True, True, False, False]
    arrow_backed = frame.astype({"process.name": "string[pyarrow]"})
    assert rule.match_frame(arrow_backed).tolist() == [True, True, False, False]


# ---------------------------------------------------------------------------------------
# Golden corpus parity.


class _Number(str):
    """A JSON number, kept as its text (a keyword field indexes the text)."""


def _pairs(pairs: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return pairs


def flatten(value: Any, path: str, out: dict[str, list[str]]) -> None:
    """Elasticsearch's document model (docs/semantics.md §4): dotted and nested keys name the same
    field (trailing dots dropped: ``a.`` is ``a``), arrays (of objects too) flatten, nulls
    are no value, numbers and booleans are their JSON text."""
    if isinstance(value, list) and value and isinstance(value[0], tuple):
        for key, child in value:
            key = key.rstrip(".")
            flatten(child, f"{path}.{key}" if path else key, out)
    elif isinstance(value, list):
        for child in value:
            flatten(child, path, out)
    elif value is None:
        return
    elif isinstance(value, bool):
        out.setdefault(path, []).append("true" if value else "false")
    else:
        # An unpaired surrogate escape is U+FFFD to the engine (as Lucene indexes it).
        text = str(value).encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        out.setdefault(path, []).append(text)


def golden_rows(rule: dcom_detect.Rule, fields: list[str]) -> list[tuple[GoldenCase, dict[str, list[str]]]]:
    rows = []
    for case in golden_cases():
        try:
            verdict = rule.evaluate(case.record)
        except dcom_detect.BadEventError:
            continue
        if verdict.schema != "ecs":
            continue
        parsed = json.loads(case.record, object_pairs_hook=_pairs, parse_int=_Number, parse_float=_Number)
        values: dict[str, list[str]] = {}
        flatten(parsed, "", values)
        rows.append((case, {f: values.get(f, []) for f in fields}))
    return rows


EXCEPTIONS = pathlib.Path(__file__).resolve().parents[2] / "examples" / "exceptions.json"
EXCEPTION_FIELDS = ["host.name", "user.name", "process.code_signature.subject_name", "process.code_signature.trusted"]


@pytest.mark.parametrize("folding", ["ascii", "unicode_simple"])
@pytest.mark.parametrize("tuned", [False, True], ids=["plain", "exceptions"])
def test_golden_corpus_parity(folding: str, tuned: bool) -> None:
    rule = dcom_detect.Rule(case_folding=folding, exceptions=EXCEPTIONS if tuned else None)  # type: ignore[arg-type]
    fields = rule_fields(rule) + (EXCEPTION_FIELDS if tuned else [])
    rows = golden_rows(rule, fields)
    assert len(rows) > 80
    flat = pyarrow.table({f: pyarrow.array([r[f] for _, r in rows], pyarrow.list_(pyarrow.string())) for f in fields})
    views = pyarrow.table(
        {f: pyarrow.array([r[f] for _, r in rows], pyarrow.large_list(pyarrow.string_view())) for f in fields}
    )
    for table in (flat, views):
        matched, bits = rule.match_arrow(table, branches=True)
        for i, (case, _) in enumerate(rows):
            verdict = rule.evaluate(case.record)
            assert (int(bits[i]), bool(matched[i])) == (verdict.bits, bool(verdict)), f"line {case.line} {case.id}"
            assert verdict.bits == case.expected(folding)


# ---------------------------------------------------------------------------------------
# A million generated rows: match_arrow against Rule.scan of the same rows as NDJSON.

NAMES_VOCAB = ["cmd.exe", "CMD.EXE", "powershell.exe", "dcomcnfg.exe", "DCOMCNFG.EXE", "notepad.exe", "mshta.exe",
               "c\u017fcript.exe", None, "", "😀.exe", "rundll32.exe", "svchost.exe"]
PARENTS_VOCAB = ["mmc.exe", "MMC.EXE", "excel.exe", "explorer.exe", "outloo\u212a.exe", None, "winword.exe",
                 "svchost.exe", "Visio.exe", "services.exe"]
COMMAND_VOCAB = ["cmd /c whoami", "powershell -Exec Bypass Invoke-DCOM", "x dcom y -exec", "-ExecutionPolicy Bypass",
                 "svchost -k DcomLaunch", None, "DCOM", "-Exec", "dcöm -exec", "C:\\Windows\\system32\\notepad.exe",
                 "ʀ DCOM -EXEC"]
CATEGORY_VOCAB = [["process"], ["host", "process"], [], None, ["Process"], ["process", None], ["network"]]
TYPE_VOCAB = [["start"], ["end"], ["start", "end"], None, ["START"]]


def generated_table(rows: int, seed: int) -> pyarrow.Table:
    rng = numpy.random.default_rng(seed)

    def pick(vocab: list[Any], type_: pyarrow.DataType, weights: list[float] | None = None) -> pyarrow.Array:
        p = None if weights is None else numpy.array(weights) / sum(weights)
        # pyarrow's take has no string_view kernel: take strings, then cast.
        plain = pyarrow.list_(pyarrow.string()) if isinstance(vocab[0], list) else pyarrow.string()
        return pyarrow.array(vocab, plain).take(pyarrow.array(rng.choice(len(vocab), rows, p=p))).cast(type_)

    category = pick(CATEGORY_VOCAB, pyarrow.list_(pyarrow.string()), [8, 1, 1, 1, 1, 1, 1])
    event_type = pick(TYPE_VOCAB, pyarrow.list_(pyarrow.string_view()), [8, 1, 1, 1, 1])
    name = pick(NAMES_VOCAB, pyarrow.large_string())
    parent = pick(PARENTS_VOCAB, pyarrow.string()).dictionary_encode()
    command = pick(COMMAND_VOCAB, pyarrow.string_view(), [20, 1, 1, 2, 2, 4, 1, 1, 1, 20, 1])
    parent_struct = pyarrow.StructArray.from_arrays([parent], names=["name"], mask=pyarrow.array(rng.random(rows) < 0.02))
    process = pyarrow.StructArray.from_arrays(
        [name, parent_struct, command], names=["name", "parent", "command_line"], mask=pyarrow.array(rng.random(rows) < 0.02)
    )
    event = pyarrow.StructArray.from_arrays([category, event_type], names=["category", "type"])
    return pyarrow.table({"event": event, "process": process})


def scan_bits(rule: dcom_detect.Rule, table: pyarrow.Table, tmp_path: pathlib.Path) -> dict[int, int]:
    path = tmp_path / "rows.ndjson"
    polars.from_arrow(table).write_ndjson(path)  # type: ignore[union-attr]
    scan = rule.scan(str(path))
    found = {}
    # Every suppressed match too (Scan.suppressed keeps only the first `retain`).
    for item in scan.events():
        assert item.line is not None
        if isinstance(item, dcom_detect.Alert):
            found[item.line - 1] = item.bits
        elif isinstance(item, dcom_detect.Suppressed):
            found[item.line - 1] = -item.bits
    assert scan.stats.records == table.num_rows and scan.stats.rejected == 0
    return found


def arrow_bits(rule: dcom_detect.Rule, table: pyarrow.Table) -> dict[int, int]:
    matched, bits = rule.match_arrow(table, branches=True)
    fired = numpy.flatnonzero(bits)
    return {int(i): int(bits[i]) if matched[i] else -int(bits[i]) for i in fired}


def test_million_generated_rows_parity_with_the_ndjson_scan(tmp_path: pathlib.Path) -> None:
    table = generated_table(1_000_000, seed=7)
    rule = dcom_detect.Rule()
    ours = arrow_bits(rule, table)
    assert 1000 < len(ours) < 500_000
    assert ours == scan_bits(rule, table, tmp_path)


def test_threads_give_the_same_results_in_order() -> None:
    table = generated_table(200_000, seed=13)
    rule = dcom_detect.Rule()
    one = rule.match_arrow(table, branches=True, threads=1)
    for threads in (0, 2, 5):
        many = rule.match_arrow(table, branches=True, threads=threads)
        assert (many[0] == one[0]).all() and (many[1] == one[1]).all()
    assert rule.match_frame(polars.from_arrow(table), threads=2).to_list() == one[0].tolist()  # type: ignore[arg-type]
    # Many small uneven chunks (as readers produce): shared across threads, still in order.
    sizes = [0, 1, 250, 977, 3, 16_384, 40_000]
    batches, start = [], 0
    while start < table.num_rows:
        size = sizes[len(batches) % len(sizes)]
        batches.append(table.slice(start, size))
        start += size
    chunked = pyarrow.concat_tables(batches)
    assert chunked.column(0).num_chunks > 20
    for threads in (1, 0, 3):
        many = rule.match_arrow(chunked, branches=True, threads=threads)
        assert (many[0] == one[0]).all() and (many[1] == one[1]).all()


@pytest.mark.parametrize("folding", ["ascii", "unicode_simple"])
def test_generated_rows_parity_with_exceptions(tmp_path: pathlib.Path, folding: str) -> None:
    table = generated_table(100_000, seed=11)
    rule = dcom_detect.Rule(
        case_folding=folding,  # type: ignore[arg-type]
        exceptions=[{"name": "mmc shells", "entries": [
            {"field": "process.parent.name", "operator": "is", "value": "mmc.exe"},
            {"field": "process.command_line", "operator": "matches", "value": "*whoami*"}]}],
    )
    ours = arrow_bits(rule, table)
    assert any(v < 0 for v in ours.values())
    assert ours == scan_bits(rule, table, tmp_path)


# ---------------------------------------------------------------------------------------
# Alerts from tables and Parquet files equal those of the NDJSON scan.

HOSTS = ["ws-fin-01", "ws-hr-02", "mgmt-ws-03"]
ROWS = [
    ("C:\\Windows\\explorer.exe", "C:\\Windows\\System32\\notepad.exe", "notepad.exe"),
    ("C:\\Windows\\System32\\mmc.exe", "C:\\Windows\\System32\\cmd.exe", "\"C:\\Windows\\System32\\cmd.exe\" /Q /c whoami"),
    ("C:\\Windows\\explorer.exe", "C:\\Windows\\System32\\dcomcnfg.exe", "dcomcnfg.exe"),
    ("C:\\Windows\\System32\\cmd.exe", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
     "powershell -ExecutionPolicy Bypass -c Invoke-DCOM -Method MMC20.Application"),
    ("C:\\Windows\\System32\\services.exe", "C:\\Windows\\System32\\svchost.exe", "svchost.exe -k DcomLaunch -p"),
]


def ecs_events(count: int, seed: int = 3) -> Iterator[dict[str, Any]]:
    """Elastic Defend-shaped process starts, every field with one type throughout."""
    rnd = random.Random(seed)
    for i in range(count):
        parent, child, command = ROWS[0] if rnd.random() < 0.6 else rnd.choice(ROWS)
        host = rnd.choice(HOSTS)
        yield {
            "@timestamp": f"2024-05-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00.{i % 1000:03d}Z",
            "event": {"category": ["process"], "type": ["start"], "kind": "event", "sequence": i},
            "host": {"name": host, "ip": [f"10.0.0.{rnd.randrange(1, 255)}"], "os": {"family": "windows"}},
            "user": {"name": rnd.choice(["alice", "bob", "SYSTEM"]), "domain": "CORP"},
            "process": {
                "name": child.rsplit("\\", 1)[-1],
                "executable": child,
                "command_line": command,
                "pid": rnd.randrange(1000, 60000),
                "args": command.split(" ")[:4],
                "code_signature": {"trusted": rnd.random() < 0.5, "subject_name": "Microsoft Windows"},
                "parent": {"name": parent.rsplit("\\", 1)[-1], "executable": parent, "pid": rnd.randrange(400, 60000)},
            },
        }


def without_position(alert: dcom_detect.Alert) -> dict[str, Any]:
    document = alert.to_dict()
    document.pop("log", None)
    document["dcom_detect"].pop("source", None)
    return document


@pytest.fixture
def events_ndjson(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "events.ndjson"
    path.write_text("".join(json.dumps(e) + "\n" for e in ecs_events(3000)), encoding="utf-8")
    return path


def ndjson_alerts(rule: dcom_detect.Rule, path: pathlib.Path) -> list[tuple[int, dict[str, Any]]]:
    return [(a.line or 0, without_position(a)) for a in rule.scan(str(path))]


def test_alerts_arrow_equal_the_ndjson_alerts(events_ndjson: pathlib.Path) -> None:
    rule = dcom_detect.Rule(exceptions=EXCEPTIONS)
    expected = ndjson_alerts(rule, events_ndjson)
    assert len(expected) > 100
    table = polars.read_ndjson(events_ndjson).to_arrow()
    alerts = rule.alerts_arrow(table, file="events")
    assert [(a.row, without_position(a)) for a in alerts] == expected
    assert alerts[0].file == "events" and alerts[0].position == f"row {alerts[0].row}"
    assert alerts[0].to_dict()["dcom_detect"]["source"] == {"file": "events", "row": alerts[0].row}
    unplaced = rule.alerts_arrow(table.to_batches()[0], first_row=None)
    assert unplaced and all(a.position is None and a.row is None for a in unplaced)
    assert "source" not in unplaced[0].to_dict()["dcom_detect"]
    original = rule.alerts_arrow(table.slice(0, 200), include_original=True)
    assert all(json.loads(a.to_dict()["event"]["original"])["process"]["name"] for a in original)


@pytest.mark.parametrize("compression", ["snappy", "zstd", "gzip", "lz4", "none"])
def test_parquet_scan_equals_the_ndjson_scan(
    events_ndjson: pathlib.Path, tmp_path: pathlib.Path, compression: str
) -> None:
    rule = dcom_detect.Rule(exceptions=EXCEPTIONS)
    table = polars.read_ndjson(events_ndjson).to_arrow()
    path = tmp_path / "events.parquet"
    pyarrow.parquet.write_table(table, path, row_group_size=700, compression=compression)
    scan = rule.scan(str(path))
    alerts = [(a.row, without_position(a)) for a in scan]
    assert alerts == ndjson_alerts(rule, events_ndjson)
    ndjson_scan = rule.scan(str(events_ndjson))
    list(ndjson_scan)
    stats = scan.stats
    assert (stats.records, stats.matched, stats.suppressed, stats.not_matched, stats.rejected) == (
        ndjson_scan.stats.records,
        ndjson_scan.stats.matched,
        ndjson_scan.stats.suppressed,
        ndjson_scan.stats.not_matched,
        0,
    )
    assert stats.complete
    assert [s.row for s in scan.suppressed] == [s.line for s in ndjson_scan.suppressed]


def test_polars_parquet_with_string_views(events_ndjson: pathlib.Path, tmp_path: pathlib.Path) -> None:
    rule = dcom_detect.Rule()
    path = tmp_path / "polars.parquet"
    polars.read_ndjson(events_ndjson).write_parquet(path, row_group_size=1000)
    assert [(a.row, without_position(a)) for a in rule.scan(path)] == ndjson_alerts(rule, events_ndjson)


def test_cli_scans_parquet_with_a_column_mapping(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dcom_detect.cli import main

    path = tmp_path / "renamed.parquet"
    table = pyarrow.table(
        {
            "category": ["process"] * 3,
            "event.type": ["start"] * 3,
            "exe": ["notepad.exe", "dcomcnfg.exe", "cmd.exe"],
            "parent_exe": ["explorer.exe", "explorer.exe", "EXCEL.EXE"],
        }
    )
    pyarrow.parquet.write_table(table, path)
    code = main(["scan", str(path), "--column", "event.category=category", "--column", "process.name=exe",
                 "--column", "process.parent.name=parent_exe"])
    out, err = capsys.readouterr()
    assert code == 1
    alerts = [json.loads(line) for line in out.splitlines()]
    assert [a["dcom_detect"]["source"]["row"] for a in alerts] == [2, 3]
    assert [a["dcom_detect"]["branches"] for a in alerts] == [["dcomcnfg"], ["office_child"]]
    assert alerts[1]["process"] == {"name": "cmd.exe", "parent": {"name": "EXCEL.EXE"}}
    assert "2 alerts in 3 records" in err
    assert main(["scan", str(path)]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as usage:
        main(["scan", str(path), "--column", "process.name"])
    assert usage.value.code == 2
    assert "FIELD=COLUMN" in capsys.readouterr().err


def test_unreadable_parquet_is_reported(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1" + b"\0" * 64)
    scan = dcom_detect.Rule().scan(str(path))
    with pytest.raises(dcom_detect.UnreadableInputError):
        list(scan)
    floats = tmp_path / "floats.parquet"
    pyarrow.parquet.write_table(pyarrow.table({"process.name": [1.5]}), floats)
    with pytest.raises(dcom_detect.UnreadableInputError, match="process.name"):
        list(dcom_detect.Rule().scan(str(floats)))


def test_match_arrow_releases_the_interpreter() -> None:
    import threading

    table = generated_table(300_000, seed=5)
    rule = dcom_detect.Rule()
    ticks = 0
    done = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1

    thread = threading.Thread(target=count)
    thread.start()
    try:
        for _ in range(3):
            rule.match_arrow(table)
    finally:
        done.set()
        thread.join()
    assert ticks > 1000


def test_bytes_io_is_not_arrow() -> None:
    with pytest.raises(TypeError):
        dcom_detect.Rule().match_arrow(io.BytesIO(b"x"))
