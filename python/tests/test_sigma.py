"""The Sigma export (``docs/export.md``) checked by independent tools: pySigma parses every
exported rule with its correlations resolved, ``sigma check`` finds no error or issue, the
converters give a query per rule (or say why not), and the seed rule converted to SQLite SQL
by pySigma's SQLite backend gives the engine's verdict on every golden corpus event, except
for the differences listed below, each one a documented case Sigma cannot express.
"""

from __future__ import annotations

import io
import itertools
import json
import pathlib
import sqlite3
import subprocess
import sys
from typing import Any

import pytest
from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule

import dcom_detect
from conftest import REPO, golden_cases
from dcom_detect import export
from dcom_detect.cli import main

PROFILES = list(dcom_detect.PROFILES)

# The golden cases whose Sigma verdict (SQLite) differs from the engine's, and why: each a
# case the export's comments and docs/export.md state Sigma cannot express exactly.
EXPECTED_DIFFERENCES = {
    # Sigma fires, the engine does not.
    "in/path_not_basename": "process.parent.name holds a path: EQL compares the whole value; "
    "the table's ParentImage (process.parent.name when there is no executable) ends with '\\mmc.exe'",
    "doc/escaped_nul": "process.name is 'dcomcnfg.exe' + NUL: SQLite's GLOB stops at the NUL "
    "(a limit of the SQL engine, not of the Sigma rule)",
    # The engine fires, Sigma does not.
    "raw/forward_slashes": "a path with '/' separators: the engine takes the basename after '/', "
    "Sigma's '|endswith: \\name' needs a backslash",
    "multi/command_line_split": "DCOM and -Exec in two values of one multi-valued command line: EQL "
    "tests each condition on any value; a table row holds one value (CommandLine|contains|all)",
}


def _sigma_rows(record: bytes) -> list[dict[str, str | None]] | None:
    """The rows of a Sigma process_creation table for one event, from the engine's event view
    (``dcom_detect.event_view``) and the export's field map (``SIGMA_FIELDS``): one row per
    combination of values (a multi-valued field matches when any value does, as in
    Elasticsearch). ``[]`` when the event is not a process start (the logsource routes it
    elsewhere); ``None`` when the engine rejects it."""
    try:
        view = dcom_detect.event_view(record)
    except dcom_detect.BadEventError:
        return None
    # `process where event.type == "start"`: the logsource (category process_creation).
    if "process" not in view.get("event.category", []) or "start" not in view.get("event.type", []):
        return []
    to_sigma = dcom_detect.SIGMA_FIELDS
    columns: dict[str, list[str | None]] = {}
    for path, sigma_field in to_sigma.items():
        columns[sigma_field] = list(view.get(path, [])) or [None]
    # Sigma's Image is the path; an event that names the process without one is given its
    # name (the rule matches the basename as '\name' or the whole value).
    for sigma_field, name_path in [("Image", "process.name"), ("ParentImage", "process.parent.name")]:
        if columns[sigma_field] == [None]:
            columns[sigma_field] = list(view.get(name_path, [])) or [None]
    names = list(columns)
    return [dict(zip(names, combo)) for combo in itertools.product(*(columns[n] for n in names))]


def _sqlite_verdicts(query: str, events: dict[str, list[dict[str, str | None]]]) -> set[str]:
    fields = sorted({f for rows in events.values() for row in rows for f in row})
    db = sqlite3.connect(":memory:")
    # COLLATE NOCASE, as Zircolite builds its table (the backend's documented convention).
    db.execute(f"CREATE TABLE logs (case_id TEXT, {', '.join(f'{f} TEXT COLLATE NOCASE' for f in fields)})")
    for case_id, rows in events.items():
        for row in rows:
            db.execute(
                f"INSERT INTO logs VALUES (?, {', '.join('?' for _ in fields)})",
                [case_id, *(row.get(f) for f in fields)],
            )
    return {r[0] for r in db.execute(query.replace("SELECT *", "SELECT DISTINCT case_id", 1))}


def _compare(records: list[tuple[str, bytes]]) -> tuple[dict[str, str], int, int, int]:
    """The seed rule's Sigma, converted to SQLite SQL by pySigma, against the engine on
    ``records``: ``(differences, process starts loaded, engine alerts, rejected)``, a
    difference being ``record id -> "engine"`` (only the engine fires) or ``"sigma"``."""
    rule = dcom_detect.Rule()
    [query] = sqliteBackend().convert(SigmaCollection.from_yaml(rule.to_sigma()))
    events: dict[str, list[dict[str, str | None]]] = {}
    engine: set[str] = set()
    rejected = 0
    for record_id, record in records:
        rows = _sigma_rows(record)
        if rows is None:
            # The view rejects exactly what the rule rejects.
            with pytest.raises(dcom_detect.BadEventError):
                rule.evaluate(record)
            rejected += 1
            continue
        if rows:
            events[record_id] = rows
        if rule.matches(record):
            engine.add(record_id)
    sql = _sqlite_verdicts(query, events)
    return {c: ("engine" if c in engine else "sigma") for c in engine ^ sql}, len(events), len(engine), rejected


def _check(differences: dict[str, str], expected: dict[str, str]) -> None:
    unexplained = {c: who for c, who in differences.items() if c not in expected}
    gone = sorted(set(expected) - set(differences))
    assert not unexplained, f"differences not listed (who fires): {unexplained}"
    assert not gone, f"listed differences that no longer occur: {gone}"


def test_seed_rule_in_sqlite_agrees_with_the_engine_except_the_documented_cases() -> None:
    differences, starts, alerts, rejected = _compare([(c.id, c.record) for c in golden_cases()])
    _check(differences, EXPECTED_DIFFERENCES)
    assert starts > 120 and rejected > 20 and alerts > 90


REALDATA = REPO.parent / "shared" / "realdata"
# The recordings' differences (file:line -> why); process starts of OTRF's DCOM recordings,
# their background and Winlogbeat's golden ECS events.
EXPECTED_REALDATA_DIFFERENCES: dict[str, str] = {}


def test_seed_rule_in_sqlite_agrees_with_the_engine_on_the_recordings() -> None:
    files = sorted(REALDATA.glob("otrf_dcom/*.ndjson")) + sorted(REALDATA.glob("background/*.ndjson"))
    files += sorted(REALDATA.glob("ecs/*.ndjson"))
    if not files:
        pytest.skip(f"recordings not available: {REALDATA}")
    records = [
        (f"{path.relative_to(REALDATA)}:{n}", line)
        for path in files
        for n, line in enumerate(path.read_bytes().splitlines(), 1)
        if line.strip()
    ]
    differences, starts, _, _ = _compare(records)
    _check(differences, EXPECTED_REALDATA_DIFFERENCES)
    # The seed rule fires on none of these (OTRF's DCOM techniques need the correlation
    # rules), and neither does its Sigma: the positives are the golden corpus's.
    assert starts > 1000


@pytest.mark.parametrize("profile", PROFILES)
def test_pysigma_parses_every_exported_rule_with_correlations_resolved(profile: str) -> None:
    text = dcom_detect.Rule().to_sigma(profile=profile)  # type: ignore[arg-type]
    assert text == dcom_detect.sigma(profile)  # type: ignore[arg-type]
    collection = SigmaCollection.from_yaml(text)
    collection.resolve_rule_references()
    correlations = [r for r in collection.rules if isinstance(r, SigmaCorrelationRule)]
    infos = dcom_detect.correlation_rules(profile)  # type: ignore[arg-type]
    assert [str(c.id) for c in correlations] == [info["id"] for info in infos]
    for correlation in correlations:
        # Every base rule is resolved to a parsed rule of the collection.
        assert correlation.rules and all(isinstance(ref.rule, SigmaRule) for ref in correlation.rules)
        assert correlation.timespan.seconds > 0 and correlation.group_by
    [seed] = [r for r in collection.rules if isinstance(r, SigmaRule) and str(r.id) == dcom_detect.rule_metadata()["id"]]
    assert seed.level is not None and seed.level.name.lower() == dcom_detect.rule_metadata()["severity"]
    for info in infos:
        # Each correlation rule's own YAML parses alone too.
        alone = SigmaCollection.from_yaml(info["sigma"])
        alone.resolve_rule_references()
        assert sum(isinstance(r, SigmaCorrelationRule) for r in alone.rules) == 1


@pytest.mark.parametrize("profile", PROFILES)
def test_sigma_check_finds_no_error_and_no_issue(profile: str, tmp_path: pathlib.Path) -> None:
    path = tmp_path / f"dcom_detect_{profile}.yml"
    path.write_text(dcom_detect.sigma(profile), encoding="utf-8")  # type: ignore[arg-type]
    sigma_cli = pathlib.Path(sys.executable).with_name("sigma")
    # The ATT&CK and D3FEND tag validators download MITRE's data: excluded offline.
    result = subprocess.run(
        [str(sigma_cli), "check", "--fail-on-error", "--fail-on-issues", "-x", "attacktag", "-x", "d3_fendtag", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Found 0 errors, 0 condition errors and 0 issues" in result.stdout, result.stdout


def test_sigma_check_would_report_an_error() -> None:
    """The check above can fail: a broken condition is reported."""
    broken = dcom_detect.sigma("seed").replace("or dcom_command_line", "or no_such_selection")
    with pytest.raises(Exception, match="no_such_selection"):
        sqliteBackend().convert(SigmaCollection.from_yaml(broken))


# Which correlation rules each backend converts (docs/export.md); the seed rule converts everywhere.
CONVERTS = {
    "splunk": {"D2", "D2L", "D3"},
    "eql": {"D2", "hta"},
    "esql": {"D2"},
    "lucene": set(),
    "kusto": set(),
    "sql": {"D2", "D2L", "D3", "mmc20", "shellwindows", "hta"},
}


@pytest.mark.parametrize("target", export.TARGETS)
def test_every_target_converts_the_seed_rule_and_says_which_correlations_it_cannot(target: export.Target) -> None:
    conversions = export.convert(target, profile="extended") + export.convert(target, profile="elastic")[1:]
    seed = conversions[0]
    assert seed.rule == "seed" and seed.id == dcom_detect.rule_metadata()["id"] and seed.query
    for name in ["mmc.exe", "certutil.exe", "dcomcnfg.exe", "DCOM", "-Exec"]:
        assert name in seed.query, (name, seed.query)
    converted = {c.rule for c in conversions[1:] if c.query is not None}
    assert converted == CONVERTS[target]
    for c in conversions:
        assert c.query is not None or (c.note and target in c.note), c


def test_esql_drops_cased_and_says_so() -> None:
    [seed] = export.convert("esql")
    assert seed.query and seed.note and "case-insensitive" in seed.note


def test_a_missing_converter_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sigma.backends.splunk", None)  # import raises ImportError
    with pytest.raises(export.MissingExtraError, match=r"pip install 'dcom-detect\[sigma\]'"):
        export.convert("splunk")
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    assert main(["rule", "--format", "splunk"]) == 2
    assert "pip install 'dcom-detect[sigma]'" in err.getvalue()


def test_unknown_target_or_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown target"):
        export.convert("spl")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="profile"):
        export.convert("sql", profile="nope")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="profile"):
        dcom_detect.Rule().to_sigma(profile="nope")  # type: ignore[arg-type]


def test_cli_prints_the_sigma_and_the_conversions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rule", "--format", "sigma", "--profile", "extended"]) == 0
    assert capsys.readouterr().out == dcom_detect.sigma("extended")
    assert main(["rule", "--format", "sql"]) == 0
    [seed] = export.convert("sql")
    assert capsys.readouterr().out == f"{seed.query}\n"
    # Kusto converts no correlation rule: each is named on stderr, the seed rule still printed.
    assert main(["rule", "--format", "kusto", "--profile", "extended"]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("// seed: ") and "DeviceProcessEvents" in captured.out
    for rule in ["D2", "D2L", "D3"]:
        assert f"dcom-detect: {rule} (" in captured.err
    assert main(["rule", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["metadata"]["id"] == dcom_detect.rule_metadata()["id"]


def test_event_view_reads_raw_events_through_the_view() -> None:
    sysmon = {
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "EventID": 1,
        "Image": "C:\\Windows\\System32\\cmd.exe",
        "ParentImage": "C:\\Windows\\System32\\mmc.exe",
        "CommandLine": "cmd.exe /c whoami",
    }
    view = dcom_detect.event_view(sysmon)
    assert view["process.name"] == ["cmd.exe"] and view["process.parent.name"] == ["mmc.exe"]
    assert view["process.executable"] == ["C:\\Windows\\System32\\cmd.exe"]
    assert dcom_detect.SIGMA_FIELDS["process.executable"] == "Image"
    with pytest.raises(dcom_detect.BadEventError):
        dcom_detect.event_view("{not json")
    with pytest.raises(TypeError):
        dcom_detect.event_view(42)  # type: ignore[arg-type]


def test_rows_follow_the_view_and_its_values() -> None:
    rows = _sigma_rows(json.dumps({
        "event": {"category": "process", "type": "start"},
        "process": {"name": ["cmd.exe", "x.exe"], "parent": {"name": "mmc.exe"}},
    }).encode())
    assert rows is not None and sorted(r["Image"] or "" for r in rows) == ["cmd.exe", "x.exe"]
    assert _sigma_rows(b'{"event": {"category": "network", "type": "start"}}') == []
    assert _sigma_rows(b"[]") is None
