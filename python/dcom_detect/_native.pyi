"""The native core of dcom_detect (a thin binding of the Rust engine, dcom-detect-core).

Import from :mod:`dcom_detect`, not from here.
"""

import os
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any, Literal, final, overload

import numpy
import numpy.typing
import pandas

from ._types import (
    ArrowData,
    BranchName,
    CaseFolding,
    ColumnMapping,
    Event,
    ExceptionsSource,
    CorrelationRuleInfo,
    CorrelatorStatsDict,
    RuleMetadata,
    RecordSource,
    ScanSource,
    StatsDict,
)

__all__ = [
    "__version__",
    "EQL_SOURCE",
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
    "rule_metadata",
    "correlation_rules",
]

__version__: str
"""The package version."""

EQL_SOURCE: str
"""The rule's EQL text, byte for byte as Elastic ships it."""

def rule_metadata() -> RuleMetadata:
    """The rule's metadata as a new dict (the same as ``Rule().metadata``)."""

def correlation_rules(profile: Literal["seed", "elastic", "extended"] = "extended") -> list[CorrelationRuleInfo]:
    """A profile's stateful rules (``docs/correlation.md``), in order; none for ``"seed"``.
    For each, ``rule`` (``"D2"``, ``"D2L"``, ``"D3"``; ``"mmc20"``, ``"shellwindows"``,
    ``"hta"``), ``id``, ``name``, ``description``, ``severity``, ``risk_score`` and ``eql``
    (ours: one sequence per order of its events, EQL a user can paste into Kibana; Elastic's:
    verbatim).

    Raises:
        ValueError: an unknown profile."""


@final
class Rule:
    """Elastic's DCOM lateral-movement rule (MITRE ATT&CK T1021.003), compiled.

    Evaluation follows Elasticsearch exactly: ``==`` is case-sensitive, ``in~`` and ``:``
    fold case as ``case_folding`` says, any value of a multi-valued field can satisfy a
    comparison, dotted and nested keys name the same field, and raw Sysmon event 1 and
    Security event 4688 documents are mapped as Winlogbeat would map them.

    Exceptions (tuning, ``docs/exceptions.md``) suppress the alerts of known-good activity:
    an event on which the rule fires and which satisfies every entry of some exception item
    raises no alert, but is never dropped silently: its verdict names the item
    (:attr:`Verdict.suppressed_by`) and scans list it (:attr:`Scan.suppressed`) and count it
    (``ScanStats.suppressed``).

    One vocabulary in every door (Rust, Python, C): a branch *fires* when its condition holds;
    an event *matches*, which is the same as *raises an alert*, when a branch fires and no
    exception item suppresses it. ``matches``, ``match_many`` and ``bool(verdict)`` answer
    "alert?"; :attr:`Verdict.fired` and ``match_arrow(branches=True)`` say what fired.

    A rule is immutable, cheap to build, picklable (with its exceptions), and may be shared
    by any number of threads; ``match_many``, ``scan`` and ``validate`` release the
    interpreter while they work. Two rules are equal when their case folding is the same and
    their exceptions are the same JSON (however they were given).

    Args:
        exceptions: an exceptions file, compiled once here: a path (``str`` or
            ``os.PathLike``); its JSON as ``bytes``; its JSON as a ``str`` — a ``str`` is
            JSON text when, after leading whitespace, it starts with ``{`` or ``[``, and a
            path otherwise; or the structure ``json.load`` returns (a ``dict`` or a
            ``list``, serialised to JSON exactly as events are). None (the default): no
            exceptions.
        case_folding: ``"ascii"`` (the default, what Elasticsearch has long done) or
            ``"unicode_simple"`` (Lucene 10.5 builds: KELVIN SIGN ≡ k, É ≡ é, …). It also
            applies to the ``matches`` operator of exceptions.

    Raises:
        ExceptionsFileError: the exceptions are not a valid exceptions file; the message
            (and the attributes) name the item, entry and field at fault.
        UnreadableInputError: the exceptions file cannot be read (missing, a directory, no
            permission).
        TypeError: ``exceptions`` or ``case_folding`` has an unsupported type, or the
            exceptions structure holds a value JSON cannot represent.
        ValueError: ``case_folding`` is not one of the two names.
    """

    def __new__(cls, *, exceptions: ExceptionsSource | None = None, case_folding: CaseFolding = "ascii") -> Rule: ...
    @property
    def source(self) -> str:
        """The rule's EQL text, byte for byte as Elastic ships it."""
    @property
    def case_folding(self) -> CaseFolding:
        """The case folding of ``in~`` and ``:``."""
    @property
    def exceptions(self) -> tuple[ExceptionItem, ...]:
        """The exception items (name and description), in file order; empty without
        exceptions."""
    @property
    def metadata(self) -> RuleMetadata:
        """The rule's metadata as a new dict: id, name, description, severity, risk score,
        version, MITRE ATT&CK tactic / technique / sub-technique (ids, names, references),
        references, data sources, known false positives and branch names."""
    def evaluate(self, event: Event) -> Verdict:
        """Evaluates the rule on one event.

        Args:
            event: a dict, or the event's JSON text as ``str`` / ``bytes``. All three give
                the same verdict: a dict is serialised to JSON and read by the same decoder.

        Returns:
            The verdict: truthy when the event raises an alert, with the branches that
            fired, the values that fired them, and the exception item that suppressed the
            alert (``suppressed_by``) if one did.

        Raises:
            BadEventError: the event is not a valid JSON object as Elasticsearch would index
                it (malformed JSON, duplicate keys, NaN, …); ``offset`` says where.
            TypeError: ``event`` is not a dict, str or bytes, or a dict holds a key that is
                not a str or a value JSON cannot represent (the message names its path).
        """
    def matches(self, event: Event) -> bool:
        """Whether the event raises an alert: the rule fires and no exception item
        suppresses it (``bool(evaluate(event))``, a little faster).

        Raises the same errors as :meth:`evaluate`.
        """
    def match_many(self, events: Iterable[Event]) -> list[bool]:
        """Whether each event raises an alert (as :meth:`matches`), in order.

        Events are converted to JSON with the interpreter held, then decoded and matched in
        batches with it released, so other Python threads run meanwhile.

        Raises:
            BadEventError: an event could not be read; ``index`` is its position.
            TypeError: ``events`` is not an iterable (or is a single event), or an event has
                an unsupported type.
        """
    def scan(
        self,
        source: ScanSource,
        *,
        progress: bool = False,
        threads: int = 0,
        prefilter: bool = True,
        include_original: bool = False,
        columns: ColumnMapping | None = None,
        retain: int = 1000,
        profile: Literal["seed", "elastic", "extended"] = "seed",
    ) -> Scan:
        """Scans files, folders of them, standard input or a binary file object, and yields
        an :class:`Alert` per match, lazily.

        Every file is recognised by its content, never its name: gzip (``1f 8b``; NDJSON
        inside), EVTX (``ElfFile``), Parquet (``PAR1``; each row an event, read through the
        same Arrow path as :meth:`match_arrow`, reported by 1-based ``row``), anything else
        NDJSON. A path is never taken for a record: records go to :meth:`scan_records`.

        Args:
            source: a path (``str`` or ``os.PathLike``) to a file or a directory; a list,
                tuple or other iterable of such paths (``glob.glob("logs/*.evtx")``,
                ``Path("logs").rglob("*.gz")``), scanned in the order given; ``"-"`` for
                standard input; or a binary file object (``read(n)`` returning bytes; gzip
                recognised too). A directory is walked recursively, its entries in sorted
                order; in it, files whose content is none of the formats (a README, a binary)
                or that cannot be read are skipped, counted (``stats.skipped_files``) and
                named (:attr:`Scan.skipped`, :meth:`Scan.events`). Symlinked directories are
                walked once, so a symlink loop ends.
            progress: show a tqdm progress bar (bytes read) with the number of alerts so far.
            threads: worker threads for NDJSON and EVTX: 0 = one per core, 1 = the scan
                thread alone.
            prefilter: skip, without parsing them, lines that cannot match and are plainly
                one JSON object (sound; truncated, binary and non-object lines are still
                parsed and rejected, but a syntax error or duplicate key inside a
                well-framed line that cannot match is counted as not matched rather than
                rejected).
            include_original: embed each matching record in its alert as
                ``event.original``.
            columns: for Parquet files, where the fields are when their columns are not
                named by ECS path (see :meth:`match_arrow`).
            retain: how many rejected records, suppressed matches and skipped files (the
                first ones, each) iterating the scan for alerts keeps in
                :attr:`Scan.rejected`, :attr:`Scan.suppressed` and :attr:`Scan.skipped`;
                the counts in :attr:`Scan.stats` are exact whatever it is. Iterate
                :meth:`Scan.events` to see every one.
            profile: ``"seed"`` (default): the rule alone. ``"elastic"``: also Elastic's
                three DCOM sequence rules (MMC20, ShellWindows, MSHTA), verbatim, with
                Elasticsearch's sequence semantics. ``"extended"``: also the
                correlation rules (``docs/correlation.md``): D2 and D2L (a COM server
                started for a remote activation, with an inbound connection or in a network
                logon session) and D3 (an inbound connection to explorer.exe and its child),
                each alert anchored on its process start (:attr:`Alert.correlation` names
                the rule, ``stats.correlations`` counts them). Their state spans every file
                of the scan, in the order given; every record is decoded (the prefilter is
                not used). NDJSON, gzip and EVTX inputs and iterables of records; Parquet
                rows are matched by the seed rule only.

        Returns:
            A :class:`Scan`: iterate it for alerts, or its :meth:`Scan.events` for every
            result in input order; its ``stats`` count everything. Memory stays bounded
            whatever the number of alerts, rejected records or suppressed matches.

        Raises:
            ValueError: ``profile`` is none of ``"seed"``, ``"elastic"``, ``"extended"``.

        Raises:
            UnreadableInputError: a path does not exist or cannot be opened (raised here);
                an I/O error or corrupt gzip data later is raised by the iteration, after
                the alerts found before it.
            TypeError: ``source`` is none of the above: records (a dict, JSON text, a list of
                dicts) go to :meth:`scan_records`; bytes data: wrap it in ``io.BytesIO``; a
                text file object: open it in binary mode.
        """
    def scan_records(
        self,
        records: RecordSource,
        *,
        progress: bool = False,
        include_original: bool = False,
        retain: int = 1000,
        profile: Literal["seed", "elastic", "extended"] = "seed",
    ) -> Scan:
        """Scans records and yields an :class:`Alert` per match, lazily (``profile`` as in
        :meth:`scan`).

        Args:
            records: an iterable of records, each item one event (a dict, or a JSON line as
                ``str`` / ``bytes``), numbered from 1 (``line``). Blank items are counted as
                blank lines; an item of another type is a rejected record.
            progress: show a tqdm progress bar (records) with the number of alerts so far.
            include_original: embed each matching record in its alert as
                ``event.original``.
            retain: as for :meth:`scan`.

        Returns:
            A :class:`Scan`, as :meth:`scan` returns.

        Raises:
            TypeError: ``records`` is a path, a file object, one record instead of an
                iterable of them, or a list whose first item is a path: files go to
                :meth:`scan`.
        """
    @overload
    def match_arrow(
        self,
        data: ArrowData,
        *,
        columns: ColumnMapping | None = None,
        branches: Literal[False] = False,
        threads: int = 0,
    ) -> numpy.typing.NDArray[numpy.bool_]:
        """Whether each row of a table raises an alert (as :meth:`matches` on that row as an
        ECS event), reading the strings in place from the Arrow buffers.

        The rows are events and the columns their fields, found by ECS path: a flat column
        named ``process.parent.name``, nested structs (``process`` → ``parent`` → ``name``),
        or both at once (the field then has both values, as in a JSON document). String
        columns may be ``string``, ``large_string`` or ``string_view`` (polars' strings), or
        dictionaries of these (categoricals); lists of them (``list``, ``large_list``,
        ``fixed_size_list``, nested) are multi-valued fields such as ``event.category``; lists
        of structs flatten like arrays of objects; booleans and integers read as their JSON
        text (``true``, ``4688``); a ``null``-typed column, a null at any level and a missing
        column are no value. The rule's semantics are the engine's, exactly as for JSON
        events (``ignore_above``, case folding, any value of a multi-valued field). Tables are
        read as ECS: the raw Sysmon / 4688 mapping of JSON events does not apply.

        Args:
            data: a pyarrow ``Table``, ``RecordBatch``, ``RecordBatchReader`` or ``ChunkedArray``
                of structs, a polars ``DataFrame``, a pandas ``DataFrame`` (through pyarrow),
                or anything else with ``__arrow_c_stream__`` (preferred) or
                ``__arrow_c_array__`` whose arrays are structs (tables). Read once, batch by
                batch; a stream is consumed.
            columns: where fields are when their columns are not named by ECS path: ECS path →
                column path (dotted, resolved the same way), e.g. ``{"process.name":
                "image_name"}``. A mapped field is read from that column only.
            branches: also return, per row, the bits of the branches that fired (1 =
                office_child, 2 = dcomcnfg, 4 = dcom_command_line; as :attr:`Verdict.bits`,
                so set also when an exception item suppressed the alert).
            threads: threads that match the rows (0, the default: one per core; at most
                one per 16,384 rows). Consecutive batches are matched together, so a table
                of many small chunks keeps every thread busy too. Results are in row order
                whatever the count.

        Returns:
            A numpy ``bool`` array with one element per row (True: the row raises an alert),
            writable and owned by the caller; with ``branches=True``, a tuple of it and a
            numpy ``uint8`` array of branch bits. Use it to filter: ``table.filter(mask)``,
            ``frame[mask]``, ``polars_frame.filter(mask)``.

        The matching runs with the interpreter released (on ``threads`` threads) and creates no Python object per row;
        the data is not copied (the two result arrays are one byte per row each).

        Raises:
            ColumnError: a column the rule reads has a type it cannot read as text (floats,
                binary, temporal, …) or the wrong shape (a struct where a value is read, or a
                value where a struct is), or a column named in ``columns`` is missing.
            TypeError: ``data`` does not export Arrow data, its arrays are not tables
                (structs), or ``columns`` is not a mapping of str to str.
            ImportError: numpy is not installed (or pyarrow, for a pandas DataFrame that
                needs it).
        """
    @overload
    def match_arrow(
        self,
        data: ArrowData,
        *,
        columns: ColumnMapping | None = None,
        branches: Literal[True],
        threads: int = 0,
    ) -> tuple[numpy.typing.NDArray[numpy.bool_], numpy.typing.NDArray[numpy.uint8]]: ...
    def match_frame(self, frame: Any, *, columns: ColumnMapping | None = None, threads: int = 0) -> Any:
        """Whether each row of a pandas or polars DataFrame raises an alert, as a boolean
        Series of the same kind: pandas (same index, name ``"dcom_detect"``; needs
        pyarrow) or polars (name ``"dcom_detect"``). ``frame[rule.match_frame(frame)]``
        keeps the matching rows. See :meth:`match_arrow` for the columns it reads.

        Raises:
            TypeError: ``frame`` is neither a pandas nor a polars DataFrame.
            ColumnError: as :meth:`match_arrow`.
        """
    def alerts_arrow(
        self,
        data: ArrowData,
        *,
        columns: ColumnMapping | None = None,
        file: str | None = None,
        first_row: int | None = 1,
        include_original: bool = False,
    ) -> list[Alert]:
        """The ECS alert of every row of a table that raises one, in row order: rows are
        matched as by :meth:`match_arrow`, and each matching row is written as a JSON
        record (every column; structs as objects, lists as arrays, nulls left out, a field
        read through ``columns`` under its ECS path) from which the engine's alert writer
        builds the same alert as for that JSON event.

        Args:
            data, columns: as :meth:`match_arrow`.
            file: the source to name in the alerts (``log.file.path``, ``Alert.file``).
            first_row: the number of the first row (rows are reported as
                ``Alert.row`` / ``dcom_detect.source.row``); None: no position in the
                alerts (for batches that are part of something larger, as in Spark).
            include_original: embed each row's JSON record as ``event.original``.

        Raises the same errors as :meth:`match_arrow`.
        """
    def correlator(self, *, profile: Literal["elastic", "extended"] = "extended", include_original: bool = False) -> Correlator:
        """A stateful correlation run with this rule: ``Correlator(self, profile=...)``.

        Feed it records (:meth:`Correlator.feed`) or Arrow batches
        (:meth:`Correlator.feed_arrow`) in input order, as they arrive; each call returns the
        correlation alerts it completes, :meth:`Correlator.finish` the rest.

        Raises:
            ValueError: ``profile`` is not a correlation profile (``"seed"`` has none).
        """
    def validate(self, paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None = None) -> ValidationReport:
        """Runs the validation report with this rule (its case folding and exceptions).

        The report evaluates the bundled validation events — the process starts each test of
        the rule's testing methodology produces (MMC20.Application, ShellWindows,
        ShellBrowserWindow, dcomcnfg, Excel.Application, …) in ECS, Sysmon 1 and Security
        4688 form — against the verdict the rule as written must give, and explains what it
        misses and why. Given paths (files, or folders searched for ``.ndjson``, ``.jsonl``,
        ``.json``, ``.gz`` and ``.evtx`` files, such as ``../shared/realdata``), it scans
        every record of them too and compares what fired with the folder's ``labels.json``
        when there is one.

        Raises:
            UnreadableInputError: a path cannot be read (or its ``labels.json`` is not
                valid JSON).
            TypeError: ``paths`` is not a path or an iterable of paths.
        """
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    def __getnewargs_ex__(self) -> tuple[tuple[()], dict[str, Any]]: ...

@final
class ExceptionItem:
    """One item of a rule's exceptions (see :attr:`Rule.exceptions`)."""

    @property
    def name(self) -> str:
        """The item's name, as verdicts, suppressed records and the command line report it."""
    @property
    def description(self) -> str | None:
        """The item's description, or None."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class OfficeChild:
    """Why ``office_child`` fired: a COM host (MMC or an Office application) started a
    script host or LOLBin."""

    @property
    def parent_name(self) -> str:
        """The ``process.parent.name`` value found in the COM host list."""
    @property
    def name(self) -> str:
        """The ``process.name`` value found in the child list."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class DcomCommandLine:
    """Why ``dcom_command_line`` fired: command line values matching ``*DCOM*`` and
    ``*-Exec*`` (two different values when the field has several)."""

    @property
    def dcom(self) -> str:
        """The value that matched ``*DCOM*``."""
    @property
    def exec(self) -> str:
        """The value that matched ``*-Exec*``."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Verdict:
    """The rule's verdict on one event. Truthy when the event raises an alert: some branch
    fired and no exception item suppressed it.

    For each branch that fired, the first value (in document order) that satisfied it is
    reported, also when the alert was suppressed.
    """

    @property
    def matched(self) -> bool:
        """Whether the event raises an alert (``bool(verdict)``): ``fired`` and not
        suppressed."""
    @property
    def fired(self) -> bool:
        """Whether any branch fired, whether or not an exception item suppressed the
        alert."""
    @property
    def suppressed_by(self) -> str | None:
        """The name of the exception item that suppressed the alert (the first item, in file
        order, whose entries all hold), or None."""
    @property
    def branches(self) -> tuple[BranchName, ...]:
        """The branches that fired, in rule order."""
    @property
    def bits(self) -> int:
        """The branches as a bit set: 1 = office_child, 2 = dcomcnfg, 4 = dcom_command_line."""
    @property
    def office_child(self) -> OfficeChild | None:
        """The parent and child names that fired ``office_child``, or None."""
    @property
    def dcomcnfg(self) -> str | None:
        """The ``process.name`` that fired ``dcomcnfg``, or None."""
    @property
    def dcom_command_line(self) -> DcomCommandLine | None:
        """The command line values that fired ``dcom_command_line``, or None."""
    @property
    def schema(self) -> str:
        """How the event was read: ``ecs``, or ``<event>/<wrapper>`` for a raw Windows event
        (``sysmon_1/winlogbeat``, ``security_4688/flat``, ``sysmon_1/evtx``, …)."""
    def __bool__(self) -> bool: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Scan(Iterator[Alert]):
    """A scan in progress (see :meth:`Rule.scan`). Iterate it for alerts, in input order.

    The scan runs on its own thread and sends alerts, rejected records, suppressed matches
    and skipped files, in input order, through one channel that pauses it when 256 items
    wait unread, so memory stays bounded whatever the input. Iterating yields the alerts and
    keeps the first ``retain`` of the other items; :meth:`events` yields them all.
    ``stats`` can be read at any time. Use it as a context
    manager, or call :meth:`close`, to stop early. Iteration raises
    :class:`UnreadableInputError` if the input fails mid-way (after the alerts before the
    failure); Ctrl-C interrupts a waiting iteration.
    """

    def __iter__(self) -> Scan: ...
    def __next__(self) -> Alert: ...
    @property
    def stats(self) -> ScanStats:
        """The counts. Final once ``done`` (``complete`` says whether the whole input was
        read). While a file or stream is being scanned, ``matched``, ``suppressed``,
        ``rejected`` and ``bytes`` are current and the other counts arrive at the end; for
        an iterable, every count is current."""
    @property
    def rejected(self) -> list[Rejected]:
        """The first ``retain`` records that could not be read, among those the iteration
        has passed, in input order (a new list; ``stats.rejected`` counts them all)."""
    @property
    def suppressed(self) -> list[Suppressed]:
        """The first ``retain`` records on which the rule fired but an exception item
        suppressed the alert, among those the iteration has passed, in input order (a new
        list; ``stats.suppressed`` counts them all). They raise no alert."""
    @property
    def skipped(self) -> list[Skipped]:
        """The first ``retain`` files skipped while walking the paths, among those the
        iteration has passed (a new list; ``stats.skipped_files`` counts them all)."""
    @property
    def retain(self) -> int:
        """How many rejected records, suppressed matches and skipped files (each) iterating
        for alerts keeps."""
    def events(self) -> ScanEvents:
        """Every result of the scan in input order: :class:`Alert`, :class:`Rejected`,
        :class:`Suppressed` and :class:`Skipped` items, through the same bounded channel as
        the alerts. Items it yields are not kept in ``rejected`` / ``suppressed`` /
        ``skipped``. Iterating the scan and its events share one stream: an item goes to
        whichever asks first."""
    @property
    def done(self) -> bool:
        """Whether the scan has finished (input read to its end, failed, or closed)."""
    def close(self) -> None:
        """Stops the scan (the rest of the input is not read) and closes the progress bar."""
    def to_pandas(self) -> pandas.DataFrame:
        """Runs the scan to its end and returns its alerts as a DataFrame (see
        :func:`dcom_detect.alerts_to_frame`). Needs pandas.

        Raises:
            RuntimeError: some alerts were already taken from this scan.
        """
    def __enter__(self) -> Scan: ...
    def __exit__(
        self,
        *_exc: type[BaseException] | BaseException | TracebackType | None,
    ) -> bool: ...

@final
class Alert:
    """One ECS alert (``docs/semantics.md`` §9), written by the engine's ``AlertWriter``: byte for byte the
    same JSON as the command line, the Rust API and the C API write for the same record.

    Renders as a card in Jupyter.
    """

    @property
    def json(self) -> str:
        """The alert as one line of JSON (no newline)."""
    @property
    def correlation(self) -> Literal["D2", "D2L", "D3", "mmc20", "shellwindows", "hta"] | None:
        """For the alert of a stateful rule, its name: ``"D2"``, ``"D2L"``, ``"D3"``
        (``profile="extended"``) or ``"mmc20"``, ``"shellwindows"``, ``"hta"``
        (``profile="elastic"``); None for the seed rule's alerts."""
    def to_dict(self) -> dict[str, Any]:
        """The alert as a new dict: ``@timestamp``, ``event``, ``rule``, ``threat``, the
        event's ``host`` / ``user`` / ``process``, ``log`` and ``dcom_detect`` (branches,
        evidence, severity, schema, source)."""
    @property
    def branches(self) -> tuple[BranchName, ...]:
        """The branches that fired, in rule order."""
    @property
    def bits(self) -> int:
        """The branches as a bit set: 1 = office_child, 2 = dcomcnfg, 4 = dcom_command_line."""
    @property
    def file(self) -> str | None:
        """The file the event came from (``-`` for standard input, a file object's
        ``name``), or None."""
    @property
    def position(self) -> str | None:
        """Where the event is: ``line 3 (byte 1200)``, ``record 7 (EventRecordID 9833)`` or
        ``row 12``; None for an alert of :meth:`Rule.alerts_arrow` with ``first_row=None``."""
    @property
    def line(self) -> int | None:
        """1-based line (NDJSON) or item number (iterables), or None for EVTX."""
    @property
    def offset(self) -> int | None:
        """Byte offset of the line's start (decompressed), or None for EVTX."""
    @property
    def record(self) -> int | None:
        """1-based position of the record in an EVTX file, or None."""
    @property
    def record_id(self) -> int | None:
        """The EVTX record's ``EventRecordID``, or None."""
    @property
    def row(self) -> int | None:
        """1-based row of a table (Parquet file, :meth:`Rule.alerts_arrow`), or None."""
    @property
    def timestamp(self) -> str | None:
        """The event's time (``@timestamp`` of the alert), or None."""
    @property
    def host(self) -> str | None:
        """``host.name`` (or ``host.hostname``) of the event, or None."""
    @property
    def user(self) -> str | None:
        """``domain\\name`` (or just the name) of the event's user, or None."""
    def _repr_html_(self) -> str:
        """An HTML card for Jupyter."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Rejected:
    """A record a scan could not read, and why. ``str()`` gives a one-line report."""

    @property
    def file(self) -> str | None:
        """The file (``-`` for standard input), or None."""
    @property
    def position(self) -> str:
        """Where the record is, e.g. ``line 9 (byte 5120)``."""
    @property
    def line(self) -> int | None:
        """1-based line (NDJSON) or item number (iterables), or None for EVTX."""
    @property
    def offset(self) -> int | None:
        """Byte offset of the line's start, or None for EVTX."""
    @property
    def record(self) -> int | None:
        """1-based position in an EVTX file, or None."""
    @property
    def record_id(self) -> int | None:
        """The EVTX ``EventRecordID``, when it could be read, or None."""
    @property
    def row(self) -> int | None:
        """1-based row of a Parquet file, or None."""
    @property
    def reason(self) -> str:
        """Why the record was rejected (malformed JSON, duplicate key, …)."""
    @property
    def error_offset(self) -> int | None:
        """Byte offset inside the record where reading failed, when known."""

@final
class ScanEvents(Iterator[Alert | Rejected | Suppressed | Skipped]):
    """:meth:`Scan.events`: every result of a scan, in input order."""

    def __iter__(self) -> ScanEvents: ...
    def __next__(self) -> Alert | Rejected | Suppressed | Skipped: ...
    @property
    def scan(self) -> Scan:
        """The scan."""

@final
class Skipped:
    """A file a scan of paths did not read, and why. ``str()`` gives ``path: reason``."""

    @property
    def path(self) -> str:
        """The file's path (as found by walking the directory given)."""
    @property
    def reason(self) -> str:
        """Why: its content is none of the formats, it could not be read, ..."""
    @property
    def unreadable(self) -> bool:
        """Whether it could not be read (or its format is not built in), rather than holding
        no events."""

@final
class Suppressed:
    """A record on which the rule fired but an exception item suppressed the alert. ``str()``
    gives a one-line report: ``file: line 3 (byte 120): office_child suppressed by 'item'``."""

    @property
    def file(self) -> str | None:
        """The file (``-`` for standard input), or None."""
    @property
    def position(self) -> str:
        """Where the record is, e.g. ``line 9 (byte 5120)``."""
    @property
    def line(self) -> int | None:
        """1-based line (NDJSON) or item number (iterables), or None for EVTX."""
    @property
    def offset(self) -> int | None:
        """Byte offset of the line's start, or None for EVTX."""
    @property
    def record(self) -> int | None:
        """1-based position in an EVTX file, or None."""
    @property
    def record_id(self) -> int | None:
        """The EVTX ``EventRecordID``, or None."""
    @property
    def row(self) -> int | None:
        """1-based row of a Parquet file, or None."""
    @property
    def branches(self) -> tuple[BranchName, ...]:
        """The branches that fired, in rule order."""
    @property
    def bits(self) -> int:
        """The branches as a bit set: 1 = office_child, 2 = dcomcnfg, 4 = dcom_command_line."""
    @property
    def item(self) -> str:
        """The name of the exception item that suppressed the alert."""
    @property
    def item_index(self) -> int:
        """The item's index in :attr:`Rule.exceptions`."""

@final
class ScanStats:
    """The counts of a scan. They add up:
    ``records == matched + suppressed + not_matched + rejected``."""

    @property
    def records(self) -> int:
        """Records read: non-blank lines, EVTX records or items."""
    @property
    def matched(self) -> int:
        """Records on which the rule fired and raised an alert."""
    @property
    def suppressed(self) -> int:
        """Records on which the rule fired but an exception item suppressed the alert
        (listed in :attr:`Scan.suppressed`)."""
    @property
    def not_matched(self) -> int:
        """Records on which it did not."""
    @property
    def prefiltered(self) -> int:
        """Of ``not_matched``: records the prefilter ruled out without parsing them."""
    @property
    def rejected(self) -> int:
        """Records that could not be read."""
    @property
    def blank_lines(self) -> int:
        """Blank lines (not records)."""
    @property
    def bytes(self) -> int:
        """Input bytes (decompressed NDJSON; for EVTX, the JSON rendering of the records)."""
    @property
    def files(self) -> int:
        """Files (and streams) scanned."""
    @property
    def skipped_files(self) -> int:
        """Files skipped while walking the paths (named by :attr:`Scan.skipped` and
        :meth:`Scan.events`)."""
    @property
    def correlations(self) -> int:
        """Alerts of the profile's stateful rules (``elastic`` or ``extended``); not in
        ``matched``."""
    @property
    def complete(self) -> bool:
        """Whether the input was read to its end (False while running, after an input
        error, or when the scan was closed early)."""
    def to_dict(self) -> StatsDict:
        """The counts as a dict."""
    def __eq__(self, other: object, /) -> bool: ...

@final
class Correlator:
    """A stateful run of the correlation rules (``profile="extended"``: D2, D2L, D3; see
    ``docs/correlation.md``) for notebooks and pipelines: core's correlation session, fed
    events in input order, a call at a time.

    Each :meth:`feed` / :meth:`feed_arrow` returns the correlation alerts the events fed
    complete (a correlation is reported once its window and the allowed lateness have passed,
    so usually by a later call); :meth:`finish` returns the rest at the end of the input.
    The alerts are those ``Rule.scan_records(records, profile="extended")`` raises for the
    same events, byte for byte (Arrow rows: for the rows' JSON records): anchored on
    the process start, whose ``dcom_detect.source`` is its position among everything this
    correlator was fed, counted from 1 across calls (``line`` and ``offset`` for records,
    ``row`` for Arrow rows).

    Events must be fed per host in time order, up to the allowed lateness (60 s); across
    hosts any interleaving works. Memory is bounded (4096 hosts, 256 pending items of each
    kind per host) whatever the input's length; :attr:`stats` counts every eviction and late
    event that could hide a correlation. Not for use by several threads at once.

    >>> import dcom_detect
    >>> correlator = dcom_detect.Rule().correlator()
    >>> correlator.feed([{"@timestamp": "2024-01-01T00:00:00Z", "host": {"name": "a"}}])
    []
    >>> correlator.finish()
    []
    >>> correlator.stats.records
    1
    """

    def __new__(
        cls, rule: Rule | None = None, *, profile: Literal["elastic", "extended"] = "extended", include_original: bool = False
    ) -> Correlator:
        """A correlator for ``rule`` (default ``Rule()``; its case folding and field paths
        apply; exceptions tune the seed rule only).

        Args:
            rule: the rule.
            profile: ``"extended"`` (the correlation rules D2, D2L, D3) or ``"elastic"``
                (Elastic's three DCOM sequence rules).
            include_original: embed each alert's anchor record as ``event.original``.

        Raises:
            ValueError: ``profile`` is not a correlation profile.
        """
    @property
    def profile(self) -> Literal["elastic", "extended"]:
        """The profile this correlator runs."""
    @property
    def include_original(self) -> bool:
        """Whether alerts carry their anchor's record as ``event.original``."""
    @property
    def fed(self) -> int:
        """Records and rows fed so far (the next one is number ``fed + 1``)."""
    @property
    def finished(self) -> bool:
        """Whether :meth:`finish` was called."""
    @property
    def stats(self) -> CorrelatorStats:
        """The counts so far (readable after :meth:`finish` too)."""
    def feed(self, records: Event | Iterable[Event]) -> list[Alert]:
        """Feeds records in input order: one record (a dict, or a JSON line as ``str`` /
        ``bytes``) or an iterable of them, each serialised as :meth:`Rule.scan_records`
        serialises it.

        Returns:
            The correlation alerts completed so far, in the order the engine reports them.

        Raises:
            TypeError: an item is not a record (the message names its index).
            BadEventError: a record is not a JSON object the engine reads. The records
                before it were fed, and the alerts they completed are returned by the next
                call; the ones after it were not fed.
            RuntimeError: the correlator is finished.
        """
    def feed_arrow(self, data: ArrowData, *, columns: ColumnMapping | None = None) -> list[Alert]:
        """Feeds Arrow data in input order, row after row: a pyarrow ``RecordBatch``,
        ``Table`` or ``RecordBatchReader``, a polars or pandas DataFrame, or any Arrow
        PyCapsule producer, as :meth:`Rule.alerts_arrow` reads them. Each row is read as the
        JSON record :meth:`Rule.alerts_arrow` writes (flat ``process.parent.name`` columns
        and nested structs alike; timestamps as RFC 3339 text); the correlation reads
        ``@timestamp``, ``host``, ``event``, ``process`` (names, pids, entity ids, args),
        ``source``, ``destination``, ``network`` and ``winlog.logon``.

        Args:
            data: the rows.
            columns: as :meth:`Rule.match_arrow`, for the rule's fields.

        Returns:
            The correlation alerts completed so far.

        Raises:
            ColumnError, TypeError, ValueError: as :meth:`Rule.alerts_arrow`.
            BadEventError: a row's record could not be read (the rows before it were fed).
            RuntimeError: the correlator is finished.
        """
    def finish(self) -> list[Alert]:
        """Ends the input and returns the alerts of what the correlator still held.

        Raises:
            RuntimeError: already finished.
        """

@final
class CorrelatorStats:
    """The counts of a :class:`Correlator`: what was fed, and what the engine reports
    (late events, early releases, evictions: everything that could hide a correlation)."""

    @property
    def records(self) -> int:
        """Records and rows fed."""
    @property
    def blank(self) -> int:
        """Blank records (counted, skipped)."""
    @property
    def observations(self) -> int:
        """Records that gave the correlation something (a process start, an inbound
        connection, a network logon, with a host and a time)."""
    @property
    def correlations(self) -> int:
        """Correlations found."""
    @property
    def alerts(self) -> int:
        """Correlation alerts returned (or ready for the next call)."""
    @property
    def late(self) -> int:
        """Observations older than what their host had already evaluated (beyond the allowed
        lateness): their partners may have expired."""
    @property
    def released_early(self) -> int:
        """Observations evaluated before the lateness had passed (a full reorder buffer)."""
    @property
    def evicted_pending(self) -> int:
        """Pending items pushed out by newer ones (a full host)."""
    @property
    def evicted_hosts(self) -> int:
        """Hosts evicted for new ones, with everything they held."""
    @property
    def unaligned(self) -> int:
        """Local-time events of a host whose clock offset was not yet known."""
    @property
    def rewinds(self) -> int:
        """Times a host's time jumped back by more than an hour and its state started
        afresh."""
    @property
    def side_guessed(self) -> int:
        """Sysmon 3 connections whose local end was guessed."""
    @property
    def unwritten(self) -> int:
        """Correlations whose alert could not be written."""
    @property
    def lossy(self) -> bool:
        """Whether anything that could hide a correlation happened (late, released early,
        evicted, unwritten)."""
    def to_dict(self) -> CorrelatorStatsDict:
        """The counts as a dict."""

@final
class ValidationReport:
    """The validation report of :meth:`Rule.validate`: per methodology test and step what
    was expected and what fired in each form, per recording what fired and what its labels
    expected, and, for what the rule as written misses, why (for example: ShellWindows runs
    its command through the already running explorer.exe, which is not a listed parent).
    ``str()`` is the table."""

    @property
    def ok(self) -> bool:
        """Whether every verdict is the expected one (every step in every form, every
        labelled recording) and no record was rejected."""
    @property
    def table(self) -> str:
        """The report as a table for people."""
    @property
    def json(self) -> str:
        """The report as one line of JSON, for CI: ``ok``, ``methodology`` (test, step,
        expected, fired per form, agrees, why_not_fired) and ``recordings`` (file, records,
        fired, expected, rejected, dcom_missed)."""
    def to_dict(self) -> dict[str, Any]:
        """The report as a new dict (parsed from ``json``)."""
