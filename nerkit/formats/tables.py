"""Documents for corpus runs: text lines, JSON Lines, Parquet and Hub datasets, read lazily with every
field of a record kept; Parquet written chunk by chunk.

Every reader yields `InputRecord(fields, text)`: `fields` is the input record (`{"text": line}` for a text
line) and `text` the string to tag. Under `skip_invalid` a bad record becomes
`InputRecord({"line": N, "error": ...}, None)` (`"row"` for Parquet and datasets): it keeps its place, so
output and input counts match.
"""

from __future__ import annotations

import json
import logging
import os
from typing import IO, Any, Callable, Iterable, Iterator, NamedTuple

from ..deprecated import moved_names
from ..errors import InputError, not_utf8
from . import SUFFIXES, open_bytes, suffix_format

logger = logging.getLogger(__name__)
__getattr__ = moved_names(__name__, {"Document": "nerkit.formats.tables:InputRecord"})

INPUT_FORMATS = ("text", "jsonl", "parquet")
JSONL_SUFFIXES = tuple(suffix for suffix, fmt in SUFFIXES.items() if fmt == "jsonl")


class InputRecord(NamedTuple):
    fields: dict[str, Any]
    text: str | None  # None: an error record written in the input's place


def input_format(path: str | None, text_field: str | None, declared: str = "auto") -> str:
    """text, jsonl or parquet: as declared, else from the suffix; --text-field alone means JSON Lines."""
    if declared != "auto":
        return declared
    fmt = suffix_format(path)
    if fmt == "parquet":
        return "parquet"
    return "jsonl" if fmt == "jsonl" or text_field is not None else "text"


def check_input_file(path: str) -> None:
    if os.path.isdir(path):
        raise InputError(f"{path} is a directory; --input takes one file (use --dataset for a dataset folder)")
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")


def read_lines(stream: IO[bytes], name: str, skip_invalid: bool = False) -> Iterator[InputRecord]:
    """One document per line; an empty line is an empty document."""
    for number, raw in enumerate(stream, start=1):
        try:
            line = _decode(raw, name, number)
            if line.startswith("{") and _is_object(line):
                raise InputError(f"{name}:{number}: a JSON object where a text line was expected "
                                 "(JSON Lines input: name the file .jsonl, or give --text-field or --input-format jsonl)")
            yield InputRecord({"text": line}, line)
        except InputError as err:
            yield _invalid(err, "line", number, skip_invalid)


def read_jsonl(stream: IO[bytes], name: str, text_field: str | None = None,
               skip_invalid: bool = False) -> Iterator[InputRecord]:
    """One JSON object per line with a string field `text_field` (default `text`); every field is kept.
    A blank line is an empty document."""
    field = text_field or "text"
    for number, raw in enumerate(stream, start=1):
        try:
            line = _decode(raw, name, number)
            if not line.strip():
                yield InputRecord({field: ""}, "")
                continue
            record = _parse(line, name, number)
            if "\\ud" in line.lower():
                _check_surrogates(record, f"{name}:{number}")
            yield _record(record, field, f"{name}:{number}")
        except InputError as err:
            yield _invalid(err, "line", number, skip_invalid)


def read_parquet(path: str, text_field: str | None = None, skip_invalid: bool = False,
                 batch_rows: int = 1024) -> Iterator[InputRecord]:
    """The rows of a Parquet file, read one record batch at a time."""
    import pyarrow.parquet as pq

    field = text_field or "text"
    table = pq.ParquetFile(path)
    if field not in table.schema_arrow.names:
        raise InputError(f"{path}: no column {field!r} (columns: {', '.join(table.schema_arrow.names)}); "
                         "choose one with --text-field")
    return _rows((row for batch in table.iter_batches(batch_size=batch_rows) for row in batch.to_pylist()),
                 field, path, skip_invalid)


# The `datasets` builder for a data file: nerkit's own formats by their suffix, and three only `datasets` reads.
BUILDERS = {"jsonl": "json", "json": "json", "parquet": "parquet"}
DATASETS_ONLY_SUFFIXES = {".csv": "csv", ".txt": "text", ".arrow": "arrow"}


def data_file_builder(name: str) -> str | None:
    suffix = os.path.splitext(name)[1].lower()
    return BUILDERS.get(suffix_format(name)) or DATASETS_ONLY_SUFFIXES.get(suffix)


def dataset_arguments(name: str, split: str | None = None) -> tuple[tuple, dict]:
    """`datasets.load_dataset` arguments for a Hub id, a local dataset folder or a local data file (which
    `load_dataset` alone would look up on the Hub); a path that does not exist is an error here, before any
    model loads."""
    if os.path.isfile(name):
        builder = data_file_builder(name)
        if builder is None:
            suffixes = [s for s, fmt in SUFFIXES.items() if fmt in BUILDERS] + list(DATASETS_ONLY_SUFFIXES)
            raise InputError(f"{name}: a data file ends in {', '.join(suffixes)}")
        return (builder,), {"data_files": {split or "train": name}}
    if not os.path.isdir(name) and (data_file_builder(name) is not None
                                    or name.startswith((".", "/", "~")) or name.count("/") > 1):
        raise InputError(f"{name}: no such file or folder (a Hub dataset id is `name` or `owner/name`)")
    return (name,), {}


def open_dataset(name: str, split: str = "train", config: str | None = None):
    """A Hub dataset (or a local dataset folder or data file `datasets` can read), streamed."""
    from datasets import load_dataset

    args, kwargs = dataset_arguments(name, split)
    return load_dataset(*args, split=split, streaming=True, **(kwargs or {"name": config}))


def read_dataset(dataset, name: str, text_field: str | None = None, skip_invalid: bool = False) -> Iterator[InputRecord]:
    """The records of a streamed dataset (from `open_dataset`)."""
    field = text_field or "text"
    columns = list(dataset.features or {}) if getattr(dataset, "features", None) is not None else None
    if columns is not None and field not in columns:
        raise InputError(f"{name}: no column {field!r} (columns: {', '.join(columns)}); choose one with --text-field")
    return _rows(iter(dataset), field, name, skip_invalid)


def count_documents(path: str | None, fmt: str, dataset=None, split: str | None = None) -> int | None:
    """How many documents the input holds, where that is cheap to know (for the progress bar's ETA)."""
    if dataset is not None:
        splits = getattr(dataset.info, "splits", None) or {}
        info = splits.get(split) if hasattr(splits, "get") else None
        return getattr(info, "num_examples", None) or None
    if path is None:
        return None
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    lines, last = 0, b"\n"
    with open_bytes(path) as stream:
        while block := stream.read(1 << 20):
            lines, last = lines + block.count(b"\n"), block[-1:]
    return lines + (last != b"\n")


def _rows(rows: Iterable[dict], field: str, name: str, skip_invalid: bool) -> Iterator[InputRecord]:
    for number, row in enumerate(rows, start=1):
        try:
            yield _record(row, field, f"{name}: row {number}")
        except InputError as err:
            yield _invalid(err, "row", number, skip_invalid)


def _decode(raw: bytes, name: str, number: int) -> str:
    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as err:
        raise InputError(not_utf8(f"{name}:{number}", err)) from None


def _is_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _parse(line: str, name: str, number: int) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as err:
        hint = "" if line.lstrip().startswith(("{", "[")) else \
            " (a text line where JSON Lines was expected? use --input-format text for plain text)"
        raise InputError(f"{name}:{number}: invalid JSON ({err.msg}){hint}") from None


def _record(record: Any, field: str, where: str) -> InputRecord:
    if not isinstance(record, dict) or not isinstance(record.get(field), str):
        raise InputError(f"{where}: expected an object with a string field {field!r}"
                         + ("" if field != "text" else " (another field: --text-field)"))
    return InputRecord(record, record[field])


def _check_surrogates(record: Any, where: str) -> None:
    try:
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{where}: a lone surrogate escape (such as \\ud800) is not valid Unicode text") from None


def _invalid(err: InputError, unit: str, number: int, skip_invalid: bool) -> InputRecord:
    if not skip_invalid:
        raise err
    logger.warning("%s (written as an error record)", err)
    return InputRecord({unit: number, "error": str(err)}, None)


# Parquet output: each chunk becomes one Arrow IPC stream (kept in the run's spool), merged at the end.

def entity_type():
    import pyarrow as pa

    return pa.list_(pa.struct([("label", pa.string()), ("start", pa.int64()), ("end", pa.int64()),
                               ("text", pa.string()), ("score", pa.float64())]))


def arrow_chunk(records: list[dict[str, Any]]) -> bytes:
    """Output records (input fields + `entities`) -> one Arrow IPC stream; field types inferred per chunk."""
    import pyarrow as pa

    fields = [{k: v for k, v in record.items() if k != "entities"} for record in records]
    entities = pa.array([r.get("entities") for r in records], type=entity_type())
    if not any(fields):
        table = pa.table({"entities": entities})
    else:
        try:
            table = pa.Table.from_struct_array(pa.array(fields)).append_column("entities", entities)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
            raise InputError(f"records cannot be stored in Parquet: {err}") from None
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def write_parquet(chunks: Callable[[], Iterator[bytes]], path: str, schema_hint=None) -> None:
    """Chunks (from `arrow_chunk`, in order) -> one Parquet file, one row group per chunk. Column types
    are unified over all chunks first (a field that is null in one chunk and a string in another is a
    string column); `schema_hint` (the input's own schema) keeps the input's types where it can."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schemas = [pa.ipc.open_stream(blob).schema for blob in chunks()]
    schema = pa.unify_schemas(schemas or [pa.schema([("entities", entity_type())])], promote_options="permissive")
    if schema_hint is not None:
        schema = pa.schema([schema_hint.field(f.name) if f.name in schema_hint.names and f.name != "entities"
                            else f for f in schema])
    with pq.ParquetWriter(path, schema) as writer:
        for blob in chunks():
            writer.write_table(_conform(pa.ipc.open_stream(blob).read_all(), schema))


def _conform(table, schema):
    import pyarrow as pa

    columns = [table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
               for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)
