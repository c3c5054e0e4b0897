#!/usr/bin/env python3
"""Benchmarks of the rule on tables, side by side in one run on the same in-memory events.

1. In memory, the same events as one Arrow table: ``Rule.match_arrow`` on the pyarrow
   table (every core, and one) and on the polars DataFrame, against the best hand-written
   pandas vectorised version of the rule and the best polars expression version, each
   checked to agree with the engine on every row.
2. Spark: ``examples/spark_hunt.py``'s ``hunt`` on a local session (``local[2]``) over the
   same events as Parquet and as NDJSON, against the single-process scan
   (``Rule.scan``) of the same files, alerts counted and compared.

The events are ``core/examples/gen_events.rs``'s realistic ~2 KB Elastic Defend process
starts (~0.1 % matches, many near misses); the NDJSON file is generated when missing::

    cargo run --release -p dcom-detect-core --example gen_events -- 2G > target/events-2g.ndjson
    maturin develop --release
    python python/benches/arrow_bench.py --ndjson target/events-2g.ndjson [--spark-rows 200000]

Where the dataframe versions cannot be Elasticsearch-exact (see the printed notes):
- ``in~`` folds ASCII only (Elasticsearch's default); pandas has only Unicode
  ``str.lower`` (``outlooK.exe`` with a KELVIN SIGN would match), polars can be exact with
  byte-mode regexes (``(?i-u)``), which is what it uses here;
- multi-valued fields: a comparison is true when any value satisfies it, and the two
  ``process.command_line`` patterns may be satisfied by different values. pandas can only
  do this through ``explode`` + ``groupby().any()`` (done for ``event.category`` and
  ``event.type``, lists in this data); polars through ``list`` expressions (done too); scalar
  columns elsewhere;
- ``ignore_above: 1024`` (UTF-16 units) cannot change a verdict of this rule (every
  constant is short), so neither version spends work on it; the engine applies it anyway;
- the wildcard ``*DCOM*`` is an anchored case-insensitive match of the whole value: a
  substring search is the same thing for a pattern of the form ``*literal*``; pandas'
  ``case=False`` folds Unicode, which happens to be exact for these letters.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pathlib
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy
import pandas
import polars
import pyarrow
import pyarrow.parquet

import dcom_detect

REPO = pathlib.Path(__file__).resolve().parents[2]

PARENTS = ["mmc.exe", "excel.exe", "winword.exe", "outlook.exe", "powerpnt.exe", "visio.exe"]
CHILDREN = ["cmd.exe", "powershell.exe", "wscript.exe", "cscript.exe", "mshta.exe", "rundll32.exe", "regsvr32.exe",
            "certutil.exe"]

#: The ECS fields the rule reads, as polars reads them from the NDJSON (nested structs).
SCHEMA = {
    "event": polars.Struct({"category": polars.List(polars.String), "type": polars.List(polars.String)}),
    "process": polars.Struct(
        {
            "name": polars.String,
            "command_line": polars.String,
            "parent": polars.Struct({"name": polars.String}),
        }
    ),
}


def timed(function: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - started)
    return best, result


def load(path: pathlib.Path, rows: int | None) -> polars.DataFrame:
    frame = polars.scan_ndjson(path, schema=SCHEMA)
    if rows:
        frame = frame.head(rows)
    return frame.collect()


# --- pandas: the best vectorised version --------------------------------------------------

def to_pandas(frame: polars.DataFrame) -> pandas.DataFrame:
    """Flat columns with Arrow-backed dtypes (``string[pyarrow]``, ``list<string>``): the
    fastest representation pandas has for this data."""
    flat = frame.select(
        polars.col("event").struct.field("category").alias("event.category"),
        polars.col("event").struct.field("type").alias("event.type"),
        polars.col("process").struct.field("name").alias("process.name"),
        polars.col("process").struct.field("parent").struct.field("name").alias("process.parent.name"),
        polars.col("process").struct.field("command_line").alias("process.command_line"),
    )
    return flat.to_arrow().to_pandas(types_mapper=pandas.ArrowDtype)


def pandas_any(values: pandas.Series, test: Callable[[pandas.Series], pandas.Series], index: pandas.Index) -> pandas.Series:
    """Whether any value of a list column satisfies ``test`` (explode, then any per row)."""
    exploded = values.explode()
    hit = test(exploded).fillna(False).astype(bool)
    return hit.groupby(level=0).any().reindex(index, fill_value=False)


def pandas_rule(df: pandas.DataFrame) -> numpy.ndarray:
    index = df.index
    process = pandas_any(df["event.category"], lambda v: v == "process", index)
    start = pandas_any(df["event.type"], lambda v: v == "start", index)
    name = df["process.name"]
    lower_name = name.str.lower()
    office_child = df["process.parent.name"].str.lower().isin(PARENTS) & lower_name.isin(CHILDREN)
    dcomcnfg = name == "dcomcnfg.exe"
    command_line = df["process.command_line"]
    dcom = command_line.str.contains("dcom", case=False, regex=False) & command_line.str.contains(
        "-exec", case=False, regex=False
    )
    matched = process & start & (office_child.fillna(False) | dcomcnfg.fillna(False) | dcom.fillna(False))
    return matched.to_numpy(dtype=bool)


# --- polars: the best expression version --------------------------------------------------

def _alternation(words: list[str]) -> str:
    return "(?i-u)^(?:" + "|".join(w.replace(".", r"\.") for w in words) + ")$"


def polars_rule(frame: polars.DataFrame) -> numpy.ndarray:
    event = polars.col("event")
    process = polars.col("process")
    name = process.struct.field("name")
    parent = process.struct.field("parent").struct.field("name")
    command_line = process.struct.field("command_line")
    expression = (
        event.struct.field("category").list.contains("process")
        & event.struct.field("type").list.contains("start")
        & (
            (parent.str.contains(_alternation(PARENTS)) & name.str.contains(_alternation(CHILDREN)))
            | (name == "dcomcnfg.exe")
            | (command_line.str.contains("(?i-u)dcom") & command_line.str.contains("(?i-u)-exec"))
        )
    ).fill_null(False)
    return frame.select(expression.alias("m")).to_series().to_numpy()


# --- Spark -------------------------------------------------------------------------------

def spark_bench(ndjson: pathlib.Path, parquet: pathlib.Path, repeat: int) -> list[tuple[str, float, int]]:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    spec = importlib.util.spec_from_file_location("spark_hunt", REPO / "examples" / "spark_hunt.py")
    assert spec and spec.loader
    spark_hunt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(spark_hunt)
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("dcom-detect bench")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "4g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    rule = dcom_detect.Rule()
    results = []
    for label, read in (
        ("Spark local[2]: hunt(spark.read.parquet)", lambda: spark.read.parquet(str(parquet))),
        ("Spark local[2]: hunt(spark.read.json)", lambda: spark.read.json(str(ndjson))),
    ):
        # Spark infers the JSON schema in a pass of its own; give it the schema, as a job
        # reading a known export would, so the timing is the hunt.
        events = read()
        schema = events.schema
        reread = (lambda: spark.read.schema(schema).json(str(ndjson))) if "json" in label else read
        seconds, count = timed(lambda: spark_hunt.hunt(reread(), rule).count(), repeat)
        results.append((label, seconds, count))
    spark.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ndjson", type=pathlib.Path, default=REPO / "target" / "events-2g.ndjson")
    parser.add_argument("--rows", type=int, default=0, help="use the first N events (default: all)")
    parser.add_argument("--spark-rows", type=int, default=200_000, help="events for the Spark comparison (0: skip)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not args.ndjson.exists():
        print(f"generating {args.ndjson} (2 GB) ...", file=sys.stderr)
        args.ndjson.parent.mkdir(parents=True, exist_ok=True)
        with args.ndjson.open("wb") as out:
            subprocess.run(["cargo", "run", "--release", "-q", "-p", "dcom-detect-core", "--example", "gen_events", "--", "2G"],
                           cwd=REPO, stdout=out, check=True)

    started = time.perf_counter()
    frame = load(args.ndjson, args.rows or None)
    print(f"loaded {frame.height} events from {args.ndjson} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    table = frame.to_arrow()
    df = to_pandas(frame)
    rule = dcom_detect.Rule()
    rows: list[tuple[str, float, int]] = []

    seconds, reference = timed(lambda: rule.match_arrow(table), args.repeat)
    rows.append(("Rule.match_arrow(pyarrow.Table), every core", seconds, int(reference.sum())))
    seconds, ours = timed(lambda: rule.match_arrow(table, threads=1), args.repeat)
    assert (ours == reference).all()
    rows.append(("Rule.match_arrow(pyarrow.Table, threads=1)", seconds, int(ours.sum())))
    seconds, ours = timed(lambda: rule.match_arrow(frame), args.repeat)
    assert (ours == reference).all()
    rows.append(("Rule.match_arrow(polars.DataFrame)", seconds, int(ours.sum())))
    seconds, ours = timed(lambda: rule.match_frame(frame), args.repeat)
    rows.append(("Rule.match_frame(polars.DataFrame) -> polars.Series", seconds, int(ours.sum())))
    seconds, ours = timed(lambda: rule.match_frame(df), args.repeat)
    rows.append(("Rule.match_frame(pandas.DataFrame) -> pandas.Series", seconds, int(ours.sum())))
    seconds, theirs = timed(lambda: pandas_rule(df), args.repeat)
    disagree_pandas = int((theirs != reference).sum())
    rows.append(("pandas vectorised (explode/groupby lists, str.lower().isin, str.contains)", seconds, int(theirs.sum())))
    seconds, theirs = timed(lambda: polars_rule(frame), args.repeat)
    disagree_polars = int((theirs != reference).sum())
    rows.append(("polars expressions (list.contains, (?i-u) regex)", seconds, int(theirs.sum())))

    n = table.num_rows
    engine = rows[0][1]
    chunks = table.column(0).num_chunks
    print(f"\n{n} events in {chunks} chunks, {rows[0][2]} matches; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, "
          f"Python {platform.python_version()}, pyarrow {pyarrow.__version__}, polars {polars.__version__}, "
          f"pandas {pandas.__version__}\n")
    print("| what | seconds | rows/s | vs match_arrow(pyarrow) | matches |")
    print("|---|---:|---:|---:|---:|")
    for what, seconds, count in rows:
        print(f"| {what} | {seconds:.3f} | {n / seconds:,.0f} | {seconds / engine:.1f}x | {count} |")
    print(f"\nrows where pandas disagrees with the engine: {disagree_pandas}; polars: {disagree_polars}")

    if args.spark_rows:
        subset = table.slice(0, args.spark_rows)
        spark_dir = args.ndjson.parent / f"spark-bench-{args.spark_rows}"
        spark_dir.mkdir(exist_ok=True)
        ndjson = spark_dir / "events.ndjson"
        parquet = spark_dir / "events.parquet"
        if not ndjson.exists():
            with args.ndjson.open("rb") as source, ndjson.open("wb") as out:
                for _, line in zip(range(args.spark_rows), source):
                    out.write(line)
        if not parquet.exists():
            polars.read_ndjson(ndjson).write_parquet(parquet, row_group_size=100_000)
        single = []
        for label, path in (("Rule.scan(NDJSON), threads=1", ndjson), ("Rule.scan(Parquet)", parquet)):
            seconds, count = timed(lambda p=path: sum(1 for _ in rule.scan(str(p), threads=1)), args.repeat)
            single.append((label, seconds, count))
        spark = spark_bench(ndjson, parquet, args.repeat)
        m = subset.num_rows
        base = single[0][1]
        print(f"\nSpark vs the single-process scan, {m} events ({ndjson.stat().st_size / 1e6:.0f} MB NDJSON, "
              f"{parquet.stat().st_size / 1e6:.0f} MB Parquet, every column)\n")
        print("| what | seconds | rows/s | vs Rule.scan(NDJSON) | alerts |")
        print("|---|---:|---:|---:|---:|")
        for what, seconds, count in single + spark:
            print(f"| {what} | {seconds:.2f} | {m / seconds:,.0f} | {seconds / base:.1f}x | {count} |")
        counts = {count for _, _, count in single + spark}
        print(f"\nalert counts agree: {len(counts) == 1}")
    print(json.dumps({"rows": n}), file=sys.stderr)


if __name__ == "__main__":
    main()
