"""dcom_detect: Elastic's DCOM lateral-movement rule (MITRE ATT&CK T1021.003), evaluated
with Elasticsearch's exact semantics by a Rust engine.

>>> import dcom_detect
>>> rule = dcom_detect.Rule()
>>> event = {"event": {"category": "process", "type": "start"},
...          "process": {"name": "cmd.exe", "parent": {"name": "MMC.EXE"}}}
>>> verdict = rule.evaluate(event)
>>> bool(verdict), verdict.branches
(True, ('office_child',))
>>> rule.matches('{"event.category": "process", "event.type": "start", "process.name": "DCOMCNFG.EXE"}')
False

Scan files (NDJSON, gzip, EVTX, Parquet: recognised by content), folders of them, lists
of paths, standard input or file objects; records (dicts, JSON text) go through
:func:`scan_records`:

>>> for alert in dcom_detect.scan("examples/data/sample.ndjson"):  # doctest: +SKIP
...     print(alert.host, alert.branches)
>>> scan = dcom_detect.scan(glob.glob("logs/*.evtx"))  # doctest: +SKIP
>>> for item in scan.events():  # alerts, rejected records, skipped files, in order  # doctest: +SKIP
...     print(item)
>>> alerts = list(dcom_detect.scan_records([event]))
>>> [a.branches for a in alerts]
[('office_child',)]

Tune out known-good activity with an exceptions file (``docs/exceptions.md``); suppressed
events raise no alert but are reported:

>>> tuned = dcom_detect.Rule(exceptions=[{"name": "jump hosts", "entries": [
...     {"field": "host.name", "operator": "is one of", "value": ["jump-01", "jump-02"]}]}])
>>> verdict = tuned.evaluate({**event, "host": {"name": "jump-01"}})
>>> bool(verdict), verdict.fired, verdict.suppressed_by
(False, True, 'jump hosts')

Match tables (pyarrow, polars, pandas, anything with the Arrow PyCapsule interface) in
place, without a Python object per row; Parquet files scan like any other file:

>>> import pyarrow
>>> table = pyarrow.table({"event.category": ["process", "process"], "event.type": ["start", "start"],
...                        "process.name": ["dcomcnfg.exe", "notepad.exe"]})
>>> rule.match_arrow(table)
array([ True, False])

Check the rule against its testing methodology (and real recordings):

>>> dcom_detect.validate().ok
True

The package re-exports the native classes (:class:`Rule`, :class:`Verdict`,
:class:`Scan`, :class:`Alert`, …), the exceptions, and adds :func:`scan`, :func:`scan_records`,
:func:`validate` and :func:`alerts_to_frame`. The ``dcom-detect`` command is
:mod:`dcom_detect.cli`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from ._errors import BadEventError, ColumnError, DcomDetectError, ExceptionsFileError, UnreadableInputError
from ._frame import alerts_to_frame
from ._native import (
    EQL_SOURCE,
    PROFILES,
    SIGMA_FIELDS,
    Alert,
    Correlator,
    CorrelatorStats,
    DcomCommandLine,
    ExceptionItem,
    OfficeChild,
    Rejected,
    Rule,
    Scan,
    ScanEvents,
    ScanStats,
    Skipped,
    Suppressed,
    ValidationReport,
    Verdict,
    __version__,
    correlation_rules,
    event_view,
    rule_metadata,
    sigma,
)
from ._types import (
    ArrowArrayExportable,
    ArrowData,
    ArrowStreamExportable,
    AttackRef,
    BranchName,
    CaseFolding,
    ColumnMapping,
    CorrelationRuleInfo,
    CorrelatorStatsDict,
    DataSource,
    Event,
    ExceptionsSource,
    PathArg,
    RecordSource,
    RuleMetadata,
    ScanSource,
    StatsDict,
    SupportsReadBytes,
    Threat,
)

__all__ = [
    "Rule",
    "Verdict",
    "OfficeChild",
    "DcomCommandLine",
    "Scan",
    "Alert",
    "Rejected",
    "Suppressed",
    "Skipped",
    "ScanEvents",
    "ScanStats",
    "Correlator",
    "CorrelatorStats",
    "ExceptionItem",
    "ValidationReport",
    "scan",
    "scan_records",
    "validate",
    "alerts_to_frame",
    "rule_metadata",
    "correlation_rules",
    "sigma",
    "event_view",
    "SIGMA_FIELDS",
    "EQL_SOURCE",
    "PROFILES",
    "BRANCHES",
    "DcomDetectError",
    "BadEventError",
    "ExceptionsFileError",
    "UnreadableInputError",
    "ColumnError",
    "ArrowArrayExportable",
    "ArrowData",
    "ArrowStreamExportable",
    "ColumnMapping",
    "AttackRef",
    "BranchName",
    "CaseFolding",
    "DataSource",
    "Event",
    "ExceptionsSource",
    "PathArg",
    "RecordSource",
    "RuleMetadata",
    "CorrelationRuleInfo",
    "ScanSource",
    "StatsDict",
    "CorrelatorStatsDict",
    "SupportsReadBytes",
    "Threat",
    "__version__",
]

#: The rule's branches, in rule order; bit ``1 << i`` of ``Verdict.bits`` is ``BRANCHES[i]``.
BRANCHES: tuple[BranchName, ...] = ("office_child", "dcomcnfg", "dcom_command_line")


def scan(
    source: ScanSource,
    *,
    exceptions: ExceptionsSource | None = None,
    case_folding: CaseFolding = "ascii",
    progress: bool = False,
    threads: int = 0,
    prefilter: bool = True,
    include_original: bool = False,
    columns: ColumnMapping | None = None,
    retain: int = 1000,
) -> Scan:
    """Scans ``source`` (paths, files or folders, ``"-"`` or a binary file object) with a
    new :class:`Rule`: ``Rule(exceptions=..., case_folding=...).scan(source, ...)``.

    See :class:`Rule` for ``exceptions`` and :meth:`Rule.scan` for the sources and options.
    """
    return Rule(exceptions=exceptions, case_folding=case_folding).scan(
        source,
        progress=progress,
        threads=threads,
        prefilter=prefilter,
        include_original=include_original,
        columns=columns,
        retain=retain,
    )


def scan_records(
    records: RecordSource,
    *,
    exceptions: ExceptionsSource | None = None,
    case_folding: CaseFolding = "ascii",
    progress: bool = False,
    include_original: bool = False,
    retain: int = 1000,
) -> Scan:
    """Scans records (dicts, or JSON text as ``str`` / ``bytes``, one per item) with a new
    :class:`Rule`: ``Rule(exceptions=..., case_folding=...).scan_records(records, ...)``.

    See :meth:`Rule.scan_records`.
    """
    return Rule(exceptions=exceptions, case_folding=case_folding).scan_records(
        records, progress=progress, include_original=include_original, retain=retain
    )


def validate(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None = None,
    *,
    exceptions: ExceptionsSource | None = None,
    case_folding: CaseFolding = "ascii",
) -> ValidationReport:
    """The validation report with a new :class:`Rule`:
    ``Rule(exceptions=..., case_folding=...).validate(paths)``.

    See :meth:`Rule.validate`.
    """
    return Rule(exceptions=exceptions, case_folding=case_folding).validate(paths)
