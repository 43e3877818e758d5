"""The format of a file whose name does not tell it (WikiANN's and WNUT-17's test files have no known
suffix), from its first lines: Parquet, a JSON array, JSON Lines, or whitespace columns whose last column is a tag.
Anything else is left undecided, and the caller asks for `data.format`."""

from __future__ import annotations

import json
from pathlib import Path

from ..schemes import TAG_RE
from .conll import split_columns

SAMPLE_BYTES = 65536
SAMPLE_LINES = 200


def sniff_format(path: str | Path, comment_prefix: str | None = None) -> tuple[str, str] | None:
    """(format, what was seen) for parquet, json, jsonl or conll content; None when the content is none of them."""
    with open(path, "rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    if head.startswith(b"PAR1"):
        return "parquet", "Parquet"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 3:  # not just a character cut at the end of the sample
            return None
        text = head[:err.start].decode("utf-8")
    text = text.lstrip("\ufeff")
    start = text.lstrip()
    if start.startswith("["):
        return ("json", "a JSON array") if start[1:].lstrip()[:1] in ("{", "]") else None
    lines = text.splitlines()[:-1] if len(head) == SAMPLE_BYTES else text.splitlines()
    if start.startswith("{"):
        return ("jsonl", "JSON Lines") if _json_object(start.splitlines()[0]) else None
    return ("conll", "whitespace columns ending in a tag") if _tagged_columns(lines, comment_prefix) else None


def _json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except json.JSONDecodeError:
        return False


def _tagged_columns(lines: list[str], comment_prefix: str | None) -> bool:
    """Every sampled word line has the same number (>= 2) of columns, the last one a tag."""
    widths, seen = set(), 0
    for line in lines:
        if comment_prefix and line.startswith(comment_prefix):
            continue
        columns = split_columns(line)
        if not columns or columns[0] == "-DOCSTART-":
            continue
        if len(columns) < 2 or TAG_RE.match(columns[-1]) is None:
            return False
        widths.add(len(columns))
        seen += 1
        if seen == SAMPLE_LINES:
            break
    return seen > 0 and len(widths) == 1
