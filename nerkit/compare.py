"""`nerkit compare A B DATA`: is A better than B on the same labelled file, beyond chance?

    nerkit compare runs/conll03-lora runs/conll03 test.txt --output compare.json

Both models tag DATA, each with its own settings (nerkit.evaluation.tag_file). Over its sentences, a
paired bootstrap (10,000 resamples, seeded) gives the F1 difference A - B, its 95% interval and a
two-sided p-value, overall and per type, and approximate randomisation a second p-value
(nerkit/significance.py). Seeded parent folders (`nerkit train --seeds`) are compared through their
best-dev seeds, and every seed also tags DATA so that Welch's t-test compares the per-seed means.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from .config import DataConfig
from .errors import DataError
from .evaluation import tag_file
from .metrics import score
from .summary import read_summary, seed_folder
from .writing import atomic_write

logger = logging.getLogger(__name__)


def compare(model_a: str, model_b: str, data: str, mode: str = "default", data_config: DataConfig | None = None,
            resamples: int = 10_000, seed: int = 0, output: str | None = None, **tagger_kwargs) -> dict[str, Any]:
    from .bootstrap import sentence_counts
    from .significance import approximate_randomisation, paired_bootstrap, welch

    cfg = data_config or DataConfig()
    sides = [tag_side(model, data, cfg, mode, **tagger_kwargs) for model in (model_a, model_b)]
    gold = sides[0]["gold"]
    if sides[1]["gold"] != gold:
        raise DataError(f"{data}: the two models read different words or tags from it (each with its own "
                        "newlines rule?); compare needs the same sentences for both")
    types = sorted({t[2:] for tags in [gold, sides[0]["pred"], sides[1]["pred"]] for s in tags for t in s if t != "O"})
    counts = [sentence_counts(gold, side["pred"], mode, types=types) for side in sides]
    report = {"a": describe(sides[0]), "b": describe(sides[1]), "data": str(data), "mode": mode,
              "sentences": len(gold), "types": types,
              "bootstrap": paired_bootstrap(*counts, resamples=resamples, seed=seed),
              "randomisation": approximate_randomisation(*counts, trials=resamples, seed=seed), "welch": None}
    if all(len(side["seed_f1"]) >= 2 for side in sides):
        report["welch"] = welch(list(sides[0]["seed_f1"].values()), list(sides[1]["seed_f1"].values()))
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(output, json.dumps(report, indent=2) + "\n")
    return report


def tag_side(model: str, data: str, cfg: DataConfig, mode: str, **tagger_kwargs) -> dict[str, Any]:
    """One model's predictions on `data` (a seeded folder: its best seed's) and, for a seeded folder, every
    seed's F1 on it."""
    _, sentences, pred, tagger, _ = tag_file(model, data, "test", cfg, **tagger_kwargs)
    gold = [s["tags"] for s in sentences]
    side = {"model": model, "gold": gold, "pred": pred, "scores": score(gold, pred, mode), "seed_f1": {},
            "best_seed": None, "decoding": tagger.decoder.decoding}
    summary = read_summary(model) if Path(model).is_dir() else None
    if summary:
        side["best_seed"] = summary["best_seed"]
        for seed in summary["seeds"]:
            seed_pred = pred if seed == summary["best_seed"] else \
                tag_file(str(seed_folder(model, seed)), data, "test", cfg, **tagger_kwargs)[2]
            side["seed_f1"][str(seed)] = score(gold, seed_pred, mode)["f1"]
    return side


def describe(side: dict[str, Any]) -> dict[str, Any]:
    scores = side["scores"]
    return {"model": side["model"], "best_seed": side["best_seed"], "seed_f1": side["seed_f1"] or None,
            "decoding": side["decoding"], "f1": scores["f1"], "precision": scores["precision"],
            "recall": scores["recall"], "per_type_f1": {t: v["f1"] for t, v in scores["per_type"].items()}}


def format_comparison(report: dict[str, Any]) -> str:
    a, b, boot, ar = report["a"], report["b"], report["bootstrap"], report["randomisation"]
    lines = [f"A: {a['model']}" + (f" (seed {a['best_seed']}, best on dev)" if a["best_seed"] is not None else ""),
             f"B: {b['model']}" + (f" (seed {b['best_seed']}, best on dev)" if b["best_seed"] is not None else ""),
             f"{report['sentences']} sentences of {report['data']}; paired bootstrap ({boot['resamples']:,} "
             f"resamples, seed {boot['seed']}) and approximate randomisation ({ar['trials']:,} trials)", "",
             f"{'':<8} {'F1 A':>7} {'F1 B':>7} {'A - B':>8} {'95% interval':>21} {'p boot':>8} {'p AR':>8}"]
    rows = [("micro", a["f1"], b["f1"], boot["micro"], ar["micro"])]
    rows += [(t, a["per_type_f1"].get(t, 0.0), b["per_type_f1"].get(t, 0.0), boot["per_type"][t], ar["per_type"][t])
             for t in report["types"]]
    for name, f1_a, f1_b, test, randomised in rows:
        lines.append(f"{name:<8} {f1_a:7.4f} {f1_b:7.4f} {test['difference']:+8.4f} "
                     f"{'[' + format(test['low'], '+.4f') + ', ' + format(test['high'], '+.4f') + ']':>21} "
                     f"{test['p']:8.4f} {randomised['p']:8.4f}")
    welch = report["welch"]
    if welch:
        lines += ["", f"per-seed means: A {welch['mean_a']:.4f} over {welch['seeds_a']} seeds, B {welch['mean_b']:.4f} "
                      f"over {welch['seeds_b']}: difference {welch['difference']:+.4f}, Welch's t "
                      + (f"{welch['t']:.2f} (df {welch['df']:.1f})" if welch["t"] is not None else "undefined (no spread)")
                      + f", p {welch['p']:.4f}"]
    return "\n".join(lines)
