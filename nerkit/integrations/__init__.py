"""Corpus tagging on the engines data teams already run: Ray Data (`integrations/ray.py`) and Spark
(`integrations/spark.py`). The engine schedules, retries and streams; nerkit adds a Tagger per worker.

This module holds what both share and imports neither engine: the Tagger loaded once per worker process
with threads from the CPUs the engine gave it, a column of texts -> Arrow `entities` and `error` columns,
and the split of extra keyword arguments between `Tagger.load` and `Tagger.predict`.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from typing import Any

from ..errors import MissingExtraError, TaggingError, not_utf8

__all__ = ["MissingExtraError", "TaggingError", "require", "split_options", "check_columns", "worker_tagger",
           "tag_values", "tag_arrow"]
_worker: tuple[tuple, Any] | None = None  # (key, Tagger): this process's Tagger, kept across batches and tasks


def require(module: str, extra: str):
    """Import an engine's module, or a one-line error naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(f"nerkit.integrations.{extra} needs {module.split('.')[0]}, which is not "
                                f"installed: pip install 'nerkit[{extra}]'") from None


def split_options(options: dict[str, Any], engine_batch_size: int | None = None) -> tuple[dict, dict]:
    """Extra keyword arguments -> (those for `Tagger.load`, those for `Tagger.predict`), by their signatures,
    so that options the Tagger gains (decoding, thresholds) pass through unchanged; an option neither takes
    is an error in the driver, before any worker starts. `batch_size` is the engines' rows per call, so the
    Tagger's own (sentences per forward pass) comes as `engine_batch_size`."""
    if engine_batch_size is not None:
        options = {**options, "batch_size": engine_batch_size}
    from ..inference.tagger import Tagger

    load = set(inspect.signature(Tagger.load).parameters) - {"cls", "path"}
    predict = set(inspect.signature(Tagger.predict).parameters) - {"self", "texts", "progress"}
    unknown = sorted(set(options) - load - predict)
    if unknown:
        raise TaggingError(f"unknown Tagger option(s) {', '.join(unknown)}: Tagger.load takes {', '.join(sorted(load))}; "
                           f"Tagger.predict takes {', '.join(sorted(predict)) or 'none'}")
    return ({k: v for k, v in options.items() if k in load and k not in predict},
            {k: v for k, v in options.items() if k in predict})


def check_columns(columns, text_column: str, entities_column: str, error_column: str) -> None:
    """The text column is there, and the two added columns get names of their own."""
    if text_column not in columns:
        raise TaggingError(f"no column {text_column!r} (columns: {', '.join(columns)}); choose one with text_column=")
    if entities_column == error_column:
        raise TaggingError(f"entities_column and error_column are both {entities_column!r}; give them two names")
    taken = [name for name in (entities_column, error_column) if name in columns]
    if taken:
        raise TaggingError(f"the input already has a column {taken[0]!r}; choose another output name with "
                           "entities_column= or error_column=")


def worker_tagger(model: str, load_options: dict[str, Any], cpus: float | None):
    """This process's Tagger, loaded on first use and kept; threads set from the engine's CPUs first."""
    global _worker
    key = (model, tuple(sorted((k, repr(v)) for k, v in load_options.items())))
    if _worker is None or _worker[0] != key:
        from ..inference.tagger import load

        threads = use_threads(cpus)
        tagger = load(model, **load_options)
        if "torch" in sys.modules:  # an ONNX folder loads without torch; importing it only to set threads costs
            sys.modules["torch"].set_num_threads(threads)
        _worker = (key, tagger)
    return _worker[1]


def use_threads(cpus: float | None) -> int:
    """The engine's CPUs for this worker (at least 1) as the thread count of torch, ONNX Runtime (which
    reads OMP_NUM_THREADS at load) and the tokenizers' pool, never the machine's whole core count."""
    threads = max(1, int(cpus or 1))
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
        os.environ[name] = str(threads)
    return threads


def text_of(value: Any, column: str) -> tuple[str | None, str | None]:
    """A cell -> (text, error): a string as it is, UTF-8 bytes decoded; null -> (None, None)."""
    if value is None or isinstance(value, str):
        return value, None
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8"), None
        except UnicodeDecodeError as err:
            return None, not_utf8(f"column {column!r}", err)
    return None, f"column {column!r}: expected a string, got {type(value).__name__}"


def tag_values(tagger, values: list, column: str, predict_options: dict[str, Any]) -> tuple[list, list]:
    """Cells -> (entities, errors), one each per cell: a text's entities are `Tagger.predict`'s records, a
    null gets an empty list, an invalid cell gets no entities (null) and its error, as --skip-invalid writes."""
    cells = [text_of(value, column) for value in values]
    results = iter(tagger.predict([text for text, _ in cells if text is not None], **predict_options))
    entities = [next(results)["entities"] if text is not None else None if error else [] for text, error in cells]
    return entities, [error for _, error in cells]


def tag_arrow(tagger, column, name: str, predict_options: dict[str, Any]):
    """An Arrow column of texts -> (entities, error) Arrow arrays, `entities` typed as `nerkit predict`'s Parquet."""
    import pyarrow as pa

    from ..formats.tables import entity_type

    entities, errors = tag_values(tagger, column.to_pylist(), name, predict_options)
    return pa.array(entities, type=entity_type()), pa.array(errors, type=pa.string())
