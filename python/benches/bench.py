#!/usr/bin/env python3
"""Benchmarks of the Python package, measured side by side in one run on the same events.

1. Single events: ``Rule.matches`` (and ``match_many``) on pre-parsed dicts, against the
   ``eql`` package's Python engine on the same dicts (``pip install eql``; its semantics are
   not Elasticsearch's — case-insensitive ``==``, no multi-value fields — so the events here
   use plain strings where the two agree, and the match counts are checked to be equal).
2. Files: ``Rule.scan`` and the ``dcom-detect`` command on an NDJSON file of at least
   300 MB, against ``json.loads`` of every line (the least any Python pipeline reading the
   file must pay).

The events are realistic ~2 KB Elastic Defend-style ECS process starts, generated
deterministically (seed 1) with about 0.1 % matches spread over the three branches and a
share of near misses (COM hosts starting harmless children, ``-ExecutionPolicy`` without
DCOM, ``svchost -k DcomLaunch``) that the prefilter cannot rule out.

    python python/benches/bench.py [--mb 320] [--dicts 20000] [--out target/bench-events.ndjson]

Build the extension in release mode first (``maturin develop --release``); run on an idle
machine. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import dcom_detect

REPO = pathlib.Path(__file__).resolve().parents[2]

HOSTS = [f"ws-{dept}-{n:02d}" for dept in ("fin", "hr", "it", "ops", "sales", "eng") for n in range(1, 40)]
USERS = ["alice", "bob", "carol", "dave", "erin", "svc_backup", "svc_sccm", "admin.jdoe"]
BENIGN = [
    ("C:\\Windows\\explorer.exe", "C:\\Windows\\System32\\notepad.exe", "notepad.exe C:\\Users\\{user}\\Documents\\notes.txt"),
    ("C:\\Windows\\System32\\services.exe", "C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule"),
    ("C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe", "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
     "\"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe\" --type=renderer --lang=en-US --renderer-client-id=7 --field-trial-handle=1712,i,1234567890"),
    ("C:\\Windows\\System32\\cmd.exe", "C:\\Windows\\System32\\conhost.exe", "\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1"),
    ("C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe", "C:\\Windows\\system32\\wbem\\wmiprvse.exe -secured -Embedding"),
    ("C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE", "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE",
     "\"C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE\" /n \"C:\\Users\\{user}\\Downloads\\invoice.docx\""),
]
NEAR_MISSES = [
    # A COM host starting something harmless: the prefilter must let it through.
    ("C:\\Windows\\System32\\mmc.exe", "C:\\Windows\\System32\\notepad.exe", "notepad.exe"),
    ("C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE", "C:\\Windows\\splwow64.exe", "C:\\Windows\\splwow64.exe 12288"),
    # -Exec without DCOM, DCOM without -Exec.
    ("C:\\Windows\\System32\\cmd.exe", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
     "powershell.exe -ExecutionPolicy Bypass -File C:\\Scripts\\inventory.ps1"),
    ("C:\\Windows\\System32\\services.exe", "C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\system32\\svchost.exe -k DcomLaunch -p"),
]
MATCHES = [
    ("C:\\Windows\\System32\\mmc.exe", "C:\\Windows\\System32\\cmd.exe", "\"C:\\Windows\\System32\\cmd.exe\" /Q /c whoami 1> \\\\127.0.0.1\\ADMIN$\\__1 2>&1"),
    ("C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
     "powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA"),
    ("C:\\Windows\\explorer.exe", "C:\\Windows\\System32\\dcomcnfg.exe", "\"C:\\Windows\\system32\\dcomcnfg.exe\""),
    ("C:\\Windows\\System32\\cmd.exe", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
     "powershell.exe -ExecutionPolicy Bypass -c Invoke-DCOM -ComputerName ws-fin-07 -Method MMC20.Application -Command calc.exe"),
]


def basename(path: str) -> str:
    return path.rsplit("\\", 1)[-1]


def make_event(rnd: random.Random, i: int) -> dict[str, Any]:
    roll = rnd.random()
    if roll < 0.001:
        parent, child, command_line = rnd.choice(MATCHES)
    elif roll < 0.02:
        parent, child, command_line = rnd.choice(NEAR_MISSES)
    else:
        parent, child, command_line = rnd.choice(BENIGN)
    host = rnd.choice(HOSTS)
    user = rnd.choice(USERS)
    pid, ppid = rnd.randrange(1000, 60000), rnd.randrange(400, 60000)
    h = f"{rnd.getrandbits(256):064x}"
    ts = f"2024-05-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}.{i % 1000:03d}Z"
    return {
        "@timestamp": ts,
        "agent": {"id": f"{rnd.getrandbits(128):032x}", "type": "endpoint", "version": "8.13.2"},
        "data_stream": {"dataset": "endpoint.events.process", "namespace": "default", "type": "logs"},
        "ecs": {"version": "8.10.0"},
        "event": {
            "action": "start",
            "agent_id_status": "verified",
            "category": "process",
            "created": ts,
            "dataset": "endpoint.events.process",
            "id": f"{rnd.getrandbits(96):024x}",
            "ingested": ts,
            "kind": "event",
            "module": "endpoint",
            "sequence": i,
            "type": "start",
        },
        "host": {
            "architecture": "x86_64",
            "hostname": host,
            "id": f"{rnd.getrandbits(128):032x}",
            "ip": [f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}", "fe80::1c2b:3d4e:5f60:7182"],
            "mac": ["00-15-5d-" + "-".join(f"{rnd.randrange(256):02x}" for _ in range(3))],
            "name": host,
            "os": {"family": "windows", "full": "Windows 10 Enterprise 22H2", "kernel": "22H2 (10.0.19045.4291)",
                   "name": "Windows", "platform": "windows", "type": "windows", "version": "22H2"},
        },
        "message": "Endpoint process event",
        "process": {
            "args": command_line.split(" ")[:8],
            "args_count": min(8, len(command_line.split(" "))),
            "code_signature": {"status": "trusted", "subject_name": "Microsoft Windows", "trusted": True},
            "command_line": command_line.replace("{user}", user),
            "entity_id": f"{rnd.getrandbits(192):048x}",
            "executable": child,
            "hash": {"md5": h[:32], "sha1": h[:40], "sha256": h},
            "name": basename(child),
            "parent": {
                "args": [parent],
                "command_line": f"\"{parent}\"",
                "entity_id": f"{rnd.getrandbits(192):048x}",
                "executable": parent,
                "name": basename(parent),
                "pid": ppid,
            },
            "pe": {"company": "Microsoft Corporation", "description": basename(child), "file_version": "10.0.19041.1",
                   "original_file_name": basename(child).upper(), "product": "Microsoft® Windows® Operating System"},
            "pid": pid,
            "working_directory": f"C:\\Users\\{user}\\",
        },
        "user": {"domain": "CORP", "id": f"S-1-5-21-{rnd.randrange(10**9)}-{rnd.randrange(10**9)}-{1000 + USERS.index(user)}",
                 "name": user},
    }


def generate(path: pathlib.Path, megabytes: int) -> None:
    rnd = random.Random(1)
    target = megabytes * 1_000_000
    written = 0
    i = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        while written < target:
            line = json.dumps(make_event(rnd, i), ensure_ascii=False, separators=(",", ":")) + "\n"
            out.write(line)
            written += len(line.encode("utf-8"))
            i += 1


def timed(function: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """Best wall time of ``repeat`` runs, and the last result."""
    best = float("inf")
    result: Any = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=320, help="size of the NDJSON file in MB (default 320)")
    parser.add_argument("--dicts", type=int, default=20000, help="events for the single-event benchmark")
    parser.add_argument("--out", type=pathlib.Path, default=REPO / "target" / "bench-events.ndjson")
    args = parser.parse_args()

    path: pathlib.Path = args.out
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.stat().st_size < args.mb * 1_000_000:
        print(f"generating {args.mb} MB of events into {path} ...", file=sys.stderr)
        generate(path, args.mb)
    size = path.stat().st_size
    with path.open("rb") as handle:
        lines = sum(1 for _ in handle)

    rows: list[tuple[str, str, float, int]] = []  # (what, unit, seconds, count)

    # 1. single events on pre-parsed dicts
    with path.open("rb") as handle:
        dicts = [json.loads(next(handle)) for _ in range(args.dicts)]
    rule = dcom_detect.Rule()
    seconds, hits = timed(lambda: sum(map(rule.matches, dicts)))
    rows.append(("Rule.matches(dict), one call per event", "dicts", seconds, len(dicts)))
    ours = hits
    seconds, results = timed(lambda: rule.match_many(dicts))
    assert sum(results) == ours
    rows.append(("Rule.match_many(dicts)", "dicts", seconds, len(dicts)))
    try:
        import eql
    except ImportError:
        print("eql is not installed (pip install eql): skipping its row", file=sys.stderr)
    else:
        with eql.parser.elasticsearch_syntax, eql.parser.ignore_missing_functions:
            query = eql.parse_query(rule.source)
        found: list[Any] = []
        engine = eql.PythonEngine()
        engine.add_query(query)
        engine.add_output_hook(found.append)
        wrapped = [eql.Event(d["event"]["category"], 0, d) for d in dicts]

        def run_eql() -> int:
            found.clear()
            engine.stream_events(wrapped, finalize=False)
            return len(found)

        seconds, eql_hits = timed(run_eql)
        rows.append(("eql PythonEngine.stream_events (events pre-wrapped)", "dicts", seconds, len(dicts)))
        seconds, _ = timed(lambda: [eql.Event(d["event"]["category"], 0, d) for d in dicts])
        print(f"(wrapping dicts as eql.Event costs a further {seconds / len(dicts) * 1e6:.2f} µs/event)", file=sys.stderr)
        if eql_hits != ours:
            print(f"WARNING: eql found {eql_hits} matches, dcom_detect {ours}", file=sys.stderr)
    print(f"single events: {ours} matches in {len(dicts)} dicts", file=sys.stderr)

    # 2. the file
    def json_loads_every_line() -> int:
        count = 0
        loads = json.loads
        with path.open("rb") as handle:
            for line in handle:
                loads(line)
                count += 1
        return count

    seconds, count = timed(json_loads_every_line, repeat=1)
    rows.append(("json.loads of every line", "lines", seconds, count))
    baseline = seconds
    for threads in (1, 0):
        scan_seconds, scan = timed(lambda: _drain(rule.scan(path, threads=threads)), repeat=2)
        rows.append((f"Rule.scan(path, threads={threads}) ({scan.stats.matched} alerts)", "lines", scan_seconds, scan.stats.records))
    cli = shutil.which("dcom-detect", path=os.path.dirname(sys.executable)) or "dcom-detect"
    for extra in (["--threads", "1"], []):
        def run_cli() -> None:
            subprocess.run([cli, "scan", *extra, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)

        cli_seconds, _ = timed(run_cli, repeat=2)
        rows.append((f"dcom-detect scan {' '.join(extra) or '(all cores)'} > /dev/null", "lines", cli_seconds, lines))

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO).stdout.strip()
    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"dcom-detect {dcom_detect.__version__} ({commit}), {time.strftime('%Y-%m-%d')}")
    print(f"file: {path} ({size / 1e6:.0f} MB, {lines} events, {size / lines:.0f} bytes/event)\n")
    print("| what | events | seconds | events/s | MB/s | vs. baseline |")
    print("|---|---:|---:|---:|---:|---:|")
    single_baseline = next((s / n for w, _, s, n in rows if w.startswith("eql")), None)
    for what, unit, seconds, n in rows:
        per_event = seconds / n
        if unit == "dicts":
            ratio = f"{single_baseline / per_event:.1f}× eql" if single_baseline else ""
            mbs = ""
        else:
            ratio = f"{(baseline / lines) / per_event:.1f}× json.loads"
            mbs = f"{size / seconds / 1e6:.0f}"
        print(f"| {what} | {n} | {seconds:.3f} | {n / seconds:,.0f} | {mbs} | {ratio} |")


def _drain(scan: dcom_detect.Scan) -> dcom_detect.Scan:
    for _ in scan:
        pass
    return scan


if __name__ == "__main__":
    main()
