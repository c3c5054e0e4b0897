"""What Rule.scan and the command line read (issue 13, items 1 and 4): one or many paths
(str, os.PathLike, lists, tuples, globs), directories walked in sorted order, every file
recognised by its content (gzip, EVTX, Parquet, NDJSON) whatever its name, skipped files
counted and named; records only through Rule.scan_records; results in input order through
one bounded stream, with exact counts."""

from __future__ import annotations

import glob
import gzip
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
from typing import Any

import pytest

import dcom_detect
from conftest import REPO, SAMPLE
from dcom_detect import Alert, Rejected, Rule, Skipped, Suppressed, UnreadableInputError

EVTX_FIXTURE = REPO / "core" / "tests" / "data" / "dcomexec_4688.evtx"  # 12 records, no match
SAMPLE_BYTES = SAMPLE.read_bytes()  # 15 records: 5 alerts, 1 rejected
HIT = {"event": {"category": "process", "type": "start"}, "process": {"name": "dcomcnfg.exe"}}


def write_parquet(path: pathlib.Path) -> None:
    """A Parquet file of three rows, the second one a match."""
    pyarrow = pytest.importorskip("pyarrow")
    parquet = pytest.importorskip("pyarrow.parquet")
    table = pyarrow.table(
        {
            "event.category": ["process", "process", "process"],
            "event.type": ["start", "start", "start"],
            "process.name": ["notepad.exe", "dcomcnfg.exe", "cmd.exe"],
        }
    )
    parquet.write_table(table, path)


@pytest.fixture
def logs(tmp_path: pathlib.Path) -> pathlib.Path:
    """A folder of collected logs with misleading names, noise and a symlink loop."""
    root = tmp_path / "logs"
    (root / "b").mkdir(parents=True)
    (root / "a.txt").write_bytes(gzip.compress(SAMPLE_BYTES))  # gzip, named .txt
    (root / "b" / "events.json").write_bytes(SAMPLE_BYTES)  # NDJSON
    shutil.copy(EVTX_FIXTURE, root / "b" / "security.log")  # EVTX, named .log
    write_parquet(root / "c.ndjson")  # Parquet, named .ndjson
    (root / "README.md").write_text("# collected on 2024-05-01\n")  # not events
    (root / "z.bin").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))  # not events
    (root / "empty.ndjson").write_bytes(b"")  # nothing to read, nothing to misread
    try:
        os.symlink(root, root / "b" / "loop")  # a symlink loop
    except OSError:
        pass
    return root


def expected_files(root: pathlib.Path) -> list[str]:
    return [str(root / "a.txt"), str(root / "b" / "events.json"), str(root / "c.ndjson")]


def test_a_directory_is_walked_in_sorted_order_and_each_file_recognised_by_content(logs: pathlib.Path) -> None:
    scan = Rule().scan(logs)
    alerts = list(scan)
    # Sorted, depth first: README.md, a.txt, b/events.json, b/loop, b/security.log, c.ndjson, ...
    files = list(dict.fromkeys(a.file for a in alerts))
    assert files == expected_files(logs)
    assert [a.line for a in alerts if a.file == str(logs / "a.txt")] == [8, 9, 10, 11, 12]
    assert [a.row for a in alerts if a.file == str(logs / "c.ndjson")] == [2]
    stats = scan.stats
    # 15 (gzip) + 15 (NDJSON) + 12 (EVTX) + 3 (Parquet) records; the empty file is a file too.
    assert (stats.records, stats.matched, stats.rejected) == (45, 11, 2)
    assert stats.records == stats.matched + stats.suppressed + stats.not_matched + stats.rejected
    assert stats.files == 5 and stats.complete
    skipped = {pathlib.Path(s.path).name: s for s in scan.skipped}
    assert set(skipped) >= {"README.md", "z.bin"}
    assert "not NDJSON, gzip, EVTX or Parquet" in skipped["README.md"].reason
    assert not skipped["README.md"].unreadable
    if (logs / "b" / "loop").is_symlink():
        assert "already walked" in skipped["loop"].reason
    assert stats.skipped_files == len(scan.skipped)
    assert str(scan.skipped[0]).startswith(str(logs / "README.md") + ": ")
    assert repr(scan.skipped[0]).startswith("<Skipped ")


def test_unreadable_files_in_a_directory_are_skipped_and_named(tmp_path: pathlib.Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    (tmp_path / "ok.ndjson").write_bytes(SAMPLE_BYTES)
    locked = tmp_path / "locked.ndjson"
    locked.write_bytes(SAMPLE_BYTES)
    locked.chmod(0)
    try:
        scan = Rule().scan(tmp_path)
        assert len(list(scan)) == 5
        assert [(pathlib.Path(s.path).name, s.unreadable) for s in scan.skipped] == [("locked.ndjson", True)]
        assert "Permission denied" in scan.skipped[0].reason
    finally:
        locked.chmod(0o600)


def test_paths_as_str_pathlike_lists_tuples_and_globs(logs: pathlib.Path, tmp_path: pathlib.Path) -> None:
    one = tmp_path / "one.ndjson"
    one.write_bytes(SAMPLE_BYTES)
    assert [a.file for a in Rule().scan(one)] == [str(one)] * 5  # os.PathLike
    assert len(list(Rule().scan(str(one)))) == 5
    for paths in ([one, str(logs / "a.txt")], (str(one), logs / "a.txt")):
        scan = Rule().scan(paths)
        assert [a.file for a in scan] == [str(one)] * 5 + [str(logs / "a.txt")] * 5  # in the order given
        assert scan.stats.files == 2 and scan.stats.records == 30
    # glob.glob's list, pathlib's generator; an EVTX file among them.
    evtx = sorted(glob.glob(str(logs / "b" / "*.*")))
    scan = Rule().scan(evtx)
    assert len(list(scan)) == 5 and scan.stats.files == 2 and scan.stats.records == 27
    scan = Rule().scan(logs.glob("*.txt"))
    assert len(list(scan)) == 5 and scan.stats.files == 1
    # The module shortcut, and nothing to scan.
    assert len(list(dcom_detect.scan([one]))) == 5
    empty = Rule().scan([])
    assert list(empty) == [] and empty.stats.files == 0 and empty.stats.complete


@pytest.mark.parametrize("name", ["events.ndjson", "events.json", "events.txt", "events"])
def test_format_is_detected_by_content_not_name(tmp_path: pathlib.Path, name: str) -> None:
    parquet = tmp_path / f"parquet-{name}"
    write_parquet(parquet)
    assert [a.row for a in Rule().scan(parquet)] == [2]
    evtx = tmp_path / f"evtx-{name}"
    shutil.copy(EVTX_FIXTURE, evtx)
    scan = Rule().scan(evtx)
    assert list(scan) == [] and scan.stats.records == 12 and scan.stats.rejected == 0
    compressed = tmp_path / f"gzip-{name}"
    compressed.write_bytes(gzip.compress(SAMPLE_BYTES))
    assert [a.line for a in Rule().scan(compressed)] == [8, 9, 10, 11, 12]


def test_an_explicit_file_of_unrecognised_content_is_read_as_ndjson(tmp_path: pathlib.Path) -> None:
    """Named on purpose, it is scanned: its lines are rejected with their reasons."""
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\nworld\n")
    scan = Rule().scan(notes)
    assert list(scan) == [] and scan.stats.rejected == 2 and scan.stats.skipped_files == 0


# -- records only through scan_records ---------------------------------------------------


def test_scan_records_takes_dicts_and_json_text() -> None:
    items: list[Any] = [HIT, json.dumps(HIT), json.dumps(HIT).encode(), {"event": {}}]
    scan = Rule().scan_records(items)
    assert [a.line for a in scan] == [1, 2, 3]
    assert scan.stats.records == 4 and scan.stats.files == 0
    assert [a.line for a in dcom_detect.scan_records(iter([HIT]))] == [1]


def test_records_given_to_scan_are_refused_with_the_fix(tmp_path: pathlib.Path) -> None:
    with pytest.raises(TypeError, match=r"Rule.scan_records"):
        Rule().scan([HIT])
    with pytest.raises(TypeError, match=r"looks like a JSON record.*Rule.scan_records"):
        Rule().scan(json.dumps(HIT))
    with pytest.raises(TypeError, match=r"item 0 of source looks like a JSON record"):
        Rule().scan([json.dumps(HIT)])
    with pytest.raises(TypeError, match=r"Rule.evaluate.*Rule.scan_records"):
        Rule().scan(HIT)  # type: ignore[arg-type]
    one = tmp_path / "one.ndjson"
    one.write_bytes(SAMPLE_BYTES)
    with pytest.raises(TypeError, match=r"mixes paths and records \(item 1 of source is dict\)"):
        Rule().scan([one, HIT])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"item 1 of source must be a path .*not int"):
        Rule().scan([one, 3])  # type: ignore[list-item]
    # A str that is neither an existing path nor JSON: a missing file, as os.open says.
    with pytest.raises(UnreadableInputError) as caught:
        Rule().scan("no such file.ndjson")
    assert caught.value.errno == 2
    with pytest.raises(UnreadableInputError):
        Rule().scan([one, tmp_path / "missing.ndjson"])


def test_paths_given_to_scan_records_are_refused_with_the_fix(tmp_path: pathlib.Path) -> None:
    one = tmp_path / "one.ndjson"
    one.write_bytes(SAMPLE_BYTES)
    for records in (one, str(one), [one], [str(one)], (one,)):
        with pytest.raises(TypeError, match=r"Rule.scan\(paths\)"):
            Rule().scan_records(records)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"not one dict.*\[record\]"):
        Rule().scan_records(HIT)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"not one str"):
        Rule().scan_records(json.dumps(HIT))
    with open(one, "rb") as handle, pytest.raises(TypeError, match=r"file object.*Rule.scan"):
        Rule().scan_records(handle)  # type: ignore[arg-type]
    # A path later in an iterable is a rejected record, named as a path.
    scan = Rule().scan_records(iter([HIT, one]))  # type: ignore[list-item]
    assert len(list(scan)) == 1
    assert "is a path" in scan.rejected[0].reason and "Rule.scan" in scan.rejected[0].reason


# -- one bounded stream, exact counts ----------------------------------------------------


def damaged(tmp_path: pathlib.Path, bad: int) -> pathlib.Path:
    """`bad` unreadable lines with a matching line after every 1,000th."""
    path = tmp_path / "damaged.ndjson"
    with path.open("w") as out:
        for i in range(1, bad + 1):
            out.write("not json\n" if i % 2 else '{"truncated": \n')
            if i % 1000 == 0:
                out.write(json.dumps(HIT) + "\n")
    return path


@pytest.mark.parametrize("threads", [1, 0])
def test_iterating_alerts_retains_at_most_retain_while_counts_stay_exact(tmp_path: pathlib.Path, threads: int) -> None:
    path = damaged(tmp_path, 20_000)
    scan = Rule().scan(path, retain=10, threads=threads)
    assert scan.retain == 10
    lines = []
    for alert in scan:
        lines.append(alert.line)
        assert len(scan.rejected) <= 10
    assert lines == [1001 * k for k in range(1, 21)]
    stats = scan.stats
    assert (stats.records, stats.matched, stats.rejected, stats.not_matched) == (20_020, 20, 20_000, 0)
    assert [r.line for r in scan.rejected] == list(range(1, 11))  # the first ones
    assert len(list(Rule().scan(path, retain=0))) == 20 and Rule().scan(path).retain == 1000


def test_events_yield_everything_in_input_order_and_keep_nothing(tmp_path: pathlib.Path) -> None:
    path = damaged(tmp_path, 3000)
    tuned = Rule(exceptions=[{"name": "all dcomcnfg", "entries": [{"field": "process.name", "operator": "is", "value": "dcomcnfg.exe"}]}])
    plain = Rule().scan(path)
    kinds: dict[type, int] = {}
    lines = []
    for item in plain.events():
        kinds[type(item)] = kinds.get(type(item), 0) + 1
        lines.append(item.line)
    assert kinds == {Rejected: 3000, Alert: 3}
    assert lines == sorted(lines) and len(set(lines)) == len(lines)
    assert plain.rejected == [] and plain.stats.rejected == 3000
    scan = tuned.scan(path)
    items = list(scan.events())
    assert sum(isinstance(i, Suppressed) for i in items) == 3 == scan.stats.suppressed
    assert [i.line for i in items if isinstance(i, Suppressed)] == [1001, 2002, 3003]
    assert scan.suppressed == []


def test_the_scan_waits_for_its_reader(tmp_path: pathlib.Path) -> None:
    """Unread results hold the scan: what is in flight is bounded by the channel (256 items),
    not by the input."""
    path = damaged(tmp_path, 20_000)
    scan = Rule().scan(path, threads=1)
    time.sleep(0.5)
    assert not scan.done and scan.stats.rejected <= 300
    assert len(list(scan)) == 20 and scan.stats.rejected == 20_000


def test_skipped_files_come_through_events(logs: pathlib.Path) -> None:
    items = list(Rule().scan(logs).events())
    assert [pathlib.Path(i.path).name for i in items if isinstance(i, Skipped)][:1] == ["README.md"]
    first_alert = next(i for i, item in enumerate(items) if isinstance(item, Alert))
    assert isinstance(items[0], Skipped) and first_alert > 0  # README.md sorts first


# -- the command line ----------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    script = shutil.which("dcom-detect", path=os.path.dirname(sys.executable))
    command = [script] if script else [sys.executable, "-m", "dcom_detect"]
    return subprocess.run([*command, *args], capture_output=True, text=True, cwd=REPO, timeout=300)


def test_cli_scans_a_directory_and_names_skipped_files(logs: pathlib.Path) -> None:
    result = run_cli("scan", str(logs))
    assert result.returncode == 1
    alerts = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(alerts) == 11
    assert f"dcom-detect: skipped: {logs / 'README.md'}: not NDJSON, gzip, EVTX or Parquet" in result.stderr
    skipped = result.stderr.count("dcom-detect: skipped:")
    assert skipped >= 2
    assert result.stderr.endswith(
        f"dcom-detect: 11 alerts in 45 records from 5 inputs; 0 suppressed, 2 rejected; {skipped} files skipped\n"
    )


def test_cli_lists_rejected_records_in_input_order(tmp_path: pathlib.Path) -> None:
    path = damaged(tmp_path, 2000)
    result = run_cli("scan", "--threads", "2", str(path))
    rejected = [line for line in result.stderr.splitlines() if line.startswith("dcom-detect: rejected:")]
    assert len(rejected) == 2000
    numbers = [int(line.split(": line ")[1].split(" ")[0]) for line in rejected]
    assert numbers == sorted(numbers)
    assert result.stderr.endswith("dcom-detect: 2 alerts in 2002 records from 1 input; 0 suppressed, 2000 rejected\n")
