"""The dcom-detect command end to end (a subprocess, as users run it): output, summaries,
exit codes, standard input."""

from __future__ import annotations

import gzip
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from conftest import DATA, REPO, SAMPLE, SAMPLE_NAME

GOLDEN_ALERTS = (DATA / "sample_alerts.ndjson").read_text(encoding="utf-8")


def command() -> list[str]:
    """The installed console script, or the module when it is not on PATH."""
    script = shutil.which("dcom-detect", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-m", "dcom_detect"]


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command(), *args],
        input=stdin.decode("utf-8", "surrogateescape") if stdin is not None else None,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )


def test_scan_writes_the_rust_apis_alerts_and_exits_1() -> None:
    result = run("scan", SAMPLE_NAME)
    assert result.returncode == 1
    assert result.stdout == GOLDEN_ALERTS
    assert "dcom-detect: rejected: examples/data/sample.ndjson: line 15 (byte 33820): duplicate key" in result.stderr
    assert result.stderr.endswith("dcom-detect: 5 alerts in 15 records from 1 input; 1 rejected\n")


def test_standard_input() -> None:
    result = run("scan", "-", stdin=SAMPLE.read_bytes())
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 5
    assert json.loads(lines[0])["dcom_detect"]["source"] == {"file": "-", "line": 8, "offset": 31073}
    compressed = subprocess.run(
        [*command(), "scan", "-"], input=gzip.compress(SAMPLE.read_bytes()), capture_output=True, cwd=REPO, timeout=300
    )
    assert compressed.returncode == 1 and compressed.stdout.decode().splitlines() == lines


def test_no_alerts_exits_0(tmp_path: pathlib.Path) -> None:
    quiet = tmp_path / "quiet.ndjson"
    quiet.write_text('{"event":{"category":"process","type":"start"},"process":{"name":"notepad.exe"}}\n')
    result = run("scan", str(quiet))
    assert result.returncode == 0 and result.stdout == ""
    assert "0 alerts in 1 records from 1 input; 0 rejected" in result.stderr


def test_rejected_records_alone_do_not_change_the_exit_code(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.ndjson"
    bad.write_text('{"process.name": "dcomcnfg.exe",\n[1]\n')
    result = run("scan", "--no-prefilter", str(bad))
    assert result.returncode == 0
    assert result.stderr.count("dcom-detect: rejected:") == 2


def test_unreadable_input_exits_3_after_scanning_the_rest(tmp_path: pathlib.Path) -> None:
    result = run("scan", str(tmp_path / "missing.ndjson"), SAMPLE_NAME)
    assert result.returncode == 3
    assert result.stdout == GOLDEN_ALERTS
    assert "dcom-detect: error: [Errno 2] No such file or directory:" in result.stderr
    assert "some inputs could not be read" in result.stderr
    broken = tmp_path / "broken.gz"
    data = gzip.compress(SAMPLE.read_bytes() * 20)
    broken.write_bytes(data[: len(data) // 2])
    result = run("scan", str(broken))
    assert result.returncode == 3 and "dcom-detect: error:" in result.stderr


@pytest.mark.parametrize(
    "args",
    [[], ["scan"], ["scan", "--threads", "-1", "x"], ["scan", "--case-folding", "turkish", "x"], ["frobnicate"], ["scan", "--bogus", "x"]],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert "usage: dcom-detect" in result.stderr


def test_table_stats_and_options(tmp_path: pathlib.Path) -> None:
    result = run("scan", "--table", "--stats", "--threads", "1", "--case-folding", "unicode_simple", SAMPLE_NAME)
    assert result.returncode == 1
    rows = result.stdout.splitlines()
    assert rows[0].startswith("TIME") and "COMMAND LINE" in rows[0]
    assert len(rows) == 6
    assert "ws-finance-07" in rows[1] and "mmc.exe > powershell.exe" in rows[1] and "[examples/data/sample.ndjson:8]" in rows[1]
    assert "15 records: 5 matched, 0 suppressed, 9 not matched (4 prefiltered), 1 rejected; 0 blank lines, 33959 bytes" in result.stderr
    original = run("scan", "--include-original", SAMPLE_NAME)
    assert all("original" in json.loads(line)["event"] for line in original.stdout.splitlines())


def test_several_inputs(tmp_path: pathlib.Path) -> None:
    copy = tmp_path / "copy.ndjson.gz"
    copy.write_bytes(gzip.compress(SAMPLE.read_bytes()))
    result = run("scan", SAMPLE_NAME, str(copy))
    assert result.returncode == 1
    assert len(result.stdout.splitlines()) == 10
    assert "10 alerts in 30 records from 2 inputs; 2 rejected" in result.stderr


def test_progress_goes_to_stderr() -> None:
    result = run("scan", "--progress", SAMPLE_NAME)
    assert result.stdout == GOLDEN_ALERTS
    assert "5 alerts" in result.stderr


def test_rule() -> None:
    result = run("rule")
    assert result.returncode == 0
    from dcom_detect import EQL_SOURCE

    assert EQL_SOURCE in result.stdout
    for text in ("3e8485db-ed53-542a-bdd7-0246bf43ff97", "risk score 73", "T1021.003", "TA0008", "winlogbeat-*"):
        assert text in result.stdout
    machine = json.loads(run("rule", "--json").stdout)
    assert machine["source"] == EQL_SOURCE and machine["case_folding"] == "ascii"
    assert machine["metadata"]["threat"]["subtechnique"]["id"] == "T1021.003"


def test_help_documents_exit_codes() -> None:
    result = run("scan", "--help")
    assert result.returncode == 0
    for text in ("0  every input was scanned, no alerts", "1  every input was scanned, alerts found", "2  usage error", "3  an input could not be read"):
        assert text in result.stdout
    assert run("--version").stdout.startswith("dcom-detect ")


def test_broken_pipe_is_quiet(tmp_path: pathlib.Path) -> None:
    big = tmp_path / "big.ndjson"
    big.write_bytes(SAMPLE.read_bytes() * 2000)
    pipeline = subprocess.run(
        f"{' '.join(command())} scan {big} | head -n 1", shell=True, capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert len(pipeline.stdout.splitlines()) == 1
    assert "Traceback" not in pipeline.stderr
