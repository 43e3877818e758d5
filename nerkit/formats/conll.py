"""CoNLL column files: read (CoNLL-2003, BMES/.char files, GermEval 2014, CoNLL-U-like) and write.

    EU NNP B-NP B-ORG              # CoNLL-2003: word first, tag last
    北 B-LOC                        # a character-level (BMES or BIO) file: one character per line
    # http://de.wikipedia.org/...  # GermEval 2014: a comment line (data.comment_prefix: "#"),
    1	Schartau	B-PER	O           # then index, word (token_column: 1), outer (2) and inner (3) tags

Blank lines end sentences; `-DOCSTART-` lines start documents. A line with a tab is split on tabs only
(spaces around a column stripped), any other line on runs of ASCII spaces and tabs: a no-break space or
another Unicode space inside a word stays in the word. Every line of a file must have the same number of
columns; the error names the file and line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import IO, Any, Iterable

from ..config import setting
from . import DataError, numbered_lines


def read_conll(path: str | Path, tag_column: int = -1, has_tags: bool = True, token_column: int = 0,
               comment_prefix: str | None = None) -> list[dict[str, Any]]:
    """Whitespace-separated columns -> sentences (tags as in the file)."""
    sentences: list[dict[str, Any]] = []
    tokens, tags, lines = [], [], []
    document, width, width_line, first, seen_docstart = 0, None, 0, "", False

    def close() -> None:
        if tokens:
            sentences.append({"tokens": tokens[:], "tags": tags[:], "document": document, "lines": lines[:]})
            tokens.clear(), tags.clear(), lines.clear()

    for number, line in numbered_lines(path):
        if comment_prefix and line.startswith(comment_prefix):
            continue
        columns = split_columns(line)
        if not columns:
            close()
            continue
        if columns[0] == "-DOCSTART-" or columns[token_column:token_column + 1] == ["-DOCSTART-"]:
            close()
            document += seen_docstart  # the first -DOCSTART- opens document 0
            seen_docstart = True
            continue
        if width is None:
            width, width_line, first = len(columns), number, line
            try:
                _check_columns(path, number, width, token_column, tag_column, has_tags)
            except DataError as err:
                raise DataError(f"{err}{_comment_hint((line,), comment_prefix)}") from None
        elif len(columns) != width:
            raise DataError(f"{path}:{number}: expected {width} columns (as on line {width_line}), "
                            f"found {len(columns)}: {line!r}{_comment_hint((line, first), comment_prefix)}")
        tokens.append(columns[token_column])
        tags.append(columns[tag_column] if has_tags else "O")
        lines.append(f"{path}:{number}")
    close()
    if not seen_docstart:
        for sentence in sentences:
            sentence["document"] = -1
    if not sentences:
        raise DataError(f"{path}: no sentences found (empty file?)")
    return sentences


def _comment_hint(lines: tuple[str, ...], comment_prefix: str | None) -> str:
    commented = any(text[:1] in ("#", "%", ";") for text in lines)
    return f" (a comment line? set {setting('data.comment_prefix')})" if commented and not comment_prefix else ""


ASCII_BLANKS = re.compile(r"[ \t]+")


def split_columns(line: str) -> list[str]:
    """A line's columns: on tabs when it has one, else on runs of ASCII spaces; [] for a blank line."""
    line = line.strip(" \t")
    if not line or line.isspace():  # a line of other Unicode spaces is blank too
        return []
    if "\t" in line:
        return [column.strip(" ") for column in line.split("\t")]
    return ASCII_BLANKS.split(line)


def _check_columns(path, number: int, width: int, token_column: int, tag_column: int, has_tags: bool) -> None:
    if not -width <= token_column < width:
        raise DataError(f"{path}:{number}: {setting('data.token_column')}={token_column} but lines have {width} columns")
    if not has_tags:
        return
    if width < 2:
        raise DataError(f"{path}:{number}: expected at least 2 columns (word ... tag), found 1")
    if not -width <= tag_column < width:
        raise DataError(f"{path}:{number}: {setting('data.tag_column')}={tag_column} but lines have {width} columns")
    if token_column % width == tag_column % width:
        raise DataError(f"{path}:{number}: {setting('data.token_column')} and {setting('data.tag_column')} are the same column "
                        f"({token_column % width}) of {width}")


def conll_rows(text: str, entities: Iterable[dict[str, Any]]):
    """(word, IOB2 tag) for every word of `text`, from entities with character offsets. One pass over
    the words and the entities (both in text order), so it is linear in their number."""
    from ..text import split_words

    ordered = sorted(entities, key=lambda e: (e["start"], e["end"]))
    k, opened = 0, -1
    for word in split_words(text):
        while k < len(ordered) and ordered[k]["end"] <= word.start:
            k += 1
        if k < len(ordered) and ordered[k]["start"] <= word.start:
            yield word.text, ("I-" if opened == k else "B-") + ordered[k]["label"]
            opened = k
        else:
            yield word.text, "O"


def write_conll(results: Iterable[dict[str, Any]], out: IO[str]) -> None:
    """Word / IOB2 tag columns, a blank line between documents."""
    for result in results:
        for word, tag in conll_rows(result["text"], result["entities"]):
            out.write(f"{word}\t{tag}\n")
        out.write("\n")
