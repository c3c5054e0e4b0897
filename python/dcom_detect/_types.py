"""Typed shapes of the plain dicts dcom_detect returns (for type checkers and readers)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any, Literal, Protocol, TypeAlias, TypedDict, Union

__all__ = [
    "CaseFolding",
    "BranchName",
    "AttackRef",
    "Threat",
    "DataSource",
    "RuleMetadata",
    "StatsDict",
    "CorrelatorStatsDict",
    "SupportsReadBytes",
    "Event",
    "ScanSource",
    "PathArg",
    "RecordSource",
    "ExceptionsSource",
    "ArrowStreamExportable",
    "ArrowArrayExportable",
    "ArrowData",
    "ColumnMapping",
]

#: How ``in~`` and ``:`` compare letters: ASCII only (Elasticsearch's long-standing
#: behaviour, the default) or Unicode simple case folding (Lucene 10.5 builds).
CaseFolding: TypeAlias = Literal["ascii", "unicode_simple"]

#: The rule's three branches, in rule order.
BranchName: TypeAlias = Literal["office_child", "dcomcnfg", "dcom_command_line"]


class AttackRef(TypedDict):
    """One MITRE ATT&CK entry."""

    id: str
    name: str
    reference: str


class Threat(TypedDict):
    """The rule's MITRE ATT&CK mapping."""

    framework: str
    tactic: AttackRef
    technique: AttackRef
    subtechnique: AttackRef


class DataSource(TypedDict):
    """A product whose events the rule reads, and the index pattern it writes to."""

    name: str
    index: str


class CorrelationRuleInfo(TypedDict):
    """``correlation_rules()``: one stateful rule of the ``extended`` or ``elastic`` profile."""

    rule: Literal["D2", "D2L", "D3", "mmc20", "shellwindows", "hta"]
    id: str
    name: str
    description: str
    severity: str
    risk_score: int
    eql: str
    sigma: str
    """The rule as Sigma: its base rules and the correlation rule, one YAML document each
    (``docs/export.md``)."""
    guide: str
    """The rule's triage guide (Markdown, ``docs/triage/``): investigation, false positives,
    response, hunting pivots."""


class RuleMetadata(TypedDict):
    """``Rule.metadata``: what is known about the rule (its catalogue metadata)."""

    id: str
    name: str
    description: str
    version: int
    ruleset: str
    language: str
    severity: str
    risk_score: int
    confidence: str
    references: list[str]
    threat: Threat
    data_sources: list[DataSource]
    false_positives: list[str]
    branches: list[BranchName]
    guide: str
    """The triage guide common to the rule's branches (Markdown, ``docs/triage/seed.md``; Elastic's
    ``note``): investigation, false positives, response, hunting pivots."""
    branch_guides: dict[BranchName, str]
    """Each branch's own triage guide (``docs/triage/seed_<branch>.md``), keyed by branch name."""


class StatsDict(TypedDict):
    """``ScanStats.to_dict()``."""

    records: int
    matched: int
    suppressed: int
    not_matched: int
    prefiltered: int
    rejected: int
    blank_lines: int
    bytes: int
    files: int
    skipped_files: int
    correlations: int
    complete: bool


class CorrelatorStatsDict(TypedDict):
    """``CorrelatorStats.to_dict()``."""

    records: int
    blank: int
    observations: int
    correlations: int
    alerts: int
    late: int
    released_early: int
    evicted_pending: int
    evicted_hosts: int
    unaligned: int
    rewinds: int
    side_guessed: int
    unwritten: int


class SupportsReadBytes(Protocol):
    """A binary file object: ``read(n)`` returns at most ``n`` bytes, ``b""`` at the end."""

    def read(self, n: int, /) -> bytes: ...


#: One event: a dict (nested or dotted ECS, or a raw Sysmon / Security 4688 event in any
#: common wrapper), or its JSON text as ``str`` or ``bytes``.
Event: TypeAlias = Union[dict[str, Any], str, bytes, bytearray]

#: A path to a file or a directory.
PathArg: TypeAlias = Union[str, "os.PathLike[str]"]

#: What ``Rule.scan`` reads: a path to a file or a directory (``"-"`` for standard input), a
#: list, tuple or other iterable of paths, or a binary file object. Records go to
#: ``Rule.scan_records``.
ScanSource: TypeAlias = Union[str, "os.PathLike[str]", Iterable[PathArg], SupportsReadBytes]

#: What ``Rule.scan_records`` reads: an iterable of records, each item one event (a dict, or
#: a JSON line as ``str`` / ``bytes``).
RecordSource: TypeAlias = Iterable[Event]

#: What ``Rule(exceptions=...)`` takes: a path (``str`` or ``os.PathLike``) to an exceptions
#: file; the file's JSON as ``bytes``, or as a ``str`` that starts with ``{`` or ``[`` (after
#: leading whitespace; any other ``str`` is a path); or the structure ``json.load`` returns
#: (a ``dict`` with an ``"exceptions"`` list, or the bare ``list`` of items).
ExceptionsSource: TypeAlias = Union[str, "os.PathLike[str]", bytes, bytearray, dict[str, Any], list[Any]]


class ArrowStreamExportable(Protocol):
    """Anything exporting an Arrow C stream (the Arrow PyCapsule interface): pyarrow
    ``Table`` / ``RecordBatch`` / ``RecordBatchReader`` / ``ChunkedArray``, polars
    ``DataFrame`` / ``Series``, pandas ≥ 2.2 ``DataFrame``, DuckDB relations, …"""

    def __arrow_c_stream__(self, requested_schema: Any = None, /) -> Any: ...


class ArrowArrayExportable(Protocol):
    """Anything exporting one Arrow C array with its schema (``__arrow_c_array__``): a
    pyarrow ``RecordBatch`` or ``StructArray``, …"""

    def __arrow_c_array__(self, requested_schema: Any = None, /) -> tuple[Any, Any]: ...


#: What ``Rule.match_arrow`` and ``Rule.alerts_arrow`` read: Arrow data through the PyCapsule
#: interface (its rows are events, its columns the fields), or a pandas DataFrame (converted
#: with pyarrow when it has no ``__arrow_c_stream__``).
ArrowData: TypeAlias = Union[ArrowStreamExportable, ArrowArrayExportable, Any]

#: ``columns=``: ECS field path → the column (path) that holds it, e.g.
#: ``{"process.name": "image_name", "process.parent.name": "parent.image"}``.
ColumnMapping: TypeAlias = Mapping[str, str]
