"""File formats, read and write, one module each, meeting in one record shape: a sentence is a dict with
`tokens`, `tags` (as in the file), `document` (-1 when the source has no document boundaries) and `lines`
(`file:line` of each token, for error messages). What the format modules share lives here."""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError


def numbered_lines(path: str | Path):
    """(line number, text) for each line of a UTF-8 file, without line ends or a byte-order mark."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise DataError(f"{path}:{number}: not valid UTF-8 ({err.reason} at byte {err.start})") from None
            yield number, text.rstrip("\r\n").lstrip("\ufeff")
