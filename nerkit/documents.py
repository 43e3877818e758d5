"""Documents for `nerkit predict`: text files read into memory, and the writers of results (JSON Lines,
CoNLL columns, a highlighted terminal view). Lazy corpus readers live in formats/tables.py."""

from __future__ import annotations

import json
import sys
from typing import IO, Any, Iterable

from .deprecated import moved_names
from .formats.conll import write_conll  # noqa: F401  (re-exported: it lives with the CoNLL reader)
from .formats.tables import InputError, read_jsonl, read_lines

__getattr__ = moved_names(__name__, {"read_documents": "nerkit.documents:read_texts"})

__all__ = ["InputError", "read_texts", "write_jsonl", "write_conll", "show", "default_format"]


def read_texts(stream: IO[bytes], name: str, text_field: str | None = None, skip_invalid: bool = False) -> list[str]:
    """The texts of a text-lines file (or JSON Lines with `text_field`), in memory; bad lines are left
    out with `skip_invalid`. Corpus runs read lazily instead (formats/tables.py)."""
    documents = read_jsonl(stream, name, text_field, skip_invalid) if text_field else \
        read_lines(stream, name, skip_invalid)
    return [d.text for d in documents if d.text is not None]


def write_jsonl(results: Iterable[dict[str, Any]], out: IO[str]) -> None:
    for result in results:
        out.write(json.dumps(result, ensure_ascii=False) + "\n")


def show(results: Iterable[dict[str, Any]], out: IO[str] | None = None) -> None:
    """Entities highlighted in the text, for a terminal."""
    from rich.console import Console
    from rich.text import Text

    console = Console(file=out)
    for result in results:
        line = Text(result["text"])
        for entity in result["entities"]:
            line.stylize("bold reverse", entity["start"], entity["end"])
            line.append(f"  {entity['text']}/{entity['label']}", style="dim")
        console.print(line)


def default_format(out: IO[str]) -> str:
    return "pretty" if out is sys.stdout and out.isatty() else "jsonl"
