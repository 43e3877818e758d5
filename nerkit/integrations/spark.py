"""Tag a Spark DataFrame: an iterator pandas UDF over the text column, the Tagger loaded once per Python
worker and kept across batches and tasks (Spark reuses its Python workers).

    import nerkit.integrations.spark as ns
    df = spark.read.parquet("s3://bucket/news/")
    ns.tag(df, "my-org/ner", text_column="text").write.parquet("s3://bucket/news-tagged/")

Every column passes through (only the text column goes to Python), and two are added, with a declared
schema: `entities array<struct<label:string,start:int,end:int,text:string,score:double>>`, the records of
`nerkit predict`, and `error string`: null, or why a cell could not be tagged (bytes that are not UTF-8), in
which case `entities` is null, as `--skip-invalid` writes it; a null text gets an empty list.
The UDF is `pandas_udf` with an `Iterator[pd.Series] -> Iterator[pd.DataFrame]` signature (Spark 3.0 and
newer), so the clusters' own Spark releases run it.
"""

from typing import Any, Iterator

from . import TaggingError, check_columns, require, split_options, tag_values, worker_tagger

require("pyspark", "spark")
ENTITIES = "array<struct<label:string,start:int,end:int,text:string,score:double>>"


def tag(df, model: str, text_column: str = "text", *, batch_size: int = 256, engine_batch_size: int | None = None,
        entities_column: str = "entities", error_column: str = "error", **tagger_options):
    """A DataFrame: `df`'s columns with `entities` and `error` added (lazy, like any transformation).

    model: a local run or ONNX export folder that every worker can read, or a Hub id (read from each
        worker's Hub cache; HF_HOME and HF_TOKEN as set for the executors).
    batch_size: texts per `Tagger.predict` call (Spark's Arrow batches, spark.sql.execution.arrow.maxRecordsPerBatch
        rows, are cut to this size); engine_batch_size: sentences per forward pass (default 64 PyTorch, 32 ONNX).
    tagger_options: passed through to `nerkit.load` (revision=, device=, precision=, ...) or to
        `Tagger.predict`, whichever takes them, so the Tagger's own options (decoding, thresholds) work here too.
    Threads per worker are the task's CPUs (spark.task.cpus); a task given a GPU (spark.task.resource.gpu.amount)
    runs on it unless device= says otherwise.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import BinaryType, StringType

    check_columns(df.columns, text_column, entities_column, error_column)
    kind = df.schema[text_column].dataType
    if not isinstance(kind, (StringType, BinaryType)):
        raise TaggingError(f"column {text_column!r} holds {kind.simpleString()}; expected string (or UTF-8 binary)")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise TaggingError(f"batch_size must be a positive integer, got {batch_size!r}")
    load_options, predict_options = split_options(tagger_options, engine_batch_size)
    tag_batches = _udf(model, text_column, load_options, predict_options, batch_size)
    result = "_nerkit_tagged"
    while result in df.columns:
        result += "_"
    tagged = df.select("*", F.pandas_udf(tag_batches, f"struct<entities:{ENTITIES},error:string>")(
        F.col(_quoted(text_column))).alias(result))
    return tagged.select(*[F.col(_quoted(c)) for c in df.columns], F.col(result)["entities"].alias(entities_column),
                         F.col(result)["error"].alias(error_column))


def _udf(model: str, column: str, load_options: dict[str, Any], predict_options: dict[str, Any], batch_size: int):
    import pandas as pd

    def tag_batches(batches: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:  # the hints tell Spark the UDF's kind
        from pyspark import TaskContext

        context = TaskContext.get()
        tagger = worker_tagger(model, _on_gpu(context, load_options), context.cpus() if context else None)
        for batch in batches:
            cells = [None if pd.isna(value) else value for value in batch]  # pandas writes a null as NaN or NA
            for start in range(0, len(cells), batch_size):
                entities, errors = tag_values(tagger, cells[start:start + batch_size], column, predict_options)
                yield pd.DataFrame({"entities": entities, "error": errors}, dtype=object)

    return tag_batches


def _on_gpu(context, load_options: dict[str, Any]) -> dict[str, Any]:
    """The task's GPU as the device, when Spark gave it one and the caller named no device."""
    gpu = (context.resources() if context else {}).get("gpu")
    if gpu is None or not gpu.addresses or "device" in load_options:
        return load_options
    return {**load_options, "device": f"cuda:{gpu.addresses[0]}"}


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"
