"""The stateful correlator (`Rule.correlator()` / `dcom_detect.Correlator`): fed records or
Arrow batches a call at a time, it returns the alerts `Rule.scan_records(...,
profile="extended")` and `Rule.scan(..., profile="extended")` raise for the same events, byte
for byte, whatever the call boundaries."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pyarrow
import pyarrow.compute
import pytest

import dcom_detect
from conftest import REPO

FIXTURES = REPO / "core" / "tests" / "data" / "correlation"
SHARED = REPO.parent / "shared"


def fixture_lines() -> list[str]:
    """Both fixtures, one after the other (two hosts' recordings, one stream)."""
    return [line for path in sorted(FIXTURES.glob("*.ndjson")) for line in path.read_text(encoding="utf-8").splitlines()]


def expected(lines: list[Any]) -> list[str]:
    return [a.json for a in dcom_detect.Rule().scan_records(lines, profile="extended")]


def fed_in_chunks(correlator: dcom_detect.Correlator, records: list[Any], size: int) -> list[dcom_detect.Alert]:
    alerts: list[dcom_detect.Alert] = []
    for start in range(0, len(records), size):
        alerts += correlator.feed(records[start : start + size])
    return alerts + correlator.finish()


@pytest.mark.parametrize("size", [1, 3, 7, 1000])
@pytest.mark.parametrize("kind", ["dict", "str", "bytes"])
def test_records_fed_in_any_chunks_give_the_scan_alerts(size: int, kind: str) -> None:
    lines = fixture_lines()
    records: list[Any] = {
        "dict": [json.loads(line) for line in lines],
        "str": lines,
        "bytes": [line.encode() for line in lines],
    }[kind]
    want = expected(records)
    assert sorted({json.loads(a)["dcom_detect"]["correlation"]["rule"] for a in want}) == ["D2", "D2L", "D3"]
    correlator = dcom_detect.Rule().correlator()
    alerts = fed_in_chunks(correlator, records, size)
    assert [a.json for a in alerts] == want
    assert all(a.correlation in ("D2", "D2L", "D3") and a.line is not None for a in alerts)
    stats = correlator.stats
    assert stats.records == len(records) and stats.alerts == len(want) == stats.correlations
    assert stats.observations > 0 and not stats.lossy
    assert stats.to_dict()["records"] == len(records)


def test_input_far_out_of_order_is_counted_and_reported_lossy() -> None:
    def start(time: str) -> dict[str, Any]:
        return {
            "@timestamp": f"2024-05-01T{time}Z",
            "host": {"name": "ws-1", "id": "h-1"},
            "event": {"category": ["process"], "type": ["start"]},
            "process": {"name": "cmd.exe", "pid": 4, "parent": {"name": "explorer.exe", "pid": 8}},
        }

    # The second start is ten minutes older than the first (past the allowed lateness: it is
    # evaluated at once); the third is older still than what was evaluated: late.
    records = [start("10:10:00"), start("10:00:00"), start("09:59:00")]
    correlator = dcom_detect.Rule().correlator()
    fed_in_chunks(correlator, records, 1)
    stats = correlator.stats
    assert stats.observations == 3 and stats.late == 1 and stats.lossy, stats
    in_order = dcom_detect.Rule().correlator()
    fed_in_chunks(in_order, records[::-1], 1)
    assert in_order.stats.late == 0 and not in_order.stats.lossy, in_order.stats


def test_one_record_at_a_time_and_positions_continue() -> None:
    lines = fixture_lines()
    correlator = dcom_detect.Correlator(dcom_detect.Rule())
    alerts = []
    for line in lines:
        alerts += correlator.feed(json.loads(line))  # a single dict, not a list
    alerts += correlator.finish()
    want = list(dcom_detect.Rule().scan_records(lines, profile="extended"))
    assert [(a.correlation, a.line, a.offset) for a in alerts] == [(a.correlation, a.line, a.offset) for a in want]
    # Anchors of the second file are numbered after the first file's lines.
    first = len((FIXTURES / "otrf_excel4macro.ndjson").read_text(encoding="utf-8").splitlines())
    assert any(a.line is not None and a.line > first for a in alerts)
    assert correlator.fed == len(lines) and correlator.finished


def test_alerts_come_before_finish_once_the_window_has_passed() -> None:
    # Two copies of one host's recording, the second shifted two hours later: the first's
    # correlations are complete (window and lateness past) while the second is fed.
    lines = (FIXTURES / "otrf_shellwindows.ndjson").read_text(encoding="utf-8").splitlines()
    correlator = dcom_detect.Rule().correlator()
    early = correlator.feed(lines)
    later = correlator.feed([json.dumps(shifted(json.loads(line), hours=2)) for line in lines])
    rest = correlator.finish()
    assert len(early) + len(later) + len(rest) == 4
    assert len(later) >= 2, "the first copy's alerts are out before the end"
    assert all(a.line is not None and a.line <= len(lines) for a in later[:2])


def shifted(record: dict[str, Any], hours: int) -> dict[str, Any]:
    import datetime as dt

    out = dict(record)
    for key in ("@timestamp", "UtcTime", "EventTime", "EventReceivedTime"):
        value = out.get(key)
        if not isinstance(value, str):
            continue
        for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
            try:
                t = dt.datetime.strptime(value, fmt)
            except ValueError:
                continue
            t += dt.timedelta(hours=hours)
            text = t.strftime(fmt)
            out[key] = text[:-4] + "Z" if fmt.endswith("Z") else (text[:-3] if fmt.endswith("%f") else text)
            break
    return out


def test_blank_and_bad_records() -> None:
    correlator = dcom_detect.Rule().correlator()
    assert correlator.feed(["", "  "]) == []
    assert correlator.stats.blank == 2 and correlator.fed == 2
    with pytest.raises(dcom_detect.BadEventError) as error:
        correlator.feed(['{"a": 1}', "not json"])
    assert error.value.index == 1
    with pytest.raises(TypeError, match="record 1"):
        correlator.feed([{}, 3])
    with pytest.raises(TypeError, match="records"):
        correlator.feed(3)  # type: ignore[arg-type]
    assert correlator.fed == 5, "the good records before a bad one were fed"
    assert correlator.finish() == []
    with pytest.raises(RuntimeError, match="finished"):
        correlator.feed([])
    with pytest.raises(RuntimeError, match="finished"):
        correlator.finish()
    assert correlator.stats.records == 5
    assert "finished" in repr(correlator)


def test_alerts_completed_before_an_error_are_not_lost() -> None:
    lines = fixture_lines()
    correlator = dcom_detect.Rule().correlator()
    with pytest.raises(dcom_detect.BadEventError):
        correlator.feed(lines + ["{"])
    alerts = correlator.finish()
    want = expected(lines)
    assert [a.json for a in alerts] == want


def test_profiles_are_checked() -> None:
    rule = dcom_detect.Rule()
    with pytest.raises(ValueError, match="seed profile has no correlation"):
        rule.correlator(profile="seed")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown profile"):
        dcom_detect.Correlator(rule, profile="extendd")  # type: ignore[arg-type]
    assert dcom_detect.Correlator().profile == "extended"


@pytest.mark.parametrize("size", [1, 4, 1000])
def test_the_elastic_profile_feeds_like_its_scan(size: int) -> None:
    lines = fixture_lines()
    want = [a.json for a in dcom_detect.Rule().scan_records(lines, profile="elastic")]
    assert [json.loads(a)["dcom_detect"]["correlation"]["rule"] for a in want] == ["shellwindows"]
    correlator = dcom_detect.Rule().correlator(profile="elastic")
    assert correlator.profile == "elastic"
    alerts = fed_in_chunks(correlator, lines, size)
    assert [a.json for a in alerts] == want
    assert [a.correlation for a in alerts] == ["shellwindows"]
    stats = correlator.stats
    assert stats.correlations == 1 and stats.observations > 0 and not stats.lossy


def test_include_original_carries_the_anchor_record() -> None:
    lines = fixture_lines()
    correlator = dcom_detect.Rule().correlator(include_original=True)
    alerts = fed_in_chunks(correlator, lines, 5)
    want = list(dcom_detect.Rule().scan_records(lines, profile="extended", include_original=True))
    assert [a.json for a in alerts] == [a.json for a in want]
    for alert in alerts:
        assert alert.line is not None
        assert json.loads(alert.to_dict()["event"]["original"]) == json.loads(lines[alert.line - 1])


def table_of(lines: list[str]) -> pyarrow.Table:
    """The records as one Arrow table (nested structs, one column per top-level key), the
    types pyarrow infers, timestamps left as text."""
    records = [json.loads(line) for line in lines]
    keys: dict[str, None] = {}
    for record in records:
        keys.update(dict.fromkeys(record))
    # Every record with every key (missing ones null), so that the schema is inferred from all.
    return pyarrow.Table.from_pylist([{k: r.get(k) for k in keys} for r in records])


def arrow_alerts(correlator: dcom_detect.Correlator, table: pyarrow.Table, rows: int) -> list[dcom_detect.Alert]:
    alerts: list[dcom_detect.Alert] = []
    for batch in table.to_batches(max_chunksize=rows):
        alerts += correlator.feed_arrow(batch)
    return alerts + correlator.finish()


@pytest.mark.parametrize("rows", [1, 4, 1000])
def test_arrow_batches_give_the_scan_alerts(rows: int) -> None:
    lines = fixture_lines()
    table = table_of(lines)
    correlator = dcom_detect.Rule().correlator()
    alerts = arrow_alerts(correlator, table, rows)
    # The anchors and partners of the record scan, rows numbered as lines.
    want = list(dcom_detect.Rule().scan_records(lines, profile="extended"))
    assert [(a.correlation, a.row) for a in alerts] == [(a.correlation, a.line) for a in want]
    # The same alerts but for where the anchor and partner are (rows, not lines). (A scan of
    # the table as a Parquet file does not run the correlation: core's Parquet source does
    # not observe.)
    assert [without_source(a.to_dict()) for a in alerts] == [without_source(a.to_dict()) for a in want]
    assert correlator.stats.records == table.num_rows


def without_source(document: dict[str, Any]) -> dict[str, Any]:
    document.pop("log", None)
    document["dcom_detect"].pop("source")
    document["dcom_detect"]["correlation"]["partner"].pop("source")
    return document


def ecs_process(
    host: str, time: str, name: str, parent: str, pid: int, args: list[str], parent_pid: int = 700
) -> dict[str, Any]:
    return {
        "@timestamp": time,
        "host": {"name": host, "id": host + "-id"},
        "event": {"category": ["process"], "type": ["start"], "kind": "event"},
        "process": {
            "name": name,
            "pid": pid,
            "entity_id": f"{host}-{pid}",
            "args": args,
            "parent": {"name": parent, "pid": parent_pid, "entity_id": f"{host}-{parent_pid}"},
        },
    }


def ecs_inbound(host: str, time: str, name: str, pid: int) -> dict[str, Any]:
    return {
        "@timestamp": time,
        "host": {"name": host, "id": host + "-id"},
        "event": {"category": ["network"], "type": ["connection", "start"], "kind": "event"},
        "network": {"direction": "ingress", "transport": "tcp"},
        "source": {"ip": "10.0.0.5", "port": 50123},
        "destination": {"ip": "10.0.0.9", "port": 49700},
        "process": {"name": name, "pid": pid, "entity_id": f"{host}-{pid}"},
    }


def ecs_events() -> list[dict[str, Any]]:
    """An MMC20-style start (a COM server with ``-Embedding``) and its inbound connection on
    one host, an explorer child and explorer's inbound connection on another, and decoys."""
    return [
        ecs_process("ws1", "2024-05-01T10:00:00.000Z", "mmc.exe", "svchost.exe", 4100, ["mmc.exe", "-Embedding"]),
        ecs_process("ws2", "2024-05-01T10:00:00.500Z", "notepad.exe", "cmd.exe", 5000, ["notepad.exe"]),
        ecs_inbound("ws1", "2024-05-01T10:00:01.000Z", "mmc.exe", 4100),
        ecs_inbound("ws2", "2024-05-01T10:00:02.000Z", "explorer.exe", 3000),
        ecs_process("ws2", "2024-05-01T10:00:03.000Z", "cmd.exe", "explorer.exe", 5100, ["cmd.exe", "/c", "whoami"], 3000),
    ]


def flattened(table: pyarrow.Table) -> pyarrow.Table:
    while any(pyarrow.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    return table


@pytest.mark.parametrize("layout", ["nested", "flat"])
def test_ecs_columns_nested_or_flat(layout: str) -> None:
    events = ecs_events()
    want = expected([json.dumps(e) for e in events])
    assert sorted(json.loads(a)["dcom_detect"]["correlation"]["rule"] for a in want) == ["D2", "D3"], want
    table = table_of([json.dumps(e) for e in events])
    if layout == "flat":
        table = flattened(table)
        assert "process.parent.name" in table.column_names and "host.name" in table.column_names
    alerts = arrow_alerts(dcom_detect.Rule().correlator(), table, 2)
    assert [(a.correlation, a.row) for a in alerts] == [
        (json.loads(a)["dcom_detect"]["correlation"]["rule"], json.loads(a)["dcom_detect"]["source"]["line"]) for a in want
    ]
    # The alerts are the record scan's but for where the anchor is (a row, not a line).
    for got, line in zip(alerts, want):
        document, reference = got.to_dict(), json.loads(line)
        for d in (document, reference):
            d.pop("log", None)
            d["dcom_detect"].pop("source")
            d["dcom_detect"]["correlation"]["partner"].pop("source")
        assert document == reference


def test_arrow_timestamps_and_other_producers() -> None:
    events = ecs_events()
    table = table_of([json.dumps(e) for e in events])
    # A real timestamp column (as Spark and Parquet give), microseconds, UTC.
    import datetime as dt

    parsed = [dt.datetime.strptime(e["@timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc) for e in events]
    times = pyarrow.array(parsed, pyarrow.timestamp("us", tz="UTC"))
    table = table.set_column(table.schema.get_field_index("@timestamp"), "@timestamp", times)
    correlator = dcom_detect.Rule().correlator()
    alerts = correlator.feed_arrow(table.to_reader()) + correlator.finish()
    assert sorted(a.correlation or "" for a in alerts) == ["D2", "D3"]
    assert alerts[0].timestamp is not None and alerts[0].timestamp.startswith("2024-05-01T10:00:00")
    polars = pytest.importorskip("polars")
    correlator = dcom_detect.Rule().correlator()
    assert len(correlator.feed_arrow(polars.from_arrow(table)) + correlator.finish()) == 2


def test_arrow_errors() -> None:
    correlator = dcom_detect.Rule().correlator()
    with pytest.raises(TypeError, match="Arrow PyCapsule"):
        correlator.feed_arrow([1, 2])  # type: ignore[arg-type]
    bad = pyarrow.table({"process.name": pyarrow.array([1.5])})
    with pytest.raises(dcom_detect.ColumnError):
        correlator.feed_arrow(bad)
    with pytest.raises(dcom_detect.ColumnError):
        correlator.feed_arrow(pyarrow.table({"x": ["a"]}), columns={"process.name": "image"})
    assert correlator.finish() == []


def test_mixed_records_and_rows_share_one_numbering() -> None:
    events = ecs_events()
    correlator = dcom_detect.Rule().correlator()
    alerts = correlator.feed(events[:2])
    alerts += correlator.feed_arrow(table_of([json.dumps(e) for e in events[2:]]))
    alerts += correlator.finish()
    by_rule = {a.correlation: a for a in alerts}
    # D2's anchor (the mmc start) was record 1; D3's (the cmd start) row 5.
    assert by_rule["D2"].line == 1 and by_rule["D3"].row == 5


def test_a_folder_of_real_recordings_correlates_like_the_scan() -> None:
    root = SHARED / "realdata"
    if not root.exists():
        pytest.skip(f"{root} is absent")
    for path in sorted(root.rglob("*.ndjson")):
        lines = path.read_text(encoding="utf-8").splitlines()
        correlator = dcom_detect.Rule().correlator()
        alerts = fed_in_chunks(correlator, lines, 997)
        assert [a.json for a in alerts] == expected(lines), path
