"""The search space of `nerkit tune`: the recipe's `tune.space` (or the default one) checked before any
trial runs, and one trial's values written into the recipe.

    tune:
      space:
        training.learning_rate: {low: 1e-5, high: 5e-4, log: true}   # a number range (int or float by the key)
        training.per_device_train_batch_size: [16, 32]              # one of these values
"""

from __future__ import annotations

import copy
import typing
from typing import Any

from .config import SECTIONS, Recipe, RecipeError, recipe_from_dict

METRICS = ("f1", "precision", "recall", "macro_f1", "accuracy")
RANGE_KEYS = {"low", "high", "log", "step"}


def default_space(recipe: Recipe) -> dict[str, Any]:
    space: dict[str, Any] = {"training.learning_rate": {"low": 1e-5, "high": 5e-4, "log": True},
                             "training.per_device_train_batch_size": [16, 32],
                             "training.warmup_steps": {"low": 0.0, "high": 0.2}}  # below 1: a fraction of the steps
    if recipe.lora is not None:
        space["lora.r"] = [8, 16, 32]
    return space


def space_of(recipe: Recipe) -> dict[str, Any]:
    """The recipe's search space, every key and value checked (one-line RecipeErrors), before any trial."""
    tune = recipe.tune or SECTIONS["tune"]()
    split, _, name = tune.metric.partition(".")
    if split == "test":
        raise RecipeError(f"tune.metric {tune.metric}: a study never reads the test set; use validation.{name or 'f1'}")
    if split != "validation" or name not in METRICS:
        raise RecipeError(f"tune.metric must be validation.<{' | '.join(METRICS)}>, got {tune.metric!r}")
    if not (recipe.data.validation or recipe.data.dataset):
        raise RecipeError("nerkit tune scores each trial on the validation split: set data.validation")
    if tune.eval_steps is not None and tune.eval_steps < 1:
        raise RecipeError(f"tune.eval_steps must be a positive number of steps, got {tune.eval_steps}")
    space = default_space(recipe) if tune.space is None else tune.space
    if not space:
        raise RecipeError("tune.space is empty: name at least one recipe key to search")
    for key, values in space.items():
        check_dimension(recipe, str(key), values)
    return space


def check_dimension(recipe: Recipe, key: str, values: Any) -> None:
    where = f"tune.space.{key}"
    section, _, name = key.partition(".")
    if not name or section not in {*SECTIONS, "training"} - {"tune"}:
        raise RecipeError(f"{where}: not a recipe key; expected section.key with a section of "
                          f"{', '.join(sorted({*SECTIONS, 'training'} - {'tune'}))}")
    if section == "lora" and recipe.lora is None:
        raise RecipeError(f"{where}: the recipe trains without lora; add a lora section or drop {key}")
    if isinstance(values, list):
        if not values:
            raise RecipeError(f"{where}: an empty list; give the values to choose from")
        samples = values
    elif isinstance(values, dict):
        unknown = set(values) - RANGE_KEYS
        if unknown or not {"low", "high"} <= set(values):
            raise RecipeError(f"{where}: a range is {{low, high}} with optional log and step, got {values}")
        low, high = values["low"], values["high"]
        kind = number_kind(key)
        if kind is None:
            raise RecipeError(f"{where}: {key} is not a number, so it has no range; give a list of its values")
        for bound in (low, high):
            if isinstance(bound, bool) or not isinstance(bound, (int, float)) or (kind is int and not isinstance(bound, int)):
                raise RecipeError(f"{where}: low and high must be {'integers' if kind is int else 'numbers'}, "
                                  f"got {bound!r}")
        if low >= high:
            raise RecipeError(f"{where}: low {low} must be below high {high}")
        if values.get("log") and low <= 0:
            raise RecipeError(f"{where}: a log range needs low above 0, got {low}")
        samples = [low, high]
    else:
        raise RecipeError(f"{where}: give a list of values or a range {{low, high}}, got {values!r}")
    for value in samples:  # each value must make a valid recipe, in the recipe's own wording
        with_values(recipe, {key: value})


def number_kind(key: str) -> type | None:
    """int or float for a numeric recipe key (TrainingArguments' field for training.*), else None."""
    section, name = key.split(".", 1)
    if section == "training":
        from transformers import TrainingArguments

        hints = typing.get_type_hints(TrainingArguments)
    else:
        hints = typing.get_type_hints(SECTIONS[section])
    hint = hints.get(name)
    options = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    return options[0] if len(options) == 1 and options[0] in (int, float) else None


def with_values(recipe: Recipe, values: dict[str, Any], **training: Any) -> Recipe:
    """The recipe with `values` (dotted keys) written in, and `training` keys set; checked as a recipe is."""
    raw = copy.deepcopy(recipe.to_dict())
    for key, value in values.items():
        section, name = key.split(".", 1)
        raw[section] = {**(raw.get(section) or {}), name: value}
    raw["training"].update(training)
    return recipe_from_dict(raw, "tune.space")


def suggest(trial, space: dict[str, Any]) -> dict[str, Any]:
    """One trial's values, drawn by Optuna's sampler."""
    values = {}
    for key, spec in space.items():
        if isinstance(spec, list):
            values[key] = trial.suggest_categorical(key, spec)
        elif number_kind(key) is int:
            values[key] = trial.suggest_int(key, spec["low"], spec["high"], step=spec.get("step") or 1,
                                            log=bool(spec.get("log")))
        else:
            values[key] = trial.suggest_float(key, float(spec["low"]), float(spec["high"]), step=spec.get("step"),
                                              log=bool(spec.get("log")))
    return values

