"""Tag a Spark DataFrame: an iterator Arrow UDF over the text column, the Tagger loaded once per Python
worker and kept across batches and tasks (Spark reuses its Python workers).

    import nerkit.integrations.spark as ns
    df = spark.read.parquet("s3://bucket/news/")
    ns.tag(df, "my-org/ner", text_column="text").write.parquet("s3://bucket/news-tagged/")

Every column passes through (only the text column goes to Python), and two are added, with a declared
schema: `entities array<struct<label:string,start:int,end:int,text:string,score:double>>`, the records of
`nerkit predict`, and `error string`: null, or why a cell could not be tagged (bytes that are not UTF-8), in
which case `entities` is null, as `--skip-invalid` writes it; a null text gets an empty list.

The UDF is `pyspark.sql.functions.arrow_udf` (Spark 4.1+), the pandas UDF's Arrow-native form: the same
Arrow batches without the hop through pandas, which PySpark does not yet fully support in pandas 3.
"""

from typing import Any, Iterator

from . import TaggingError, check_columns, require, split_options, tag_arrow, worker_tagger

require("pyspark", "spark")
ENTITIES = "array<struct<label:string,start:int,end:int,text:string,score:double>>"


def tag(df, model: str, text_column: str = "text", *, batch_size: int = 256, engine_batch_size: int | None = None,
        entities_column: str = "entities", error_column: str = "error", **tagger_options):
    """A DataFrame: `df`'s columns with `entities` and `error` added (lazy, like any transformation).

    model: a local run or ONNX export folder that every worker can read, or a Hub id (read from each
        worker's Hub cache; HF_HOME and HF_TOKEN as set for the executors).
    batch_size: texts per `Tagger.predict` call (Spark's Arrow batches, spark.sql.execution.arrow.maxRecordsPerBatch,
        are cut to this size); engine_batch_size: sentences per forward pass (default 64 PyTorch, 32 ONNX).
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
    tagged = df.select("*", F.arrow_udf(tag_batches, f"struct<entities:{ENTITIES},error:string>")(
        F.col(_quoted(text_column))).alias(result))
    return tagged.select(*[F.col(_quoted(c)) for c in df.columns], F.col(result)["entities"].alias(entities_column),
                         F.col(result)["error"].alias(error_column))


def _udf(model: str, column: str, load_options: dict[str, Any], predict_options: dict[str, Any], batch_size: int):
    import pyarrow as pa

    def tag_batches(batches: Iterator[pa.Array]) -> Iterator[pa.Array]:  # the hints tell Spark the UDF's kind
        from pyspark import TaskContext

        context = TaskContext.get()
        tagger = worker_tagger(model, _on_gpu(context, load_options), context.cpus() if context else None)
        for batch in batches:
            for start in range(0, len(batch), batch_size):
                entities, errors = tag_arrow(tagger, batch.slice(start, batch_size), column, predict_options, pa.int32())
                yield pa.StructArray.from_arrays([entities, errors], names=["entities", "error"])

    return tag_batches


def _on_gpu(context, load_options: dict[str, Any]) -> dict[str, Any]:
    """The task's GPU as the device, when Spark gave it one and the caller named no device."""
    gpu = (context.resources() if context else {}).get("gpu")
    if gpu is None or not gpu.addresses or "device" in load_options:
        return load_options
    return {**load_options, "device": f"cuda:{gpu.addresses[0]}"}


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"
