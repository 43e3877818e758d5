"""`nerkit tune`: an Optuna study over the recipe's `tune.space` (nerkit/space.py), one run folder per trial.

    nerkit tune recipes/conll03.yaml --trials 30 --timeout 2h
    nerkit tune recipes/conll03.yaml --trials 30 --resume        # a killed study continues (or a second process joins)

The study lives in `<output_dir>/study.db` (SQLite): TPE sampler, median pruner fed by each evaluation of
the validation split, heartbeats so that a killed trial is marked failed. Trial N trains into
`<output_dir>/trial-N` (a nerkit run folder: a pruned trial keeps its INCOMPLETE marker) and is scored on
the validation split only: a study never reads the test set. At the end: `best-recipe.yaml` (the recipe
with the best values written in; it trains as written), `trials.csv`, `history.png` and `importance.png`.
"""

from __future__ import annotations

import csv
import logging
import shutil
import time
import warnings
from pathlib import Path
from typing import Any

from .config import Recipe, TuneConfig
from .errors import RunError, UsageError
from .space import space_of, suggest, with_values
from .writing import atomic_write, redact

logger = logging.getLogger(__name__)

STUDY, BEST_RECIPE, TRIALS = "study.db", "best-recipe.yaml", "trials.csv"
HEARTBEAT_S = 30  # a trial without a heartbeat for twice this is failed by the next trial to start


def require_optuna():
    try:
        import optuna
    except ImportError:
        raise UsageError("nerkit tune needs Optuna: pip install 'nerkit[tune]'") from None
    return optuna


def tune(recipe: Recipe, trials: int, timeout: float | None = None, resume: bool = False, n_jobs: int = 1,
         heartbeat: int = HEARTBEAT_S):
    """Run (or continue) the study until `trials` trials have finished (completed, pruned or failed) or
    `timeout` seconds have passed; write the best recipe and the reports; returns the Optuna study."""
    optuna = require_optuna()
    if trials < 1:
        raise UsageError(f"--trials must be at least 1, got {trials}")
    space = space_of(recipe)  # every mistake in the space is said here, before any trial
    out = Path(recipe.output_dir or "")
    check_folder(out, resume)
    out.mkdir(parents=True, exist_ok=True)
    settings = recipe.tune or TuneConfig()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats: experimental since 2.9
        storage = optuna.storages.RDBStorage(f"sqlite:///{(out / STUDY).resolve()}", heartbeat_interval=heartbeat)
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)
    existing, started = 0, 0
    if resume:
        before = optuna.load_study(study_name="nerkit", storage=storage).get_trials(deepcopy=False)
        existing, started = sum(t.state in finished for t in before), len(before)
    # the sampler's seed moves with every trial started before, running ones included: a process that resumes
    # or joins a study while another trains draws new values instead of repeating that process's draws
    study = optuna.create_study(
        storage=storage, study_name="nerkit", direction=settings.direction, load_if_exists=resume,
        sampler=optuna.samplers.TPESampler(seed=int(recipe.training.get("seed", 42)) + started),
        pruner=optuna.pruners.MedianPruner() if settings.pruner == "median" else optuna.pruners.NopPruner())
    logger.info("study %s: %d of %d trials finished before; searching %s", out / STUDY, existing, trials,
                ", ".join(space))
    study.optimize(lambda trial: run_trial(trial, recipe, space, out, settings), n_trials=max(trials - existing, 0),
                   timeout=timeout, n_jobs=n_jobs, catch=(Exception,),
                   callbacks=[optuna.study.MaxTrialsCallback(trials, states=finished)])
    write_reports(study, recipe, out, settings.metric)
    return study


def check_folder(out: Path, resume: bool) -> None:
    entries = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    if resume and STUDY not in entries:
        raise RunError(f"{out}: no {STUDY} to resume; start the study without --resume")
    if not resume and STUDY in entries:
        raise RunError(f"{out} holds a study ({STUDY}): continue it with --resume, or choose another output_dir")
    if not resume and entries:
        raise RunError(f"output_dir {out} is not empty ({', '.join(entries[:4])}): a study starts in an empty folder")


def run_trial(trial, recipe: Recipe, space: dict[str, Any], out: Path, settings) -> float:
    from .training import train

    values = suggest(trial, space)
    folder = out / f"trial-{trial.number}"
    trial.set_user_attr("folder", folder.name)
    schedule = {}
    if settings.eval_steps:  # evaluations during the trial: what the pruner compares
        schedule = dict(eval_strategy="steps", eval_steps=settings.eval_steps, save_strategy="steps",
                        save_steps=settings.eval_steps)
    trial_recipe = with_values(recipe, {**values, "eval.splits": ["validation"]}, output_dir=str(folder), **schedule)
    for key in ("resume_from_checkpoint", "overwrite_output_dir"):  # the study resumes, not its trials
        trial_recipe.training.pop(key, None)
    pruning = PruningCallback(trial, "eval_" + settings.metric.split(".", 1)[1])
    started = time.monotonic()
    try:
        results = train(trial_recipe, callbacks=[pruning.callback()])
    except BaseException as err:
        logger.info("trial %d stopped at step %d: %s", trial.number, pruning.steps, err or type(err).__name__)
        trial.set_user_attr("steps", pruning.steps)
        trial.set_user_attr("seconds", round(time.monotonic() - started, 1))
        for checkpoint in folder.glob("checkpoint-*"):  # a pruned or failed trial is never resumed
            shutil.rmtree(checkpoint, ignore_errors=True)
        raise
    trial.set_user_attr("steps", pruning.steps)
    trial.set_user_attr("seconds", round(time.monotonic() - started, 1))
    value = results["validation"][settings.metric.split(".", 1)[1]]
    logger.info("trial %d: %s %.4f in %.0f s with %s", trial.number, settings.metric, value,
                time.monotonic() - started, values)
    return value


class PruningCallback:
    """Reports each evaluation's score to the trial; raises optuna.TrialPruned when the pruner says so."""

    def __init__(self, trial, key: str):
        self.trial, self.key, self.steps = trial, key, 0

    def callback(self):
        from transformers import TrainerCallback

        pruning = self

        class Report(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                pruning.steps = state.global_step

            def on_evaluate(self, args, state, control, metrics=None, **kwargs):
                import optuna

                if metrics and pruning.key in metrics:
                    pruning.trial.report(metrics[pruning.key], state.global_step)
                    if pruning.trial.should_prune():
                        raise optuna.TrialPruned(f"{pruning.key} {metrics[pruning.key]:.4f} at step "
                                                 f"{state.global_step} trails the median")

        return Report()


def write_reports(study, recipe: Recipe, out: Path, metric: str) -> None:
    import optuna

    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    rows = [{"trial": t.number, "state": t.state.name.lower(), metric: t.value, "steps": t.user_attrs.get("steps"),
             "seconds": t.user_attrs.get("seconds"), "folder": t.user_attrs.get("folder"), **t.params}
            for t in study.trials]
    write_table(out / TRIALS, rows)
    print(format_trials(rows, metric), flush=True)
    if not complete:
        raise RunError(f"{out}: no trial completed ({len(rows)} ran); see {out / TRIALS} and the trials' logs")
    best = study.best_trial
    write_best_recipe(out / BEST_RECIPE, recipe, best, metric, len(rows))
    plot(study, out)
    print(f"best: trial {best.number}, {metric} {best.value:.4f}, {best.params}; wrote {out / BEST_RECIPE}", flush=True)


def write_table(path: Path, rows: list[dict[str, Any]]) -> None:
    columns = list(dict.fromkeys(key for row in rows for key in row))

    def write(target):
        with open(target, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, columns)
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(path, write)


def format_trials(rows: list[dict[str, Any]], metric: str) -> str:
    lines = [f"{'trial':>5} {'state':<9} {metric:>14} {'steps':>6} {'seconds':>8}  values"]
    for row in rows:
        value = f"{row[metric]:.4f}" if row[metric] is not None else "-"
        values = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in row.items() if "." in k and k != metric)
        lines.append(f"{row['trial']:>5} {row['state']:<9} {value:>14} {row['steps'] or '-':>6} "
                     f"{row['seconds'] or '-':>8}  {values}")
    return "\n".join(lines)


def write_best_recipe(path: Path, recipe: Recipe, best, metric: str, trials: int) -> None:
    import yaml

    name = Path(str(recipe.output_dir)).name
    tuned = with_values(recipe, best.params, output_dir=f"runs/{name}-tuned").to_dict()
    tuned.pop("tune")
    tuned["training"].pop("resume_from_checkpoint", None)
    header = (f"# nerkit tune: the best of {trials} trials (trial {best.number}, {metric} {best.value:.4f}), "
              f"its values written in:\n#   {', '.join(f'{k}: {v}' for k, v in best.params.items())}\n"
              "# Data paths are as the study read them (from the folder it ran in). Train it: nerkit train "
              f"{path}\n")
    atomic_write(path, header + yaml.safe_dump(redact(tuned), sort_keys=False, allow_unicode=True))


def plot(study, out: Path) -> None:
    """Optuna's optimisation history and parameter importances as PNG (importances need 2 completed trials)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as plots

    for name, draw in (("history.png", plots.plot_optimization_history), ("importance.png", plots.plot_param_importances)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Optuna's ExperimentalWarning for its matplotlib plots
                axes = draw(study)
            atomic_write(out / name, lambda target: axes.figure.savefig(target, format="png", dpi=120,
                                                                        bbox_inches="tight"))
            plt.close(axes.figure)
        except (ValueError, RuntimeError) as err:
            logger.warning("%s not drawn: %s", name, err)
