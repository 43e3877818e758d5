"""`nerkit predict`: read documents, tag them with a Tagger, write the results.

    nerkit predict runs/conll03 "George Washington went to Washington."
    nerkit predict runs/conll03 --input news.txt --output tagged.jsonl

The Tagger itself lives in nerkit/inference/tagger.py; this module only connects inputs and outputs.
"""

from __future__ import annotations

import sys

from .inference.tagger import Tagger, entities, load

__all__ = ["Tagger", "entities", "load", "predict_to"]


def predict_to(model: str, texts=None, input: str | None = None, output: str | None = None,
               fmt: str | None = None, text_field: str | None = None, skip_invalid: bool = False,
               **tagger_options) -> int:
    """Tag `texts` (or the documents of `input`, or stdin) and write them to `output` (or stdout)."""
    from .documents import default_format, read_documents, show, write_conll, write_jsonl
    from .formats.html import write_html

    if texts:
        documents = texts
    elif input:
        with open(input, "rb") as stream:
            documents = read_documents(stream, input, text_field, skip_invalid)
    else:
        documents = read_documents(sys.stdin.buffer, "<stdin>", text_field, skip_invalid)
    tagger = load(model, **tagger_options)
    results = tagger.predict(documents, progress=bool(input))
    out = open(output, "w", encoding="utf-8") if output else sys.stdout
    try:
        fmt = fmt or default_format(out)
        {"jsonl": write_jsonl, "conll": write_conll, "html": write_html}.get(fmt, lambda r, o: show(r))(results, out)
    finally:
        if out is not sys.stdout:
            out.close()
    return 0
