"""The `extended` and `elastic` profiles through Python and the command line: the correlation
rules' alerts (D2, D2L, D3) and Elastic's sequence rules' (mmc20, shellwindows, hta), anchored
on their process start, beside the seed rule's; the shipped OTRF fixtures always, the real
recordings when ../shared is present (docs/correlation.md)."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from conftest import REPO
from test_cli import run

import dcom_detect

FIXTURES = REPO / "core" / "tests" / "data" / "correlation"
SHARED = REPO.parent / "shared"


def correlations(scan: dcom_detect.Scan) -> set[tuple[str, str, int]]:
    out = set()
    for alert in scan:
        assert alert.correlation is not None, "the fixtures match no seed branch"
        document = alert.to_dict()
        assert document["rule"]["name"] != dcom_detect.Rule().metadata["name"]
        assert document["dcom_detect"]["correlation"]["rule"] == alert.correlation
        out.add((pathlib.Path(alert.file or "").name, alert.correlation, alert.line or 0))
    return out


def test_profiles_are_the_cores_and_every_door_takes_each() -> None:
    assert dcom_detect.PROFILES == ("seed", "elastic", "extended")
    rules = {p: [r["rule"] for r in dcom_detect.correlation_rules(p)] for p in dcom_detect.PROFILES}
    assert rules == {"seed": [], "elastic": ["mmc20", "shellwindows", "hta"], "extended": ["D2", "D2L", "D3"]}
    for profile in dcom_detect.PROFILES:
        assert run("rule", "--profile", profile).returncode == 0
        if profile == "seed":
            with pytest.raises(ValueError, match="no correlation"):
                dcom_detect.Rule().correlator(profile=profile)
        else:
            assert dcom_detect.Rule().correlator(profile=profile).stats.records == 0
    with pytest.raises(ValueError, match="nope"):
        dcom_detect.Rule().correlator(profile="nope")  # type: ignore[arg-type]
    refused = run("scan", "--profile", "nope", str(FIXTURES))
    assert refused.returncode == 2 and "extended" in refused.stderr


def test_the_extended_profile_raises_each_fixture_anchor_once() -> None:
    scan = dcom_detect.Rule().scan(sorted(FIXTURES.glob("*.ndjson")), profile="extended")
    found = correlations(scan)
    excel, shell = "otrf_excel4macro.ndjson", "otrf_shellwindows.ndjson"
    assert found == {
        (excel, "D2", 2),
        (excel, "D2", 3),
        (excel, "D2L", 2),
        (excel, "D2L", 3),
        (shell, "D3", 3),
        (shell, "D3", 4),
    }
    assert scan.stats.correlations == 6
    assert scan.stats.matched == 0
    assert scan.stats.records == 10


def test_the_seed_profile_is_unchanged_and_profiles_are_checked() -> None:
    rule = dcom_detect.Rule()
    scan = rule.scan(FIXTURES)
    assert list(scan) == []
    assert scan.stats.correlations == 0
    with pytest.raises(ValueError, match="unknown profile"):
        rule.scan(FIXTURES, profile="elastc")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown profile"):
        dcom_detect.correlation_rules("Extended")  # type: ignore[arg-type]
    assert dcom_detect.correlation_rules("seed") == []


def test_records_correlate_like_files() -> None:
    lines = (FIXTURES / "otrf_excel4macro.ndjson").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    scan = dcom_detect.Rule().scan_records(records, profile="extended")
    assert sorted((a.correlation, a.line) for a in scan) == [("D2", 2), ("D2", 3), ("D2L", 2), ("D2L", 3)]


def test_the_command_line_takes_a_profile() -> None:
    result = run("scan", "--profile", "extended", str(FIXTURES))
    assert result.returncode == 1, result.stderr
    alerts = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(a["dcom_detect"]["correlation"]["rule"] for a in alerts) == ["D2", "D2", "D2L", "D2L", "D3", "D3"]
    assert "6 correlation alerts" in result.stderr
    seed = run("scan", str(FIXTURES))
    assert seed.returncode == 0 and seed.stdout == "", seed.stderr
    table = run("scan", "--profile", "extended", "--table", str(FIXTURES / "otrf_shellwindows.ndjson"))
    assert table.stdout.count("D3") == 2, table.stdout


def labelled(root: pathlib.Path) -> set[tuple[str, str, int]]:
    labels = json.loads((root / "labels.json").read_text(encoding="utf-8"))
    out = set()
    for name, entry in labels["files"].items():
        for rule, positions in (entry.get("correlation_anchors") or {}).items():
            if rule in ("D2", "D2L", "D3"):
                out.update((name, rule, p) for p in positions)
    return out


@pytest.mark.parametrize("corpus", ["realdata", "netdata"])
def test_a_folder_scan_raises_exactly_the_labelled_anchors(corpus: str) -> None:
    root = SHARED / corpus
    if not (root / "labels.json").exists():
        pytest.skip(f"{root} is absent")
    inputs = [p for p in sorted(root.rglob("*")) if p.suffix in (".ndjson", ".evtx")]
    scan = dcom_detect.Rule().scan(inputs, profile="extended")
    found = set()
    for alert in scan:
        if alert.correlation is not None:
            position = alert.line if alert.line is not None else alert.record_id
            assert position is not None
            found.add((pathlib.Path(alert.file or "").relative_to(root).as_posix(), alert.correlation, position))
    assert found == labelled(root)


def test_the_correlation_rules_are_listed_with_their_eql() -> None:
    rules = dcom_detect.correlation_rules()
    assert [r["rule"] for r in rules] == ["D2", "D2L", "D3"]
    ids = {r["id"] for r in rules}
    assert len(ids) == 3 and dcom_detect.rule_metadata()["id"] not in ids
    for r in rules:
        assert r["eql"].count("sequence by host.id") == 2, r["eql"]
        assert r["severity"] == "high" and r["risk_score"] == 73
    text = run("rule", "--profile", "extended")
    assert text.returncode == 0, text.stderr
    for r in rules:
        assert r["id"] in text.stdout and r["eql"] in text.stdout
    document = json.loads(run("rule", "--json", "--profile", "extended").stdout)
    assert document["correlation_rules"] == rules
    assert "correlation_rules" not in json.loads(run("rule", "--json").stdout)


def test_the_elastic_profile_raises_elastics_shellwindows_sequence() -> None:
    # The fixture's ShellWindows recording, as Sysmon logged it: an inbound connection to
    # explorer.exe on dynamic ports and, within five seconds, its cmd.exe child.
    shell = FIXTURES / "otrf_shellwindows.ndjson"
    scan = dcom_detect.Rule().scan(shell, profile="elastic")
    alerts = list(scan)
    assert [(a.correlation, a.line) for a in alerts] == [("shellwindows", 4)]
    assert scan.stats.correlations == 1 and scan.stats.matched == 0
    document = alerts[0].to_dict()
    assert document["rule"]["id"] == "8f919d4b-a5af-47ca-a594-6be59cd924a4"
    assert document["rule"]["name"] == "Incoming DCOM Lateral Movement with ShellBrowserWindow or ShellWindows"
    found = document["dcom_detect"]["correlation"]
    assert found["rule"] == "shellwindows"
    assert found["partner"]["kind"] == "inbound_connection"
    # The partner is the connection (logged after the child, stamped before it by Sysmon).
    lines = shell.read_text(encoding="utf-8").splitlines()
    partner = json.loads(lines[found["partner"]["source"]["line"] - 1])
    assert partner["EventID"] == 3 and partner["Image"].lower().endswith("explorer.exe"), partner
    # ... and its ends, as the event names them.
    assert found["partner"]["network"] == {
        "source": {"ip": partner["SourceIp"], "port": int(partner["SourcePort"])},
        "destination": {"ip": partner["DestinationIp"], "port": int(partner["DestinationPort"])},
    }
    assert 0 < -found["gap_seconds"] <= 5
    assert document["process"]["parent"]["name"].lower() == "explorer.exe"
    # The same records as dicts, and the command line, give the same alert bytes.
    records = [json.loads(line) for line in shell.read_text(encoding="utf-8").splitlines()]
    from_records = dcom_detect.Rule().scan_records(records, profile="elastic")
    assert [(a.correlation, a.line) for a in from_records] == [("shellwindows", 4)]
    cli = run("scan", "--profile", "elastic", str(shell))
    assert cli.returncode == 1, cli.stderr
    assert [json.loads(line)["dcom_detect"]["correlation"]["rule"] for line in cli.stdout.splitlines()] == [
        "shellwindows"
    ]
    assert "1 correlation alerts" in cli.stderr


def test_a_folder_scan_with_the_elastic_profile_raises_what_elasticsearch_would() -> None:
    expected = {
        "realdata": {("otrf_dcom/empire_dcom_shellwindows_stager.filtered.ndjson", "shellwindows", 2434)},
        "netdata": {("dcom/empire_invoke_dcom_2019.filtered.ndjson", "shellwindows", 136)},
    }
    for corpus, anchors in expected.items():
        root = SHARED / corpus
        if not (root / "labels.json").exists():
            pytest.skip(f"{root} is absent")
        found = set()
        for path in sorted(root.rglob("*")):
            if path.suffix not in (".ndjson", ".evtx"):
                continue
            # One recording at a time: they are separate captures of separate hosts' clocks.
            for alert in dcom_detect.Rule().scan(path, profile="elastic"):
                if alert.correlation is not None:  # else the seed rule's (unchanged) alert
                    position = alert.line if alert.line is not None else alert.record_id
                    found.add((path.relative_to(root).as_posix(), alert.correlation, position))
        assert found == anchors, corpus


def test_the_elastic_rules_are_listed_verbatim() -> None:
    rules = dcom_detect.correlation_rules("elastic")
    assert [r["rule"] for r in rules] == ["mmc20", "shellwindows", "hta"]
    assert [r["id"][:8] for r in rules] == ["51ce96fb", "8f919d4b", "622ecb68"]
    assert [r["severity"] for r in rules] == ["high", "medium", "high"]
    for r in rules:
        assert r["eql"].startswith("sequence ") and "with maxspan=" in r["eql"], r["eql"]
    document = json.loads(run("rule", "--json", "--profile", "elastic").stdout)
    assert document["correlation_rules"] == rules


def test_a_parquet_table_correlates_as_the_ndjson_it_was_made_from(tmp_path: pathlib.Path) -> None:
    import polars
    import pyarrow.parquet

    host = {"name": "ws-1", "id": "h-1", "os": {"type": "windows"}}
    explorer = {"entity_id": "e-explorer", "pid": 1000, "name": "explorer.exe"}

    def event(time: str, category: str, **fields: Any) -> dict[str, Any]:
        return {"@timestamp": f"2024-05-01T10:00:{time}Z", "host": host, "event": {"category": [category], "type": ["start"]}, **fields}

    records = [
        event("00", "file", file={"path": "C:\\x.tmp"}),
        # ShellWindows' shape: an inbound connection to explorer.exe on a dynamic port from
        # another host, and an explorer child two seconds later (D3; Elastic's ShellWindows).
        event(
            "01",
            "network",
            network={"direction": "incoming", "transport": "tcp"},
            source={"ip": "10.0.0.9", "port": 50000},
            destination={"ip": "10.0.0.5", "port": 49700},
            process=explorer,
        ),
        event(
            "03",
            "process",
            process={"entity_id": "e-cmd", "pid": 2000, "name": "cmd.exe", "args": ["cmd.exe", "/c", "whoami"], "parent": explorer},
        ),
        # And the seed rule's own match.
        event("04", "process", process={"name": "cmd.exe", "pid": 2100, "parent": {"name": "mmc.exe", "pid": 900}}),
    ]
    ndjson = tmp_path / "events.ndjson"
    ndjson.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    parquet = tmp_path / "events.parquet"
    pyarrow.parquet.write_table(polars.read_ndjson(ndjson).to_arrow(), parquet, row_group_size=2)

    def placed(alert: dcom_detect.Alert, position: int | None) -> tuple[str | None, int | None, str]:
        document = alert.to_dict()
        document.pop("log", None)
        document["dcom_detect"].pop("source")
        (document["dcom_detect"].get("correlation") or {}).get("partner", {}).pop("source", None)
        return alert.correlation, position, json.dumps(document, sort_keys=True)

    for profile, rules in [("extended", {"D3", None}), ("elastic", {"shellwindows", None})]:
        want = sorted((placed(a, a.line) for a in dcom_detect.Rule().scan(ndjson, profile=profile)), key=str)
        scan = dcom_detect.Rule().scan(parquet, profile=profile)
        got = sorted((placed(a, a.row) for a in scan), key=str)
        assert got == want and {c for c, _, _ in got} == rules, (profile, got)
        assert scan.stats.records == len(records) and scan.stats.matched == 1
