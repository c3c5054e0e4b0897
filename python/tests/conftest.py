"""Shared fixtures: paths into the repository and the golden corpus."""

from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
DATA = pathlib.Path(__file__).resolve().parent / "data"
SAMPLE = REPO / "examples" / "data" / "sample.ndjson"
#: Relative to the repository root, as the golden alerts name it.
SAMPLE_NAME = "examples/data/sample.ndjson"
GOLDEN = REPO / "core" / "tests" / "golden"
#: A real EVTX recording (not in the repository; see ../shared/realdata/MANIFEST.md).
EVTX = REPO.parent / "shared" / "realdata" / "evtx" / "dcom" / "LM_impacket_docmexec_mmc_sysmon_01.evtx"


@dataclass(frozen=True)
class GoldenCase:
    """One record of the core golden corpus and its expected branch bits (-1: rejected)."""

    line: int
    id: str
    record: bytes
    ascii: int
    unicode_simple: int

    def expected(self, folding: str) -> int:
        return self.ascii if folding == "ascii" else self.unicode_simple


def golden_cases() -> list[GoldenCase]:
    records = (GOLDEN / "events.ndjson").read_bytes().split(b"\n")
    assert records.pop() == b"", "events.ndjson ends with a newline"
    rows = (GOLDEN / "expected.tsv").read_text(encoding="utf-8").splitlines()
    assert rows[0].split("\t") == ["line", "ascii", "unicode_simple", "id"]
    cases = []
    for row in rows[1:]:
        line, ascii_bits, unicode_bits, case_id = row.split("\t")
        cases.append(GoldenCase(int(line), case_id, records[int(line) - 1], int(ascii_bits), int(unicode_bits)))
    assert len(cases) == len(records), "events.ndjson and expected.tsv are out of step"
    return cases


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """Runs the test from the repository root (alerts name files as given)."""
    monkeypatch.chdir(REPO)
    return REPO


@pytest.fixture
def evtx_path() -> pathlib.Path:
    if not EVTX.exists():
        pytest.skip(f"EVTX recording not available: {EVTX} (it comes with ../shared/realdata)")
    return EVTX


def env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")
