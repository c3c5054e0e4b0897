"""examples/spark_hunt.py on a local Spark session (``local[2]``): its alerts are the alerts
of the single-process scan of the same events, from NDJSON and from Parquet, with and without
exceptions and a column mapping.

Needs PySpark (python/tests/requirements.txt) and a Java 17+ runtime; skipped, saying so,
only when no Java runtime can be started, and never under CI (``CI`` set), where
scripts/install-deps.sh installs one.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import dcom_detect
from conftest import REPO
from test_arrow import EXCEPTIONS, ecs_events, without_position


def _java() -> str | None:
    java = shutil.which("java") or (os.path.join(os.environ["JAVA_HOME"], "bin", "java") if "JAVA_HOME" in os.environ else None)
    if not java or not os.path.exists(java):
        return None
    probe = subprocess.run([java, "-version"], capture_output=True, text=True)
    return java if probe.returncode == 0 else None


if _java() is None and os.environ.get("CI"):
    pytest.fail("no Java runtime under CI: scripts/install-deps.sh should have installed default-jre-headless")
if _java() is None:
    pytest.skip(
        "no Java runtime (java -version fails): PySpark needs Java 17+; install default-jre-headless",
        allow_module_level=True,
    )

from pyspark.sql import SparkSession  # noqa: E402

# PySpark 4 warns about pandas 3 on every Arrow UDF; mapInArrow does not use pandas.
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")


def _load_example() -> Any:
    spec = importlib.util.spec_from_file_location("spark_hunt", REPO / "examples" / "spark_hunt.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["spark_hunt"] = module
    spec.loader.exec_module(module)
    return module


spark_hunt = _load_example()


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    # The executors are this interpreter (with dcom_detect installed): nothing to ship.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("dcom-detect test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "500")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("spark") / "events.ndjson"
    path.write_text("".join(json.dumps(e) + "\n" for e in ecs_events(4000, seed=5)), encoding="utf-8")
    return path


def expected_alerts(rule: dcom_detect.Rule, path: pathlib.Path) -> list[str]:
    return sorted(json.dumps(without_position(a), sort_keys=True) for a in rule.scan(str(path)))


def spark_alerts(frame: Any) -> list[str]:
    documents = [json.loads(row[spark_hunt.ALERT]) for row in frame.select(spark_hunt.ALERT).collect()]
    for document in documents:
        assert "log" not in document and "source" not in document["dcom_detect"]
    return sorted(json.dumps(d, sort_keys=True) for d in documents)


@pytest.mark.parametrize("tuned", [False, True], ids=["plain", "exceptions"])
def test_spark_alerts_equal_the_single_process_scan(spark: SparkSession, events: pathlib.Path, tuned: bool) -> None:
    rule = dcom_detect.Rule(exceptions=EXCEPTIONS if tuned else None)
    frame = spark.read.json(str(events)).repartition(3)
    alerts = spark_hunt.hunt(frame, rule)
    expected = expected_alerts(rule, events)
    assert len(expected) > 100
    assert spark_alerts(alerts) == expected
    # The ECS alert fields are columns.
    first = alerts.select("rule.id", "threat.technique.subtechnique.id", "dcom_detect.branches", "process.name").first()
    assert first is not None
    assert first[0] == rule.metadata["id"] and first[1] == "T1021.003" and first[2] and first[3]
    assert alerts.filter("array_contains(dcom_detect.branches, 'dcomcnfg')").count() == sum(
        "dcomcnfg" in json.loads(a)["dcom_detect"]["branches"] for a in expected
    )


def test_spark_reads_parquet_with_an_id_column_and_a_mapping(
    spark: SparkSession, events: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    rule = dcom_detect.Rule()
    frame = spark.read.json(str(events))
    renamed = frame.withColumn("image", frame["process.name"]).withColumn("seq", frame["event.sequence"])
    parquet = tmp_path / "events.parquet"
    renamed.write.parquet(str(parquet))
    table = spark.read.parquet(str(parquet))
    alerts = spark_hunt.hunt(table, rule, columns={"process.name": "image"}, id_column="seq")
    rows = alerts.select(spark_hunt.ALERT, "seq").collect()
    by_sequence = {e["event"]["sequence"]: e for e in ecs_events(4000, seed=5)}
    assert rows
    for row in rows:
        # The id column is the alert's event.
        assert json.loads(row[spark_hunt.ALERT])["process"]["command_line"] == by_sequence[row["seq"]]["process"]["command_line"]
    assert len(rows) == len(expected_alerts(rule, events))


def test_the_command_line(spark: SparkSession, events: pathlib.Path, tmp_path: pathlib.Path) -> None:
    out = tmp_path / "alerts"
    count = spark_hunt.main([str(events), "--output", str(out), "--exceptions", str(EXCEPTIONS)], spark=spark)
    lines = [line for part in sorted(out.glob("part-*")) for line in part.read_text(encoding="utf-8").splitlines()]
    assert count == len(lines) > 0
    rule = dcom_detect.Rule(exceptions=EXCEPTIONS)
    assert sorted(json.dumps(json.loads(line), sort_keys=True) for line in lines) == expected_alerts(rule, events)


# The correlation profile: events repartitioned by host, sorted by time within partitions, one
# Correlator per partition (spark_hunt.correlate) against the single-process scan.

CORRELATION_FIXTURES = REPO / "core" / "tests" / "data" / "correlation"
SHARED = REPO.parent / "shared"


def numbered(paths: list[pathlib.Path], out: pathlib.Path) -> pathlib.Path:
    """The records of `paths`, one stream, each with its line number in the stream as `_line`
    (a field no rule reads): the id Spark carries to name an anchor."""
    lines = [line for path in paths for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    with out.open("w", encoding="utf-8") as f:
        for n, line in enumerate(lines, 1):
            record = json.loads(line)
            record["_line"] = n
            f.write(json.dumps(record) + "\n")
    return out


def scanned_correlations(path: pathlib.Path) -> set[tuple[str, int, str | None]]:
    found = set()
    for alert in dcom_detect.Rule().scan(str(path), profile="extended"):
        if alert.correlation is not None:
            assert alert.line is not None
            found.add((alert.correlation, alert.line, alert.host))
    return found


def spark_correlations(frame: Any) -> set[tuple[str, int, str | None]]:
    rows = frame.collect()
    for row in rows:
        document = json.loads(row[spark_hunt.ALERT])
        assert document["dcom_detect"]["correlation"]["rule"] == row[spark_hunt.CORRELATION]
    out = {(row[spark_hunt.CORRELATION], row["_line"], row[spark_hunt.HOST]) for row in rows}
    assert len(out) == len(rows), "no alert twice"
    return out


@pytest.mark.parametrize("partitions", [1, 3])
def test_spark_correlations_equal_the_single_process_scan(
    spark: SparkSession, tmp_path: pathlib.Path, partitions: int
) -> None:
    events = numbered(sorted(CORRELATION_FIXTURES.glob("*.ndjson")), tmp_path / "fixtures.ndjson")
    expected = scanned_correlations(events)
    assert {c for c, _, _ in expected} == {"D2", "D2L", "D3"}
    frame = spark.read.json(str(events))
    found = spark_hunt.correlate(
        frame, host="Hostname", time="@timestamp", id_column="_line", partitions=partitions
    )
    assert spark_correlations(found) == expected


def ecs_network_events(hosts: int, seed: int) -> list[dict[str, Any]]:
    """ECS events of `hosts` hosts interleaved in time order: on each, an MMC20-style COM
    server start with its inbound connection (D2), an explorer child after explorer's inbound
    connection (D3), benign starts, and decoys (a loopback connection, a late connection)."""
    import random

    rng = random.Random(seed)
    out: list[tuple[float, dict[str, Any]]] = []

    def at(t: float) -> str:
        whole = int(t)
        return f"2024-05-01T{10 + whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}.{int((t % 1) * 1000):03d}Z"

    for h in range(hosts):
        host = f"ws{h:03d}"
        base = rng.uniform(0, 600)

        def start(t: float, name: str, parent: str, pid: int, args: list[str], ppid: int = 700) -> None:
            out.append((t, {
                "@timestamp": at(t),
                "host": {"name": host, "id": f"{host}-id"},
                "event": {"category": ["process"], "type": ["start"], "kind": "event"},
                "process": {"name": name, "pid": pid, "entity_id": f"{host}-{pid}", "args": args,
                            "parent": {"name": parent, "pid": ppid, "entity_id": f"{host}-{ppid}"}},
            }))

        def inbound(t: float, name: str, pid: int, remote: str) -> None:
            out.append((t, {
                "@timestamp": at(t),
                "host": {"name": host, "id": f"{host}-id"},
                "event": {"category": ["network"], "type": ["connection", "start"], "kind": "event"},
                "network": {"direction": "ingress", "transport": "tcp"},
                "source": {"ip": remote, "port": 50000 + pid % 1000},
                "destination": {"ip": "10.1.0.9", "port": 49700},
                "process": {"name": name, "pid": pid, "entity_id": f"{host}-{pid}"},
            }))

        if h % 2 == 0:
            start(base, "mmc.exe", "svchost.exe", 4100, ["mmc.exe", "-Embedding"])
            inbound(base + rng.uniform(0.1, 3), "mmc.exe", 4100, "10.0.0.5")
        if h % 3 == 0:
            inbound(base + 10, "explorer.exe", 3000, "10.0.0.6")
            start(base + 10 + rng.uniform(0.1, 3), "cmd.exe", "explorer.exe", 5100, ["cmd.exe", "/c", "whoami"], 3000)
        # Decoys: loopback to a COM server, a connection long after, benign starts.
        start(base + 100, "excel.exe", "svchost.exe", 4200, ["excel.exe", "-Embedding"])
        inbound(base + 101, "excel.exe", 4200, "127.0.0.1")
        start(base + 200, "notepad.exe", "explorer.exe", 4300, ["notepad.exe"])
        inbound(base + 900, "explorer.exe", 3000, "10.0.0.7")
        for k in range(5):
            start(base + rng.uniform(0, 1000), "svchost.exe", "services.exe", 6000 + k, ["svchost.exe", "-k", "netsvcs"])
    out.sort(key=lambda pair: pair[0])
    return [event for _, event in out]


def test_spark_correlations_on_interleaved_ecs_hosts(spark: SparkSession, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "ecs.ndjson"
    path.write_text("".join(json.dumps(e) + "\n" for e in ecs_network_events(60, seed=3)), encoding="utf-8")
    events = numbered([path], tmp_path / "numbered.ndjson")
    expected = scanned_correlations(events)
    assert {c for c, _, _ in expected} == {"D2", "D3"} and len(expected) == 30 + 20
    frame = spark.read.json(str(events))
    found = spark_hunt.correlate(frame, id_column="_line", partitions=4)
    assert spark_correlations(found) == expected


def flat(document: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`document` with its nested objects written as dotted keys (`{"host.name": ...}`), as a
    flat table's columns are named."""
    out: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_spark_correlations_on_flat_dotted_columns(spark: SparkSession, tmp_path: pathlib.Path) -> None:
    # Columns literally named `host.name`, `process.pid`, ...: the host key, the time and the
    # rule's fields are read from them, not from structs.
    path = tmp_path / "flat.ndjson"
    path.write_text("".join(json.dumps(flat(e)) + "\n" for e in ecs_network_events(24, seed=5)), encoding="utf-8")
    events = numbered([path], tmp_path / "numbered.ndjson")
    expected = scanned_correlations(events)
    assert {c for c, _, _ in expected} == {"D2", "D3"} and len(expected) == 12 + 8
    frame = spark.read.json(str(events))
    assert "host.name" in frame.columns and "process.pid" in frame.columns and "host" not in frame.columns
    found = spark_hunt.correlate(frame, id_column="_line", partitions=3)
    assert spark_correlations(found) == expected


def test_spark_alerts_on_flat_dotted_columns(spark: SparkSession, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "flat.ndjson"
    path.write_text("".join(json.dumps(flat(e)) + "\n" for e in ecs_events(1500, seed=7)), encoding="utf-8")
    rule = dcom_detect.Rule()
    frame = spark.read.json(str(path)).repartition(2)
    assert "process.parent.name" in frame.columns and "process" not in frame.columns
    expected = expected_alerts(rule, path)
    assert len(expected) > 30
    assert spark_alerts(spark_hunt.hunt(frame, rule)) == expected


def test_spark_correlations_on_the_real_recordings(spark: SparkSession, tmp_path: pathlib.Path) -> None:
    root = SHARED / "realdata" / "otrf_dcom"
    if not root.exists():
        pytest.skip(f"{root} is absent")
    # Raw OTRF records hold keys that differ only in case (`Port`, `port`).
    spark.conf.set("spark.sql.caseSensitive", "true")
    for source in sorted(root.glob("*.ndjson")):
        events = numbered([source], tmp_path / source.name)
        expected = scanned_correlations(events)
        frame = spark.read.json(str(events))
        found = spark_hunt.correlate(frame, host="Hostname", time="@timestamp", id_column="_line", partitions=2)
        assert spark_correlations(found) == expected, source.name
    spark.conf.set("spark.sql.caseSensitive", "false")


def test_the_command_line_with_the_extended_profile(spark: SparkSession, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "ecs.ndjson"
    path.write_text("".join(json.dumps(e) + "\n" for e in ecs_network_events(10, seed=4)), encoding="utf-8")
    out = tmp_path / "alerts"
    count = spark_hunt.main([str(path), "--profile", "extended", "--output", str(out)], spark=spark)
    lines = [line for part in sorted(out.glob("part-*")) for line in part.read_text(encoding="utf-8").splitlines()]
    assert count == len(lines)
    rules = sorted(json.loads(line)["dcom_detect"].get("correlation", {}).get("rule", "seed") for line in lines)
    scan = dcom_detect.Rule().scan(str(path), profile="extended")
    assert rules == sorted(a.correlation or "seed" for a in scan)
    assert "D2" in rules and "D3" in rules
