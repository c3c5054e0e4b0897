"""The ``dcom-detect`` command: scan files for the rule, validate the rule, or print it.

Usage::

    dcom-detect scan [options] [--exceptions FILE] PATH...  # alerts as NDJSON on stdout, summary on stderr
                                                            # (NDJSON, gzip, EVTX or Parquet files,
                                                            # recognised by content; folders walked)
    dcom-detect validate [--json] [--exceptions FILE] [PATH...]  # the validation report
    dcom-detect rule [--json] [--exceptions FILE]           # the EQL text, metadata, exception items
    dcom-detect rule --guide [--profile P]                  # the triage guides (docs/triage/)

Exit codes of ``scan`` (also in ``dcom-detect scan --help``):

====  ==========================================================================
0     every input was scanned; no alerts
1     every input was scanned; at least one alert
2     usage error (unknown option, missing argument), or the exceptions file is
      invalid or cannot be read (nothing is scanned)
3     an input could not be read (missing file, I/O error, corrupt gzip); the other
      inputs are still scanned, and their alerts written
====  ==========================================================================

Exit codes of ``validate`` (also in ``dcom-detect validate --help``): 0 every verdict is
the expected one; 1 some verdict is not (the report says which); 2 usage error or bad
exceptions file; 3 a path could not be read.

Records that cannot be read (malformed JSON, duplicate keys, …) and records whose alert an
exception item suppressed are listed on stderr as they are met, in input order, and
counted, but do not change the exit code. In a folder, files that hold no events (by
content) are listed as skipped and counted; one that cannot be read is an unreadable input
(exit code 3). Memory stays bounded whatever the number of such records. The scanning, tuning and validation are the native engine's
(:meth:`dcom_detect.Rule.scan`, :class:`dcom_detect.Rule`, :meth:`dcom_detect.Rule.validate`);
this module only parses arguments and formats output.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import sys
import textwrap
import time
from collections.abc import Sequence
from typing import TextIO

from . import __version__
from ._errors import ExceptionsFileError, UnreadableInputError
from ._export_cli import FORMATS, print_format
from ._native import PROFILES, Alert, Rejected, Rule, ScanStats, Skipped, Suppressed, correlation_rules
from .guide import rule_guides

EXIT_NO_ALERTS = 0
EXIT_ALERTS = 1
EXIT_USAGE = 2
EXIT_UNREADABLE = 3
#: ``validate``: every verdict is the expected one / some is not.
EXIT_VALID = 0
EXIT_INVALID = 1

_SCAN_EPILOG = """\
exit codes:
  0  every input was scanned, no alerts
  1  every input was scanned, alerts found
  2  usage error, or the exceptions file is invalid or unreadable (nothing scanned)
  3  an input could not be read (the others were still scanned)
Records that cannot be read, and records whose alert an exception item suppressed, are
listed on stderr and counted in the summary; they do not change the exit code. Folders are
walked recursively in sorted order; files that hold no events are listed as skipped.
"""

_VALIDATE_EPILOG = """\
exit codes:
  0  every verdict is the expected one
  1  some verdict is not (see DISAGREES / MISSING / rejected in the report)
  2  usage error, or the exceptions file is invalid or unreadable
  3  a path could not be read
"""

_EPILOG = f"""\
scan {_SCAN_EPILOG}
validate {_VALIDATE_EPILOG}"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dcom-detect",
        description="Elastic's DCOM lateral-movement rule (MITRE ATT&CK T1021.003) with "
        "Elasticsearch's exact semantics.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dcom-detect {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    scan = commands.add_parser(
        "scan",
        help="scan NDJSON (plain or gzip), EVTX or Parquet files, folders of them, or standard input",
        description="Scan NDJSON (plain or gzip), EVTX or Parquet files (recognised by their content,\n"
        "whatever their names), folders of them (walked recursively in sorted order), or standard\n"
        "input ('-'). Writes one ECS alert per match to stdout as NDJSON (or a table with --table)\n"
        "and a summary to stderr. Parquet rows are events whose columns are ECS fields (flat\n"
        "'process.name' or nested structs); alerts name them by row.",
        epilog=_SCAN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scan.add_argument(
        "files", nargs="+", metavar="PATH", help="an input file, a folder of them, or - for standard input"
    )
    scan.add_argument("--table", action="store_true", help="write a human-readable table instead of NDJSON")
    scan.add_argument("--progress", action="store_true", help="show a progress bar on stderr")
    scan.add_argument("--stats", action="store_true", help="print detailed counts and throughput per input")
    scan.add_argument(
        "--threads",
        type=_non_negative,
        default=0,
        metavar="N",
        help="worker threads per input (default 0: one per core)",
    )
    scan.add_argument(
        "--no-prefilter",
        dest="prefilter",
        action="store_false",
        help="parse every line (also reports syntax errors and duplicate keys inside lines that could not match)",
    )
    _case_folding_option(scan)
    scan.add_argument(
        "--profile",
        choices=PROFILES,
        default="seed",
        help="seed (default): the rule alone; elastic: also Elastic's three DCOM sequence rules; extended: "
        "also the correlation rules D2, D2L and D3 (docs/correlation.md); their state spans every input given",
    )
    scan.add_argument("--include-original", action="store_true", help="embed each matching record as event.original")
    scan.add_argument(
        "--column",
        dest="columns",
        action="append",
        type=_column,
        default=[],
        metavar="FIELD=COLUMN",
        help="Parquet: read the ECS field FIELD from column COLUMN (dotted for nested); repeatable",
    )
    _exceptions_option(scan)

    validate = commands.add_parser(
        "validate",
        help="check the rule against its testing methodology and against real recordings",
        description="Evaluate the bundled validation events (the process starts of each test of the\n"
        "rule's testing methodology, in ECS, Sysmon 1 and Security 4688 form) and, given paths,\n"
        "every record of real recordings (files, or folders searched for .ndjson, .jsonl, .json,\n"
        ".gz and .evtx files, compared with the folder's labels.json). Prints what was expected,\n"
        "what fired, and why the rule as written misses what it misses.",
        epilog=_VALIDATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    validate.add_argument("paths", nargs="*", metavar="PATH", help="a recording, or a folder of them (e.g. ../shared/realdata)")
    validate.add_argument("--json", action="store_true", help="print the report as JSON (for CI) instead of a table")
    _case_folding_option(validate)
    _exceptions_option(
        validate,
        "an exceptions (tuning) file to load with the rule; the report shows what fired, "
        "whether or not an item suppressed it",
    )

    rule = commands.add_parser(
        "rule",
        help="print the rule's EQL text and metadata",
        description="Print the rule's EQL text and metadata (and the items of an exceptions file).",
    )
    rule.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    rule.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text (default), json (as --json), sigma (Sigma YAML generated from the rule definitions; "
        "with --profile also the correlation rules), or a query language converted from it by pySigma "
        "(splunk, eql, esql, lucene, kusto, sql; needs pip install 'dcom-detect[sigma]'); docs/export.md",
    )
    rule.add_argument(
        "--profile",
        choices=PROFILES,
        default="seed",
        help="elastic: also print Elastic's three DCOM sequence rules; extended: also the correlation "
        "rules D2, D2L and D3; each with its EQL",
    )
    rule.add_argument(
        "--guide",
        action="store_true",
        help="print the triage guides (Markdown, docs/triage/): the seed rule's and its three branches', "
        "and with --profile each stateful rule's (investigation, false positives, response, hunting pivots)",
    )
    _case_folding_option(rule)
    _exceptions_option(rule, "an exceptions (tuning) file: checks it and lists its items")
    return parser


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _column(text: str) -> tuple[str, str]:
    field, sep, column = text.partition("=")
    if not sep or not field or not column:
        raise argparse.ArgumentTypeError(f"expected FIELD=COLUMN, not {text!r}")
    return field, column


def _case_folding_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--case-folding",
        choices=["ascii", "unicode_simple"],
        default="ascii",
        help="case folding of in~ and : (default ascii, as Elasticsearch; unicode_simple as Lucene 10.5 builds)",
    )


_EXCEPTIONS_HELP = (
    "an exceptions (tuning) file: matches that an item of it describes raise no alert but are "
    "listed and counted (format: docs/exceptions.md)"
)


def _exceptions_option(parser: argparse.ArgumentParser, text: str = _EXCEPTIONS_HELP) -> None:
    parser.add_argument("--exceptions", metavar="FILE", type=pathlib.Path, help=text)


class _BadExceptions(Exception):
    """The exceptions file could not be loaded (already reported on stderr)."""


def _rule(args: argparse.Namespace) -> Rule:
    # A Path, never a str: a str starting with "{" would be taken for JSON text.
    try:
        return Rule(exceptions=args.exceptions, case_folding=args.case_folding)
    except (ExceptionsFileError, UnreadableInputError) as error:
        print(f"dcom-detect: error: {error}", file=sys.stderr)
        raise _BadExceptions from error


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "rule":
            return _print_rule(args, sys.stdout)
        if args.command == "validate":
            return _validate(args, sys.stdout)
        return _scan(args)
    except _BadExceptions:
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("dcom-detect: interrupted", file=sys.stderr)
        return 130


def _validate(args: argparse.Namespace, out: TextIO) -> int:
    rule = _rule(args)
    try:
        report = rule.validate(args.paths)
    except UnreadableInputError as error:
        print(f"dcom-detect: error: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    if args.json:
        json.dump(report.to_dict(), out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        out.write(report.table)
    return EXIT_VALID if report.ok else EXIT_INVALID


def _print_rule(args: argparse.Namespace, out: TextIO) -> int:
    if args.guide:
        if args.json or args.format != "text":
            sys.stderr.write("dcom-detect rule: --guide prints Markdown; with --json the metadata carries the guides\n")
            return EXIT_USAGE
        out.write(rule_guides(args.profile) + "\n")
        return EXIT_NO_ALERTS
    if args.format not in ("text", "json"):
        ok, usage = print_format(args.format, args.profile, out, sys.stderr)
        return EXIT_USAGE if usage else EXIT_NO_ALERTS if ok else EXIT_INVALID
    args.json = args.json or args.format == "json"
    rule = _rule(args)
    meta = rule.metadata
    exceptions = [{"name": item.name, "description": item.description} for item in rule.exceptions]
    if args.json:
        document: dict[str, object] = {"source": rule.source, "case_folding": rule.case_folding, "metadata": meta}
        if args.exceptions is not None:
            document["exceptions"] = exceptions
        if args.profile != "seed":
            document["correlation_rules"] = correlation_rules(args.profile)
        json.dump(document, out, indent=2)
        out.write("\n")
        return EXIT_NO_ALERTS
    threat = meta["threat"]
    wrap = textwrap.TextWrapper(width=100, initial_indent="  ", subsequent_indent="  ")
    lines = [
        meta["name"],
        "",
        rule.source,
        "",
        f"id           {meta['id']} (version {meta['version']}, ruleset {meta['ruleset']})",
        f"severity     {meta['severity']}, risk score {meta['risk_score']}, confidence {meta['confidence']}",
        f"language     {meta['language']}, case folding {rule.case_folding}",
        f"{threat['framework']}:",
        f"  tactic        {threat['tactic']['id']} {threat['tactic']['name']}  {threat['tactic']['reference']}",
        f"  technique     {threat['technique']['id']} {threat['technique']['name']}  {threat['technique']['reference']}",
        f"  sub-technique {threat['subtechnique']['id']} {threat['subtechnique']['name']}  "
        f"{threat['subtechnique']['reference']}",
        f"branches     {', '.join(meta['branches'])}",
        "references:",
        *(f"  {ref}" for ref in meta["references"]),
        "data sources:",
        *(f"  {source['name']} ({source['index']})" for source in meta["data_sources"]),
        "known false positives:",
        *(wrap.fill(fp) for fp in meta["false_positives"]),
        "description:",
        wrap.fill(meta["description"]),
    ]
    if args.exceptions is not None:
        lines.append(f"exceptions   {len(exceptions)} item{'' if len(exceptions) == 1 else 's'} from {args.exceptions}")
        described = textwrap.TextWrapper(width=100, initial_indent="     ", subsequent_indent="     ")
        for number, item in enumerate(exceptions, 1):
            lines.append(f"  {number}. {item['name']}")
            if item["description"]:
                lines.append(described.fill(item["description"]))
    if args.profile != "seed":
        for correlation in correlation_rules(args.profile):
            lines += [
                "",
                f"{correlation['rule']}: {correlation['name']}",
                f"id           {correlation['id']}",
                f"severity     {correlation['severity']}, risk score {correlation['risk_score']}",
                wrap.fill(correlation["description"]),
                "",
                correlation["eql"],
            ]
    out.write("\n".join(lines) + "\n")
    return EXIT_NO_ALERTS


class _Table:
    """Alerts as aligned text columns, one row per alert, written as they arrive."""

    COLUMNS = (("TIME", 26), ("HOST", 24), ("USER", 20), ("BRANCHES", 20), ("PARENT > PROCESS", 34))

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.width = shutil.get_terminal_size((160, 24)).columns if out.isatty() else 0
        header = "".join(name.ljust(width) for name, width in self.COLUMNS) + "COMMAND LINE  [SOURCE]"
        self.out.write(header + "\n")

    @staticmethod
    def _cell(value: object, width: int) -> str:
        text = "" if value is None else str(value)
        if len(text) >= width:
            text = text[: width - 2] + "…"
        return text.ljust(width)

    def write(self, alert: Alert) -> None:
        document = alert.to_dict()
        process = document.get("process") or {}
        parent = process.get("parent")
        if not isinstance(parent, dict):
            parent = {}
        names = f"{parent.get('name') or '?'} > {process.get('name') or '?'}"
        what = alert.correlation or "+".join(alert.branches)
        values = (alert.timestamp, alert.host, alert.user, what, names)
        row = "".join(self._cell(value, width) for value, (_, width) in zip(values, self.COLUMNS))
        number = next((n for n in (alert.line, alert.record_id, alert.row) if n is not None), "")
        where = f"{alert.file or ''}:{number}"
        rest = f"{process.get('command_line') or ''}  [{where}]"
        row += rest
        if self.width and len(row) > self.width:
            row = row[: self.width - 1] + "…"
        self.out.write(row + "\n")


def _describe(stats: ScanStats, seconds: float) -> str:
    rate = stats.bytes / seconds / 1e6 if seconds > 0 else 0.0
    return (
        f"{stats.records} records: {stats.matched} matched, {stats.suppressed} suppressed, {stats.not_matched} not matched "
        f"({stats.prefiltered} prefiltered), {stats.rejected} rejected; {stats.blank_lines} blank lines, "
        f"{stats.bytes} bytes in {seconds:.3f} s ({rate:.1f} MB/s)"
    )


def _scan(args: argparse.Namespace) -> int:
    rule = _rule(args)
    out = sys.stdout
    table = _Table(out) if args.table else None
    totals = {
        "records": 0,
        "matched": 0,
        "suppressed": 0,
        "rejected": 0,
        "files": 0,
        "skipped_files": 0,
        "correlations": 0,
    }
    unreadable = False
    # A Path, never a str: a path is never taken for anything else. With the correlation
    # rules, every input goes to one scan so that their state spans all of them.
    paths = [name if name == "-" else pathlib.Path(name) for name in args.files]
    groups = [paths] if args.profile != "seed" and "-" not in args.files else [[p] for p in paths]
    for group in groups:
        name = " ".join(str(i) for i in group)
        started = time.perf_counter()
        try:
            scan = rule.scan(
                group[0] if len(group) == 1 else group,
                progress=args.progress,
                threads=args.threads,
                prefilter=args.prefilter,
                include_original=args.include_original,
                columns=dict(args.columns) or None,
                retain=0,
                profile=args.profile,
            )
        except UnreadableInputError as error:
            print(f"dcom-detect: error: {error}", file=sys.stderr)
            unreadable = True
            continue
        try:
            with scan:
                try:
                    # Every result in input order, through the scan's bounded channel.
                    for item in scan.events():
                        if isinstance(item, Alert):
                            if table is not None:
                                table.write(item)
                            else:
                                out.write(item.json)
                                out.write("\n")
                        elif isinstance(item, Rejected):
                            print(f"dcom-detect: rejected: {item}", file=sys.stderr)
                        elif isinstance(item, Suppressed):
                            print(f"dcom-detect: suppressed: {item}", file=sys.stderr)
                        elif isinstance(item, Skipped):
                            print(f"dcom-detect: skipped: {item}", file=sys.stderr)
                            unreadable = unreadable or item.unreadable
                except UnreadableInputError as error:
                    print(f"dcom-detect: error: {error}", file=sys.stderr)
                    unreadable = True
                out.flush()
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, as other Unix tools do.
            _silence_stdout()
            return EXIT_ALERTS if scan.stats.matched or scan.stats.correlations else EXIT_NO_ALERTS
        stats = scan.stats
        for key in totals:
            totals[key] += getattr(stats, key)
        if args.stats:
            print(f"dcom-detect: {name}: {_describe(stats, time.perf_counter() - started)}", file=sys.stderr)
    inputs = totals["files"]
    skipped = totals["skipped_files"]
    print(
        f"dcom-detect: {totals['matched']} alert{'s' if totals['matched'] != 1 else ''} in {totals['records']} "
        f"records from {inputs} input{'s' if inputs != 1 else ''}; {totals['suppressed']} suppressed, "
        f"{totals['rejected']} rejected"
        + (f"; {totals['correlations']} correlation alerts" if args.profile != "seed" else "")
        + (f"; {skipped} file{'s' if skipped != 1 else ''} skipped" if skipped else "")
        + ("; some inputs could not be read" if unreadable else ""),
        file=sys.stderr,
    )
    if unreadable:
        return EXIT_UNREADABLE
    return EXIT_ALERTS if totals["matched"] or totals["correlations"] else EXIT_NO_ALERTS


def _silence_stdout() -> None:
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
