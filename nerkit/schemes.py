"""Tag schemes: detect, validate and convert IOB1 / IOB2 / BIOES / BMES / BILOU / IO to IOB2 and back, decode spans.

Training always happens in IOB2, so an IOB1 file and its IOB2 copy give identical labels. BMES (the
character-level Chinese convention: B-egin, M-iddle, E-nd, S-ingle) is BIOES with M- for I-; both also
take W- ("whole word") for S-, as some corpora write it.
A tag sequence is validated against the scheme it claims. A continuation tag (I-, M-, E-, L-) that does not
continue an entity of its type is either repaired as conlleval reads it (it opens an entity) and counted, or
refused with an error that names the file and line (`data.invalid_tags`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from .config import setting
from .errors import SchemeError

SCHEMES = ("auto", "iob1", "iob2", "bioes", "bmes", "bilou", "io")
TAG_RE = re.compile(r"^(?:O|([BIMESWLU])-(.+))$")
INSIDE, SINGLE, LAST = {"I", "M"}, {"S", "W", "U"}, {"E", "L"}


Locate = Callable[[int, int], str]  # (sentence index, token index) -> "file:line"


def split_tag(tag: str) -> tuple[str, str | None]:
    """'B-PER' -> ('B', 'PER'); 'O' -> ('O', None). Raises on anything else."""
    match = TAG_RE.match(tag)
    if match is None:
        raise SchemeError(f"malformed tag {tag!r}: expected O or PREFIX-TYPE with PREFIX in B, I, M, E, S, W, L, U")
    return (match.group(1), match.group(2)) if match.group(1) else ("O", None)


def detect_scheme(sequences: Sequence[Sequence[str]]) -> str:
    """IOB2 unless the tags show otherwise: M- means BMES, E-/S-/W- BIOES, L-/U- BILOU; entities opened by I-
    IOB1, unless more entities are opened by B- (IOB1 writes B- only between two touching entities of one
    type): then it is IOB2 with a few broken tags."""
    prefixes = {tag[0] for seq in sequences for tag in seq}
    if "M" in prefixes:
        return "bmes"
    if prefixes & {"E", "S", "W"}:
        return "bioes"
    if prefixes & {"L", "U"}:
        return "bilou"
    opened_by_i = opened_by_b = 0
    for seq in sequences:
        previous = None
        for tag in seq:
            prefix, kind = split_tag(tag)
            opened_by_i += prefix == "I" and previous != kind
            opened_by_b += prefix == "B" and previous != kind
            previous = kind
    return "iob1" if opened_by_i > opened_by_b else "iob2"


_ALLOWED = {
    "iob1": set("IB"),
    "iob2": set("IB"),
    "io": set("I"),
    "bioes": set("BIESW"),
    "bmes": set("BMESW"),
    "bilou": set("BILU"),
}


def to_iob2(tags: Sequence[str], scheme: str, where: Callable[[int], str] = str,
            repaired: list[str] | None = None) -> list[str]:
    """Convert one sentence's tags from `scheme` to IOB2, validating each tag; `where(i)` locates token i.
    A continuation that continues nothing is an error, or, given a `repaired` list, opens an entity (as
    conlleval reads it) and its location is appended to the list."""
    out: list[str] = []
    previous_prefix, previous_kind = "O", None
    for i, tag in enumerate(tags):
        try:
            prefix, kind = split_tag(tag)
        except SchemeError as err:
            raise SchemeError(f"{where(i)}: {err}") from None
        if prefix != "O" and prefix not in _ALLOWED[scheme]:
            raise SchemeError(f"{where(i)}: tag {tag!r} is not valid in {scheme.upper()} (allowed prefixes: "
                              f"{', '.join(sorted(_ALLOWED[scheme]))}){_hint(prefix)}")
        continues = previous_kind == kind and (previous_prefix == "B" or previous_prefix in INSIDE)
        if not continues and _must_continue(scheme, prefix):
            if repaired is None:
                raise SchemeError(_broken(where(i), tag, previous_prefix, previous_kind, scheme, kind))
            repaired.append(where(i))
        if prefix == "O":
            out.append("O")
        elif prefix == "B" or prefix in SINGLE or not continues:
            out.append(f"B-{kind}")
        else:
            out.append(f"I-{kind}")
        # After E-/S-/L-/U- the entity is closed: the next token cannot continue it.
        previous_prefix, previous_kind = ("O", None) if prefix in LAST or prefix in SINGLE else (prefix, kind)
    return out


def _must_continue(scheme: str, prefix: str) -> bool:
    if scheme == "iob2":
        return prefix == "I"
    return scheme in ("bioes", "bmes", "bilou") and (prefix in INSIDE or prefix in LAST)


def _broken(location: str, tag: str, previous_prefix: str, previous_kind: str | None, scheme: str, kind: str) -> str:
    follows = f"{location}: {tag!r} follows {_tag(previous_prefix, previous_kind)!r}; "
    if scheme == "iob2":
        return follows + (f"in IOB2 an entity starts with B-{kind} (is the file IOB1? set "
                          f"{setting('data.scheme', 'iob1')}; {setting('data.invalid_tags', 'repair')} reads it as "
                          "conlleval does)")
    return follows + (f"in {scheme.upper()} it must continue a {kind} entity ({setting('data.invalid_tags', 'repair')} "
                      "reads it as conlleval does)")


def _hint(prefix: str) -> str:
    scheme = {"M": "bmes", "E": "bioes", "S": "bioes"}.get(prefix)
    return f" (is the file {scheme.upper()}? set {setting('data.scheme', scheme)})" if scheme else ""


_WRITE = {"bioes": ("B", "I", "E", "S"), "bmes": ("B", "M", "E", "S"), "bilou": ("B", "I", "L", "U")}


def from_iob2(tags: Sequence[str], scheme: str) -> list[str]:
    """IOB2 tags -> the same entities in `scheme` (iob2, iob1, io, bioes, bmes, bilou): the inverse of to_iob2."""
    if scheme not in SCHEMES[1:]:
        raise SchemeError(f"unknown tag scheme {scheme!r}; expected one of {', '.join(SCHEMES[1:])}")
    out = ["O"] * len(tags)
    for kind, start, end in spans(tags):
        if scheme in _WRITE:
            begin, inside, last, single = _WRITE[scheme]
            if end - start == 1:
                out[start] = f"{single}-{kind}"
                continue
            out[start], out[end - 1] = f"{begin}-{kind}", f"{last}-{kind}"
            out[start + 1:end - 1] = [f"{inside}-{kind}"] * (end - start - 2)
        else:  # iob2, iob1, io (where two touching entities of one type cannot be told apart)
            touching = start > 0 and out[start - 1][2:] == kind
            out[start:end] = [f"I-{kind}"] * (end - start)
            if scheme == "iob2" or (scheme == "iob1" and touching):
                out[start] = f"B-{kind}"
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
