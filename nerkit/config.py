"""The recipe: typed dataclasses loaded from YAML, with dotted command-line overrides.

    recipe = load_recipe("recipes/conll03.yaml", ["training.learning_rate=3e-5", "lora.r=8"])

Every field carries `help` metadata. Unknown keys are errors that name the key and list the valid
ones. The `training` section is passed as-is to `transformers.TrainingArguments`, so every Trainer
option works; its keys are checked against TrainingArguments' fields.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .deprecated import moved_names
from .errors import RecipeError, not_utf8

__getattr__ = moved_names(__name__, {"describe": "nerkit.starter:describe"})  # before 0.2: (key, help) pairs

HEADS = ("softmax", "crf")


def option(default: Any, flag: str, text: str, **more) -> Any:
    """A field of a settings dataclass that is a command-line option (`cli.add_options` builds it: `flag`,
    `help` and any `choices` in `more`)."""
    return field(default=default, metadata={"flag": flag, "help": text, **more})


def _help(text: str, default: Any = dataclasses.MISSING, flag: str | None = None,
          choices: tuple[str, ...] | None = None, **kwargs) -> Any:
    """A field with its help text; `flag`: the command-line option that sets it under `nerkit evaluate`
    (the recipe key otherwise), `choices`: its valid values."""
    metadata = {"help": text, **({"flag": flag} if flag else {}), **({"choices": choices} if choices else {})}
    if "default_factory" in kwargs:
        return field(metadata=metadata, **kwargs)
    return field(default=default, metadata=metadata)


# --- naming a setting in the user's words ---------------------------------------------------------------------

_FLAGS = contextvars.ContextVar("nerkit_setting_names", default=False)


@contextlib.contextmanager
def flag_names():
    """Inside: errors name a setting by its command-line flag (`--scheme iob1`), as `nerkit evaluate` takes it;
    outside, by its recipe key (`data.scheme: iob1`)."""
    token = _FLAGS.set(True)
    try:
        yield
    finally:
        _FLAGS.reset(token)


def setting(key: str, value: Any = None) -> str:
    """How the user sets `section.field` (to `value`): the recipe key, or under `flag_names()` its flag."""
    section, name = key.split(".", 1)
    flag = SECTIONS[section].__dataclass_fields__[name].metadata.get("flag") if _FLAGS.get() else None
    if flag:
        return flag if value is None else f"{flag} {value}"
    return key if value is None else f"{key}: {value}"


@dataclass
class ModelConfig:
    name_or_path: str = _help("Hub id, local directory, or an alias such as `minilm` (the offline all-MiniLM-L6-v2).")
    revision: str | None = _help("Hub revision (branch, tag or commit) of the model.", None)
    head: str = _help("softmax (a label per word) | crf (a linear-chain CRF over the words' label scores).", "softmax")
    drop_labels: bool = _help("Continuing from an NER model: drop the entity types it knows but the training data "
                              "lacks (default: kept, with a warning).", False)


@dataclass
class DataConfig:
    dataset: str | None = _help("Hub dataset name (parquet/arrow, e.g. `eriktks/conll2003`).", None)
    name: str | None = _help("The data set's name in the model card (e.g. `conll2003`); default: data.dataset.", None)
    dataset_config: str | None = _help("Hub dataset configuration name.", None)
    train: str | None = _help("Local training file (CoNLL columns, .jsonl, .json or .parquet).", None)
    validation: str | None = _help("Local validation file.", None)
    test: str | None = _help("Local test file.", None)
    format: str = _help("auto (from the suffix; span exports detected from their keys) | conll | jsonl | json | "
                        "parquet | label-studio | doccano | spans.", "auto", flag="--data-format",
                        choices=("auto", "conll", "jsonl", "json", "parquet", "label-studio", "doccano", "spans"))
    tag_column: int = _help("CoNLL files: index of the tag column (negative counts from the end).", -1,
                             flag="--tag-column")
    token_column: int = _help("CoNLL files: index of the word column (1 for GermEval 2014's `index word outer inner`).", 0,
                               flag="--token-column")
    comment_prefix: str | None = _help("CoNLL files: skip lines starting with this (`#` for GermEval 2014 and CoNLL-U).",
                                        None, flag="--comment-prefix")
    tokens_field: str = _help("JSON-like files and Hub datasets: the column with the words.", "tokens",
                               flag="--tokens-field")
    tags_field: str = _help("JSON-like files and Hub datasets: the column with the tags.", "tags", flag="--tags-field")
    document_field: str | None = _help("JSON-like files: column holding a document id (for `context: document`).", None,
                                        flag="--document-field")
    text_field: str = _help("Span exports: the key holding the text (under `data` in a Label Studio task).", "text",
                             flag="--text-field")
    annotation: str = _help("Label Studio tasks: first-completed | last-completed (not cancelled) annotation, or "
                            "predictions (the first prediction).", "first-completed", flag="--annotation",
                            choices=("first-completed", "last-completed", "predictions"))
    overlaps: str = _help("Span exports with overlapping spans: error | longest (keep the longest, count the rest).",
                          "error", flag="--overlaps", choices=("error", "longest"))
    scheme: str = _help("Tag scheme of the files: auto | iob1 | iob2 | bioes | bmes | bilou | io. Training uses IOB2.", "auto",
                         flag="--scheme", choices=("auto", "iob1", "iob2", "bioes", "bmes", "bilou", "io"))
    invalid_tags: str = _help("A continuation tag (I-, M-, E-, L-) that continues no entity of its type: repair (open "
                              "an entity there, as conlleval reads it; counted and reported) | error.", "repair",
                              flag="--invalid-tags", choices=("repair", "error"))
    rehearsal: str = _help("none | pseudo-label: continuing from an NER model on data that annotates only new types, "
                           "its confident entities of the old types (where the gold is O) become labels.", "none")
    rehearsal_threshold: float | None = _help("data.rehearsal: pseudo-label: the least score of an entity that "
                                              "becomes a label, every type; default: the starting model's thresholds "
                                              "tuned on its dev set (nerkit evaluate --tune-thresholds), else 0.5 on calibrated scores, "
                                              "0.9 on raw ones.", None)
    max_length: int = _help("Longest input in sub-tokens, special tokens included; longer sentences become windows.", 256)
    stride: int | None = _help("Sub-tokens shared by neighbouring windows of a long sentence (default: a quarter "
                               "of the window, at most 32).", None)
    label_all_tokens: bool = _help("Train on every sub-token (continuations of B- become I-); eval stays per word.", False)
    context: str = _help("sentence | document: add neighbouring sentences of the same document as context.", "sentence",
                         choices=("sentence", "document"))
    context_size: int = _help("With `context: document`: sub-tokens of context on each side.", 64)


@dataclass
class TextConfig:
    newlines: str = _help("Raw text: does a single newline end a sentence? auto (yes, unless the paragraph is "
                          "hard-wrapped prose) | sentence (always) | space (only after . ! ?). Stored with the model; "
                          "span exports are split by the same rule in training.", "auto")


@dataclass
class EvalConfig:
    mode: str = _help("seqeval mode: default (conlleval-compatible) | strict (IOB2 strict).", "default", flag="--mode",
                      choices=("default", "strict"))
    splits: list[str] = _help("Splits scored after training and written to metrics.json.", default_factory=lambda: ["validation", "test"])
    early_stopping_patience: int | None = _help("Stop after this many evaluations without dev-F1 gain.", None)
    decoding: str = _help("viterbi (the best tag sequence that IOB2 allows) | argmax (each word's best label); "
                          "stored with the model as its default.", "viterbi")
    calibrate: bool = _help("Fit the entity-score calibrator (per type) on the validation split at the end "
                            "of training; stored in nerkit.json, so `score` is the probability the entity is right.", True)
    calibration: str = _help("The calibrator's curves: isotonic | platt | auto (the one with the lower held-out ECE "
                             "over 5 folds of the validation entities).", "auto",
                             choices=("auto", "isotonic", "platt"))


@dataclass
class LoraConfig:
    r: int = _help("LoRA rank.", 16)
    alpha: int = _help("LoRA scaling alpha.", 32)
    dropout: float = _help("Dropout on the LoRA path.", 0.1)
    target_modules: list[str] | None = _help("Module names to adapt; default chosen per architecture.", None)
    merge: bool = _help("Also write a merged full model to `<output_dir>/merged`.", False)


@dataclass
class HubConfig:
    push: bool = _help("Push the final model to the Hub after training.", False)
    model_id: str | None = _help("Hub repository id, e.g. `my-org/bert-base-cased-conll03`.", None)
    private: bool = _help("Create the repository as private.", False)
    revision: str | None = _help("Branch to push to.", None)
    license: str | None = _help("License written into the model card.", None)


@dataclass
class TuneConfig:
    metric: str = _help("What `nerkit tune` optimises: validation.f1 | validation.precision | validation.recall | "
                        "validation.macro_f1 | validation.accuracy (never a test score).", "validation.f1")
    direction: str = _help("maximize | minimize the metric.", "maximize", choices=("maximize", "minimize"))
    space: dict[str, Any] | None = _help("Recipe key -> values to search: a list (one of them) or {low, high, log, "
                                         "step} (a number range). Default: training.learning_rate {low: 1e-5, high: "
                                         "5e-4, log: true}, training.per_device_train_batch_size [16, 32], "
                                         "training.warmup_steps {low: 0.0, high: 0.2} (a fraction of the steps), "
                                         "and lora.r [8, 16, 32] when the recipe has lora.", None)
    pruner: str = _help("median (stop a trial whose intermediate dev score trails the median of earlier trials at "
                        "the same step) | none.", "median", choices=("median", "none"))
    eval_steps: int | None = _help("Trials score the validation split every this many steps (what the pruner "
                                   "reads; default: the recipe's own evaluation schedule).", None)


@dataclass
class Recipe:
    model: ModelConfig = _help("The encoder to fine-tune (required).")
    data: DataConfig = _help("Where the data comes from and how it is encoded.", default_factory=DataConfig)
    eval: EvalConfig = _help("How models are scored.", default_factory=EvalConfig)
    text: TextConfig = _help("How raw text becomes sentences.", default_factory=TextConfig)
    training: dict[str, Any] = _help("Keyword arguments of transformers.TrainingArguments.", default_factory=dict)
    lora: LoraConfig | None = _help("LoRA through PEFT; absent or null means full fine-tuning.", None)
    hub: HubConfig | None = _help("Pushing to the Hugging Face Hub.", None)
    tune: TuneConfig | None = _help("`nerkit tune`: the search (docs/experiments.md); training ignores it.", None)

    @property
    def output_dir(self) -> str | None:
        return self.training.get("output_dir")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


SECTIONS = {"model": ModelConfig, "data": DataConfig, "eval": EvalConfig, "lora": LoraConfig, "hub": HubConfig,
            "text": TextConfig, "tune": TuneConfig}


# PyYAML follows YAML 1.1, where `3e-5` is a string and `no` / `on` are booleans (so
# `eval_strategy: no` would become False). The recipe loader follows YAML 1.2 for both.
class _Loader(yaml.SafeLoader):
    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d[\d_]*)?\.?\d*[eE][-+]?\d+$|^[-+]?\d[\d_]*\.\d*$|^[-+]?\.\d+$"),
    list("-+0123456789."),
)


def parse_yaml(text: str, source: str | None = None) -> Any:
    """YAML 1.2 scalars; a syntax error is a RecipeError (naming `source`, line and column when given)."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as err:
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        context, mark = getattr(err, "context", None), getattr(err, "problem_mark", None)
        if context and getattr(err, "context_mark", None) is not None:
            problem = f"{context} from line {err.context_mark.line + 1}: {problem}"
        where = f"{source}:{mark.line + 1}:{mark.column + 1}: " if source and mark is not None else \
            f"{source}: " if source else ""
        raise RecipeError(f"{where}invalid YAML ({problem})") from None


def read_recipe_text(path: str | Path) -> str:
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line, line_start = data.count(b"\n", 0, err.start) + 1, data.rfind(b"\n", 0, err.start) + 1
        raise RecipeError(not_utf8(f"{path}:{line}", err, line_start) + "; save the recipe as UTF-8") from None


def load_recipe(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    """Read a YAML recipe (or start empty), apply `a.b=value` overrides, and type-check everything."""
    raw: dict[str, Any] = {}
    source = "overrides"
    if path is not None:
        source = str(path)
        if not Path(path).is_file():
            raise RecipeError(f"recipe file not found: {path}")
        raw = parse_yaml(read_recipe_text(path), str(path)) or {}
        if not isinstance(raw, dict):
            raise RecipeError(f"{path}: a recipe is a YAML mapping of sections, got {type(raw).__name__}")
    for item in overrides:
        _apply_override(raw, item)
    if path is not None and isinstance(raw.get("training") or {}, dict):  # each recipe its own run directory
        raw["training"] = {"output_dir": f"runs/{Path(path).stem}", **(raw.get("training") or {})}
    return recipe_from_dict(raw, source)


def recipe_from_dict(raw: dict[str, Any], source: str = "recipe") -> Recipe:
    recipe = _build(Recipe, raw, prefix="", source=source)
    _check_training_keys(recipe.training, source)
    _check_choices(recipe, source)
    if recipe.text.newlines not in ("auto", "sentence", "space"):
        raise RecipeError(f"{source}: text.newlines must be auto, sentence or space, got {recipe.text.newlines!r}")
    from .decoding import DECODINGS

    if recipe.eval.decoding not in DECODINGS:
        raise RecipeError(f"{source}: eval.decoding must be {' or '.join(DECODINGS)}, got {recipe.eval.decoding!r}")
    if recipe.model.head not in HEADS:
        raise RecipeError(f"{source}: model.head must be {' or '.join(HEADS)}, got {recipe.model.head!r}")
    if recipe.model.head == "crf" and recipe.data.label_all_tokens:
        raise RecipeError(f"{source}: model.head=crf scores each word once (its first sub-token); "
                          "data.label_all_tokens does not apply to it")
    if recipe.model.head == "crf" and recipe.training.get("label_smoothing_factor"):
        raise RecipeError(f"{source}: training.label_smoothing_factor does not apply to model.head=crf")
    return recipe


def _check_choices(recipe: Recipe, source: str) -> None:
    for section in ("data", "eval", "tune"):
        if getattr(recipe, section) is None:
            continue
        for f in dataclasses.fields(SECTIONS[section]):
            value, choices = getattr(getattr(recipe, section), f.name), f.metadata.get("choices")
            if choices and value not in choices:
                raise RecipeError(f"{source}: {section}.{f.name} must be {' or '.join([', '.join(choices[:-1]), choices[-1]])}, "
                                  f"got {value!r}")


def _apply_override(raw: dict[str, Any], item: str) -> None:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise RecipeError(f"override {item!r} is not of the form section.key=value")
    *parents, leaf = key.split(".")
    node = raw
    for part in parents:
        if node.get(part) is None:
            node[part] = {}
        node = node[part]
        if not isinstance(node, dict):
            raise RecipeError(f"override {item!r}: {part!r} is not a section")
    try:
        node[leaf] = parse_yaml(value) if value != "" else None
    except RecipeError as err:
        raise RecipeError(f"override {item!r}: {err}") from None


def _build(cls: type, raw: Any, prefix: str, source: str) -> Any:
    where = prefix.rstrip(".") or "the recipe"
    if not isinstance(raw, dict):
        raise RecipeError(f"{source}: {where} must be a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in raw if k not in fields]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(str(key), fields, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise RecipeError(f"{source}: unknown key {prefix}{key!r}{hint}; valid keys in {where}: {', '.join(fields)}")
    values = {}
    for name, f in fields.items():
        if name in raw:
            values[name] = _coerce(raw[name], hints[name], f"{prefix}{name}", source)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise RecipeError(f"{source}: missing required key {prefix}{name}")
    return cls(**values)


def _coerce(value: Any, hint: Any, key: str, source: str) -> Any:
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (hint,) = [a for a in args if a is not type(None)]
        args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, {} if value is None else value, f"{key}.", source)
    origin = typing.get_origin(hint) or hint
    if origin is list:
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list):
            raise RecipeError(f"{source}: {key} must be a list, got {value!r}")
        return [_coerce(v, args[0], key, source) for v in value]
    if origin is dict:
        if not isinstance(value, dict):
            raise RecipeError(f"{source}: {key} must be a mapping, got {value!r}")
        return dict(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise RecipeError(f"{source}: {key} must be {hint.__name__}, got {value!r}")
    return value


NERKIT_TRAINING_KEYS = {"overwrite_output_dir": bool}  # read by nerkit itself, not passed to TrainingArguments


def _check_training_keys(training: dict[str, Any], source: str) -> None:
    """Keys are TrainingArguments' fields; values of its bool/int/float/str fields have that type (it does not
    check them itself: `learning_rate="abc"` would fail only once training starts)."""
    from transformers import TrainingArguments

    valid = {f.name for f in dataclasses.fields(TrainingArguments) if f.init} | set(NERKIT_TRAINING_KEYS)
    hints = typing.get_type_hints(TrainingArguments)
    for key, value in training.items():
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=3)
            hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
            raise RecipeError(
                f"{source}: unknown key 'training.{key}'{hint}; the training section takes the keyword "
                "arguments of transformers.TrainingArguments"
            )
        hint = NERKIT_TRAINING_KEYS.get(key) or hints[key]
        if _plain(hint) and key != "resume_from_checkpoint":  # Trainer.train takes a path or true
            _coerce(value, hint, f"training.{key}", source)


def _plain(hint: Any) -> bool:
    """bool, int, float or str, optionally `| None`."""
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    return len(args) == 1 and args[0] in (bool, int, float, str)
