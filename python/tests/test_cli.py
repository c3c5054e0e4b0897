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
    assert result.stderr.endswith("dcom-detect: 5 alerts in 15 records from 1 input; 0 suppressed, 1 rejected\n")


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
    assert "0 alerts in 1 records from 1 input; 0 suppressed, 0 rejected" in result.stderr


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
    assert "10 alerts in 30 records from 2 inputs; 0 suppressed, 2 rejected" in result.stderr


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
    for text in (
        "0  every input was scanned, no alerts",
        "1  every input was scanned, alerts found",
        "2  usage error, or the exceptions file is invalid or unreadable",
        "3  an input could not be read",
        "--exceptions FILE",
        "suppressed, are\nlisted on stderr",
    ):
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


# -- tuning ---------------------------------------------------------------------------------

EXCEPTIONS = REPO / "examples" / "exceptions.json"
EXCEPTION_NAMES = [item["name"] for item in json.loads(EXCEPTIONS.read_bytes())["exceptions"]]


def tuning_input(tmp_path: pathlib.Path) -> pathlib.Path:
    """The four families' cases (lines 1, 3, 5, 7) and a near miss of each (lines 2, 4, 6, 8)."""
    from test_exceptions import FAMILIES, NEAR_MISSES

    path = tmp_path / "tuning.ndjson"
    lines = []
    for (event, _), near in zip(FAMILIES, [NEAR_MISSES[0], NEAR_MISSES[4], NEAR_MISSES[7], NEAR_MISSES[10]]):
        lines += [json.dumps(event), json.dumps(near)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_scan_with_exceptions_lists_and_counts_suppressed_records(tmp_path: pathlib.Path) -> None:
    path = tuning_input(tmp_path)
    result = run("scan", "--exceptions", str(EXCEPTIONS), "--stats", str(path))
    assert result.returncode == 1
    assert [json.loads(line)["dcom_detect"]["source"]["line"] for line in result.stdout.splitlines()] == [2, 4, 6, 8]
    listed = [line for line in result.stderr.splitlines() if line.startswith("dcom-detect: suppressed: ")]
    assert listed == [
        f"dcom-detect: suppressed: {path}: line {2 * i + 1} (byte {offset}): office_child suppressed by '{name}'"
        for i, (name, offset) in enumerate(zip(EXCEPTION_NAMES, line_offsets(path)[::2]))
    ]
    assert "8 records: 4 matched, 4 suppressed, 0 not matched" in result.stderr
    assert result.stderr.endswith("dcom-detect: 4 alerts in 8 records from 1 input; 4 suppressed, 0 rejected\n")
    # Only suppressed matches: no alert, exit 0.
    only = tmp_path / "only.ndjson"
    only.write_text("".join(line for i, line in enumerate(path.read_text().splitlines(True)) if i % 2 == 0))
    result = run("scan", "--exceptions", str(EXCEPTIONS), str(only))
    assert result.returncode == 0 and result.stdout == ""
    assert result.stderr.count("dcom-detect: suppressed:") == 4
    assert "0 alerts in 4 records from 1 input; 4 suppressed, 0 rejected" in result.stderr
    # The same input from standard input, and in a table.
    result = run("scan", "--table", "--exceptions", str(EXCEPTIONS), "-", stdin=path.read_bytes())
    assert result.returncode == 1 and len(result.stdout.splitlines()) == 5
    assert "dcom-detect: suppressed: -: line 1 (byte 0): office_child suppressed by" in result.stderr


def line_offsets(path: pathlib.Path) -> list[int]:
    offsets = [0]
    for line in path.read_bytes().splitlines(True):
        offsets.append(offsets[-1] + len(line))
    return offsets[:-1]


def test_exceptions_file_errors_exit_2_before_scanning(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('[{"name": "ok", "entries": [{"field": "host.name", "operator": "equals", "value": "x"}]}]')
    for command in (["scan", "--exceptions", str(bad), SAMPLE_NAME], ["validate", "--exceptions", str(bad)], ["rule", "--exceptions", str(bad)]):
        result = run(*command)
        assert result.returncode == 2, command
        assert result.stdout == ""
        assert result.stderr == (
            f'dcom-detect: error: {bad}: bad exceptions file: item 1 ("ok"), entry 1 (field "host.name"): '
            'unknown operator "equals"; expected one of "is", "is not", "is one of", "is not one of", "exists", '
            '"does not exist", "matches", "does not match"\n'
        )
    result = run("scan", "--exceptions", str(tmp_path / "missing.json"), SAMPLE_NAME)
    assert result.returncode == 2 and result.stdout == ""
    assert "dcom-detect: error: [Errno 2] No such file or directory:" in result.stderr and "Traceback" not in result.stderr


def test_an_exceptions_file_named_like_json_is_still_a_file(tmp_path: pathlib.Path) -> None:
    odd = tmp_path / "[tuning].json"
    odd.write_bytes(EXCEPTIONS.read_bytes())
    result = run("scan", "--exceptions", str(odd), str(tuning_input(tmp_path)))
    assert result.returncode == 1 and result.stderr.count("dcom-detect: suppressed:") == 4


def test_rule_lists_the_exception_items() -> None:
    result = run("rule", "--exceptions", str(EXCEPTIONS))
    assert result.returncode == 0
    assert f"exceptions   4 items from {EXCEPTIONS}" in result.stdout
    for number, name in enumerate(EXCEPTION_NAMES, 1):
        assert f"  {number}. {name}\n" in result.stdout
    machine = json.loads(run("rule", "--json", "--exceptions", str(EXCEPTIONS)).stdout)
    assert [item["name"] for item in machine["exceptions"]] == EXCEPTION_NAMES
    assert "exceptions" not in json.loads(run("rule", "--json").stdout)


# -- validate -------------------------------------------------------------------------------


def test_validate_prints_the_table_and_exits_0() -> None:
    result = run("validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("The rule against its testing methodology")
    for text in (
        "ShellWindows (Empire Invoke-DCOM -Method ShellWindows; ART T1546.015)",
        "why not: parent explorer.exe is not a COM host",
        "expected office_child",
        "OK: every verdict is the expected one",
    ):
        assert text in result.stdout
    assert result.stderr == ""
    tuned = run("validate", "--exceptions", str(EXCEPTIONS), "--case-folding", "unicode_simple")
    assert tuned.returncode == 0 and tuned.stdout == result.stdout


def test_validate_json() -> None:
    result = run("validate", "--json")
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["recordings"] == []
    assert all(step["agrees"] for step in report["methodology"])
    shell_windows = [s for s in report["methodology"] if s["test"].startswith("ShellWindows")]
    assert shell_windows and shell_windows[0]["expected"] == "-" and "explorer.exe" in shell_windows[0]["why_not_fired"]


def test_validate_disagreement_exits_1_and_unreadable_paths_exit_3(tmp_path: pathlib.Path) -> None:
    # The sample has a record with a duplicate key: a recording with a rejected record disagrees.
    result = run("validate", SAMPLE_NAME)
    assert result.returncode == 1
    assert "sample.ndjson: 15 records, 5 fired" in result.stdout and "FAILED" in result.stdout
    assert json.loads(run("validate", "--json", SAMPLE_NAME).stdout)["ok"] is False
    result = run("validate", str(tmp_path / "missing.ndjson"))
    assert result.returncode == 3 and result.stdout == ""
    assert "dcom-detect: error:" in result.stderr and "missing.ndjson" in result.stderr


def test_validate_real_recordings() -> None:
    realdata = REPO.parent / "shared" / "realdata"
    if not (realdata / "labels.json").exists():
        pytest.skip(f"real recordings not available: {realdata} (../shared/realdata)")
    result = run("validate", str(realdata))
    assert result.returncode == 0, result.stdout
    assert "evtx/dcom/LM_impacket_docmexec_mmc_sysmon_01.evtx: 9 records, 3 fired, 3 expected: as expected" in result.stdout
    # Each DCOM event the seed rule misses, with the stateful rules that catch it.
    assert "DCOM activity the seed rule misses at line 2434" in result.stdout
    assert "caught by shellwindows, D3" in result.stdout and "caught by no profile" in result.stdout
    assert "raised    line 2434" in result.stdout
    assert json.loads(run("validate", "--json", str(realdata)).stdout)["ok"] is True


def test_validate_help_documents_exit_codes() -> None:
    result = run("validate", "--help")
    assert result.returncode == 0
    for text in ("0  every verdict is the expected one", "1  some verdict is not", "2  usage error", "3  a path could not be read", "--json"):
        assert text in result.stdout
    top = run("--help").stdout
    assert "scan exit codes:" in top and "validate exit codes:" in top
