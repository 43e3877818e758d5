"""Reading documents for `nerkit predict` (arguments, text or JSON Lines files, stdin) and writing results."""

from __future__ import annotations

import json
import logging
import sys
from typing import IO, Any, Iterable

logger = logging.getLogger(__name__)


class InputError(ValueError):
    """An input line that is not valid UTF-8 or not valid JSON; names the line."""


def read_documents(stream: IO[bytes], name: str, text_field: str | None = None, skip_invalid: bool = False) -> list[str]:
    """One document per line (text), or one JSON object per line with `text_field`. Empty lines are
    empty documents (they keep their place in the output)."""
    documents = []
    for number, raw in enumerate(stream, start=1):
        try:
            documents.append(_document(raw, text_field, name, number))
        except InputError as err:
            if not skip_invalid:
                raise
            logger.warning("%s (skipped)", err)
    return documents


def _document(raw: bytes, text_field: str | None, name: str, number: int) -> str:
    try:
        line = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as err:
        raise InputError(f"{name}:{number}: not valid UTF-8 ({err.reason} at byte {err.start})") from None
    if text_field is None:
        return line
    if not line.strip():
        return ""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise InputError(f"{name}:{number}: invalid JSON ({err.msg})") from None
    if not isinstance(record, dict) or not isinstance(record.get(text_field), str):
        raise InputError(f"{name}:{number}: expected an object with a string field {text_field!r}")
    try:  # JSON escapes can spell a lone surrogate ("\ud800"), which no output can encode
        record[text_field].encode("utf-8")
    except UnicodeEncodeError as err:
        raise InputError(f"{name}:{number}: field {text_field!r} holds a lone surrogate "
                         f"({record[text_field][err.start]!r} at character {err.start}), not text") from None
    return record[text_field]


def write_jsonl(results: Iterable[dict[str, Any]], out: IO[str]) -> None:
    for result in results:
        out.write(json.dumps(result, ensure_ascii=False) + "\n")


def write_conll(results: Iterable[dict[str, Any]], out: IO[str]) -> None:
    """Word / IOB2 tag columns, a blank line between documents."""
    from .text import split_words

    for result in results:
        words, tags = split_words(result["text"]), {}
        for entity in result["entities"]:
            inside = [w for w in words if entity["start"] <= w.start < entity["end"]]
            for k, word in enumerate(inside):
                tags[word.start] = ("B-" if k == 0 else "I-") + entity["label"]
        for word in words:
            out.write(f"{word.text}\t{tags.get(word.start, 'O')}\n")
        out.write("\n")


def show(results: Iterable[dict[str, Any]]) -> None:
    """Entities highlighted in the text, for a terminal."""
    from rich.console import Console
    from rich.text import Text

    console = Console()
    for result in results:
        line = Text(result["text"])
        for entity in result["entities"]:
            line.stylize("bold reverse", entity["start"], entity["end"])
            line.append(f"  {entity['text']}/{entity['label']}", style="dim")
        console.print(line)


def default_format(out: IO[str]) -> str:
    return "pretty" if out is sys.stdout and out.isatty() else "jsonl"
