"""Hunting pivots: from an alert, what else happened on the same host around it.

:func:`pivot` reads the file the alert came from (NDJSON, plain or gzip) with pandas and
returns, for the alert's host and a time window around its ``@timestamp``, one row per process
start, network connection and logon, with the alert's process tree marked (``related``);
:func:`plot_timeline` draws those rows on a time axis with matplotlib. The queries of the
triage guides' "Hunting pivots" sections (``docs/triage/``) run on the SIEM; these run on the
scanned file in a notebook (``examples/hunting.ipynb``).

Events are read through the engine's event view (:func:`dcom_detect.event_view`): whatever
the engine reads (ECS documents, raw Sysmon 1 and 3, Security 4688, 5156 and 4624 events,
flat or wrapped) is mapped to ECS by the engine, and each event's time is the engine's. Times
are UTC; events that only carry NXLog's local ``EventTime`` (OTRF's Security events) are
shifted by the host's offset, learnt from the events carrying both a UTC time and
``EventTime`` (the median difference, rounded to a quarter hour, as the correlation rounds
it); without such an event the collector's ``@timestamp`` is used. The remote end of a
connection is its source when inbound, its destination when outbound, by the view's
``network.direction`` (the 2019 EVTX samples log Sysmon 3 the other way round, which the
correlation tells from the host's own addresses and a pivot does not).

Cost: one pass over the file, decoding (with the engine) only lines that mention the host's
name (a case-insensitive byte search), then pandas operations on the host's events.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas

from ._errors import BadEventError
from ._native import event_view

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

_INBOUND = {"ingress", "inbound", "incoming"}
_OUTBOUND = {"egress", "outbound", "outgoing"}
# Winlogbeat's names of the 4624 logon types (the view's `winlog.logon.type`).
_LOGON_TYPES = {
    "interactive": 2,
    "network": 3,
    "batch": 4,
    "service": 5,
    "unlock": 7,
    "networkcleartext": 8,
    "newcredentials": 9,
    "remoteinteractive": 10,
    "cachedinteractive": 11,
}


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value, 16) if value.lower().startswith("0x") else int(value)
    except ValueError:
        return None


def _guid(value: str | None) -> str | None:
    return value.strip("{}").lower() if value else None


def _at(document: Mapping[str, Any], path: str) -> str | None:
    """A value of an alert's own (nested) document at a dotted path, as text."""
    value: Any = document
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, list):
        value = value[0] if value else None
    return None if value is None or value == "" else str(value)


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


def _row(record: bytes, line: int) -> dict[str, Any] | None:
    """One normalised row, or None when the record is none of the kinds a pivot shows (or the
    engine rejects it). Fields come from the engine's event view (:func:`event_view`): raw
    Windows events are mapped to ECS by the engine, not here."""
    try:
        view = event_view(record)
    except BadEventError:
        return None

    def first(path: str) -> str | None:
        values = view.get(path)
        return values[0] if values else None

    categories, types = set(view.get("event.category", [])), set(view.get("event.type", []))
    row: dict[str, Any] = {
        "line": line,
        "event": first("dcom_detect.event"),
        "host": first("host.name") or first("host.id"),
        "utc": first("dcom_detect.time") if first("dcom_detect.clock") == "utc" else None,
        "local": first("dcom_detect.local_time"),
        "collected": first("dcom_detect.collected"),
        "user": first("user.name"),
        "pid": _int(first("process.pid")),
        "entity_id": _guid(first("process.entity_id")),
        "process": first("process.name"),
        "logon_id": first("winlog.logon.id"),
    }
    if "process" in categories and "start" in types:
        row.update(
            kind="process_start",
            parent_pid=_int(first("process.parent.pid")),
            parent_entity_id=_guid(first("process.parent.entity_id")),
            parent=first("process.parent.name"),
            command_line=first("process.command_line"),
        )
    elif "network" in categories:
        direction = (first("network.direction") or "").lower()
        inbound = direction in _INBOUND
        if not inbound and direction not in _OUTBOUND:
            return None
        remote, local = ("source", "destination") if inbound else ("destination", "source")
        row.update(
            kind="connection",
            direction="inbound" if inbound else "outbound",
            remote_ip=first(f"{remote}.ip"),
            remote_port=_int(first(f"{remote}.port")),
            local_port=_int(first(f"{local}.port")),
        )
    elif "authentication" in categories:
        logon_type = first("winlog.logon.type")
        row.update(
            kind="logon",
            remote_ip=first("source.ip"),
            remote_port=_int(first("source.port")),
            logon_type=_LOGON_TYPES.get((logon_type or "").lower(), _int(logon_type)),
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
        row = _row(raw, number)
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
    pids = {pid for pid in (_int(_at(process, "pid")), _int(_at(parent, "pid"))) if pid is not None}
    guids = {g for g in (_guid(_at(process, "entity_id")), _guid(_at(parent, "entity_id"))) if g}
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
    partner_ip = _at(document, "dcom_detect.correlation.partner.remote.ip")
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
        ImportError: matplotlib is not installed (``pip install 'dcom-detect[pivot]'``)."""
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
