"""`nerkit train recipe.yaml --seeds 42 43 44`: the same recipe once per seed, then the parent's summary.

    runs/conll03/seed-42/ ... seed-44/ (each a full run folder) + runs/conll03/summary.json (nerkit/summary.py)

Every seed folder keeps a run's guarantees (refusal of a non-empty folder, INCOMPLETE, resume). With
`training.resume_from_checkpoint=true` a killed seeded run continues: finished seeds are kept as they are,
an interrupted one resumes from its last checkpoint, the rest start. Under `accelerate launch` the seeds
run one after another, each with all the processes.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any, Sequence

from .config import Recipe, RecipeError
from .errors import RunError
from .run import INCOMPLETE, RUN_MARKS, asks_last_checkpoint
from .summary import seed_folder, write_summary

logger = logging.getLogger(__name__)


def train_seeds(recipe: Recipe, seeds: Sequence[int], overwrite: bool = False) -> dict[str, Any]:
    """Train `recipe` once per seed under its output_dir; returns the summary (nerkit/summary.py)."""
    from .training import train

    parent = Path(recipe.output_dir or "")
    check_seeds(recipe, seeds)
    resume = asks_last_checkpoint(recipe.training.get("resume_from_checkpoint"))
    for seed in seeds:
        folder = seed_folder(parent, seed)
        if resume and finished(folder):
            logger.info("seed %d: %s finished earlier; kept as it is", seed, folder)
            continue
        training = {**recipe.training, "seed": seed, "output_dir": str(folder)}
        restart = False
        if not (resume and any(folder.glob("checkpoint-*"))):
            training.pop("resume_from_checkpoint", None)  # nothing of this seed's to resume: it starts
            restart = resume and folder.is_dir()  # killed before its first checkpoint: what it wrote is cleared
        logger.info("seed %d of %s: training into %s", seed, ", ".join(map(str, seeds)), folder)
        train(dataclasses.replace(recipe, training=training), overwrite=overwrite or restart)
    if os.environ.get("RANK", "0") != "0":
        return {}
    summary = write_summary(parent, seeds)
    logger.info("%s: %s", parent / "summary.json", describe(summary))
    print(describe(summary), flush=True)
    return summary


def check_seeds(recipe: Recipe, seeds: Sequence[int]) -> None:
    if not seeds:
        raise RecipeError("--seeds needs at least one seed")
    if len(set(seeds)) != len(seeds):
        raise RecipeError(f"--seeds {' '.join(map(str, seeds))}: a seed is repeated")
    if "seed" in recipe.training and recipe.training["seed"] not in seeds:
        logger.warning("--seeds replaces the recipe's training.seed %s", recipe.training["seed"])
    parent = Path(recipe.output_dir or "")
    marks = [m for m in RUN_MARKS if (parent / m).exists()]
    if marks:
        raise RunError(f"output_dir {parent} is a run folder itself ({', '.join(marks)}); seeded runs go into "
                       "a folder of their own: choose another output_dir")


def finished(folder: Path) -> bool:
    return (folder / "metrics.json").is_file() and (folder / "nerkit.json").is_file() and \
        not (folder / INCOMPLETE).exists()


def describe(summary: dict[str, Any]) -> str:
    """One line per split: F1 mean ± sd (95% interval) over the seeds, and the best-dev seed."""
    lines = []
    for split, values in summary["splits"].items():
        f1 = values["f1"]
        spread = f" ± {f1['sd']:.4f} (95% interval {f1['ci95'][0]:.4f} to {f1['ci95'][1]:.4f})" if f1["sd"] is not None else ""
        lines.append(f"{split:<12} F1 {f1['mean']:.4f}{spread} over {f1['n']} seeds, min {f1['min']:.4f} "
                     f"max {f1['max']:.4f}")
    if summary["best_seed"] is not None:
        lines.append(f"best on {summary['best_by']}: seed {summary['best_seed']} ({summary['best_folder']})")
    return "\n".join(lines)
