"""File formats, read and write, one module each, meeting in one record shape: a sentence is a dict with
`tokens`, `tags` (as in the file), `document` (-1 when the source has no document boundaries) and `lines`
(`file:line` of each token, for error messages). What the format modules share lives here."""

from __future__ import annotations

import gzip
from pathlib import Path

from ..errors import DataError, not_utf8

# The format a file's name says: the one map for labelled data, predict's inputs and its outputs (each adds
# only its own default; labelled CoNLL data also comes as .txt, .iob, ...: formats/conll.py).
SUFFIXES = {".conll": "conll", ".jsonl": "jsonl", ".ndjson": "jsonl", ".jsonl.gz": "jsonl", ".json": "json",
            ".parquet": "parquet", ".html": "html", ".htm": "html"}


def suffix_format(path: str | Path | None) -> str | None:
    name = str(path or "").lower()
    return next((fmt for suffix, fmt in SUFFIXES.items() if name.endswith(suffix)), None)


def open_bytes(path: str | Path):
    """A file opened for reading bytes, decompressed when its name ends in .gz (`.jsonl.gz`)."""
    return gzip.open(path, "rb") if str(path).lower().endswith(".gz") else open(path, "rb")


def numbered_lines(path: str | Path):
    """(line number, text) for each line of a UTF-8 file, without line ends or a byte-order mark."""
    with open_bytes(path) as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise DataError(not_utf8(f"{path}:{number}", err)) from None
            yield number, text.rstrip("\r\n").lstrip("\ufeff")
