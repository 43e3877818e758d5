"""The SemEval-2013 (task 9.1) entity measures, computed by nervaluate itself on nerkit's word tags.

    partial_match(gold_tags, predicted_tags, types=["LOC", "MISC", "ORG", "PER"])
    # {"overall": {"strict": {...}, "exact": {...}, "partial": {...}, "ent_type": {...}}, "per_type": {...}}

Each measure holds the counts correct, incorrect, partial, missed, spurious, possible (= correct + incorrect
+ partial + missed) and actual (= correct + incorrect + partial + spurious), and precision, recall and F1.
strict: type and both boundaries; exact: both boundaries, any type; partial: overlapping boundaries, half
credit, any type; ent_type: the type and some overlap. Every sentence is one nervaluate document, so an
entity never runs across a sentence end, as in `metrics.score`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Sequence

SCHEMAS = ("strict", "exact", "partial", "ent_type")
COUNTS = ("correct", "incorrect", "partial", "missed", "spurious", "possible", "actual")


def partial_match(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], types: Sequence[str]) -> dict[str, Any]:
    """nervaluate's Evaluator over IOB2 word tags (its list loader), in plain dicts."""
    from nervaluate import Evaluator

    results = Evaluator([list(s) for s in gold], [list(s) for s in pred], tags=list(types), loader="list").evaluate()
    return {"overall": {schema: _plain(results["overall"][schema]) for schema in SCHEMAS},
            "per_type": {kind: {schema: _plain(by_schema[schema]) for schema in SCHEMAS}
                         for kind, by_schema in sorted(results["entities"].items())}}


def _plain(result) -> dict[str, Any]:
    values = asdict(result)
    return {**{k: int(values[k]) for k in COUNTS}, **{k: float(values[k]) for k in ("precision", "recall", "f1")}}


def format_partial(scores: dict[str, Any]) -> str:
    """The terminal table: one row per schema, overall and per type."""
    rows = [f"{'partial match':<22} {'cor':>6} {'inc':>6} {'par':>6} {'mis':>6} {'spu':>6} {'prec':>7} {'rec':>7} {'f1':>7}"]
    groups = [("overall", scores["overall"]), *scores["per_type"].items()]
    for name, by_schema in groups:
        for schema in SCHEMAS:
            v = by_schema[schema]
            rows.append(f"{name + ' ' + schema:<22} {v['correct']:6d} {v['incorrect']:6d} {v['partial']:6d} "
                        f"{v['missed']:6d} {v['spurious']:6d} {v['precision']:7.4f} {v['recall']:7.4f} {v['f1']:7.4f}")
    return "\n".join(rows)
