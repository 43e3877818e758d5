"""`nerkit predict`: read documents, tag them with a Tagger, write the results, chunk by chunk.

    nerkit predict runs/conll03 "George Washington went to Washington."
    nerkit predict runs/conll03 --input news.jsonl --output tagged.jsonl [--resume]
    accelerate launch --num_processes 4 -m nerkit.predict runs/conll03 --input big.jsonl --output tagged.jsonl

The Tagger lives in nerkit/inference/tagger.py, the readers in nerkit/formats/tables.py and the chunked,
resumable, multi-process runs in nerkit/inference/corpus.py; this module only connects them.
"""

from __future__ import annotations

import io
import os
import sys
from typing import Any, Iterator

from .inference.tagger import Tagger, entities, load
from .errors import PredictError

__all__ = ["Tagger", "entities", "load", "predict_to"]

TABLE_FORMATS = ("parquet",)
JSON_ARRAY_FORMATS = ("label-studio",)
RUN_NEUTRAL_OPTIONS = ("device", "batch_size", "token")  # a resumed run may change these; any other tagger option
# (decoding, newlines, precision, ...) changes the entities, so a resume with another value is refused
PAGE_FORMATS = ("html",)  # one page whose legend needs every document's labels: built in memory, then written


def writers(model: str = "nerkit") -> dict[str, Any]:
    """Text formats: `write_x(results, out)` writes records to a text stream; chunk by chunk, appended."""
    from functools import partial

    from .documents import write_conll, write_jsonl
    from .formats.span_writers import write_doccano, write_label_studio_tasks, write_spans

    return {"jsonl": write_jsonl, "conll": write_conll, "spans": write_spans, "doccano": write_doccano,
            "label-studio": partial(write_label_studio_tasks, model_version=str(model))}


def output_format(output: str | None, fmt: str | None) -> str:
    from .documents import default_format

    if output and fmt == "pretty":
        raise PredictError("--format pretty is a terminal view; with --output choose another format "
                           f"({', '.join([*writers(), *TABLE_FORMATS])})")
    if output and os.path.isdir(output):
        raise PredictError(f"--output {output} is a directory; give a file name")
    if output and output.lower().endswith(".gz"):
        raise PredictError(f"--output {output}: compressed output is not written (a resumed run appends to "
                           "the file); name it without .gz and compress it afterwards")
    if fmt:
        return fmt
    if output:
        from .formats import suffix_format

        fmt = suffix_format(output) or "jsonl"
        return "jsonl" if fmt == "json" else fmt  # a .json output holds JSON Lines
    return default_format(sys.stdout)


def predict_to(model: str, texts=None, input: str | None = None, output: str | None = None,
               fmt: str | None = None, text_field: str | None = None, skip_invalid: bool = False,
               dataset: str | None = None, split: str = "train", dataset_config: str | None = None,
               input_format: str = "auto", chunk_size: int = 1000, resume: bool = False,
               progress: bool = True, **tagger_options) -> int:
    """Tag `texts`, the documents of `input` or `dataset`, or stdin; write to `output` (or stdout)."""
    from .inference.corpus import processes, run_corpus

    fmt = output_format(output, fmt)
    if chunk_size < 1:
        raise PredictError(f"--chunk-size must be a positive integer, got {chunk_size}")
    documents, total, name, hint = input_documents(texts, input, dataset, split, dataset_config, text_field,
                                              input_format, skip_invalid)
    group = processes()
    if group.world > 1 and not (input or dataset):
        raise PredictError("several processes need --input or --dataset (each reads the input for its share)")
    needs_output = "--resume" if resume else "Parquet output" if fmt in TABLE_FORMATS else \
        "several processes" if group.world > 1 else None
    if output is None and needs_output:
        raise PredictError(f"{needs_output} needs --output")
    tagger = load(model, **_device(tagger_options, group.world))
    field = (text_field or "text") if (input or dataset) else "text"
    if fmt in PAGE_FORMATS:
        return _write_page(tagger.predict, documents, output, field, chunk_size)
    if output is None:
        _stream(tagger.predict, documents, fmt, field, chunk_size, model)
        return 0
    settings = {"model": model, "input": name, "text_field": field, "format": fmt,
                **{key: value for key, value in tagger_options.items() if key not in RUN_NEUTRAL_OPTIONS}}
    run_corpus(tagger.predict, documents, output, _sink(fmt, field, hint, model), settings, chunk_size, resume,
               total, group, progress=progress and bool(input or dataset))
    return 0


def input_documents(texts, input, dataset, split, dataset_config, text_field, input_format, skip_invalid):
    """(lazy documents, their number if known, the input's name, its Arrow schema if it has one): what
    `nerkit predict` and `nerkit select` read."""
    from .formats import tables
    from .formats.tables import (InputRecord, check_input_file, count_documents, open_dataset, read_dataset,
                                 read_jsonl, read_lines, read_parquet)

    if sum(map(bool, (texts, input, dataset))) > 1:
        raise PredictError("give documents as arguments, --input or --dataset, not several")
    if texts:
        return [InputRecord({"text": t}, t) for t in texts], len(texts), "<arguments>", None
    if dataset:
        name = f"{dataset}[{split}]"
        stream = open_dataset(dataset, split, dataset_config)
        return read_dataset(stream, name, text_field, skip_invalid), count_documents(None, "", stream, split), name, None
    fmt = tables.input_format(input, text_field, input_format)
    if input is None:
        if fmt == "parquet":
            raise PredictError("Parquet input needs --input FILE")
        reader = read_jsonl(sys.stdin.buffer, "<stdin>", text_field, skip_invalid) if fmt == "jsonl" else \
            read_lines(sys.stdin.buffer, "<stdin>", skip_invalid)
        return reader, None, "<stdin>", None
    check_input_file(input)
    total = count_documents(input, fmt)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return read_parquet(input, text_field, skip_invalid), total, input, pq.read_schema(input)
    return _lines(input, fmt, text_field, skip_invalid), total, input, None


def _lines(path: str, fmt: str, text_field: str | None, skip_invalid: bool) -> Iterator:
    from .formats import open_bytes
    from .formats.tables import read_jsonl, read_lines

    with open_bytes(path) as stream:
        yield from (read_jsonl(stream, path, text_field, skip_invalid) if fmt == "jsonl"
                    else read_lines(stream, path, skip_invalid))


def _device(options: dict[str, Any], world: int) -> dict[str, Any]:
    """One GPU per process when several share a machine (LOCAL_RANK, as accelerate and torchrun set it)."""
    if world > 1 and options.get("device", "auto") == "auto":
        import torch

        if torch.cuda.is_available():
            return {**options, "device": f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"}
    return options


def _as_documents(records: list[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    """What text writers (CoNLL, spans, pretty) expect: `text` and `entities`; an error record is an
    empty document, so that documents keep their places."""
    return [{**r, "text": r.get(field) or "", "entities": r.get("entities") or []} for r in records]


def _sink(fmt: str, field: str, hint, model: str):
    from .formats.tables import arrow_chunk, write_parquet
    from .inference.corpus import Sink, concatenate

    if fmt == "parquet":
        return Sink(arrow_chunk, lambda chunks, path: write_parquet(chunks, path, hint), concatenated=False)
    write = _writer(fmt, model)

    def encode(records: list[dict[str, Any]]) -> bytes:
        return _written(write, records if fmt == "jsonl" else _as_documents(records, field)).encode("utf-8")

    if fmt in JSON_ARRAY_FORMATS:
        return Sink(encode, _json_array_file, concatenated=False)
    return Sink(encode, concatenate, concatenated=True)


def _write_page(tag, documents, output: str | None, field: str, chunk_size: int) -> int:
    """`--format html`: every document tagged (chunk by chunk), then one self-contained page, written whole."""
    from .formats.html import write_html
    from .inference.corpus import chunked, tag_chunk
    from .writing import atomic_write

    records = [r for chunk in chunked(documents, chunk_size) for r in _as_documents(tag_chunk(tag, chunk), field)]
    page = io.StringIO()
    write_html(records, page)
    if output is None:
        sys.stdout.write(page.getvalue())
    else:
        atomic_write(output, page.getvalue())
    return 0


def _json_array_file(chunks, path: str) -> None:
    from .formats.span_writers import json_array

    with open(path, "w", encoding="utf-8") as out:
        json_array((line for blob in chunks() for line in blob.decode("utf-8").splitlines()), out)


def _writer(fmt: str, model: str = "nerkit"):
    table = writers(model)
    if fmt not in table:
        raise PredictError(f"unknown output format {fmt!r}; expected one of {', '.join([*table, *TABLE_FORMATS])}")
    return table[fmt]


def _stream(tag, documents, fmt: str, field: str, chunk_size: int, model: str = "nerkit") -> None:
    """To stdout, chunk by chunk, as the run goes (a JSON list's items too: opened first, closed at the end)."""
    from .documents import show
    from .formats.span_writers import json_array
    from .inference.corpus import chunked, tag_chunk

    write = show if fmt == "pretty" else _writer(fmt, model)

    def tagged():
        for chunk in chunked(documents, chunk_size):
            records = tag_chunk(tag, chunk)
            yield records if fmt == "jsonl" else _as_documents(records, field)
            sys.stdout.flush()

    if fmt in JSON_ARRAY_FORMATS:
        json_array((line for records in tagged() for line in _written(write, records).splitlines()), sys.stdout)
        return
    for records in tagged():
        write(records, sys.stdout)


def _written(write, records: list[dict[str, Any]]) -> str:
    text = io.StringIO()
    write(records, text)
    return text.getvalue()

