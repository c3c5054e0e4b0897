"""Rule.scan over every kind of input: paths (NDJSON, gzip, EVTX), file objects, and
Rule.scan_records over iterables of records;
alerts byte-identical with the Rust API; counts, rejected records, progress, early stop,
DataFrames and HTML cards."""

from __future__ import annotations

import gzip
import io
import json
import os
import pathlib
import shutil
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import dcom_detect
from conftest import DATA, REPO, SAMPLE, SAMPLE_NAME, env_flag
from dcom_detect import Rule, UnreadableInputError

GOLDEN_ALERTS = (DATA / "sample_alerts.ndjson").read_text(encoding="utf-8").splitlines()
SAMPLE_BYTES = SAMPLE.read_bytes()


def alert_lines(scan: dcom_detect.Scan) -> list[str]:
    return [alert.json for alert in scan]


def without_file(line: str) -> dict[str, Any]:
    """An alert with the file name removed (for inputs that have another name or none)."""
    alert = json.loads(line)
    alert.get("log", {}).pop("file", None)
    if not alert.get("log"):
        alert.pop("log", None)
    alert["dcom_detect"]["source"].pop("file", None)
    return alert


# -- paths ----------------------------------------------------------------------------------


@pytest.mark.parametrize("threads", [1, 2, 0])
def test_path_alerts_are_byte_identical_with_the_rust_api(in_repo: pathlib.Path, threads: int) -> None:
    scan = Rule().scan(SAMPLE_NAME, threads=threads)
    assert alert_lines(scan) == GOLDEN_ALERTS
    assert scan.done
    stats = scan.stats
    assert (stats.records, stats.matched, stats.rejected, stats.complete) == (15, 5, 1, True)
    assert stats.records == stats.matched + stats.suppressed + stats.not_matched + stats.rejected
    assert stats.bytes == len(SAMPLE_BYTES)


@pytest.mark.skipif(env_flag("DCOM_SKIP_RUST_EXAMPLE") or shutil.which("cargo") is None, reason="needs cargo")
def test_rust_example_writes_the_same_alerts(in_repo: pathlib.Path) -> None:
    """The committed golden file is what the Rust API writes today."""
    result = subprocess.run(
        ["cargo", "run", "-q", "-p", "dcom-detect-core", "--example", "scan", "--", SAMPLE_NAME],
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    )
    assert result.stdout.splitlines() == GOLDEN_ALERTS


def test_pathlike_and_module_shortcut(in_repo: pathlib.Path) -> None:
    assert alert_lines(dcom_detect.scan(pathlib.Path(SAMPLE_NAME))) == GOLDEN_ALERTS


def test_alert_fields(in_repo: pathlib.Path) -> None:
    alerts = list(Rule().scan(SAMPLE_NAME))
    first = alerts[0]
    assert first.branches == ("office_child",) and first.bits == 1
    assert first.file == SAMPLE_NAME
    assert (first.line, first.offset, first.record, first.record_id) == (8, 31073, None, None)
    assert first.position == "line 8 (byte 31073)"
    assert first.timestamp == "2024-05-01T10:00:01.000Z"
    assert first.host == "ws-finance-07"
    assert first.user == "CORP\\svc_admin"
    document = first.to_dict()
    assert document == json.loads(first.json)
    assert document["event"]["kind"] == "alert"
    assert document["dcom_detect"]["evidence"]["office_child"] == {"process.parent.name": "mmc.exe", "process.name": "powershell.exe"}
    assert document["threat"]["technique"]["subtechnique"]["id"] == "T1021.003"
    document["event"] = None  # a new dict every time
    assert first.to_dict()["event"]["kind"] == "alert"
    assert str(first) == first.json
    assert repr(first).startswith("<Alert office_child host='ws-finance-07' at 2024-05-01T10:00:01.000Z from examples/data/sample.ndjson:line 8")
    assert [a.branches for a in alerts] == [("office_child",), ("dcomcnfg",), ("dcom_command_line",), ("office_child",), ("office_child",)]
    assert alerts[0] == list(Rule().scan(SAMPLE_NAME))[0] and alerts[0] != alerts[1]


def test_gzip_is_recognised_by_its_bytes(tmp_path: pathlib.Path) -> None:
    compressed = tmp_path / "events.log"  # no .gz: detection is by magic bytes
    compressed.write_bytes(gzip.compress(SAMPLE_BYTES))
    scan = Rule().scan(compressed)
    assert [without_file(a) for a in alert_lines(scan)] == [without_file(a) for a in GOLDEN_ALERTS]
    assert scan.stats.bytes == len(SAMPLE_BYTES)


def test_truncated_gzip_raises_after_the_alerts_before_it(tmp_path: pathlib.Path) -> None:
    data = gzip.compress(SAMPLE_BYTES * 50)
    broken = tmp_path / "broken.ndjson.gz"
    broken.write_bytes(data[: len(data) // 2])
    scan = Rule().scan(broken, threads=1)
    got = []
    with pytest.raises(UnreadableInputError, match="broken.ndjson.gz") as caught:
        for alert in scan:
            got.append(alert)
    assert isinstance(caught.value, OSError) and isinstance(caught.value, dcom_detect.DcomDetectError)
    assert len(got) > 0
    assert not scan.stats.complete and scan.done
    assert list(scan) == []  # the error is raised once; the scan is over


def test_evtx(evtx_path: pathlib.Path) -> None:
    scan = Rule().scan(evtx_path)
    alerts = list(scan)
    assert [a.record_id for a in alerts] == [9833, 9838, 9839]
    assert all(a.line is None and a.offset is None and a.record is not None for a in alerts)
    assert all(a.file == str(evtx_path) for a in alerts)
    assert alerts[0].position.startswith("record ") and "EventRecordID 9833" in alerts[0].position
    assert alerts[0].to_dict()["dcom_detect"]["schema"] == "sysmon_1/evtx"
    assert scan.stats.complete and scan.stats.matched == 3
    assert scan.stats.records == scan.stats.matched + scan.stats.not_matched + scan.stats.rejected


def test_evtx_fixture_and_truncated_evtx(tmp_path: pathlib.Path) -> None:
    """The repository's own EVTX fixture (Security 4688, no match), whole and cut short."""
    fixture = REPO / "core" / "tests" / "data" / "dcomexec_4688.evtx"
    scan = Rule().scan(fixture)
    assert list(scan) == []
    stats = scan.stats
    assert stats.complete and stats.records == 12 and stats.not_matched == 12 and stats.rejected == 0
    cut = tmp_path / "cut.evtx"
    data = fixture.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    scan = Rule().scan(cut)
    assert list(scan) == []
    assert scan.stats.rejected >= 1
    rejected = scan.rejected[-1]
    assert rejected.record is not None and rejected.line is None
    assert "truncated EVTX" in rejected.reason and str(cut) in str(rejected)


# -- file objects and iterables -------------------------------------------------------------


def test_binary_file_objects(in_repo: pathlib.Path) -> None:
    with open(SAMPLE_NAME, "rb") as handle:
        assert alert_lines(Rule().scan(handle)) == GOLDEN_ALERTS  # named like the path
    expected = [without_file(a) for a in GOLDEN_ALERTS]
    for data in (SAMPLE_BYTES, gzip.compress(SAMPLE_BYTES)):
        alerts = list(Rule().scan(io.BytesIO(data)))
        assert [a.file for a in alerts] == [None] * 5
        assert [json.loads(a.json) for a in alerts] == expected


class SmallReads(io.RawIOBase):
    """A file object that hands out a few bytes per read (exercises partial reads)."""

    def __init__(self, data: bytes, fail_after: int | None = None) -> None:
        self.data = data
        self.position = 0
        self.fail_after = fail_after

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self.fail_after is not None and self.position >= self.fail_after:
            raise ConnectionError("the stream broke")
        chunk = self.data[self.position : self.position + min(n, 7)]
        self.position += len(chunk)
        return chunk


def test_file_object_with_short_reads() -> None:
    assert len(list(Rule().scan(SmallReads(SAMPLE_BYTES)))) == 5


def test_file_object_errors_are_chained() -> None:
    scan = Rule().scan(SmallReads(SAMPLE_BYTES * 3, fail_after=len(SAMPLE_BYTES) + 100), threads=1)
    got = []
    with pytest.raises(UnreadableInputError, match="the stream broke") as caught:
        for alert in scan:
            got.append(alert)
    assert isinstance(caught.value.__cause__, ConnectionError)
    assert len(got) == 5


def test_text_file_objects_and_bytes_are_refused(in_repo: pathlib.Path) -> None:
    with open(SAMPLE_NAME, encoding="utf-8") as handle, pytest.raises(TypeError, match="binary mode"):
        Rule().scan(handle)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"io.BytesIO"):
        Rule().scan(SAMPLE_BYTES)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Rule.evaluate"):
        Rule().scan({"event": {}})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="source must be a path"):
        Rule().scan(42)  # type: ignore[arg-type]


def test_iterables_of_lines_number_like_the_file(in_repo: pathlib.Path) -> None:
    expected = [without_file(a) for a in GOLDEN_ALERTS]
    with open(SAMPLE_NAME, "rb") as handle:
        as_bytes = list(handle)  # lines with their newlines
    as_str = [line.decode("utf-8") for line in as_bytes]
    for lines in (as_bytes, as_str, iter(as_str), (line.rstrip(b"\n") + b"\r\n" for line in as_bytes)):
        scan = Rule().scan_records(lines)
        alerts = list(scan)
        assert [json.loads(a.json) for a in alerts][:1] and [a.line for a in alerts] == [8, 9, 10, 11, 12]
        assert scan.stats.records == 15 and scan.stats.matched == 5 and scan.stats.rejected == 1
        assert [r.line for r in scan.rejected] == [15]
    # Items with their newlines: offsets are the file's too, so the alerts are the file's.
    assert [json.loads(a.json) for a in Rule().scan_records(as_bytes)] == expected


def test_iterables_of_dicts_and_bad_items() -> None:
    hit = {"event": {"category": "process", "type": "start"}, "process": {"name": "dcomcnfg.exe"}}
    items: list[Any] = [hit, "", 42, '{"a": 1, "a": 2}', {"a": {1: 2}}, json.dumps(hit), "  \t", b"[1]"]
    scan = Rule().scan_records(items)
    assert [a.line for a in scan] == [1, 6]
    stats = scan.stats
    assert (stats.records, stats.matched, stats.not_matched, stats.rejected, stats.blank_lines) == (6, 2, 0, 4, 2)
    reasons = {r.line: r.reason for r in scan.rejected}
    assert reasons[3] == "the item is int, not str, bytes or dict"
    assert "duplicate key" in reasons[4]
    assert "keys must be str" in reasons[5]
    assert "not a JSON object" in reasons[8]
    assert "line 4" in str(scan.rejected[1])


def test_an_iterator_that_raises_stops_the_scan() -> None:
    hit = {"event": {"category": "process", "type": "start"}, "process": {"name": "dcomcnfg.exe"}}

    def events() -> Iterator[dict[str, Any]]:
        yield hit
        raise RuntimeError("source went away")

    scan = Rule().scan_records(events())
    assert next(scan).line == 1
    with pytest.raises(UnreadableInputError, match="source went away") as caught:
        next(scan)
    assert isinstance(caught.value.__cause__, RuntimeError)


# -- errors, counts, control ---------------------------------------------------------------


def test_missing_file_fails_at_once(tmp_path: pathlib.Path) -> None:
    with pytest.raises(UnreadableInputError) as caught:
        Rule().scan(tmp_path / "missing.ndjson")
    error = caught.value
    assert isinstance(error, FileNotFoundError.__mro__[1])  # OSError
    assert error.errno == 2 and error.filename == str(tmp_path / "missing.ndjson")
    assert "No such file or directory" in str(error)
    # A directory is walked (test_inputs.py); a missing one fails at once too.
    with pytest.raises(UnreadableInputError):
        Rule().scan(tmp_path / "missing")


def test_rejected_records_and_prefilter(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "mixed.ndjson"
    good = json.dumps({"event": {"category": "process", "type": "start"}, "process": {"name": "dcomcnfg.exe"}})
    lines = [good, "not json", "", '{"process.name": "dcomcnfg.exe", "process.name": "y"}', '{"a": 1, "a": 2}', good]
    path.write_text("\n".join(lines) + "\n")
    scan = Rule().scan(path)
    assert [a.line for a in scan] == [1, 6]
    # "not json" cannot match, but it is not plainly a JSON object, so it is parsed and
    # rejected; the duplicate key inside a well-framed line that cannot match is skipped.
    assert [r.line for r in scan.rejected] == [2, 4]
    assert scan.stats.prefiltered == 1 and scan.stats.blank_lines == 1
    scan = Rule().scan(path, prefilter=False)
    assert [a.line for a in scan] == [1, 6]
    rejected = scan.rejected
    offsets = [len(good) + 1, len(good) + 11, len(good) + 11 + len(lines[3]) + 1]
    assert [(r.line, r.offset) for r in rejected] == [(2, offsets[0]), (4, offsets[1]), (5, offsets[2])]
    assert rejected[0].error_offset == 0 and "not a JSON object" in rejected[0].reason
    assert rejected[1].file == str(path) and rejected[1].record is None and rejected[1].record_id is None
    assert scan.stats.to_dict() == {
        "records": 5,
        "matched": 2,
        "suppressed": 0,
        "not_matched": 0,
        "prefiltered": 0,
        "rejected": 3,
        "blank_lines": 1,
        "bytes": path.stat().st_size,
        "files": 1,
        "skipped_files": 0,
        "correlations": 0,
        "complete": True,
    }


def test_include_original(in_repo: pathlib.Path) -> None:
    alert = next(Rule().scan(SAMPLE_NAME, include_original=True))
    assert alert.to_dict()["event"]["original"] == SAMPLE_BYTES.split(b"\n")[7].decode()


def big_file(tmp_path: pathlib.Path, copies: int) -> pathlib.Path:
    path = tmp_path / "big.ndjson"
    with path.open("wb") as out:
        for _ in range(copies):
            out.write(SAMPLE_BYTES)
    return path


def test_live_stats_and_early_close(tmp_path: pathlib.Path) -> None:
    path = big_file(tmp_path, 400)  # 2000 alerts: more than the channel holds
    scan = Rule().scan(path, threads=1)
    first = next(scan)
    assert first.line == 8
    assert not scan.done or scan.stats.complete
    live = scan.stats
    assert live.matched >= 1 and live.matched <= 2000
    scan.close()
    assert list(scan) == []
    with Rule().scan(path) as scan2:
        for _, _ in zip(range(3), scan2):
            pass
    assert list(scan2) == []


def test_scans_run_concurrently_and_release_the_interpreter(tmp_path: pathlib.Path) -> None:
    path = big_file(tmp_path, 200)
    counts: list[int] = []

    def work() -> None:
        counts.append(sum(1 for _ in Rule().scan(path, threads=1)))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counts == [1000] * 4


def test_abandoned_scans_do_not_leak_threads(tmp_path: pathlib.Path) -> None:
    path = big_file(tmp_path, 400)
    before = threading.active_count()
    for _ in range(20):
        scan = Rule().scan(path, threads=1)
        next(scan)
        del scan
    # Rust threads are not Python threads; what matters is that nothing hangs or crashes.
    assert threading.active_count() == before


def test_progress_bar(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = big_file(tmp_path, 20)
    assert len(list(Rule().scan(path, progress=True))) == 100
    err = capsys.readouterr().err
    assert "100 alerts" in err and "big.ndjson" in err
    assert len(list(Rule().scan_records([SAMPLE_BYTES.split(b"\n")[7]], progress=True))) == 1
    err = capsys.readouterr().err
    assert "1 alert" in err and "records" in err
    # Never on by default.
    list(Rule().scan(path))
    assert capsys.readouterr().err == ""


def test_repr(in_repo: pathlib.Path) -> None:
    scan = Rule().scan(SAMPLE_NAME)
    list(scan)
    assert repr(scan) == "<Scan 'examples/data/sample.ndjson' done: 5 alerts yielded, 15 records, 0 suppressed, 1 rejected>"
    assert repr(scan.stats).startswith("ScanStats(records=15, matched=5,")


# -- notebooks ------------------------------------------------------------------------------


def test_html_card_escapes_and_shows_the_essentials(tmp_path: pathlib.Path) -> None:
    event = {
        "@timestamp": "2024-01-01T00:00:00Z",
        "event": {"category": "process", "type": "start"},
        "host": {"name": "<script>alert(1)</script>"},
        "process": {"name": "cmd.exe", "command_line": "cmd /c \"a & b\"", "parent": {"name": "mmc.exe"}},
    }
    alert = next(Rule().scan_records([event]))
    html = alert._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    for text in ("office_child", "cmd /c &quot;a &amp; b&quot;", "T1021.003", "TA0008", "high", "mmc.exe"):
        assert text in html


def test_dataframe(in_repo: pathlib.Path) -> None:
    pandas = pytest.importorskip("pandas")
    frame = Rule().scan(SAMPLE_NAME).to_pandas()
    assert len(frame) == 5
    assert list(frame.columns)[:4] == ["timestamp", "host", "user", "branches"]
    assert str(frame["timestamp"].dtype).startswith("datetime64") and frame["timestamp"].dt.tz is not None
    by_branch = frame.explode("branches").groupby(["host", "branches"]).size()
    assert by_branch[("ws-finance-07", "office_child")] == 1
    assert frame["line"].tolist() == [8, 9, 10, 11, 12]
    assert frame.loc[0, "parent_name"] == "mmc.exe"
    same = dcom_detect.alerts_to_frame(Rule().scan(SAMPLE_NAME))
    pandas.testing.assert_frame_equal(frame, same)
    scan = Rule().scan(SAMPLE_NAME)
    next(scan)
    with pytest.raises(RuntimeError, match="already consumed"):
        scan.to_pandas()
    assert len(dcom_detect.alerts_to_frame([])) == 0


def test_pandas_is_optional_at_import_time() -> None:
    code = (
        "import sys; sys.modules['pandas'] = None\n"
        "import dcom_detect\n"
        "assert dcom_detect.Rule().matches('{\"event.category\":\"process\",\"event.type\":\"start\",\"process.name\":\"dcomcnfg.exe\"}')\n"
        "try:\n    dcom_detect.alerts_to_frame([])\nexcept ImportError as e:\n    print(e)\n"
    )
    result = subprocess.run([os.sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert "pip install 'dcom-detect[pandas]'" in result.stdout
