"""A seeded run: one run folder per seed under a parent folder, and the parent's `summary.json`.

    runs/conll03/seed-42/  seed-43/  seed-44/  summary.json      (nerkit train recipe.yaml --seeds 42 43 44)

`summary.json` holds, for every scored split, the mean, sample sd, min, max and 95% t-interval of the
micro F1 (and of each type's F1) over the seeds, and the seed whose validation F1 is best: the one that
push, predict, serve and evaluate load when they are given the parent folder.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any, Sequence

from .errors import RunError
from .metadata import FILE as METADATA
from .run import INCOMPLETE
from .writing import write_json

logger = logging.getLogger(__name__)

SUMMARY = "summary.json"
SEED_PREFIX = "seed-"
_SAID: set[tuple[str, str]] = set()
BEST_BY = ("validation", "f1")  # the best seed: highest dev F1 (the first of equals); never chosen on test


def seed_folder(parent: str | Path, seed: int) -> Path:
    return Path(parent, f"{SEED_PREFIX}{seed}")


def statistics(values: Sequence[float]) -> dict[str, Any]:
    """Mean, sample sd (n - 1), min, max and the two-sided 95% Student-t interval of the mean; sd and the
    interval are None for a single value (one seed says nothing about the spread)."""
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
    interval = None
    if sd is not None:
        from scipy.stats import t

        half = t.ppf(0.975, n - 1) * sd / math.sqrt(n)
        interval = [mean - half, mean + half]
    return {"n": n, "mean": mean, "sd": sd, "min": min(values), "max": max(values), "ci95": interval}


def summarize(parent: str | Path, seeds: Sequence[int]) -> dict[str, Any]:
    """The summary of the finished seed folders under `parent` (from each one's metrics.json)."""
    metrics = {seed: _metrics(seed_folder(parent, seed)) for seed in seeds}
    splits = [s for s in next(iter(metrics.values())) if all(s in m for m in metrics.values())]
    summary: dict[str, Any] = {"seeds": list(seeds), "folders": {str(s): seed_folder(parent, s).name for s in seeds},
                               "splits": {}}
    for split in splits:
        runs = [metrics[seed][split] for seed in seeds]
        types = sorted(set.intersection(*(set(r["per_type"]) for r in runs)))
        summary["splits"][split] = {
            "f1": statistics([r["f1"] for r in runs]),
            "precision": statistics([r["precision"] for r in runs]),
            "recall": statistics([r["recall"] for r in runs]),
            "per_seed_f1": {str(seed): metrics[seed][split]["f1"] for seed in seeds},
            "per_type": {t: {"f1": statistics([r["per_type"][t]["f1"] for r in runs])} for t in types},
        }
    split, key = BEST_BY
    if split in summary["splits"]:
        best = max(seeds, key=lambda seed: metrics[seed][split][key])  # max keeps the first of equals
        summary.update(best_seed=best, best_folder=seed_folder(parent, best).name, best_by=f"{split}.{key}")
    else:
        summary.update(best_seed=None, best_folder=None, best_by=None)
    return summary


def write_summary(parent: str | Path, seeds: Sequence[int]) -> dict[str, Any]:
    summary = summarize(parent, seeds)
    write_json(Path(parent, SUMMARY), summary)
    return summary


def _metrics(folder: Path) -> dict[str, Any]:
    if Path(folder, INCOMPLETE).exists() or not Path(folder, "metrics.json").is_file():
        raise RunError(f"{folder}: this seed's run has not finished (no metrics.json, or {INCOMPLETE})")
    return json.loads(Path(folder, "metrics.json").read_text(encoding="utf-8"))


def read_summary(folder: str | Path) -> dict[str, Any] | None:
    """The summary.json of a seeded parent folder; None for any other folder (a run has its nerkit.json)."""
    path = Path(folder, SUMMARY)
    if Path(folder, METADATA).is_file() or not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def best_run(folder: str | Path) -> Path:
    """A seeded parent folder -> its best-dev seed's run folder (said in the log); any other folder as it is."""
    summary = read_summary(folder)
    if summary is None:
        return Path(folder)
    if not summary.get("best_folder"):
        raise RunError(f"{folder}: its seeds have no validation scores to choose the best by; name a seed folder "
                       f"({', '.join(summary['folders'].values())})")
    best = Path(folder, summary["best_folder"])
    dev = summary["splits"][BEST_BY[0]]
    if (str(folder), best.name) in _SAID:  # each command looks it up several times (metadata, model): said once
        return best
    _SAID.add((str(folder), best.name))
    logger.info("%s holds %d seeds: using %s, the best on %s (F1 %.4f; mean over the seeds %.4f)", folder,
                len(summary["seeds"]), best.name, BEST_BY[0], dev["per_seed_f1"][str(summary["best_seed"])],
                dev["f1"]["mean"])
    return best
