"""Getting started: `nerkit init` writes a recipe that trains as written, and `nerkit train --help-recipe`
lists every recipe key. Both are generated from config.py's dataclasses (`recipe_keys` walks them), so the
comments of a new recipe and the help never drift from what the loader accepts.

    nerkit init                      # recipe.yaml for the offline MiniLM + the sample data in sample/
    nerkit init ner.yaml --data train.conll --validation dev.conll
    nerkit train --help-recipe
"""

from __future__ import annotations

import dataclasses
import shutil
import typing
from importlib import resources
from pathlib import Path
from typing import Any

from .config import DataConfig, Recipe
from .errors import UsageError

SAMPLE_SPLITS = {"train": "train.conll", "validation": "validation.conll", "test": "test.conll"}
TRAINING = {"num_train_epochs": 3, "learning_rate": 1e-4, "per_device_train_batch_size": 16,
            "per_device_eval_batch_size": 64, "warmup_steps": 0.1, "weight_decay": 0.01, "seed": 42}


class RecipeKey(typing.NamedTuple):
    key: str  # dotted: data.max_length
    type: str  # as written in the dataclass: int, str | None, list[str]
    default: Any  # dataclasses.MISSING for a required key
    help: str


def recipe_keys(cls: type = Recipe, prefix: str = "") -> list[RecipeKey]:
    """Every recipe key with its type, default and help, walked from config.py's dataclasses."""
    rows = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        inner = [a for a in typing.get_args(hint) if dataclasses.is_dataclass(a)]
        target = inner[0] if inner else hint
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(default):
            default = {}  # a section whose keys all have defaults: they follow
        rows.append(RecipeKey(f"{prefix}{f.name}", _type_name(hint), default, f.metadata.get("help", "")))
        if dataclasses.is_dataclass(target):
            rows += recipe_keys(target, f"{prefix}{f.name}.")
    return rows


def _type_name(hint: Any) -> str:
    args = typing.get_args(hint) or (hint,)
    if any(dataclasses.is_dataclass(a) for a in args):
        return "section | None" if type(None) in args else "section"
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def describe(cls: type = Recipe, prefix: str = "") -> list[tuple[str, str]]:
    """(dotted key, help) of every recipe key: `nerkit.config.describe` before 0.2 (it warns there)."""
    return [(row.key, row.help) for row in recipe_keys(cls, prefix)]


def recipe_help(rows: list[RecipeKey] | None = None) -> str:
    """A table of every recipe key: key, type, default, help (what `nerkit train --help-recipe` prints)."""
    rows = recipe_keys() if rows is None else rows
    width = max(len(r.key) for r in rows) + 2
    kinds = max(len(r.type) for r in rows) + 2
    lines = ["Recipe keys (YAML sections, or dotted overrides: nerkit train recipe.yaml data.max_length=128):", ""]
    for row in rows:
        lines.append(f"{row.key:<{width}}{row.type:<{kinds}}{_default(row.default):<12}  {row.help}")
    from .training import TRAINING_DEFAULTS  # only here: the training path is heavy to import

    lines += ["", "training.* takes any keyword of transformers.TrainingArguments (checked against its fields); "
              "nerkit's own defaults:"]
    lines += [f"  training.{key}: {_yaml(value)}" for key, value in TRAINING_DEFAULTS.items()]
    return "\n".join(lines)


def _default(value: Any) -> str:
    return "(required)" if value is dataclasses.MISSING else _yaml(value)


def _yaml(value: Any) -> str:
    import yaml

    return yaml.safe_dump(value, default_flow_style=True, width=1000).strip().removesuffix("...").strip()


def init(recipe: str | Path = "recipe.yaml", data: str | None = None, validation: str | None = None,
         test: str | None = None) -> list[Path]:
    """Write `recipe` for the offline MiniLM; without `data`, also the sample data in `sample/` beside it.
    Paths in the recipe are relative to the recipe's folder: run `nerkit train` there. Returns what it wrote."""
    recipe = Path(recipe)
    if recipe.suffix.lower() not in (".yaml", ".yml"):
        raise UsageError(f"{recipe}: a recipe is a .yaml file")
    if recipe.exists():
        raise UsageError(f"{recipe} already exists; nerkit init never overwrites a file (choose another name)")
    folder = recipe.parent
    if data is None:
        if validation or test:
            raise UsageError("--validation and --test go with --data (your training file)")
        files, data_keys, written = _sample(folder)
    else:
        files, data_keys, written = _users_files(folder, data, validation, test)
    folder.mkdir(parents=True, exist_ok=True)
    recipe.write_text(recipe_text(recipe.stem, files, data_keys), encoding="utf-8")
    return [recipe, *written]


def _sample(folder: Path) -> tuple[dict[str, str], dict[str, Any], list[Path]]:
    target = folder / "sample"
    clashes = [str(target / name) for name in SAMPLE_SPLITS.values() if (target / name).exists()]
    if clashes:
        raise UsageError(f"{', '.join(clashes)} already exist; nerkit init never overwrites a file")
    target.mkdir(parents=True, exist_ok=True)
    source = resources.files("nerkit") / "sample"
    written = []
    for name in SAMPLE_SPLITS.values():
        with resources.as_file(source / name) as path:
            written.append(Path(shutil.copyfile(path, target / name)))
    return {split: f"sample/{name}" for split, name in SAMPLE_SPLITS.items()}, {"max_length": 128}, written


def _users_files(folder: Path, data: str, validation: str | None, test: str | None):
    """The user's files, as paths from the recipe's folder, with their format and scheme detected (read
    through the same loader as training, so a file that cannot train fails here, naming file and line)."""
    from .data import load_corpus, named_format, span_format_of, warn_unseen_labels

    given = {"train": data, "validation": validation, "test": test}
    paths = {split: Path(p) for split, p in given.items() if p}
    for path in paths.values():
        if not path.is_file():
            raise UsageError(f"{path}: no such file")
    corpus = load_corpus(DataConfig(**{split: str(p) for split, p in paths.items()}))
    warn_unseen_labels(corpus.splits, corpus.labels)
    formats = {span_format_of(p, DataConfig()) or named_format(p) or "auto" for p in paths.values()}
    fmt = formats.pop() if len(formats) == 1 else "auto"  # files of several formats: each from its suffix
    files = {split: _relative(p, folder) for split, p in paths.items()}
    return files, {"format": fmt, "scheme": corpus.scheme}, []


def _relative(path: Path, folder: Path) -> str:
    import os

    return Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix()


def recipe_text(name: str, files: dict[str, str], data_keys: dict[str, Any]) -> str:
    """The recipe, each key with its help as a comment (from the dataclasses, like --help-recipe)."""
    helps = {row.key: row.help for row in recipe_keys()}
    sections = {"model": {"name_or_path": "minilm"}, "data": {**files, **data_keys},
                "training": {"output_dir": f"runs/{name}", **TRAINING}}
    lines = [f"# nerkit recipe, written by `nerkit init`. Train it from this folder:  nerkit train {name}.yaml",
             "# Every key: nerkit train --help-recipe. Override any on the command line: data.max_length=256", ""]
    for section, values in sections.items():
        lines.append(f"{section}:  # {helps[section]}")
        for key, value in values.items():
            comment = helps.get(f"{section}.{key}", "")
            lines.append(f"  {key}: {_yaml(value)}" + (f"  # {comment}" if comment else ""))
    return "\n".join(lines) + "\n"
