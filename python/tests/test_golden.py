"""Parity with the core golden corpus: every record gives the verdict expected.tsv records,
from a dict, a str and bytes, under both case foldings (docs/semantics.md; the same files core and the
C API replay)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import dcom_detect
from conftest import GoldenCase, golden_cases

CASES = golden_cases()
FOLDINGS = ["ascii", "unicode_simple"]


def bits_of(rule: dcom_detect.Rule, event: Any) -> int:
    try:
        return rule.evaluate(event).bits
    except dcom_detect.BadEventError:
        return -1


class _Duplicate(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise _Duplicate
    return dict(pairs)


def _non_finite(text: str) -> float:
    raise ValueError(text)


def as_dict(case: GoldenCase) -> dict[str, Any] | None:
    """The record as Python would hold it, or None when no dict can stand for it.

    No dict can hold a duplicate key, and a number spelled other than Python writes it
    (``1E2``, ``-0``, ``1.50``) is a different document once parsed; those records are
    compared as str and bytes only.
    """
    try:
        value = json.loads(case.record, object_pairs_hook=_no_duplicates, parse_constant=_non_finite)
    except (ValueError, _Duplicate, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    if _numbers(value) != _raw_numbers(case.record):
        return None
    return value


def _numbers(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return []
    return [json.dumps(value)]


def _raw_numbers(record: bytes) -> list[str]:
    found: list[str] = []
    json.loads(record, parse_int=lambda s: found.append(s) or 0, parse_float=lambda s: found.append(s) or 0.0)
    return found


def test_corpus_is_substantial() -> None:
    assert len(CASES) > 100
    assert any(c.ascii == -1 for c in CASES)
    assert any(c.ascii != c.unicode_simple for c in CASES), "the foldings differ somewhere"
    assert sum(as_dict(c) is not None for c in CASES) > 0.8 * len(CASES)


@pytest.mark.parametrize("folding", FOLDINGS)
def test_bytes(folding: str) -> None:
    rule = dcom_detect.Rule(case_folding=folding)  # type: ignore[arg-type]
    got = {c.line: bits_of(rule, c.record) for c in CASES}
    assert got == {c.line: c.expected(folding) for c in CASES}


@pytest.mark.parametrize("folding", FOLDINGS)
def test_str(folding: str) -> None:
    rule = dcom_detect.Rule(case_folding=folding)  # type: ignore[arg-type]
    checked = 0
    for case in CASES:
        try:
            text = case.record.decode("utf-8")
        except UnicodeDecodeError:
            continue  # invalid UTF-8 has no str form
        checked += 1
        assert bits_of(rule, text) == case.expected(folding), f"line {case.line} {case.id}"
    assert checked > 0.9 * len(CASES)


@pytest.mark.parametrize("folding", FOLDINGS)
def test_dict(folding: str) -> None:
    rule = dcom_detect.Rule(case_folding=folding)  # type: ignore[arg-type]
    failures = []
    for case in CASES:
        event = as_dict(case)
        if event is None:
            continue
        got = bits_of(rule, event)
        if got != case.expected(folding):
            failures.append(f"line {case.line} {case.id}: expected {case.expected(folding)}, got {got}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("folding", FOLDINGS)
def test_match_many_agrees(folding: str) -> None:
    rule = dcom_detect.Rule(case_folding=folding)  # type: ignore[arg-type]
    valid = [c for c in CASES if c.expected(folding) != -1]
    assert rule.match_many([c.record for c in valid]) == [c.expected(folding) > 0 for c in valid]
    dicts = [(c, d) for c in valid if (d := as_dict(c)) is not None]
    assert rule.match_many(d for _, d in dicts) == [c.expected(folding) > 0 for c, _ in dicts]


@pytest.mark.parametrize("folding", FOLDINGS)
def test_scan_of_the_corpus_agrees(folding: str) -> None:
    """The corpus file scanned as a whole: alerts on exactly the matching lines, rejections
    on exactly the rejected ones (without the prefilter, every line is parsed)."""
    from conftest import GOLDEN

    scan = dcom_detect.scan(GOLDEN / "events.ndjson", case_folding=folding, prefilter=False)  # type: ignore[arg-type]
    alerts = {a.line: a.bits for a in scan}
    assert alerts == {c.line: c.expected(folding) for c in CASES if c.expected(folding) > 0}
    assert {r.line for r in scan.rejected} == {c.line for c in CASES if c.expected(folding) == -1}
    assert scan.stats.records == len(CASES)


def test_golden_alert_documents_are_byte_identical(monkeypatch: pytest.MonkeyPatch) -> None:
    """The alerts of the golden corpus, from Rule.scan and from the command line, are the
    bytes of core/tests/golden/alerts.ndjson (which core and the C API also reproduce)."""
    from conftest import GOLDEN

    import subprocess
    import sys

    monkeypatch.chdir(GOLDEN)
    want = (GOLDEN / "alerts.ndjson").read_text(encoding="utf-8").splitlines()
    matching = sum(c.ascii > 0 for c in CASES)
    assert matching > 90 and len(want) == matching
    for threads in (1, 2):
        scan = dcom_detect.Rule().scan("events.ndjson", threads=threads)
        got = [alert.json for alert in scan]
        assert got == want
        assert scan.stats.matched == matching and scan.stats.rejected > 0
    cli = subprocess.run(
        [sys.executable, "-m", "dcom_detect", "scan", "events.ndjson"], capture_output=True, text=True, check=False
    )
    assert cli.returncode == 1, cli.stderr
    assert cli.stdout.splitlines() == want
