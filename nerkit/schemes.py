"""Tag schemes: detect, validate and convert IOB1 / IOB2 / BIOES / BILOU / IO to IOB2, decode spans.

Training always happens in IOB2, so an IOB1 file and its IOB2 copy give identical labels.
A tag sequence is validated against the scheme it claims; the error names the file and line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

SCHEMES = ("auto", "iob1", "iob2", "bioes", "bilou", "io")
TAG_RE = re.compile(r"^(?:O|([BIESLU])-(.+))$")


class SchemeError(ValueError):
    """A tag that is malformed or not valid in the declared scheme."""


Locate = Callable[[int, int], str]  # (sentence index, token index) -> "file:line"


def split_tag(tag: str) -> tuple[str, str | None]:
    """'B-PER' -> ('B', 'PER'); 'O' -> ('O', None). Raises on anything else."""
    match = TAG_RE.match(tag)
    if match is None:
        raise SchemeError(f"malformed tag {tag!r}: expected O or PREFIX-TYPE with PREFIX in B, I, E, S, L, U")
    return (match.group(1), match.group(2)) if match.group(1) else ("O", None)


def detect_scheme(sequences: Sequence[Sequence[str]]) -> str:
    """IOB2 unless the tags show otherwise: E-/S- means BIOES, L-/U- BILOU, an entity opened by I- IOB1."""
    prefixes = {tag[0] for seq in sequences for tag in seq}
    if prefixes & {"E", "S"}:
        return "bioes"
    if prefixes & {"L", "U"}:
        return "bilou"
    for seq in sequences:
        previous = None
        for tag in seq:
            prefix, kind = split_tag(tag)
            if prefix == "I" and previous != kind:
                return "iob1"
            previous = kind
    return "iob2"


_ALLOWED = {
    "iob1": set("IB"),
    "iob2": set("IB"),
    "io": set("I"),
    "bioes": set("BIES"),
    "bilou": set("BILU"),
}


def to_iob2(tags: Sequence[str], scheme: str, where: Callable[[int], str] = str) -> list[str]:
    """Convert one sentence's tags from `scheme` to IOB2, validating each tag; `where(i)` locates token i."""
    out: list[str] = []
    previous_prefix, previous_kind = "O", None
    for i, tag in enumerate(tags):
        try:
            prefix, kind = split_tag(tag)
        except SchemeError as err:
            raise SchemeError(f"{where(i)}: {err}") from None
        if prefix != "O" and prefix not in _ALLOWED[scheme]:
            raise SchemeError(f"{where(i)}: tag {tag!r} is not valid in {scheme.upper()} (allowed prefixes: "
                              f"{', '.join(sorted(_ALLOWED[scheme]))})")
        continues = previous_kind == kind and previous_prefix in ("B", "I")
        if scheme == "iob2" and prefix == "I" and not continues:
            raise SchemeError(f"{where(i)}: {tag!r} follows {_tag(previous_prefix, previous_kind)!r}; in IOB2 an "
                              f"entity starts with B-{kind} (is the file IOB1? set data.scheme: iob1)")
        if scheme in ("bioes", "bilou") and prefix in ("I", "E", "L") and not continues:
            raise SchemeError(f"{where(i)}: {tag!r} follows {_tag(previous_prefix, previous_kind)!r}; "
                              f"in {scheme.upper()} it must continue a {kind} entity")
        if prefix == "O":
            out.append("O")
        elif prefix in ("B", "S", "U") or not continues:
            out.append(f"B-{kind}")
        else:
            out.append(f"I-{kind}")
        # After E-/S-/L-/U- the entity is closed: the next token cannot continue it.
        previous_prefix, previous_kind = ("O", None) if prefix in ("E", "S", "L", "U") else (prefix, kind)
    return out


def _tag(prefix: str, kind: str | None) -> str:
    return "O" if kind is None else f"{prefix}-{kind}"


def label_list(sequences: Sequence[Sequence[str]]) -> list[str]:
    """Deterministic IOB2 label list: O, then B-/I- of each entity type in sorted order."""
    kinds = sorted({tag[2:] for seq in sequences for tag in seq if tag != "O"})
    return ["O"] + [f"{p}-{k}" for k in kinds for p in ("B", "I")]


def entity_types(labels: Sequence[str]) -> list[str]:
    return sorted({tag[2:] for tag in labels if tag != "O"})


def spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """IOB2 word tags -> (type, first word, last word + 1). A stray I- opens an entity, as conlleval does.
    The rules of seqeval's `get_entities` (tests check they agree), without importing seqeval: it imports
    scikit-learn, seconds of start-up for every `nerkit predict`."""
    found, start, prev_tag, prev_type = [], 0, "O", ""
    for i, label in enumerate([*tags, "O"]):
        tag, kind = label[0], label[1:].split("-", maxsplit=1)[-1] or "_"
        if _chunk_ends(prev_tag, tag, prev_type, kind):
            found.append((prev_type, start, i))
        if _chunk_starts(prev_tag, tag, prev_type, kind):
            start = i
        prev_tag, prev_type = tag, kind
    return found


def _chunk_ends(prev_tag: str, tag: str, prev_type: str, kind: str) -> bool:
    return (prev_tag in "ES" or (prev_tag in "BI" and tag in "BSO")
            or (prev_tag not in "O." and prev_type != kind))


def _chunk_starts(prev_tag: str, tag: str, prev_type: str, kind: str) -> bool:
    return (tag in "BS" or (prev_tag in "ESO" and tag in "EI")
            or (tag not in "O." and prev_type != kind))
