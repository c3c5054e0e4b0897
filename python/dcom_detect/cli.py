"""The ``dcom-detect`` command: scan files for the rule, or print the rule.

Usage::

    dcom-detect scan [options] FILE...     # alerts as NDJSON on stdout, summary on stderr
    dcom-detect rule [--json]              # the EQL text and the rule's metadata

Exit codes (also in ``dcom-detect --help``):

====  ==========================================================================
0     every input was scanned; no alerts
1     every input was scanned; at least one alert
2     usage error (unknown option, missing argument)
3     an input could not be read (missing file, I/O error, corrupt gzip); the other
      inputs are still scanned, and their alerts written
====  ==========================================================================

Records that cannot be read (malformed JSON, duplicate keys, …) are listed on stderr and
counted, but do not change the exit code. The scanning itself is the native engine's
(:meth:`dcom_detect.Rule.scan`); this module only parses arguments and formats output.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap
import time
from collections.abc import Sequence
from typing import TextIO

from . import __version__
from ._errors import UnreadableInputError
from ._native import Alert, Rule, Scan, ScanStats

EXIT_NO_ALERTS = 0
EXIT_ALERTS = 1
EXIT_USAGE = 2
EXIT_UNREADABLE = 3

_EPILOG = """\
exit codes:
  0  every input was scanned, no alerts
  1  every input was scanned, alerts found
  2  usage error
  3  an input could not be read (the others were still scanned)
Records that cannot be read are listed on stderr; they do not change the exit code.
"""


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
        help="scan NDJSON (plain or gzip) or EVTX files, or standard input, for the rule",
        description="Scan NDJSON (plain or gzip), EVTX files or standard input ('-'). "
        "Writes one ECS alert per match to stdout as NDJSON (or a table with --table) and a "
        "summary to stderr.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scan.add_argument("files", nargs="+", metavar="FILE", help="an input file, or - for standard input")
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
        help="parse every line (also reports malformed lines that could not match)",
    )
    _case_folding_option(scan)
    scan.add_argument("--include-original", action="store_true", help="embed each matching record as event.original")
    # Tuning (SPEC §5) goes here: `--exceptions FILE`, passed on to the Rule in `_rule()`,
    # once the engine loads exception lists (load errors: ExceptionsFileError, exit code 2).

    rule = commands.add_parser(
        "rule",
        help="print the rule's EQL text and metadata",
        description="Print the rule's EQL text and metadata.",
    )
    rule.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    _case_folding_option(rule)
    return parser


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _case_folding_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--case-folding",
        choices=["ascii", "unicode_simple"],
        default="ascii",
        help="case folding of in~ and : (default ascii, as Elasticsearch; unicode_simple as Lucene 10.5 builds)",
    )


def _rule(args: argparse.Namespace) -> Rule:
    return Rule(case_folding=args.case_folding)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "rule":
            return _print_rule(args, sys.stdout)
        return _scan(args)
    except KeyboardInterrupt:
        print("dcom-detect: interrupted", file=sys.stderr)
        return 130


def _print_rule(args: argparse.Namespace, out: TextIO) -> int:
    rule = _rule(args)
    meta = rule.metadata
    if args.json:
        json.dump({"source": rule.source, "case_folding": rule.case_folding, "metadata": meta}, out, indent=2)
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
        values = (alert.timestamp, alert.host, alert.user, "+".join(alert.branches), names)
        row = "".join(self._cell(value, width) for value, (_, width) in zip(values, self.COLUMNS))
        where = f"{alert.file or ''}:{alert.line if alert.line is not None else alert.record_id}"
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
    totals = {"records": 0, "matched": 0, "rejected": 0, "inputs": 0}
    unreadable = False
    for name in args.files:
        started = time.perf_counter()
        try:
            scan = rule.scan(
                name,
                progress=args.progress,
                threads=args.threads,
                prefilter=args.prefilter,
                include_original=args.include_original,
            )
        except UnreadableInputError as error:
            print(f"dcom-detect: error: {error}", file=sys.stderr)
            unreadable = True
            continue
        reported = 0
        try:
            with scan:
                try:
                    for alert in scan:
                        if table is not None:
                            table.write(alert)
                        else:
                            out.write(alert.json)
                            out.write("\n")
                        reported = _report_rejected(scan, reported)
                except UnreadableInputError as error:
                    print(f"dcom-detect: error: {error}", file=sys.stderr)
                    unreadable = True
                out.flush()
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, as other Unix tools do.
            _silence_stdout()
            return EXIT_ALERTS if scan.stats.matched else EXIT_NO_ALERTS
        _report_rejected(scan, reported)
        stats = scan.stats
        totals["inputs"] += 1
        totals["records"] += stats.records
        totals["matched"] += stats.matched
        totals["rejected"] += stats.rejected
        if args.stats:
            print(f"dcom-detect: {name}: {_describe(stats, time.perf_counter() - started)}", file=sys.stderr)
    inputs = totals["inputs"]
    print(
        f"dcom-detect: {totals['matched']} alert{'s' if totals['matched'] != 1 else ''} in {totals['records']} "
        f"records from {inputs} input{'s' if inputs != 1 else ''}; {totals['rejected']} rejected"
        + ("; some inputs could not be read" if unreadable else ""),
        file=sys.stderr,
    )
    if unreadable:
        return EXIT_UNREADABLE
    return EXIT_ALERTS if totals["matched"] else EXIT_NO_ALERTS


def _report_rejected(scan: Scan, reported: int) -> int:
    """Lists on stderr the rejected records not reported yet; returns how many are reported."""
    if scan.stats.rejected > reported:
        for rejected in scan.rejected[reported:]:
            print(f"dcom-detect: rejected: {rejected}", file=sys.stderr)
        return len(scan.rejected)
    return reported


def _silence_stdout() -> None:
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
