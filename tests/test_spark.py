"""Spark `local[2]` (one session for the module): records equal `Tagger.predict`'s, columns kept, nulls and
invalid cells, a model by Hub id from the workers' offline cache, plan-time errors."""

import datetime
import os
import shutil
import sys

import pytest

pytest.importorskip("pyspark", reason="Spark is an optional extra: pip install 'nerkit[spark]'")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs Java 17 or newer, and there is no java here (CI installs default-jre-headless)",
                allow_module_level=True)

import nerkit  # noqa: E402
import nerkit.integrations.spark as ns  # noqa: E402
from nerkit.integrations import TaggingError  # noqa: E402


@pytest.fixture(scope="module")
def spark(hub_home):
    from pyspark.sql import SparkSession

    with pytest.MonkeyPatch.context() as env:  # what the Python workers inherit: the Hub cache, no network
        env.setenv("HF_HOME", str(hub_home))
        env.setenv("HF_HUB_OFFLINE", "1")
        env.setenv("PYSPARK_PYTHON", sys.executable)
        session = (SparkSession.builder.master("local[2]").appName("nerkit-tests").config("spark.ui.enabled", "false")
                   .config("spark.sql.shuffle.partitions", "2").getOrCreate())
        session.sparkContext.setLogLevel("ERROR")
        yield session
        session.stop()


@pytest.fixture(scope="module")
def expected(trained_run, short_texts):
    return [r["entities"] for r in nerkit.load(str(trained_run), precision="fp32").predict(short_texts)]


def rows_by_id(df) -> list[dict]:
    return sorted((row.asDict(recursive=True) for row in df.collect()), key=lambda row: row["id"])


def test_local_2_gives_tagger_predict_records_and_keeps_every_column(spark, trained_run, short_texts, expected):
    n = len(short_texts)
    data = [(i, text, ["a"] * (i % 3), {"source": f"s{i % 2}"}, datetime.date(2026, 1, 1 + i % 28))
            for i, text in enumerate([*short_texts, None])]
    df = spark.createDataFrame(data, "id long, text string, tags array<string>, meta map<string,string>, day date")
    tagged = ns.tag(df.repartition(2), str(trained_run), batch_size=50, precision="fp32")
    assert tagged.columns == [*df.columns, "entities", "error"]
    assert tagged.schema["entities"].dataType.simpleString() == ns.ENTITIES
    rows = rows_by_id(tagged)
    assert [tuple(row[c] for c in df.columns) for row in rows] == data
    assert [row["entities"] for row in rows] == [*expected, []]  # the null text: no entities, no error
    assert [row["error"] for row in rows] == [None] * (n + 1)
    assert sum(map(len, expected)) > 100  # the tiny model finds entities, so the comparison means something


def test_a_hub_id_from_the_workers_cache_and_invalid_cells_as_errors(spark, short_texts, expected):
    cells = [(i, bytearray(t.encode())) for i, t in enumerate(short_texts[:40])] + [(40, bytearray(b"\xffx")), (41, None)]
    df = spark.createDataFrame(cells, "id long, body binary")
    rows = rows_by_id(ns.tag(df, "me/ner", text_column="body", entities_column="found", error_column="problem",
                             precision="fp32"))
    assert [row["found"] for row in rows] == [*expected[:40], None, []]
    assert [row["problem"] for row in rows] == [None] * 40 + [
        "column 'body': not valid UTF-8 (invalid start byte at byte 0)", None]


def test_what_cannot_work_fails_when_the_plan_is_built(spark, trained_run):
    df = spark.createDataFrame([(1, "Anna")], "id long, text string")
    with pytest.raises(TaggingError, match=r"^column 'id' holds bigint; expected string \(or UTF-8 binary\)"):
        ns.tag(df, str(trained_run), text_column="id")
    with pytest.raises(TaggingError, match=r"^no column 'body' \(columns: id, text\)"):
        ns.tag(df, str(trained_run), text_column="body")
    with pytest.raises(TaggingError, match=r"^the input already has a column 'id'"):
        ns.tag(df, str(trained_run), entities_column="id")
    with pytest.raises(TaggingError, match=r"^unknown Tagger option\(s\) colour"):
        ns.tag(df, str(trained_run), colour="red")
