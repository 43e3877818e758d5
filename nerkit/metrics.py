"""Entity-level scores with seqeval (conlleval-compatible by default), per type, and as a table.

Pure functions over word-level IOB2 tag sequences: one gold and one predicted tag per word.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

MODES = ("default", "strict")


def score(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], mode: str = "default") -> dict[str, Any]:
    """Micro precision/recall/F1 over entities, token accuracy, macro F1 and a per-type breakdown.
    `default` counts entities as conlleval does (a stray I- opens one); `strict` uses IOB2 strictly."""
    from seqeval.metrics import accuracy_score, classification_report
    from seqeval.scheme import IOB2

    if mode not in MODES:
        raise ValueError(f"unknown eval.mode {mode!r}; expected one of {', '.join(MODES)}")
    if len(gold) != len(pred) or any(len(g) != len(p) for g, p in zip(gold, pred)):
        raise ValueError("gold and predicted tags must have one tag per word")
    gold, pred = [list(g) for g in gold], [list(p) for p in pred]
    strict = {"mode": "strict", "scheme": IOB2} if mode == "strict" else {}
    report = classification_report(gold, pred, output_dict=True, zero_division=0, **strict)
    micro, macro = report.pop("micro avg"), report.pop("macro avg")
    report.pop("weighted avg", None)
    per_type = {kind: _rounded(values) for kind, values in sorted(report.items())}
    return {
        "precision": float(micro["precision"]),
        "recall": float(micro["recall"]),
        "f1": float(micro["f1-score"]),
        "accuracy": float(accuracy_score(gold, pred)) if any(gold) else 0.0,
        "macro_f1": float(macro["f1-score"]),
        "entities": int(micro["support"]),
        "per_type": per_type,
    }


def _rounded(values: dict[str, Any]) -> dict[str, Any]:
    return {"precision": float(values["precision"]), "recall": float(values["recall"]),
            "f1": float(values["f1-score"]), "support": int(values["support"])}


def format_table(results: dict[str, dict[str, Any]]) -> str:
    """A readable table of one or more splits' scores (what training prints at the end)."""
    rows = [f"{'split':<12} {'type':<8} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8}"]
    for split, metrics in results.items():
        for kind, values in metrics["per_type"].items():
            rows.append(f"{split:<12} {kind:<8} {values['precision']:9.4f} {values['recall']:9.4f} "
                        f"{values['f1']:9.4f} {values['support']:8d}")
        rows.append(f"{split:<12} {'micro':<8} {metrics['precision']:9.4f} {metrics['recall']:9.4f} "
                    f"{metrics['f1']:9.4f} {metrics['entities']:8d}")
        rows.append(f"{split:<12} {'macro':<8} {'':>9} {'':>9} {metrics['macro_f1']:9.4f}")
        rows.append(f"{split:<12} {'accuracy':<8} {'':>9} {'':>9} {metrics['accuracy']:9.4f}")
    return "\n".join(rows)


def write_metrics(results: dict[str, dict[str, Any]], path: str | Path) -> None:
    Path(path).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
