"""Entity-level scores in nerkit's report shape (metrics.json, `nerkit evaluate`), per type, and as a table.

`score` takes word-level tag sequences (one gold and one predicted tag per word) and scores them with
nerkit's `evaluate` metric (nerkit/seqeval_metric.py), the same scorer users get from `nerkit.metric()`: a score from
training, from `nerkit evaluate` and from a user's `evaluate` code is the same number by construction.
"""

from __future__ import annotations

from typing import Any, Sequence

from .seqeval_metric import MODES  # noqa: F401  (re-exported)


def score(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], mode: str = "default",
          scheme: str = "IOB2") -> dict[str, Any]:
    """Micro precision/recall/F1 over entities, token accuracy, macro F1 and a per-type breakdown.
    `default` counts entities as conlleval does (a stray I- opens one); `strict` uses IOB2 strictly."""
    from .seqeval_metric import metric

    return report(metric(mode=mode, scheme=scheme).compute(predictions=pred, references=gold))


def report(result: dict[str, Any]) -> dict[str, Any]:
    """The evaluate metric's result (Hub seqeval keys) -> nerkit's report: plain floats and ints, macro F1
    (the mean of the per-type F1, as seqeval's macro average) and the number of gold entities."""
    per_type = {kind: {"precision": float(values["precision"]), "recall": float(values["recall"]),
                       "f1": float(values["f1"]), "support": int(values["number"])}
                for kind, values in sorted(result.items()) if isinstance(values, dict)}
    f1s = [values["f1"] for values in per_type.values()]
    return {
        "precision": float(result["overall_precision"]),
        "recall": float(result["overall_recall"]),
        "f1": float(result["overall_f1"]),
        "accuracy": float(result["overall_accuracy"]),
        "macro_f1": sum(f1s) / len(f1s) if f1s else 0.0,
        "entities": sum(values["support"] for values in per_type.values()),
        "per_type": per_type,
    }


def format_table(results: dict[str, dict[str, Any]]) -> str:
    """A readable table of one or more splits' scores (what training prints at the end), with each F1's
    bootstrap interval where a report has them (`nerkit evaluate`)."""
    rows = [f"{'split':<12} {'type':<8} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8}"
            + ("  f1 95% interval" if any("intervals" in m for m in results.values()) else "")]
    for split, metrics in results.items():
        intervals = metrics.get("intervals") or {}
        ci = lambda pair: f"  [{pair[0]:.4f}, {pair[1]:.4f}]" if pair else ""  # noqa: E731
        for kind, values in metrics["per_type"].items():
            rows.append(f"{split:<12} {kind:<8} {values['precision']:9.4f} {values['recall']:9.4f} "
                        f"{values['f1']:9.4f} {values['support']:8d}{ci(intervals.get('per_type', {}).get(kind))}")
        rows.append(f"{split:<12} {'micro':<8} {metrics['precision']:9.4f} {metrics['recall']:9.4f} "
                    f"{metrics['f1']:9.4f} {metrics['entities']:8d}{ci(intervals.get('f1'))}")
        rows.append(f"{split:<12} {'macro':<8} {'':>9} {'':>9} {metrics['macro_f1']:9.4f} {'':>8}"
                    f"{ci(intervals.get('macro_f1'))}")
        rows.append(f"{split:<12} {'accuracy':<8} {'':>9} {'':>9} {metrics['accuracy']:9.4f}")
    return "\n".join(rows)
