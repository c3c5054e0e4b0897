"""Hunting pivots (dcom_detect.pivot) on a real alert: the D3 / shellwindows correlation of the
OTRF ShellWindows recording (examples/data/otrf_shellwindows_window.ndjson), and on ECS
documents written here, plus the errors."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta
from pathlib import Path

import pandas
import pytest

import dcom_detect
from conftest import REPO
from dcom_detect.pivot import COLUMNS, pivot, plot_timeline, read_host_events

FIXTURE = REPO / "examples" / "data" / "otrf_shellwindows_window.ndjson"


def d3_alerts() -> list[dcom_detect.Alert]:
    alerts = sorted(dcom_detect.Rule().scan(FIXTURE, profile="extended"), key=lambda a: a.line or 0)
    assert [a.correlation for a in alerts] == ["D3", "D3"]
    return alerts


def raw_line(number: int) -> dict[str, object]:
    return dict(json.loads(FIXTURE.read_text(encoding="utf-8").splitlines()[number - 1]))


def test_the_pivot_shows_the_stager_tree_its_connections_and_logons() -> None:
    _, sysmon = d3_alerts()  # anchored on the Sysmon 1 start of cmd.exe
    frame = pivot(sysmon)
    assert list(frame.columns) == list(COLUMNS)
    assert frame["time"].is_monotonic_increasing
    assert (frame["host"].str.lower() == "workstation6.theshire.local").all(), "the source host's events stay out"
    assert frame["offset_s"].abs().max() <= 300
    (alert_row,) = frame[frame["is_alert"]].itertuples()
    assert alert_row.line == sysmon.line and alert_row.process == "cmd.exe" and alert_row.offset_s == 0

    related = frame[frame["related"]]
    starts = related[related["kind"] == "process_start"]
    # explorer -> cmd -> (conhost, cmd -> powershell -> whoami), each from 4688 and Sysmon 1.
    assert sorted(starts["process"].str.lower()) == sorted(["cmd.exe", "conhost.exe", "cmd.exe", "powershell.exe", "whoami.exe"] * 2)
    assert set(starts["pid"].astype(int)) == {0x17DC, 0xD74, 0x1230, 0x1794, 0x21DC}
    # Sysmon 1 lost ProcessId in OTRF: the pid comes from its 4688 twin.
    assert starts[starts["event"] == "sysmon_1"]["pid"].notna().all()
    connections = related[related["kind"] == "connection"]
    assert set(zip(connections["process"].str.lower(), connections["direction"], connections["remote_ip"])) == {
        ("explorer.exe", "inbound", "172.18.39.5"),  # the DCOM call (5156 and Sysmon 3)
        ("powershell.exe", "outbound", "10.10.10.5"),  # the stager calling home
    }
    logons = related[related["kind"] == "logon"]
    assert set(logons["logon_id"]) == {"0x3ade94", "0x3ae71f"} and (logons["remote_ip"] == "172.18.39.5").all()
    assert (logons["user"] == "pgustavo").all()

    unrelated = frame[~frame["related"]]
    assert "Teams.exe" in set(unrelated["process"]) and "svchost.exe" in set(unrelated["process"])
    assert not unrelated["remote_ip"].eq("10.10.10.5").any()


def test_security_times_are_shifted_to_utc_like_the_engine() -> None:
    _, sysmon = d3_alerts()
    events = read_host_events(FIXTURE, "WORKSTATION6")  # the short name matches the FQDN
    row = events[events["line"] == 9].iloc[0]  # the 5156 of explorer, EventTime local (UTC-4)
    assert raw_line(9)["EventTime"] == "2020-09-18 13:08:35"
    assert row["time"] == pandas.Timestamp("2020-09-18 17:08:35", tz="UTC")
    partner = sysmon.to_dict()["dcom_detect"]["correlation"]["partner"]
    assert partner["source"]["line"] == 9
    assert row["time"] == pandas.Timestamp(partner["@timestamp"])


def test_the_window_bounds_the_rows_and_is_checked() -> None:
    first, _ = d3_alerts()
    narrow = pivot(first, window=timedelta(seconds=10))
    assert narrow["offset_s"].abs().max() <= 10
    assert "whoami.exe" not in set(narrow["process"])  # 52 s later
    assert set(pivot(first, window=60)["process"]) >= {"whoami.exe"}
    with pytest.raises(ValueError, match="window must be positive"):
        pivot(first, window=0)


def test_gzip_and_an_explicit_path(tmp_path: Path) -> None:
    _, sysmon = d3_alerts()
    packed = tmp_path / "copy.ndjson.gz"
    with gzip.open(packed, "wb") as out:
        out.write(FIXTURE.read_bytes())
    frame = pivot(sysmon, packed)
    assert len(frame) == len(pivot(sysmon))
    assert not frame["is_alert"].any(), "another file: its lines are not the alert's"


def test_ecs_documents(tmp_path: Path) -> None:
    def ecs(time: str, **fields: object) -> dict[str, object]:
        return {"@timestamp": time, "host": {"name": "ws-07"}, **fields}

    docs = [
        ecs("2024-05-01T10:00:00Z", event={"category": ["network"], "type": ["start"]}, network={"direction": "ingress"},
            process={"pid": 300, "name": "mmc.exe", "entity_id": "A"}, source={"ip": "10.0.0.9", "port": 50000},
            destination={"port": 49700}),
        ecs("2024-05-01T10:00:01Z", event={"category": ["process"], "type": ["start"]},
            process={"pid": 400, "name": "cmd.exe", "entity_id": "B", "parent": {"pid": 300, "name": "mmc.exe", "entity_id": "A"},
                     "command_line": "cmd /c whoami"}),
        {"@timestamp": "2024-05-01T10:00:02Z", "host.name": "ws-07", "event.category": "process", "event.type": "start",
         "process.pid": 500, "process.name": "whoami.exe", "process.parent.pid": 400, "process.entity_id": "C",
         "process.parent.entity_id": "B"},
        ecs("2024-05-01T10:00:03Z", event={"category": ["process"], "type": ["start"]}, process={"pid": 600, "name": "notepad.exe",
            "parent": {"pid": 1, "name": "explorer.exe"}}),
        ecs("2024-05-01T10:00:04Z", event={"category": ["network"], "type": ["start"]}, network={"direction": "egress"},
            process={"pid": 400, "name": "cmd.exe"}, destination={"ip": "10.0.0.99", "port": 443}),
        {**ecs("2024-05-01T10:00:01Z", event={"category": ["process"], "type": ["start"]}, process={"pid": 9, "name": "x.exe"}),
         "host": {"name": "other"}},
        ecs("2024-05-01T11:00:00Z", event={"category": ["process"], "type": ["start"]}, process={"pid": 7, "name": "late.exe"}),
    ]
    path = tmp_path / "ecs.ndjson"
    path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    (alert,) = dcom_detect.Rule().scan(path)
    assert alert.line == 2
    frame = pivot(alert)
    assert list(frame["line"]) == [1, 2, 3, 4, 5]
    assert list(frame["related"]) == [True, True, True, False, True]
    assert frame.loc[frame["line"] == 1, "remote_ip"].item() == "10.0.0.9"
    assert frame.loc[frame["line"] == 5, "remote_ip"].item() == "10.0.0.99"
    assert frame["is_alert"].tolist() == [False, True, False, False, False]


def test_bad_inputs(tmp_path: Path) -> None:
    (alert,) = dcom_detect.scan_records([{"event": {"category": "process", "type": "start"}, "process": {"name": "dcomcnfg.exe"},
                                          "host": {"name": "h"}, "@timestamp": "2024-05-01T10:00:00Z"}])
    with pytest.raises(ValueError, match="not read from a file"):
        pivot(alert)
    evtx = tmp_path / "log.evtx"
    evtx.write_bytes(b"ElfFile\x00" + bytes(100))
    with pytest.raises(ValueError, match="not EVTX"):
        pivot(alert, evtx)
    (no_host,) = dcom_detect.scan_records([{"event": {"category": "process", "type": "start"}, "process": {"name": "dcomcnfg.exe"}}])
    with pytest.raises(ValueError, match="no host"):
        pivot(no_host, FIXTURE)
    with pytest.raises(FileNotFoundError):
        pivot(alert, tmp_path / "missing.ndjson")


def test_plot_timeline(tmp_path: Path) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    _, sysmon = d3_alerts()
    frame = pivot(sysmon)
    ax = plot_timeline(frame, title="D3")
    red = [c for c in ax.collections if len(c.get_offsets()) == int(frame["related"].sum())]
    assert red, "one marker per related row"
    labels = {t.get_text() for t in ax.texts}
    assert "powershell.exe ↔ 10.10.10.5" in labels and "whoami.exe" in labels
    ax.figure.savefig(tmp_path / "timeline.png")
    assert (tmp_path / "timeline.png").stat().st_size > 1000


def test_event_view_gives_the_engines_reading_and_time() -> None:
    # The pivot reads every event through the engine's view: a raw event's kind, its time
    # as the correlation reads it, and NXLog's local EventTime when the event carries one.
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    seen = set()
    for line in lines:
        record = json.loads(line)
        view = dcom_detect.event_view(line)
        kind = view["dcom_detect.event"][0]
        seen.add(kind)
        assert kind == {
            ("Microsoft-Windows-Sysmon/Operational", 1): "sysmon_1",
            ("Microsoft-Windows-Sysmon/Operational", 3): "sysmon_3",
            ("security", 4688): "4688",
            ("security", 5156): "5156",
            ("security", 4624): "4624",
        }.get((record["Channel"].replace("Security", "security"), record["EventID"]), "ecs")
        if kind.startswith("sysmon"):
            # Sysmon's own UTC time, and the host's local time beside it.
            assert view["dcom_detect.clock"] == ["utc"]
            assert pandas.Timestamp(view["dcom_detect.time"][0]) == pandas.Timestamp(record["UtcTime"], tz="UTC")
        elif kind != "ecs":
            # Security events carry only the local EventTime: the collector's time beside it.
            assert view["dcom_detect.clock"] == ["local"]
            assert pandas.Timestamp(view["dcom_detect.collected"][0]) == pandas.Timestamp(record["@timestamp"])
        if "EventTime" in record:
            assert pandas.Timestamp(view["dcom_detect.local_time"][0]).tz_localize(None) == pandas.Timestamp(record["EventTime"])
    assert {"sysmon_1", "sysmon_3", "4624"} <= seen
    ecs = dcom_detect.event_view(b'{"@timestamp":"2024-05-01T10:00:00Z","event":{"category":"process","type":"start"}}')
    assert ecs["dcom_detect.event"] == ["ecs"] and ecs["dcom_detect.clock"] == ["utc"]
    assert pandas.Timestamp(ecs["dcom_detect.time"][0]) == pandas.Timestamp("2024-05-01T10:00:00Z")
    assert "dcom_detect.time" not in dcom_detect.event_view(b'{"event":{"category":"process"}}')
