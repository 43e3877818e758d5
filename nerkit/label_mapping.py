"""Continuing from a model that already has a token-classification head: its labels mapped by name.

    plan = plan_labels(recipe.model, corpus.labels)   # which labels the new model has, and why
    model = build_model(recipe.model, plan.labels)    # modeling.py: the head's rows copied by name (fit_head)

Every Hub CoNLL model orders its labels differently, and users add types to a model they already have.
Same set in another order: the head's rows are permuted into nerkit's order, so the model predicts what
it predicted before. Types the data adds get fresh rows, initialised as a fresh head would be. Types the
model has but the data lacks are kept (with a warning) unless `model.drop_labels: true`. A head whose
labels are generic (`LABEL_0`...) or not IOB2 names is re-initialised, with a one-line note.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .schemes import TAG_RE, entity_types

logger = logging.getLogger("nerkit")


@dataclass
class LabelPlan:
    labels: list[str]  # the new model's labels, in nerkit's order
    source: str | None = None  # the checkpoint continued from, when it has a token-classification head
    kept: list[str] = field(default_factory=list)  # entity types whose rows come from the source head
    added: list[str] = field(default_factory=list)  # types with fresh rows
    dropped: list[str] = field(default_factory=list)  # source types left out (model.drop_labels)
    without_data: list[str] = field(default_factory=list)  # kept source types the data never has
    reinitialised: str | None = None  # why the whole head is new

    def record(self) -> dict[str, Any] | None:
        """What nerkit.json keeps under `continued_from`."""
        if self.source is None:
            return None
        return {"model": self.source, "kept": self.kept, "added": self.added, "dropped": self.dropped,
                "kept_without_data": self.without_data, "reinitialised": self.reinitialised}


def head_labels(config) -> list[str] | None:
    """The labels of a checkpoint's token-classification head; None for an encoder without one."""
    architectures = getattr(config, "architectures", None) or []
    if not any(a.endswith("ForTokenClassification") for a in architectures):
        return None
    return [str(config.id2label[i]) for i in sorted(config.id2label)]


def unmappable(labels: list[str]) -> str | None:
    """Why a head's rows cannot be matched to nerkit's labels by name, or None when they can."""
    if all(label.startswith("LABEL_") for label in labels):
        return f"its labels are generic ({labels[0]}, ...)"
    odd = [label for label in labels if label != "O" and not (TAG_RE.match(label) and label[0] in "BI")]
    if odd or "O" not in labels:
        return f"its labels are not IOB2 names ({', '.join(odd[:3]) or 'no O'})"
    return None


def plan_labels(cfg, data_labels: list[str]) -> LabelPlan:
    """The label list of the model to train, from the data's and the starting checkpoint's."""
    from transformers import AutoConfig

    from .sources import loading
    from .aliases import hub_name, local_path

    with loading(cfg.name_or_path):
        config = AutoConfig.from_pretrained(local_path(cfg.name_or_path), revision=cfg.revision,
                                            trust_remote_code=False)
    source = head_labels(config)
    plan = plan_for(source, data_labels, hub_name(cfg.name_or_path), cfg.drop_labels)
    log_plan(plan)
    return plan


def plan_for(source_labels: list[str] | None, data_labels: list[str], name: str, drop_labels: bool) -> LabelPlan:
    if source_labels is None:
        return LabelPlan(list(data_labels))
    why = unmappable(source_labels)
    data_types = entity_types(data_labels)
    if why:
        return LabelPlan(list(data_labels), name, added=data_types, reinitialised=why)
    source_types = entity_types(source_labels)
    missing = [t for t in source_types if t not in data_types]
    types = sorted(set(data_types) | (set() if drop_labels else set(missing)))
    return LabelPlan(["O"] + [f"{p}-{t}" for t in types for p in ("B", "I")], name,
                     kept=[t for t in types if t in source_types], added=[t for t in types if t not in source_types],
                     dropped=missing if drop_labels else [], without_data=[] if drop_labels else missing)


def log_plan(plan: LabelPlan) -> None:
    if plan.source is None:
        return
    if plan.reinitialised:
        logger.info("%s has a token-classification head, but %s: the head is re-initialised", plan.source,
                    plan.reinitialised)
        return
    logger.info("continuing from %s: labels mapped by name; kept %s; added %s%s", plan.source,
                ", ".join(plan.kept) or "none", ", ".join(plan.added) or "none",
                f"; dropped {', '.join(plan.dropped)}" if plan.dropped else "")
    if plan.without_data:
        logger.warning("%s knows %s, which the training data never has: kept (the model keeps predicting them "
                       "from what it learnt before); model.drop_labels: true drops them", plan.source,
                       ", ".join(plan.without_data))


def fit_head(model, labels: list[str]) -> None:
    """Replace the model's token-classification head by one sized to `labels`: a row whose label the old
    head has (by name) is copied, every other row is initialised as a fresh head would be."""
    import torch

    old = getattr(model, "classifier", None)
    source = [str(model.config.id2label[i]) for i in sorted(model.config.id2label)]
    if not isinstance(old, torch.nn.Linear) or old.out_features != len(source):
        from .errors import ModelError

        raise ModelError(f"{type(model).__name__} has no `classifier` layer of its {len(source)} labels for nerkit to "
                         "map; start from its base model instead")
    new = torch.nn.Linear(old.in_features, len(labels), bias=old.bias is not None,
                          device=old.weight.device, dtype=old.weight.dtype)
    model._init_weights(new)
    rows = {} if unmappable(source) else {label: i for i, label in enumerate(source)}
    with torch.no_grad():
        for i, label in enumerate(labels):
            if label in rows:
                new.weight[i] = old.weight[rows[label]]
                if new.bias is not None:
                    new.bias[i] = old.bias[rows[label]]
    model.classifier = new
    model.num_labels = model.config.num_labels = len(labels)
    model.config.id2label = dict(enumerate(labels))
    model.config.label2id = {label: i for i, label in enumerate(labels)}


def card_line(record: dict[str, Any] | None, rehearsal: dict[str, Any] | None = None) -> list[str]:
    """The model card's sentences on where the model came from (and what rehearsal added)."""
    if not record:
        return []
    if os.path.isabs(record["model"]):  # a local folder: its name, as the card's recipe shows it
        record = {**record, "model": Path(record["model"]).name}
    if rehearsal:
        from .thresholds import describe

        added = ", ".join(f"{k} {n:,}" for k, n in rehearsal["added"].items()) or "none"
        at = describe(rehearsal["thresholds"]) if "thresholds" in rehearsal else rehearsal["threshold"]
        source = f" ({rehearsal['threshold_source']})" if rehearsal.get("threshold_source") else ""
        return card_line(record) + ["", f"Rehearsal: the starting model's entities of {', '.join(rehearsal['types'])} "
                                        f"with score >= {at}{source} where the new data has O were used "
                                        f"as labels ({added})."]
    if record.get("reinitialised"):
        return ["", f"Continued from `{record['model']}`; its head was re-initialised ({record['reinitialised']})."]
    parts = [f"labels kept: {', '.join(record['kept']) or 'none'}", f"added: {', '.join(record['added']) or 'none'}"]
    if record["dropped"]:
        parts.append(f"dropped: {', '.join(record['dropped'])}")
    if record["kept_without_data"]:
        parts.append(f"kept without training data: {', '.join(record['kept_without_data'])}")
    return ["", f"Continued from `{record['model']}`; {'; '.join(parts)}."]
