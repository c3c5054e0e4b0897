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

Scan files (NDJSON, gzip, EVTX), standard input, file objects or iterables of records:

>>> for alert in dcom_detect.scan("examples/data/sample.ndjson"):  # doctest: +SKIP
...     print(alert.host, alert.branches)

The package re-exports the native classes (:class:`Rule`, :class:`Verdict`,
:class:`Scan`, :class:`Alert`, …), the exceptions, and adds :func:`scan` and
:func:`alerts_to_frame`. The ``dcom-detect`` command is :mod:`dcom_detect.cli`.
"""

from __future__ import annotations

from ._errors import BadEventError, DcomDetectError, ExceptionsFileError, UnreadableInputError
from ._frame import alerts_to_frame
from ._native import (
    EQL_SOURCE,
    Alert,
    DcomCommandLine,
    OfficeChild,
    Rejected,
    Rule,
    Scan,
    ScanStats,
    Verdict,
    __version__,
    rule_metadata,
)
from ._types import (
    AttackRef,
    BranchName,
    CaseFolding,
    DataSource,
    Event,
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
    "ScanStats",
    "scan",
    "alerts_to_frame",
    "rule_metadata",
    "EQL_SOURCE",
    "BRANCHES",
    "DcomDetectError",
    "BadEventError",
    "ExceptionsFileError",
    "UnreadableInputError",
    "AttackRef",
    "BranchName",
    "CaseFolding",
    "DataSource",
    "Event",
    "RuleMetadata",
    "ScanSource",
    "StatsDict",
    "SupportsReadBytes",
    "Threat",
    "__version__",
]

#: The rule's branches, in rule order; bit ``1 << i`` of ``Verdict.bits`` is ``BRANCHES[i]``.
BRANCHES: tuple[BranchName, ...] = ("office_child", "dcomcnfg", "dcom_command_line")


def scan(
    source: ScanSource,
    *,
    case_folding: CaseFolding = "ascii",
    progress: bool = False,
    threads: int = 0,
    prefilter: bool = True,
    include_original: bool = False,
) -> Scan:
    """Scans ``source`` with a new :class:`Rule`: ``Rule(case_folding=...).scan(source, ...)``.

    See :meth:`Rule.scan` for the sources and options.
    """
    return Rule(case_folding=case_folding).scan(
        source,
        progress=progress,
        threads=threads,
        prefilter=prefilter,
        include_original=include_original,
    )
