"""Tokenizer and token-classification model from the label list; LoRA wrapping; reloading a saved run.

A saved run holds `nerkit.json` beside the weights: the label list, whether the weights are a full
model or a LoRA adapter, the base model, and the encoding settings used in training, so evaluation
and prediction encode text exactly as training did.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from .config import LoraConfig, ModelConfig
from .aliases import hub_name, local_path
from .deprecated import moved_names
from .errors import ModelError
from .metadata import FILE as METADATA, RunMetadata
from .sources import Source, loading, resolve

logger = logging.getLogger("nerkit")
SHOW_LOAD_REPORTS = False  # `nerkit --debug`: transformers' own LOAD REPORT tables as well
UNUSED_PARTS = {"pooler": "pooler", "cls": "pre-training heads", "lm_head": "language-model head",
                "classifier": "classification head", "score": "classification head"}

__getattr__ = moved_names(__name__, {"resolve_model_path": "nerkit.aliases:local_path"})

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


@contextlib.contextmanager
def load_report_hidden():
    """transformers' LOAD REPORT table (MISSING/UNEXPECTED keys, advice to train) is for `--debug`; nerkit
    says what it means in one line (`loading_summary`)."""
    report = logging.getLogger("transformers.modeling_utils")  # its level must stay unset: transformers 5 runs
    hidden = _NoLoadReport()  # (and logs) a tensor-parallel plan check whenever that level is WARNING or above
    if not SHOW_LOAD_REPORTS:
        report.addFilter(hidden)
    try:
        yield
    finally:
        report.removeFilter(hidden)


class _NoLoadReport(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "LOAD REPORT" not in str(record.msg)


def loading_summary(model, info: dict[str, Any]) -> str:
    """What a from_pretrained load did, in nerkit's words: "a new classification head for 9 labels; the base
    model's pooler is not used"."""
    prefix = f"{model.base_model_prefix}."
    def parts(keys) -> list[str]:
        names = sorted({key.removeprefix(prefix).split(".")[0] for key in keys})
        return [UNUSED_PARTS.get(name, name) for name in names]

    head = {key for key in info["missing_keys"] if key.split(".")[0] in ("classifier", "score")}
    said = [f"a new classification head for {model.config.num_labels} labels"] if head else []
    if set(info["missing_keys"]) - head:
        said.append(f"newly initialised (not in the checkpoint): {', '.join(parts(set(info['missing_keys']) - head))}")
    if info["unexpected_keys"]:
        unused = parts(info["unexpected_keys"])
        said.append(f"the base model's {' and '.join(unused)} {'is' if len(unused) == 1 else 'are'} not used")
    return "; ".join(said)


def pretrained(path: str, name: str, model_class=None, **options):
    """AutoModelForTokenClassification (or `model_class`).from_pretrained with nerkit's one-line summary
    instead of the table."""
    from transformers import AutoModelForTokenClassification
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # a "Loading weights" bar per load says nothing
    with loading(name), load_report_hidden():
        model, info = (model_class or AutoModelForTokenClassification).from_pretrained(path, output_loading_info=True,
                                                                                        **options)
    return model, loading_summary(model, info)


def load_tokenizer(path: str, revision: str | None = None, token: str | None = None, name: str | None = None):
    from transformers import AutoTokenizer

    options = dict(revision=revision, token=token, trust_remote_code=False)
    with loading(name or path):
        tokenizer = AutoTokenizer.from_pretrained(path, **options)
        if getattr(tokenizer, "add_prefix_space", None) is False:  # byte-level BPE needs it for pre-split words
            tokenizer = AutoTokenizer.from_pretrained(path, add_prefix_space=True, **options)
    return tokenizer


def build_model(cfg: ModelConfig, labels: list[str]):
    """A token-classification head sized to `labels` on the configured encoder, named portably (its Hub id,
    never the folder it was loaded from) so that adapters and checkpoints name their base the same way.
    A checkpoint that already has a head keeps the rows of the labels it shares with `labels`
    (nerkit/label_mapping.py; `labels` come from its plan_labels)."""
    from transformers import AutoConfig

    from .label_mapping import fit_head, head_labels

    path = local_path(cfg.name_or_path)
    with loading(cfg.name_or_path):
        config = AutoConfig.from_pretrained(path, revision=cfg.revision, trust_remote_code=False)
        has_head = head_labels(config) is not None
        if not has_head:
            config.id2label = dict(enumerate(labels))
            config.label2id = {label: i for i, label in enumerate(labels)}
            config.num_labels = len(labels)
    model, summary = pretrained(path, cfg.name_or_path, config=config, revision=cfg.revision, trust_remote_code=False)
    if summary:
        logger.info("%s: %s", hub_name(cfg.name_or_path), summary)
    if has_head:
        fit_head(model, labels)
    model.name_or_path = model.config._name_or_path = hub_name(cfg.name_or_path)
    return model


def check_model(cfg: ModelConfig, lora: LoraConfig | None = None) -> None:
    """Before a run writes anything: LoRA's target modules exist (listed from a model built from its config
    on the meta device: no weights are read or allocated)."""
    if lora is None:
        return
    import torch
    from transformers import AutoConfig, AutoModelForTokenClassification

    with loading(cfg.name_or_path):
        config = AutoConfig.from_pretrained(local_path(cfg.name_or_path), revision=cfg.revision,
                                            trust_remote_code=False)
    with torch.device("meta"):
        lora_targets(AutoModelForTokenClassification.from_config(config), lora)


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
    """PEFT LoRA for token classification: TOKEN_CLS keeps the classifier trainable and saved; a CRF head
    (`model.crf`) is trained and saved with the adapter the same way."""
    from peft import LoraConfig as PeftLoraConfig, TaskType, get_peft_model

    peft_config = PeftLoraConfig(task_type=TaskType.TOKEN_CLS, r=cfg.r, lora_alpha=cfg.alpha,
                                 lora_dropout=cfg.dropout, target_modules=lora_targets(model, cfg),
                                 modules_to_save=["crf"] if hasattr(model, "crf") else None)
    return get_peft_model(model, peft_config)


def parameter_counts(model) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())


def save_metadata(directory: str | Path, metadata: RunMetadata) -> None:
    metadata.write(directory)


def read_metadata(name: str | Path, revision: str | None = None, token: str | None = None) -> RunMetadata:
    """Deprecated (nerkit never used it): nerkit.json of a saved run, or what a plain model's config says."""
    import warnings

    warnings.warn("nerkit.modeling.read_metadata is deprecated: use nerkit.sources.resolve(name).metadata",
                  DeprecationWarning, stacklevel=2)
    return _metadata(resolve(name, revision, token))


def _metadata(source: Source) -> RunMetadata:
    if source.metadata is not None:
        return source.metadata
    from transformers import AutoConfig

    with loading(source.name):
        config = AutoConfig.from_pretrained(source.path, revision=source.revision, token=source.token,
                                            trust_remote_code=False)
    architectures = getattr(config, "architectures", None) or []
    if architectures and not any(a.endswith("ForTokenClassification") for a in architectures):
        raise ModelError(f"{source.name} is not a token-classification model (its architectures: "
                         f"{', '.join(architectures)}): no label maps for NER")
    labels = [config.id2label[i] for i in sorted(config.id2label)]
    if all(str(label).startswith("LABEL_") for label in labels):
        raise ModelError(f"{source.name}: no label maps (no {METADATA}, and config.json has only generic "
                         f"labels {labels[:3]}...); is this a fine-tuned NER model?")
    return RunMetadata(labels)


def load_trained(name: str | Path, revision: str | None = None, token: str | None = None):
    """(model, tokenizer, metadata) of a saved run or a Hub model: full model, merged model or LoRA adapter."""
    return load_source(resolve(name, revision, token))


def load_source(source: Source):
    """(model, tokenizer, metadata) from files already found by nerkit.sources.resolve."""
    from .heads import attach_crf, load_crf

    meta = _metadata(source)
    labels = meta.labels
    id2label, label2id = dict(enumerate(labels)), {label: i for i, label in enumerate(labels)}
    options = dict(revision=source.revision, token=source.token, trust_remote_code=False)
    with loading(source.name):
        if meta.kind == "adapter":
            from peft import PeftModel

            base_name = meta.base_model
            base, _ = pretrained(local_path(base_name), base_name, revision=meta.base_revision,
                                 trust_remote_code=False, num_labels=len(labels), id2label=id2label, label2id=label2id)
            if meta.head == "crf":
                attach_crf(base)  # the adapter holds its trained copy (a module to save)
            model = PeftModel.from_pretrained(base, source.path)  # LoRA weights and the saved head (modules_to_save)
            logger.info("%s: LoRA adapter on %s, its classification head for %d labels restored", source.name,
                        base_name, len(labels))
        else:
            crf_class = with_crf_weights(source.path) if meta.head == "crf" else None
            model, summary = pretrained(source.path, source.name, model_class=crf_class, **options)
            if summary:  # a saved model should load whole
                logger.warning("%s: %s", source.name, summary)
            saved = [model.config.id2label[i] for i in sorted(model.config.id2label)]
            if saved != labels:
                raise ModelError(f"{source.name}: config.json labels {saved} disagree with {METADATA} labels {labels}")
            if meta.head == "crf":
                attach_crf(model)
                load_crf(model, source.path)
    model.eval()
    return model, load_tokenizer(source.path, source.revision, source.token, name=source.name), meta


def with_crf_weights(path: str):
    """The folder's model class, told that its `crf.*` weights are expected (nerkit/heads.py loads them):
    transformers would otherwise report them as unexpected at every load."""
    from transformers import MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING, AutoConfig

    model_class = MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING[type(AutoConfig.from_pretrained(path))]
    ignored = [*(model_class._keys_to_ignore_on_load_unexpected or []), r"^crf\."]
    return type(model_class.__name__, (model_class,), {"_keys_to_ignore_on_load_unexpected": ignored})


def save_merged(model, tokenizer, directory: str | Path, metadata: RunMetadata) -> Path:
    """The LoRA weights folded into the base model, loadable without PEFT, written to `directory`."""
    target = Path(directory)
    model.merge_and_unload().save_pretrained(str(target))
    tokenizer.save_pretrained(str(target))
    metadata.replace(kind="full").write(target)
    return target
