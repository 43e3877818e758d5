"""Entities highlighted in their text, as HTML: one colour per label, the label and score on hover.

    nerkit predict runs/conll03 --input news.txt --format html --output news.html

`write_html` writes one self-contained page (no scripts, no external assets). The server's page
(nerkit/serve/page.html) builds the same markup in the browser and takes its style from `STYLE` and
`label_rules`, so a file and the live page look the same:

    <mark class="ent" data-label="PER" title="PER 0.99">George Washington</mark>

Every piece of text goes through `html.escape`, so a document cannot inject markup.
"""

from __future__ import annotations

import html
import zlib
from typing import IO, Any, Iterable

COLOURS = {"PER": "#f9b4b4", "LOC": "#a8d8f8", "ORG": "#fcd68e", "MISC": "#d4c1f5", "GPE": "#b9ecc0",
           "DATE": "#f7c6e6", "TIME": "#f5e0b5", "MONEY": "#c8ecd9", "NORP": "#e3d6c3", "EVENT": "#f6bfa3"}
PALETTE = ["#f9b4b4", "#a8d8f8", "#fcd68e", "#d4c1f5", "#b9ecc0", "#f7c6e6", "#c4e3e8", "#f6bfa3",
           "#dde79c", "#cbd3f2", "#efc9a4", "#b5e2d3"]

STYLE = """
:root { color-scheme: light; }
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 60rem;
       padding: 1rem 1.5rem 3rem; color: #1d1d1f; background: #fafafa; }
h1 { font-size: 1.3rem; margin: .5rem 0; }
.meta { color: #666; font-size: .85rem; }
.legend { display: flex; flex-wrap: wrap; gap: .4rem; margin: .6rem 0 1rem; }
.legend .swatch { background: var(--c, #ddd); border-radius: .3rem; padding: .05rem .5rem; font-size: .8rem;
                  font-weight: 600; }
.doc { white-space: pre-wrap; overflow-wrap: anywhere; background: #fff; border: 1px solid #e3e3e3;
       border-radius: .4rem; padding: .8rem 1rem; margin: 0 0 .8rem; line-height: 2.1; }
.doc .number { color: #999; font-size: .75rem; margin-right: .5rem; user-select: none; }
mark.ent { background: var(--c, #ddd); color: inherit; border-radius: .3rem; padding: .1rem .3rem; cursor: help;
           box-decoration-break: clone; -webkit-box-decoration-break: clone; }
mark.ent::after { content: attr(data-label); font-size: .62rem; font-weight: 700; letter-spacing: .03em;
                  margin-left: .3rem; vertical-align: .1rem; opacity: .75; }
.empty { color: #888; font-style: italic; }
"""


def colour(label: str) -> str:
    """A fixed colour for common entity types, a stable pick from the palette for any other."""
    return COLOURS.get(label) or PALETTE[zlib.crc32(label.encode("utf-8")) % len(PALETTE)]


def entity_types(labels: Iterable[str]) -> list[str]:
    """The entity types of a model's tag labels (B-PER, I-PER, O -> PER), sorted."""
    types = {label.split("-", 1)[1] if label[:2] in ("B-", "I-", "E-", "S-", "L-", "U-") else label
             for label in labels if label != "O"}
    return sorted(types)


def label_rules(types: Iterable[str]) -> str:
    """CSS giving each entity type its colour, for highlighted entities and legend swatches alike."""
    rules = []
    for kind in types:
        selector = '[data-label="%s"]' % _css_string(kind)
        rules.append(f"{selector} {{ --c: {colour(kind)}; }}")
    return "\n".join(rules)


def legend(types: Iterable[str]) -> str:
    return "".join(f'<span class="swatch" data-label="{_attr(kind)}">{html.escape(kind)}</span>' for kind in types)


def render_document(result: dict[str, Any]) -> str:
    """The text of one result with each entity wrapped in a <mark> (its label and score as the title)."""
    text, parts, cursor = result["text"], [], 0
    for entity in sorted(result["entities"], key=lambda e: e["start"]):
        start, end = entity["start"], entity["end"]
        if start < cursor or end > len(text):
            raise ValueError(f"entity {entity!r} overlaps the previous one or lies outside its text")
        label = entity["label"]
        parts.append(html.escape(text[cursor:start]))
        parts.append(f'<mark class="ent" data-label="{_attr(label)}" title="{_attr(label)} {entity["score"]:.2f}">'
                     f"{html.escape(text[start:end])}</mark>")
        cursor = end
    parts.append(html.escape(text[cursor:]))
    return "".join(parts)


def write_html(results: Iterable[dict[str, Any]], out: IO[str]) -> None:
    """One self-contained page: a legend, then every document with its entities highlighted."""
    results = list(results)  # the legend above the documents needs every label first
    types = sorted({e["label"] for r in results for e in r["entities"]})
    count = sum(len(r["entities"]) for r in results)
    out.write('<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
              '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
              f"<title>nerkit: {len(results)} documents</title>\n"
              f"<style>{STYLE}\n{label_rules(types)}\n</style>\n</head>\n<body>\n"
              f'<h1>Entities</h1>\n<p class="meta">{len(results)} documents, {count} entities</p>\n'
              f'<div class="legend">{legend(types)}</div>\n')
    for number, result in enumerate(results, start=1):
        body = render_document(result) if result["text"] else '<span class="empty">(empty document)</span>'
        out.write(f'<div class="doc" id="doc-{number}"><span class="number">{number}</span>{body}</div>\n')
    out.write("</body>\n</html>\n")


def _attr(value: str) -> str:
    return html.escape(str(value), quote=True)


def _css_string(value: str) -> str:
    """A label as the content of a double-quoted CSS string inside <style> (no way out of either)."""
    return "".join(ch if ch.isalnum() or ch in "-_ ." else f"\\{ord(ch):x} " for ch in value)
