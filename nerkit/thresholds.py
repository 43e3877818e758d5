"""Per-type score thresholds: parse them, check them against a model's types, tune them on dev.

An entity whose (calibrated) score is below its type's threshold is dropped whole. A threshold is one
number for every type or one per type (`0.8`, `PER=0.6,ORG=0.9`, `{"PER": 0.6}`); a type without one
keeps every entity. Tuned thresholds are stored in nerkit.json and used by default; an explicit
threshold replaces them all, and `0` turns them off.

    effective("PER=0.6", stored={"ORG": 0.9}, types=["LOC", "ORG", "PER"])   # {"PER": 0.6}
    tune(kinds, scores, correct, gold={"PER": 1842, ...}, min_precision=0.95)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from .errors import UsageError

Threshold = float | Mapping[str, float] | str | None
GRID = np.round(np.linspace(0.0, 1.0, 101), 2)  # the precision-recall curve's points


class ThresholdError(UsageError):
    """A threshold that is not a number in [0, 1], or names a type the model does not have."""


@dataclass
class TunedThresholds:
    """What nerkit.json's `thresholds` holds: the value per type and how they were chosen."""
    per_type: dict[str, float]
    objective: str = "f1"  # f1 | min_precision=0.95
    tuned_on: str | None = None
    notes: list[str] = field(default_factory=list)


def parse(text: str) -> float | dict[str, float]:
    """`0.8` -> 0.8; `PER=0.6,ORG=0.9` -> {"PER": 0.6, "ORG": 0.9} (what --threshold takes)."""
    text = str(text).strip()
    if "=" not in text:
        return _number(text, text)
    values = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, value = part.partition("=")
        if not kind.strip():
            raise ThresholdError(f"threshold {part!r}: expected TYPE=NUMBER, e.g. PER=0.6")
        values[kind.strip()] = _number(value, part)
    return values


def _number(value: Any, where: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ThresholdError(f"threshold {where!r}: expected a number between 0 and 1, or TYPE=NUMBER,... "
                             "(e.g. 0.8 or PER=0.6,ORG=0.9)") from None
    if not 0.0 <= number <= 1.0:
        raise ThresholdError(f"threshold {where!r}: {number} is outside [0, 1]")
    return number


def check(threshold: Threshold, types: Sequence[str]) -> dict[str, float]:
    """A number, a per-type mapping or its text -> {type: threshold} for the model's `types` (zeros left out)."""
    if isinstance(threshold, str):
        threshold = parse(threshold)
    if isinstance(threshold, Mapping):
        unknown = sorted(set(threshold) - set(types))
        if unknown:
            raise ThresholdError(f"threshold for {', '.join(unknown)}: the model has no such entity type "
                                 f"(its types: {', '.join(types)})")
        values = {kind: _number(value, f"{kind}={value}") for kind, value in threshold.items()}
    else:
        number = _number(threshold, threshold)
        values = {kind: number for kind in types}
    return {kind: value for kind, value in sorted(values.items()) if value > 0}


def effective(threshold: Threshold, stored: TunedThresholds | None, types: Sequence[str]) -> dict[str, float]:
    """The thresholds in force: the explicit ones, else the model's tuned ones (stored), else none."""
    if threshold is None:
        return {k: v for k, v in stored.per_type.items() if v > 0} if stored is not None else {}
    return check(threshold, types)


def describe(thresholds: Mapping[str, float]) -> str:
    """`0.9` when every type has it, else `LOC 0.5, ORG 0.44`."""
    values = set(thresholds.values())
    if len(values) == 1:
        return f"{values.pop():g}"
    return ", ".join(f"{kind} {value:g}" for kind, value in thresholds.items()) or "-"


def kept(kind: str, score: float, thresholds: Mapping[str, float]) -> bool:
    return score >= thresholds.get(kind, 0.0)


def curve(scores: Sequence[float], correct: Sequence[bool], gold: int,
          candidates: Sequence[float] | None = None) -> dict[str, np.ndarray]:
    """Precision, recall and F1 of the entities kept at each candidate threshold (score >= threshold);
    by default every distinct score and 0."""
    scores, correct = np.asarray(scores, dtype=float), np.asarray(correct, dtype=bool)
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], np.cumsum(correct[order])
    t = np.unique(np.append(ranked, 0.0)) if candidates is None else np.asarray(candidates, dtype=float)
    predicted = np.searchsorted(-ranked, -t, side="right")  # entities with score >= t
    tp = np.where(predicted > 0, hits[np.maximum(predicted - 1, 0)] if len(hits) else 0, 0)
    precision = np.divide(tp, predicted, out=np.zeros(len(t)), where=predicted > 0)
    recall = tp / gold if gold else np.zeros(len(t))
    f1 = np.divide(2 * tp, predicted + gold, out=np.zeros(len(t)), where=predicted + gold > 0)
    return {"threshold": t, "precision": precision, "recall": recall, "f1": f1, "predicted": predicted}


def tune(kinds: Sequence[str], scores: Sequence[float], correct: Sequence[bool], gold: Mapping[str, int],
         min_precision: float | None = None, tuned_on: str | None = None) -> TunedThresholds:
    """Per type: the threshold with the highest F1 (ties: the lowest), or with `min_precision` the lowest
    threshold whose precision reaches it; a type that never reaches it gets its most precise threshold
    and a note."""
    if min_precision is not None:
        _number(min_precision, f"--min-precision {min_precision}")
    kinds, scores, correct = np.asarray(kinds, dtype=object), np.asarray(scores, float), np.asarray(correct, bool)
    values, notes = {}, []
    for kind in sorted(set(gold) | set(kinds.tolist())):
        chosen = kinds == kind
        points = curve(scores[chosen], correct[chosen], gold.get(kind, 0))
        if min_precision is None:
            best = int(np.flatnonzero(points["f1"] == points["f1"].max())[0])
        else:
            reach = np.flatnonzero((points["precision"] >= min_precision) & (points["predicted"] > 0))
            best = int(reach[0]) if reach.size else int(np.argmax(points["precision"]))
            if not reach.size:
                notes.append(f"{kind}: no threshold reaches precision {min_precision} on this data (best "
                             f"{points['precision'][best]:.4f} at {points['threshold'][best]:.4f}, which is used)")
        values[kind] = round(float(points["threshold"][best]), 6)
    objective = "f1" if min_precision is None else f"min_precision={min_precision}"
    return TunedThresholds(values, objective, tuned_on, notes)


def filter_results(results: list[dict[str, Any]], limits: Mapping[str, float]) -> list[dict[str, Any]]:
    """Tagger results (every entity kept) -> those with `limits` applied: what `Tagger.predict(threshold=...)`
    returns, since an entity's score is the rounded one both compare and dropping an entity changes no other."""
    if not limits:
        return results
    return [{**r, "entities": [e for e in r["entities"] if kept(e["label"], e["score"], limits)]} for r in results]
