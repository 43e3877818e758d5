"""Tag a Ray Dataset: `Dataset.map_batches` with a callable class, so each actor loads the Tagger once.

    import ray, nerkit.integrations.ray as nr
    ds = ray.data.read_parquet("s3://bucket/news/")
    nr.tag(ds, "my-org/ner", text_column="text", concurrency=8, batch_size=256).write_parquet("s3://bucket/tagged/")

Every input column passes through, and two are added: `entities`, a list of {label, start, end, text, score}
exactly as `nerkit predict` writes them (offsets int64, as in its Parquet output), and `error`: null, or why a
cell could not be tagged (not a string, not UTF-8), in which case `entities` is null; a null text gets an empty
list. Ray's own scheduling, retries and streaming execution do the distribution; nerkit adds none of its own.
Rows come in Ray's order (`DataContext.get_current().execution_options.preserve_order = True` keeps the input's).
"""

from __future__ import annotations

from typing import Any

from . import check_columns, require, split_options, tag_arrow, worker_tagger

ray = require("ray", "ray")
require("ray.data", "ray")


def tag(dataset, model: str, text_column: str = "text", *, concurrency: int | tuple[int, int] | None = None,
        batch_size: int = 256, num_cpus: float = 1, num_gpus: float | None = None,
        engine_batch_size: int | None = None, entities_column: str = "entities", error_column: str = "error",
        ray_options: dict[str, Any] | None = None, **tagger_options):
    """A lazy Ray Dataset: `dataset`'s rows with `entities` and `error` added.

    model: a local run or ONNX export folder, or a Hub id (each actor reads it; a Hub id from the actor's
        Hub cache, HF_HOME and HF_TOKEN as set on the workers).
    concurrency: actors: n for a fixed pool, (min, max) for an autoscaling one; None leaves it to Ray.
    batch_size: rows per call of an actor (each call tags its texts in one `Tagger.predict`);
        engine_batch_size: sentences per forward pass (the Tagger's batch_size; default 64 PyTorch, 32 ONNX).
    num_cpus / num_gpus: per actor; its torch / ONNX Runtime threads are its CPUs, a GPU is used when given.
    ray_options: further `map_batches` arguments (memory=, runtime_env=, ...).
    tagger_options: passed through to `nerkit.load` (revision=, device=, precision=, ...) or to
        `Tagger.predict`, whichever takes them, so the Tagger's own options (decoding, thresholds) work here too.
    """
    check_columns([text_column], text_column, entities_column, error_column)  # the names, before Ray starts
    load_options, predict_options = split_options(tagger_options, engine_batch_size)
    if isinstance(concurrency, tuple):
        compute = ray.data.ActorPoolStrategy(min_size=concurrency[0], max_size=concurrency[1])
    else:
        compute = None if concurrency is None else ray.data.ActorPoolStrategy(size=concurrency)
    settings = dict(model=model, text_column=text_column, load_options=load_options,
                    predict_options=predict_options, entities_column=entities_column, error_column=error_column)
    return dataset.map_batches(TagBatch, fn_constructor_kwargs=settings, batch_format="pyarrow",
                               batch_size=batch_size, compute=compute, num_cpus=num_cpus, num_gpus=num_gpus,
                               **(ray_options or {}))


class TagBatch:
    """One actor: the Tagger, loaded when the actor starts and kept for every batch it is given."""

    def __init__(self, model: str, text_column: str, load_options: dict[str, Any], predict_options: dict[str, Any],
                 entities_column: str, error_column: str):
        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
        self.tagger = worker_tagger(model, load_options, cpus)
        self.text_column, self.predict_options = text_column, predict_options
        self.entities_column, self.error_column = entities_column, error_column

    def __call__(self, batch):
        check_columns(batch.column_names, self.text_column, self.entities_column, self.error_column)
        entities, errors = tag_arrow(self.tagger, batch.column(self.text_column), self.text_column,
                                     self.predict_options)
        return batch.append_column(self.entities_column, entities).append_column(self.error_column, errors)
