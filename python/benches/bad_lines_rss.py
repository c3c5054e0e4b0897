"""Peak memory of a scan of a damaged file: a million bad lines and four matching ones.

Issue 13, item 4: a scan must stay under 64 MB of peak RSS through both the command line and
``Rule.scan`` (iterated to its end), whatever the number of bad lines, with every record
still counted. Run with the package installed in release mode::

    DCOM_PY_RELEASE=1 bash python/tests/run.sh -k nothing   # builds release into .venv
    .venv/bin/python python/benches/bad_lines_rss.py            # writes the file, measures both
    .venv/bin/python python/benches/bad_lines_rss.py 5000000 --line x   # one-byte bad lines

or step by step::

    python python/benches/bad_lines_rss.py make /tmp/bad.ndjson [LINES] [--line x]
    /usr/bin/time -v dcom-detect scan /tmp/bad.ndjson > /dev/null 2> /dev/null
    /usr/bin/time -v python python/benches/bad_lines_rss.py scan /tmp/bad.ndjson

The bad lines cycle through what damaged logs hold (truncated objects, non-JSON text,
arrays, binary garbage): each one is parsed and rejected, with its line number.

Measured (2 shared cores, release build, default threads; issue 13 branch scan-inputs):

| door | before (a869ccd) | after |
|---|---|---|
| ``dcom-detect scan FILE`` | 390.9 MB | 32.1 MB |
| ``Rule.scan(FILE)``, iterated, not reading ``rejected`` | 151.1 MB | 31.4 MB (dev build) |
| ``Rule.scan(FILE)``, iterated, then ``len(scan.rejected)`` (``scan`` above) | 384.4 MB | 34.5 MB |

One-byte bad lines (``x\n`` repeated; ``--line x``) once held about 56 bytes per line of every
chunk in flight; core now delivers a chunk's results in parts of at most 4096 hits (issue 13
branch bound; release builds, 2 shared cores, default threads;
``/usr/bin/time -f %M .venv/bin/python -m dcom_detect scan FILE`` and ``... bad_lines_rss.py
scan FILE``):

| file | a869ccd CLI | a869ccd Rule.scan | bound CLI | bound Rule.scan |
|---|---|---|---|---|
| 1M benchmark bad lines (25 MB) | 389 MB | 384 MB | 21 MB | 21 MB |
| 5M one-byte bad lines (10 MB) | 1858 MB | 1829 MB | 22 MB | 22 MB |
| 20M one-byte bad lines (40 MB) | 7216 MB | 7207 MB | 22 MB | 22 MB |

(main before this branch: 32/31 MB on the first file, near 140 MB on one-byte lines.)
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile

GOOD = json.dumps(
    {
        "event": {"category": "process", "type": "start"},
        "host": {"name": "ws-01"},
        "process": {"name": "cmd.exe", "parent": {"name": "mmc.exe"}},
    }
)
BAD = [
    '{"event": {"category": "process", "type": "st',
    "not json at all",
    "[1, 2, 3]",
    '{"process": {"name": "cmd.exe"}} trailing',
    "\x00\x01\x02 garbage",
]


def make(path: str, lines: int = 1_000_000, line: str | None = None) -> None:
    """Writes ``lines`` bad lines (``line`` each, or the cycle of ``BAD``) with 4 matching
    lines spread among them."""
    good_at = sorted({1, lines // 3, 2 * lines // 3, lines})
    with open(path, "w", encoding="utf-8") as out:
        if line is not None:
            # Written in runs: 20 million lines take seconds, not minutes.
            done = 0
            for at in good_at:
                out.write((line + "\n") * (at - done) + GOOD + "\n")
                done = at
            return
        good = set(good_at)
        for i in range(1, lines + 1):
            out.write(BAD[i % len(BAD)] + "\n")
            if i in good:
                out.write(GOOD + "\n")


def scan(path: str) -> None:
    """Iterates ``Rule.scan(path)`` to its end and checks the counts."""
    import dcom_detect

    scan = dcom_detect.Rule().scan(path)
    alerts = sum(1 for _ in scan)
    stats = scan.stats
    assert stats.records == stats.matched + stats.suppressed + stats.not_matched + stats.rejected
    print(f"alerts={alerts} records={stats.records} rejected={stats.rejected} retained={len(scan.rejected)}")


def max_rss_kb(command: list[str]) -> tuple[int, str]:
    """Runs ``command`` under ``/usr/bin/time -v``; returns its peak RSS (kB) and stdout."""
    result = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True, check=False)
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    if result.returncode not in (0, 1) or not found:
        raise SystemExit(f"{command} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return int(found.group(1)), result.stdout


def measure(lines: int, line: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bad.ndjson")
        make(path, lines, line)
        size = os.path.getsize(path)
        kind = "bad lines" if line is None else f"bad lines {line!r}"
        print(f"{lines} {kind} + 4 matching: {size / 1e6:.1f} MB")
        cli = [sys.executable, "-m", "dcom_detect", "scan", path]
        rss, out = max_rss_kb(["sh", "-c", " ".join(f"'{c}'" for c in cli) + " 2>/dev/null"])
        print(f"dcom-detect scan FILE: {len(out.splitlines())} alerts, max RSS {rss / 1024:.1f} MB")
        rss, out = max_rss_kb([sys.executable, __file__, "scan", path])
        print(f"Rule.scan(FILE): {out.strip()}, max RSS {rss / 1024:.1f} MB")


if __name__ == "__main__":
    args = sys.argv[1:]
    bad_line = None
    if "--line" in args:
        at = args.index("--line")
        bad_line = args[at + 1]
        del args[at : at + 2]
    if args[:1] == ["make"]:
        make(args[1], int(args[2]) if len(args) > 2 else 1_000_000, bad_line)
    elif args[:1] == ["scan"]:
        scan(args[1])
    else:
        measure(int(args[0]) if args else 1_000_000, bad_line)
