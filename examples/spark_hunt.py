#!/usr/bin/env python3
"""Hunt for DCOM lateral movement (MITRE ATT&CK T1021.003) in Spark with dcom-detect.

The rule runs inside the executors through ``DataFrame.mapInArrow``: each task receives its
partition as Arrow record batches, the engine matches them in place
(:meth:`dcom_detect.Rule.alerts_arrow`, the same Arrow path as ``Rule.match_arrow`` and
Parquet scans) and writes one ECS alert per matching event with the same alert writer as
every other front end, so an alert from Spark is the alert ``dcom-detect scan`` writes for
the same event (without a file position: Spark rows have none; use ``--id-column``).
Nothing is re-implemented in Spark SQL: the semantics (Elasticsearch's ``==``, ``in~`` and
``:``, multi-valued fields, ``ignore_above``, exceptions) are the engine's.

Input: a DataFrame of ECS events, as ``spark.read.json`` reads Elastic NDJSON exports
(nested ``event``, ``process`` … structs, arrays for multi-valued fields) or any Parquet
table with the ECS columns (flat ``process.name`` or nested), or other column names through
``--column FIELD=COLUMN``.

Output: a DataFrame with the ECS alert fields as columns (``@timestamp``, ``event``,
``rule``, ``threat``, ``host``, ``user``, ``process``, ``dcom_detect`` with the branches and
the values that fired them), the alert as one JSON string (``alert``, byte for byte the
engine's) and the ``--id-column`` of the event when asked for.

The correlation rules (``--profile extended``: D2, D2L, D3, ``docs/correlation.md``) are
stateful: they join a process start with an inbound connection or a network logon on the
same host within seconds. :func:`correlate` runs them the way they can run in parallel:
``repartition`` by the host column (every event of a host in one partition), then
``sortWithinPartitions`` by the time column, then ``mapInArrow`` with one
:class:`dcom_detect.Correlator` per partition, fed each Arrow batch in order and finished
at the end of the partition's iterator; its alerts come out as rows. The host column must be
the host the engine joins on (``host.name`` or ``host.id`` in ECS; ``Hostname`` or
``Computer`` in raw Windows events), else a host's events are split across partitions and
its correlations missed. An alert's ``dcom_detect.source.row`` is the anchor's row within
its partition in time order; ask for ``--id-column`` to name the anchor event.

Run it::

    # a local session (pip install dcom-detect pyspark; Java 17 or newer)
    python examples/spark_hunt.py events.ndjson --output alerts/
    python examples/spark_hunt.py events.parquet --format parquet --exceptions examples/exceptions.json
    python examples/spark_hunt.py events.ndjson --profile extended --host-column host.name

    # a cluster
    spark-submit --master yarn --conf spark.archives=hunt-env.tar.gz#env \\
        --conf spark.pyspark.python=./env/bin/python examples/spark_hunt.py s3://bucket/events/ ...

Shipping the engine to the executors. ``dcom_detect`` is a compiled (abi3) wheel, so it
must be installed in the Python the executors run, not zipped with ``--py-files`` (which
only carries pure Python):

* a packed virtual environment (works on YARN, Kubernetes and standalone)::

      python -m venv hunt-env && hunt-env/bin/pip install dcom-detect pyarrow venv-pack
      hunt-env/bin/venv-pack -o hunt-env.tar.gz
      spark-submit --conf spark.archives=hunt-env.tar.gz#env \\
          --conf spark.pyspark.python=./env/bin/python examples/spark_hunt.py ...

  (``spark.archives`` is ``--archives`` on YARN; build the environment on the executors'
  platform: the wheel is ``manylinux`` x86-64 or aarch64, Python 3.10 or newer);
* or the built wheel installed on every node's Python (a cluster init script, a Docker
  image for Kubernetes: ``pip install dcom_detect-*.whl pyarrow``);
* local mode needs nothing: the executors are the driver's Python.

The executors also need ``pyarrow`` (``mapInArrow`` does). The exceptions file is read on
the driver and travels with the rule (a ``Rule`` pickles as its options and exceptions).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import dcom_detect
import pyarrow
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

#: The column of the output that holds each alert's JSON, as the engine wrote it.
ALERT = "alert"

_ATTACK = T.StructType([T.StructField(n, T.StringType()) for n in ("id", "name", "reference")])


def alert_schema(events: T.StructType) -> T.StructType:
    """The Spark schema of the engine's ECS alerts (``docs/alerts`` of the project): fixed
    parts, and ``@timestamp``, ``host``, ``user`` and ``process`` of the type the events
    have (the alert copies them from the event)."""

    def copied(name: str) -> T.DataType:
        for field in events.fields:
            if field.name == name:
                return field.dataType
        return T.StringType() if name == "@timestamp" else T.MapType(T.StringType(), T.StringType())

    strings = lambda *names: [T.StructField(n, T.StringType()) for n in names]  # noqa: E731
    return T.StructType(
        [
            T.StructField("@timestamp", copied("@timestamp")),
            T.StructField(
                "event",
                T.StructType(
                    strings("kind")
                    + [
                        T.StructField("category", T.ArrayType(T.StringType())),
                        T.StructField("type", T.ArrayType(T.StringType())),
                        T.StructField("severity", T.LongType()),
                        T.StructField("risk_score", T.DoubleType()),
                        T.StructField("original", T.StringType()),
                    ]
                ),
            ),
            T.StructField(
                "rule",
                T.StructType(strings("id", "uuid", "name", "description", "reference", "version", "ruleset", "category")),
            ),
            T.StructField(
                "threat",
                T.StructType(
                    strings("framework")
                    + [
                        T.StructField("tactic", _ATTACK),
                        T.StructField("technique", T.StructType(_ATTACK.fields + [T.StructField("subtechnique", _ATTACK)])),
                    ]
                ),
            ),
            T.StructField("host", copied("host")),
            T.StructField("user", copied("user")),
            T.StructField("process", copied("process")),
            T.StructField(
                "dcom_detect",
                T.StructType(
                    [
                        T.StructField("branches", T.ArrayType(T.StringType())),
                        T.StructField(
                            "evidence",
                            T.StructType(
                                [
                                    T.StructField("office_child", T.StructType(strings("process.parent.name", "process.name"))),
                                    T.StructField("dcomcnfg", T.StructType(strings("process.name"))),
                                    T.StructField(
                                        "dcom_command_line",
                                        T.StructType([T.StructField("process.command_line", T.ArrayType(T.StringType()))]),
                                    ),
                                ]
                            ),
                        ),
                    ]
                    + strings("severity", "schema")
                ),
            ),
        ]
    )


def _without_dots(events: DataFrame) -> tuple[DataFrame, Callable[[pyarrow.RecordBatch], pyarrow.RecordBatch]]:
    """``events`` with its top-level columns renamed by position (``_0``, ``_1``, ...) when a
    name holds a dot, and the function a task applies to each batch to give its columns their
    names back. PySpark's ``mapInArrow`` cannot pass a column literally named ``host.name``
    (it reads the name as a struct access). The function is a closure, so Spark ships it to
    the executors by value."""
    names = list(events.columns)

    def named(batch: pyarrow.RecordBatch) -> pyarrow.RecordBatch:
        if batch.schema.names == names:
            return batch
        return pyarrow.RecordBatch.from_arrays(batch.columns, names=names)

    if not any("." in name for name in names):
        return events, named
    return events.toDF(*[f"_{i}" for i in range(len(names))]), named


def hunt(
    events: DataFrame,
    rule: dcom_detect.Rule | None = None,
    *,
    columns: Mapping[str, str] | None = None,
    id_column: str | None = None,
) -> DataFrame:
    """The alerts of ``rule`` (default: no exceptions, ASCII case folding) on ``events``.

    Args:
        events: ECS events, one per row (see the module documentation).
        rule: the rule, with its exceptions and case folding; it is pickled to the executors.
        columns: ECS field path → column (path) for columns not named by ECS path.
        id_column: a top-level column of ``events`` to carry into each alert's row (an
            event id, a file name, ``_metadata.row_index`` copied into a column, …).

    Returns:
        One row per alert: the ECS alert fields as columns, ``alert`` (the engine's JSON)
        and ``id_column`` if given.
    """
    rule = rule or dcom_detect.Rule()
    columns = dict(columns or {})
    id_type = events.schema[id_column].dataType if id_column else None
    out_fields = [T.StructField(ALERT, T.StringType())]
    if id_column:
        out_fields.append(T.StructField(id_column, id_type))  # type: ignore[arg-type]
    out_schema = T.StructType(out_fields)

    def find(batches: Iterator[pyarrow.RecordBatch]) -> Iterator[pyarrow.RecordBatch]:
        # Runs on the executors: everything per row happens in the engine.
        arrow_schema = pyarrow.schema([pyarrow.field(ALERT, pyarrow.string())])
        for batch in map(named, batches):
            alerts = rule.alerts_arrow(batch, columns=columns, first_row=None)
            if not alerts:
                continue
            data: dict[str, Any] = {ALERT: pyarrow.array([a.json for a in alerts], pyarrow.string())}
            if id_column:
                matched = rule.match_arrow(batch, columns=columns)
                data[id_column] = batch.column(id_column).filter(pyarrow.array(matched))
                arrow_schema = pyarrow.schema([arrow_schema.field(ALERT), batch.schema.field(id_column)])
            yield pyarrow.RecordBatch.from_pydict(data, schema=arrow_schema)

    passed, named = _without_dots(events)
    found = passed.mapInArrow(find, out_schema)
    parsed = F.from_json(F.col(ALERT), alert_schema(events.schema))
    extra = [F.col(id_column)] if id_column else []
    return found.select(parsed.alias("_alert"), F.col(ALERT), *extra).select("_alert.*", ALERT, *extra)


#: The correlation rule (``D2``, ``D2L``, ``D3``) of a correlation alert's row.
CORRELATION = "correlation"
#: The anchor's host (``host.name`` in the alert) of a correlation alert's row.
HOST = "host_name"


def _col(events: DataFrame, name: str) -> Any:
    """A column of ``events`` by name: flat (a top-level column literally named
    ``host.name``, quoted so that Spark does not read the dot as a struct access) or nested
    (``host.name`` in a ``host`` struct)."""
    return F.col(f"`{name}`") if name in events.columns else F.col(name)


def correlate(
    events: DataFrame,
    rule: dcom_detect.Rule | None = None,
    *,
    host: str = "host.name",
    time: str = "@timestamp",
    columns: Mapping[str, str] | None = None,
    id_column: str | None = None,
    partitions: int | None = None,
) -> DataFrame:
    """The correlation alerts (``profile="extended"``) of ``events``: one
    :class:`dcom_detect.Correlator` per partition of the events repartitioned by ``host`` and
    sorted by ``time`` (then ``id_column``, for a stable order of events at the same time).

    Args:
        events: events, one per row: ECS (nested or flat columns) or raw Windows events as
            ``spark.read.json`` reads them.
        rule: the rule (its case folding and field paths); pickled to the executors.
        host: the column (path) of the host the engine joins on (see the module
            documentation).
        time: the column (path) to sort by within a partition: the event time. Events of a
            host may arrive up to a minute out of order (the correlator's allowed lateness).
        columns: as for :func:`hunt` (the rule's fields).
        id_column: a top-level column of ``events`` to carry into each alert's row: the
            anchor event's value (the task keeps this column of its partition to look it up).
        partitions: the number of partitions (default: ``spark.sql.shuffle.partitions``).

    Returns:
        One row per correlation alert: ``alert`` (the engine's JSON), ``correlation`` (the
        rule), ``host_name`` (the anchor's host) and ``id_column`` if given.
    """
    rule = rule or dcom_detect.Rule()
    columns = dict(columns or {})
    out_fields = [
        T.StructField(ALERT, T.StringType()),
        T.StructField(CORRELATION, T.StringType()),
        T.StructField(HOST, T.StringType()),
    ]
    id_type = events.schema[id_column].dataType if id_column else None
    if id_column:
        out_fields.append(T.StructField(id_column, id_type))  # type: ignore[arg-type]
    key = _col(events, host)
    by_host = events.repartition(partitions, key) if partitions else events.repartition(key)
    ordered = by_host.sortWithinPartitions(_col(events, time), *([_col(events, id_column)] if id_column else []))

    def run(batches: Iterator[pyarrow.RecordBatch]) -> Iterator[pyarrow.RecordBatch]:
        # Runs on the executors, once per partition: one correlation state for its hosts.
        correlator = rule.correlator()
        ids: list[Any] = []  # the id column of every batch so far (anchors are named by row)
        out_schema: pyarrow.Schema | None = None

        def rows(alerts: list[dcom_detect.Alert]) -> pyarrow.RecordBatch:
            nonlocal out_schema
            data: dict[str, Any] = {
                ALERT: pyarrow.array([a.json for a in alerts], pyarrow.string()),
                CORRELATION: pyarrow.array([a.correlation for a in alerts], pyarrow.string()),
                HOST: pyarrow.array([a.host for a in alerts], pyarrow.string()),
            }
            fields = [pyarrow.field(name, pyarrow.string()) for name in (ALERT, CORRELATION, HOST)]
            if id_column:
                chunks = pyarrow.chunked_array(ids)
                data[id_column] = pyarrow.array([chunks[(a.row or 0) - 1].as_py() for a in alerts], chunks.type)
                fields.append(pyarrow.field(id_column, chunks.type))
            out_schema = out_schema or pyarrow.schema(fields)
            return pyarrow.RecordBatch.from_pydict(data, schema=out_schema)

        for batch in map(named, batches):
            if id_column:
                ids.append(batch.column(id_column))
            alerts = correlator.feed_arrow(batch, columns=columns)
            if alerts:
                yield rows(alerts)
        alerts = correlator.finish()
        if alerts:
            yield rows(alerts)

    passed, named = _without_dots(ordered)
    return passed.mapInArrow(run, T.StructType(out_fields))


def _column(text: str) -> tuple[str, str]:
    field, sep, column = text.partition("=")
    if not (sep and field and column):
        raise argparse.ArgumentTypeError(f"expected FIELD=COLUMN, not {text!r}")
    return field, column


def main(argv: Sequence[str] | None = None, spark: SparkSession | None = None) -> int:
    """The command line; returns the number of alerts (the exit code is 0 / 1 as for
    ``dcom-detect scan``)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", nargs="+", help="NDJSON or Parquet files or folders (any path Spark reads)")
    parser.add_argument("--format", choices=["json", "parquet"], default=None, help="default: from the first name")
    parser.add_argument("--output", help="folder to write the alerts to (NDJSON, one alert per line)")
    parser.add_argument("--exceptions", help="an exceptions (tuning) file (read here, on the driver)")
    parser.add_argument("--case-folding", choices=["ascii", "unicode_simple"], default="ascii")
    parser.add_argument("--column", dest="columns", action="append", type=_column, default=[], metavar="FIELD=COLUMN")
    parser.add_argument("--id-column", help="a column of the events to keep beside each alert")
    parser.add_argument(
        "--profile",
        choices=["seed", "extended"],
        default="seed",
        help="extended: the correlation rules D2, D2L, D3 too (default seed: the rule alone)",
    )
    parser.add_argument("--host-column", default="host.name", help="the host column (extended; default host.name)")
    parser.add_argument("--time-column", default="@timestamp", help="the time column (extended; default @timestamp)")
    parser.add_argument("--master", default=None, help="Spark master when not run by spark-submit (default local[*])")
    args = parser.parse_args(argv)

    if spark is None:
        builder = SparkSession.builder.appName("dcom-detect hunt")
        # Under spark-submit the JVM started this process (and knows the master).
        if args.master or "PYSPARK_GATEWAY_PORT" not in os.environ:
            builder = builder.master(args.master or "local[*]")
        spark = builder.getOrCreate()
    fmt = args.format or ("parquet" if args.input[0].rstrip("/").endswith(".parquet") else "json")
    events = spark.read.parquet(*args.input) if fmt == "parquet" else spark.read.json(args.input)
    rule = dcom_detect.Rule(exceptions=args.exceptions, case_folding=args.case_folding)
    alerts = hunt(events, rule, columns=dict(args.columns), id_column=args.id_column).select(ALERT)
    if args.profile == "extended":
        found = correlate(
            events,
            rule,
            host=args.host_column,
            time=args.time_column,
            columns=dict(args.columns),
            id_column=args.id_column,
        )
        alerts = alerts.unionByName(found.select(ALERT))
    alerts = alerts.cache()
    count = alerts.count()
    if args.output:
        alerts.select(ALERT).write.mode("overwrite").text(args.output)
    else:
        for row in alerts.select(ALERT).toLocalIterator():
            print(row[ALERT])
    print(f"spark_hunt: {count} alert{'s' if count != 1 else ''}", file=sys.stderr)
    return count


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
