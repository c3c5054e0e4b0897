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
