"""Does a single newline end a sentence? `text.newlines: auto | sentence | space`.

Real documents are line-structured: headlines, datelines, lists, tables, signatures, one sentence per
line. Hard-wrapped prose is not: its newlines fall wherever the line was full. `sentence` ends a
sentence at every newline, `space` reads a single newline as a space (a sentence still ends at a newline
after . ! ?), and `auto` decides per paragraph (the text between blank lines). A paragraph is hard-wrapped,
and its single newlines are spaces, when all of these hold:

- it has at least two lines and its longest line has at least 40 characters;
- at three breaks in four or more, the next line's first word would not have fitted on the line (the
  mark of a greedy wrap at the longest line's width): `len(line) + 1 + len(next first word) > longest`;
- fewer than half of its lines that are followed by another end with . ! ? (or a closing quote or bracket);
- fewer than half of its lines hold two spaces in a row or a tab (a table's aligned columns);
- a paragraph of just two lines also needs its second line to start with a lower-case letter (one break
  says little: a headline over a dateline looks full too).

Anything else (one sentence per line, a list, a table, a headline over a dateline) has line-structured
newlines: each ends a sentence. Blank lines end a sentence in every mode. Linear in the text's length.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable

from .errors import UsageError

NEWLINES = ("auto", "sentence", "space")
MIN_WIDTH = 40
BLANK_LINE = re.compile(r"\n[^\S\n]*\n")
FINAL = ".!?。！？\"')]}”’»"


class NewlinesError(UsageError):
    """An unknown newlines setting."""


def check_newlines(newlines: str) -> str:
    if newlines not in NEWLINES:
        raise NewlinesError(f"unknown newlines setting {newlines!r}; expected one of {', '.join(NEWLINES)}")
    return newlines


def line_ends(text: str, newlines: str = "auto") -> Callable[[int], bool]:
    """For the position of a single newline in `text` (or of the word before it): does it end a sentence?"""
    if check_newlines(newlines) != "auto":
        return (lambda position: True) if newlines == "sentence" else (lambda position: False)
    if "\n" not in text:
        return lambda position: True
    starts, ends = wrapped_paragraphs(text)
    if not starts:
        return lambda position: True

    def ends_sentence(position: int) -> bool:
        k = bisect.bisect_right(starts, position) - 1
        return k < 0 or position >= ends[k]
    return ends_sentence


def wrapped_paragraphs(text: str) -> tuple[list[int], list[int]]:
    """(starts, ends) of the paragraphs of `text` that are hard-wrapped prose, in text order."""
    starts, ends, start = [], [], 0
    for match in [*BLANK_LINE.finditer(text), None]:
        end = match.start() if match else len(text)
        if is_wrapped(text[start:end].split("\n")):
            starts.append(start)
            ends.append(end)
        start = match.end() if match else end
    return starts, ends


def is_wrapped(lines: list[str]) -> bool:
    """The rule in the module docstring, for one paragraph's lines."""
    lines = [line.strip() for line in lines]
    lines = [line for line in lines if line]
    if len(lines) < 2:
        return False
    width = max(map(len, lines))
    if width < MIN_WIDTH:
        return False
    breaks = len(lines) - 1
    full = sum(len(line) + 1 + len(following.split()[0]) > width for line, following in zip(lines, lines[1:]))
    final = sum(line[-1] in FINAL for line in lines[:-1])
    aligned = sum("  " in line or "\t" in line for line in lines)
    return (4 * full >= 3 * breaks and 2 * final < breaks and 2 * aligned < len(lines)
            and (breaks > 1 or lines[1][0].islower()))
