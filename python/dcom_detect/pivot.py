"""Hunting pivots: from an alert, what else happened on the same host around it.

:func:`pivot` reads the file the alert came from (NDJSON, plain or gzip) with pandas and
returns, for the alert's host and a time window around its ``@timestamp``, one row per process
start, network connection and logon, with the alert's process tree marked (``related``);
:func:`plot_timeline` draws those rows on a time axis with matplotlib. The queries of the
triage guides' "Hunting pivots" sections (``docs/triage/``) run on the SIEM; these run on the
scanned file in a notebook (``examples/hunting.ipynb``).

Schemas read: ECS documents (nested or dotted keys: Elastic Defend, Winlogbeat), raw Windows
events flat (OTRF / NXLog) or wrapped (``winlog.event_data``, ``event_data``,
``Event.EventData`` of evtx_dump JSON): Sysmon 1 and 3, Security 4688, 5156 and 4624. Times
are UTC: ``@timestamp`` for ECS, Sysmon's ``UtcTime``, ``TimeCreated``; events that only carry
NXLog's ``EventTime`` (the host's local time: OTRF's Security events) are shifted by the
host's offset, learnt as the engine does from Sysmon events carrying both ``UtcTime`` and
``EventTime`` (the median difference, rounded to a quarter hour); without such an event the
collector's ``@timestamp`` is used. The remote end of a connection is its source when inbound,
its destination when outbound (ECS, 5156 and the 2020 OTRF Sysmon 3; the 2019 EVTX samples
log Sysmon 3 the other way round).

Cost: one pass over the file, decoding only lines that mention the host's name (a
case-insensitive byte search), then pandas operations on the host's events.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ._native import Alert

__all__ = ["pivot", "read_host_events", "plot_timeline", "COLUMNS"]

COLUMNS: tuple[str, ...] = (
    "time",
    "offset_s",
    "kind",
    "event",
    "host",
    "pid",
    "parent_pid",
    "entity_id",
    "parent_entity_id",
    "process",
    "parent",
    "command_line",
    "user",
    "direction",
    "remote_ip",
    "remote_port",
    "local_port",
    "logon_id",
    "logon_type",
    "related",
    "is_alert",
    "line",
)
"""The columns :func:`pivot` returns, in order. ``time`` is UTC (``datetime64[ns, UTC]``),
``offset_s`` seconds from the alert; ``kind`` is ``process_start``, ``connection`` or
``logon``; ``event`` the source (``sysmon_1``, ``sysmon_3``, ``4688``, ``5156``, ``4624``,
``ecs``); ``entity_id`` is Sysmon's ``ProcessGuid`` or ECS ``process.entity_id`` (lower case,
no braces); ``related`` marks the alert's process tree (its process, its parent and their
descendants), their connections and the network logons from a related connection's remote
address or the alert's partner; ``is_alert`` the alert's own record; ``line`` is 1-based."""

_DATA = ("", "winlog.event_data.", "event_data.", "Event.EventData.")
_INBOUND = {"ingress", "inbound", "incoming"}
_OUTBOUND = {"egress", "outbound", "outgoing"}


def _get(record: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, whether the record nests or dots its keys (or mixes)."""
    if path in record:
        return record[path]
    head, dot, rest = path.partition(".")
    while dot:
        value = record.get(head)
        if isinstance(value, Mapping):
            found = _get(value, rest)
            if found is not None:
                return found
        nxt, dot, rest = rest.partition(".")
        head = f"{head}.{nxt}"
    return None


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _text(record: Mapping[str, Any], *paths: str) -> str | None:
    for path in paths:
        value = _first(_get(record, path))
        if value is not None and value != "":
            return str(value)
    return None


def _data(record: Mapping[str, Any], *names: str) -> str | None:
    return _text(record, *(prefix + name for name in names for prefix in _DATA))


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value, 16) if value.lower().startswith("0x") else int(value)
    except ValueError:
        return None


def _guid(value: str | None) -> str | None:
    return value.strip("{}").lower() if value else None


def _basename(path: str | None) -> str | None:
    return path.replace("/", "\\").rsplit("\\", 1)[-1] if path else None


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as raw:
        magic = raw.read(8)
    if magic.startswith(b"ElfFile"):
        raise ValueError(f"{path}: pivot reads NDJSON (plain or gzip), not EVTX; export the log to JSON first")
    if magic.startswith(b"PAR1"):
        raise ValueError(f"{path}: pivot reads NDJSON (plain or gzip), not Parquet")
    opener = gzip.open if magic.startswith(b"\x1f\x8b") else open
    with opener(path, "rb") as stream:
        yield from stream


def _row(record: Mapping[str, Any], line: int) -> dict[str, Any] | None:
    """One normalised row, or None when the record is none of the kinds a pivot shows."""
    channel = (_text(record, "Channel", "winlog.channel", "log_name", "Event.System.Channel") or "").lower()
    event_id = _int(_text(record, "EventID", "winlog.event_id", "event_id", "Event.System.EventID"))
    host = _text(record, "host.name", "Hostname", "Computer", "winlog.computer_name", "computer_name", "Event.System.Computer")
    utc = _data(record, "UtcTime") or _text(record, "Event.System.TimeCreated.#attributes.SystemTime", "TimeCreated")
    row: dict[str, Any] = {
        "line": line,
        "host": host,
        "utc": utc,
        "local": _text(record, "EventTime"),
        "collected": _text(record, "@timestamp"),
    }
    if "sysmon" in channel and event_id == 1:
        image, parent = _data(record, "Image"), _data(record, "ParentImage")
        row.update(
            kind="process_start",
            event="sysmon_1",
            pid=_int(_data(record, "ProcessId")),
            parent_pid=_int(_data(record, "ParentProcessId")),
            entity_id=_guid(_data(record, "ProcessGuid")),
            parent_entity_id=_guid(_data(record, "ParentProcessGuid")),
            process=_basename(image),
            parent=_basename(parent),
            command_line=_data(record, "CommandLine"),
            user=_data(record, "User"),
            logon_id=_data(record, "LogonId"),
        )
    elif channel == "security" and event_id == 4688:
        row.update(
            kind="process_start",
            event="4688",
            pid=_int(_data(record, "NewProcessId")),
            parent_pid=_int(_data(record, "ProcessId")),
            process=_basename(_data(record, "NewProcessName")),
            parent=_basename(_data(record, "ParentProcessName")),
            command_line=_data(record, "CommandLine"),
            user=_data(record, "SubjectUserName"),
            logon_id=_data(record, "SubjectLogonId"),
        )
    elif "sysmon" in channel and event_id == 3:
        inbound = (_data(record, "Initiated") or "").lower() == "false"
        src, dst = (_data(record, "SourceIp"), _data(record, "SourcePort")), (_data(record, "DestinationIp"), _data(record, "DestinationPort"))
        remote, local = (src, dst) if inbound else (dst, src)
        row.update(
            kind="connection",
            event="sysmon_3",
            pid=_int(_data(record, "ProcessId")),
            entity_id=_guid(_data(record, "ProcessGuid")),
            process=_basename(_data(record, "Image")),
            user=_data(record, "User"),
            direction="inbound" if inbound else "outbound",
            remote_ip=remote[0],
            remote_port=_int(remote[1]),
            local_port=_int(local[1]),
        )
    elif channel == "security" and event_id == 5156:
        inbound = _data(record, "Direction") == "%%14592"
        src, dst = (_data(record, "SourceAddress"), _data(record, "SourcePort")), (_data(record, "DestAddress"), _data(record, "DestPort"))
        remote, local = (src, dst) if inbound else (dst, src)
        row.update(
            kind="connection",
            event="5156",
            pid=_int(_data(record, "ProcessID", "ProcessId")),
            process=_basename(_data(record, "Application")),
            direction="inbound" if inbound else "outbound",
            remote_ip=remote[0],
            remote_port=_int(remote[1]),
            local_port=_int(local[1]),
        )
    elif channel == "security" and event_id == 4624:
        row.update(
            kind="logon",
            event="4624",
            user=_data(record, "TargetUserName"),
            remote_ip=_data(record, "IpAddress"),
            remote_port=_int(_data(record, "IpPort")),
            logon_id=_data(record, "TargetLogonId"),
            logon_type=_int(_data(record, "LogonType")),
        )
    else:
        return _ecs_row(record, row)
    return row


def _ecs_row(record: Mapping[str, Any], row: dict[str, Any]) -> dict[str, Any] | None:
    categories = _get(record, "event.category")
    categories = set(categories if isinstance(categories, list) else [categories])
    types = _get(record, "event.type")
    types = set(types if isinstance(types, list) else [types])
    row["utc"] = row["collected"]
    row["event"] = "ecs"
    row["user"] = _text(record, "user.name")
    if "process" in categories and "start" in types:
        row.update(
            kind="process_start",
            pid=_int(_text(record, "process.pid")),
            parent_pid=_int(_text(record, "process.parent.pid")),
            entity_id=_guid(_text(record, "process.entity_id")),
            parent_entity_id=_guid(_text(record, "process.parent.entity_id")),
            process=_text(record, "process.name") or _basename(_text(record, "process.executable")),
            parent=_text(record, "process.parent.name") or _basename(_text(record, "process.parent.executable")),
            command_line=_text(record, "process.command_line"),
        )
    elif "network" in categories:
        direction = (_text(record, "network.direction") or "").lower()
        inbound = direction in _INBOUND
        if not inbound and direction not in _OUTBOUND:
            return None
        remote, local = ("source", "destination") if inbound else ("destination", "source")
        row.update(
            kind="connection",
            pid=_int(_text(record, "process.pid")),
            entity_id=_guid(_text(record, "process.entity_id")),
            process=_text(record, "process.name") or _basename(_text(record, "process.executable")),
            direction="inbound" if inbound else "outbound",
            remote_ip=_text(record, f"{remote}.ip"),
            remote_port=_int(_text(record, f"{remote}.port")),
            local_port=_int(_text(record, f"{local}.port")),
        )
    elif "authentication" in categories:
        logon_type = _text(record, "winlog.logon.type", "winlog.event_data.LogonType")
        row.update(
            kind="logon",
            remote_ip=_text(record, "source.ip"),
            logon_id=_text(record, "winlog.logon.id", "winlog.event_data.TargetLogonId"),
            logon_type=3 if logon_type == "Network" else _int(logon_type),
        )
    else:
        return None
    return row


def _utc(values: pandas.Series) -> pandas.Series:
    return pandas.to_datetime(values, utc=True, errors="coerce", format="mixed")


def read_host_events(path: str | os.PathLike[str], host: str) -> pandas.DataFrame:
    """Every process start, connection and logon of ``host`` in an NDJSON file (plain or gzip),
    one row each (the columns of :data:`COLUMNS` but ``offset_s``, ``related`` and
    ``is_alert``), sorted by time. The host compares without case, and a short name matches
    its FQDN (``WORKSTATION6`` matches ``workstation6.theshire.local``) and back.

    Raises:
        ValueError: the file is EVTX or Parquet (not read here).
        OSError: the file cannot be read."""
    wanted = host.lower()
    short = wanted.split(".", 1)[0]
    needle = short.encode()
    rows = []
    for number, raw in enumerate(_lines(Path(path)), start=1):
        if needle not in raw.lower():
            continue
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        row = _row(record, number)
        if row is None or not row.get("host"):
            continue
        name = str(row["host"]).lower()
        if name != wanted and name.split(".", 1)[0] != short:
            continue
        rows.append(row)
    frame = pandas.DataFrame(rows, columns=[*COLUMNS, "utc", "local", "collected"])
    utc, local, collected = _utc(frame["utc"]), _utc(frame["local"]), _utc(frame["collected"])
    known = utc.notna() & local.notna()
    if known.any():
        offset = pandas.Timedelta((utc[known] - local[known]).median()).round("15min")
        local_shifted = local + offset
        frame["time"] = utc.fillna(local_shifted).fillna(collected)
    else:
        frame["time"] = utc.fillna(collected)
    frame = frame.drop(columns=["utc", "local", "collected"]).dropna(subset=["time"])
    for column in ("pid", "parent_pid", "remote_port", "local_port", "logon_type"):
        frame[column] = frame[column].astype("Int64")
    frame = frame.sort_values(["time", "line"], kind="stable").reset_index(drop=True)
    _fill_sysmon_pids(frame)
    return frame


def _fill_sysmon_pids(frame: pandas.DataFrame) -> None:
    """Gives a process start without a pid (OTRF's Sysmon 1 lost ``ProcessId`` to NXLog's
    field of the same name) the pid of its 4688 twin: the start of the same image by the same
    parent pid within 2 s (4688 times have one-second resolution)."""
    starts = frame["kind"] == "process_start"
    missing = frame.index[starts & frame["pid"].isna() & frame["parent_pid"].notna()]
    known = frame[starts & frame["pid"].notna() & (frame["event"] == "4688")]
    for index in missing:
        row = frame.loc[index]
        twins = known[
            (known["parent_pid"] == row["parent_pid"])
            & (known["process"].str.lower() == str(row["process"]).lower())
            & ((known["time"] - row["time"]).abs() <= pandas.Timedelta(seconds=2))
        ]
        if len(twins) == 1:
            frame.loc[index, "pid"] = twins["pid"].iloc[0]


def _window(window: timedelta | float) -> pandas.Timedelta:
    delta = pandas.Timedelta(window if isinstance(window, timedelta) else timedelta(seconds=float(window)))
    if delta <= pandas.Timedelta(0):
        raise ValueError(f"window must be positive, not {window!r}")
    return delta


def pivot(alert: Alert, path: str | os.PathLike[str] | None = None, *, window: timedelta | float = 300.0) -> pandas.DataFrame:
    """The alert's host around the alert: its process starts, connections and logons within
    ``window`` (a ``timedelta`` or seconds; default 5 minutes) before and after the alert's
    ``@timestamp``, read from ``path`` (default: the file the alert came from), one row each
    with the columns of :data:`COLUMNS`, sorted by time.

    ``related`` marks the alert's process tree and what touches it: the alert's process and
    its parent (by pid or entity id), their descendants started in the window, the connections
    of those processes, and the network logons (type 3) from a related inbound connection's
    remote address or from the alert's correlation partner (``dcom_detect.correlation.partner``).
    Pids are not checked for reuse within the window.

    Raises:
        ValueError: the alert has no host or time, was not read from a file and no ``path``
            is given, the window is not positive, or the file is EVTX or Parquet.
        OSError: the file cannot be read."""
    document = alert.to_dict()
    if not alert.host or not alert.timestamp:
        raise ValueError("the alert has no host or no @timestamp to pivot on")
    source = path if path is not None else alert.file
    if source is None:
        raise ValueError("the alert was not read from a file: pass the path of its events")
    delta = _window(window)
    at = pandas.Timestamp(alert.timestamp)
    events = read_host_events(source, alert.host)
    frame = events[(events["time"] >= at - delta) & (events["time"] <= at + delta)].copy()
    frame["offset_s"] = (frame["time"] - at).dt.total_seconds()

    process = document.get("process") or {}
    parent = process.get("parent") or {}
    pids = {pid for pid in (_int(_text(process, "pid")), _int(_text(parent, "pid"))) if pid is not None}
    guids = {g for g in (_guid(_text(process, "entity_id")), _guid(_text(parent, "entity_id"))) if g}
    starts = frame[frame["kind"] == "process_start"]
    size = -1
    while size != len(pids) + len(guids):  # the tree's starts in the window, to a fixed point
        size = len(pids) + len(guids)
        inside = (
            starts["parent_pid"].isin(pids).fillna(False).astype(bool)
            | starts["parent_entity_id"].isin(guids)
            | starts["pid"].isin(pids).fillna(False).astype(bool)
            | starts["entity_id"].isin(guids)
        )
        pids |= set(starts.loc[inside, "pid"].dropna().astype(int))
        guids |= set(starts.loc[inside, "entity_id"].dropna())
        children_of_tree = starts["parent_pid"].isin(pids).fillna(False).astype(bool)
        guids |= set(starts.loc[children_of_tree, "parent_entity_id"].dropna())
    pid_related = frame["pid"].isin(pids).fillna(False).astype(bool) | frame["entity_id"].isin(guids)
    inbound = frame[pid_related & (frame["kind"] == "connection") & (frame["direction"] == "inbound")]
    sources = set(inbound["remote_ip"].dropna())
    partner_ip = _text(document, "dcom_detect.correlation.partner.remote.ip")
    if partner_ip:
        sources.add(partner_ip)
    logon_related = (frame["kind"] == "logon") & (frame["logon_type"] == 3).fillna(False).astype(bool) & frame["remote_ip"].isin(sources)
    frame["related"] = pid_related | logon_related
    same_file = path is None or alert.file is None or Path(path).resolve() == Path(alert.file).resolve()
    frame["is_alert"] = same_file & (frame["line"] == (alert.line or -1))
    return frame[list(COLUMNS)].reset_index(drop=True)


_ROWS: dict[str, int] = {"logon": 0, "connection": 1, "process_start": 2}


def plot_timeline(frame: pandas.DataFrame, *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """A timeline of a :func:`pivot` frame: one lane per kind (process starts, connections,
    logons), seconds from the alert on the x axis, related rows in red and labelled with the
    process name (or the remote address), the alert at 0. Returns the matplotlib axes.

    Raises:
        ImportError: matplotlib is not installed (``pip install matplotlib``)."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("plot_timeline needs matplotlib: pip install matplotlib") from error
    if ax is None:
        _, ax = plt.subplots(figsize=(11, 3.2))
    lanes = frame["kind"].map(_ROWS)
    related = frame["related"].astype(bool)
    ax.scatter(frame.loc[~related, "offset_s"], lanes[~related], s=18, color="#8c959f", label="same host")
    ax.scatter(frame.loc[related, "offset_s"], lanes[related], s=36, color="#cf222e", label="alert's tree", zorder=3)
    for _, row in frame[related].iterrows():
        label = row["process"] if row["kind"] != "logon" else f"logon {row['remote_ip']}"
        if row["kind"] == "connection" and isinstance(row["remote_ip"], str):
            label = f"{row['process']} ↔ {row['remote_ip']}"
        ax.annotate(str(label), (row["offset_s"], _ROWS[row["kind"]]), textcoords="offset points", xytext=(3, 6),
                    fontsize=7, rotation=30)
    ax.axvline(0, color="#0969da", linewidth=1, linestyle="--", label="alert")
    ax.set_yticks(list(_ROWS.values()), ["logons", "connections", "process starts"])
    ax.set_ylim(-0.7, 2.9)
    ax.set_xlabel("seconds from the alert")
    ax.legend(loc="lower left", fontsize=7)
    if title:
        ax.set_title(title, fontsize=10)
    return ax
