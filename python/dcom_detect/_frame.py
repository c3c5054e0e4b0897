"""Alerts as a pandas DataFrame (pandas is imported only when asked for)."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas

    from ._native import Alert

#: The columns of :func:`alerts_to_frame`, in order.
COLUMNS = [
    "timestamp",
    "host",
    "user",
    "branches",
    "parent_name",
    "process_name",
    "command_line",
    "parent_command_line",
    "pid",
    "schema",
    "file",
    "line",
    "record_id",
    "rule_id",
    "severity",
    "risk_score",
    "evidence",
    "alert",
]


def _get(document: dict[str, Any], *path: str) -> Any:
    value: Any = document
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def alerts_to_frame(alerts: Iterable[Alert]) -> pandas.DataFrame:
    """One row per alert, with the columns hunters group and filter on.

    ``timestamp`` is a timezone-aware (UTC) datetime column; ``branches`` holds tuples (use
    ``frame.explode("branches")`` to count by branch); ``evidence`` the values that fired
    each branch; ``alert`` the full ECS alert as a dict. Needs pandas
    (``pip install 'dcom-detect[pandas]'``).
    """
    try:
        import pandas
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "alerts_to_frame() and Scan.to_pandas() need pandas: pip install 'dcom-detect[pandas]'"
        ) from error
    rows = []
    for alert in alerts:
        document = alert.to_dict()
        process = document.get("process") or {}
        rows.append(
            {
                "timestamp": alert.timestamp,
                "host": alert.host,
                "user": alert.user,
                "branches": alert.branches,
                "parent_name": _get(process, "parent", "name"),
                "process_name": _get(process, "name"),
                "command_line": _get(process, "command_line"),
                "parent_command_line": _get(process, "parent", "command_line"),
                "pid": _get(process, "pid"),
                "schema": _get(document, "dcom_detect", "schema"),
                "file": alert.file,
                "line": alert.line,
                "record_id": alert.record_id,
                "rule_id": _get(document, "rule", "id"),
                "severity": _get(document, "dcom_detect", "severity"),
                "risk_score": _get(document, "event", "risk_score"),
                "evidence": _get(document, "dcom_detect", "evidence"),
                "alert": document,
            }
        )
    frame = pandas.DataFrame(rows, columns=COLUMNS)
    frame["timestamp"] = pandas.to_datetime(frame["timestamp"], utc=True, errors="coerce", format="ISO8601")
    for column in ("line", "record_id", "pid"):
        frame[column] = pandas.to_numeric(frame[column], errors="coerce").astype("Int64")
    return frame


def match_frame(rule: Any, frame: Any, columns: Any = None, threads: int = 0) -> Any:
    """:meth:`dcom_detect.Rule.match_frame`: ``rule.match_arrow`` on a pandas or polars
    DataFrame, as a boolean Series of the same kind (pandas: same index; polars: named
    ``"dcom_detect"``)."""
    module = type(frame).__module__
    if module.startswith("polars"):
        import polars

        if not isinstance(frame, polars.DataFrame):
            raise TypeError(f"frame must be a pandas or polars DataFrame, not {module}.{type(frame).__qualname__}")
        return polars.Series("dcom_detect", rule.match_arrow(frame, columns=columns, threads=threads), dtype=polars.Boolean)
    if module.startswith("pandas"):
        import pandas

        if not isinstance(frame, pandas.DataFrame):
            raise TypeError(f"frame must be a pandas or polars DataFrame, not {module}.{type(frame).__qualname__}")
        try:
            pyarrow = importlib.import_module("pyarrow")  # untyped: imported by name
        except ImportError as error:  # pragma: no cover - depends on the environment
            raise ImportError("Rule.match_frame on pandas needs pyarrow: pip install 'dcom-detect[pandas]'") from error
        table = pyarrow.Table.from_pandas(frame, preserve_index=False)
        return pandas.Series(rule.match_arrow(table, columns=columns, threads=threads), index=frame.index, name="dcom_detect", dtype=bool)
    raise TypeError(
        f"frame must be a pandas or polars DataFrame, not {module}.{type(frame).__qualname__} "
        "(for other Arrow data use Rule.match_arrow)"
    )
