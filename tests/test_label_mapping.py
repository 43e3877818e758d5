"""Continuing from a model with a token-classification head (nerkit/label_mapping.py): labels mapped by name."""

import logging

import pytest
import torch

from nerkit.config import ModelConfig
from nerkit.label_mapping import plan_for, plan_labels
from nerkit.modeling import build_model

DATA = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]


def ner_checkpoint(tiny_model, directory, labels, seed=1):
    """The tiny encoder with a random head for `labels` (in that order), saved as a Hub NER model would be."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    torch.manual_seed(seed)
    model = AutoModelForTokenClassification.from_pretrained(
        tiny_model, num_labels=len(labels), id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)})
    torch.nn.init.normal_(model.classifier.weight, std=1.0)
    torch.nn.init.normal_(model.classifier.bias, std=1.0)
    model.save_pretrained(directory)
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(directory)
    return str(directory)


def logits(model, ids=((2, 12, 13, 7, 8, 24, 3), (2, 9, 6, 30, 31, 3, 0))):
    model.eval()
    batch = torch.tensor(ids)
    with torch.no_grad():
        return model(input_ids=batch, attention_mask=(batch != 0).long()).logits


def test_plan_same_labels_in_another_order_keeps_every_type():
    plan = plan_for(["B-PER", "O", "I-LOC", "B-LOC", "I-PER"], DATA, "src", drop_labels=False)
    assert plan.labels == DATA and (plan.kept, plan.added, plan.reinitialised) == (["LOC", "PER"], [], None)


def test_plan_adds_new_types_and_keeps_or_drops_types_the_data_lacks():
    source = ["O", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    kept = plan_for(source, DATA, "src", drop_labels=False)
    assert kept.labels == ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    assert (kept.kept, kept.added, kept.without_data, kept.dropped) == (["ORG", "PER"], ["LOC"], ["ORG"], [])
    dropped = plan_for(source, DATA, "src", drop_labels=True)
    assert dropped.labels == DATA and (dropped.kept, dropped.dropped, dropped.without_data) == (["PER"], ["ORG"], [])
    assert dropped.record() == {"model": "src", "kept": ["PER"], "added": ["LOC"], "dropped": ["ORG"],
                                "kept_without_data": [], "reinitialised": None}


@pytest.mark.parametrize(("source", "why"), [(["LABEL_0", "LABEL_1"], "generic"),
                                              (["O", "S-PER", "B-PER", "E-PER"], "not IOB2 names (S-PER, E-PER)")])
def test_plan_reinitialises_a_head_it_cannot_map(source, why):
    plan = plan_for(source, DATA, "src", drop_labels=False)
    assert plan.labels == DATA and why in plan.reinitialised and plan.kept == []


def test_plan_of_a_plain_encoder_is_the_data_labels(tiny_model):
    plan = plan_labels(ModelConfig(name_or_path=tiny_model), DATA)
    assert plan.labels == DATA and plan.source is None and plan.record() is None


def test_permuted_head_predicts_before_training_what_the_source_predicted(tiny_model, tmp_path):
    from transformers import AutoModelForTokenClassification

    source_labels = ["B-PER", "O", "I-LOC", "B-LOC", "I-PER"]
    path = ner_checkpoint(tiny_model, tmp_path / "src", source_labels)
    cfg = ModelConfig(name_or_path=path)
    model = build_model(cfg, plan_labels(cfg, DATA).labels)
    source = AutoModelForTokenClassification.from_pretrained(path)
    order = [source_labels.index(label) for label in DATA]
    assert torch.equal(logits(model), logits(source)[..., order])
    ours = [[model.config.id2label[i] for i in row] for row in logits(model).argmax(-1).tolist()]
    theirs = [[source.config.id2label[i] for i in row] for row in logits(source).argmax(-1).tolist()]
    assert ours == theirs and len({label for row in ours for label in row}) > 1


def test_added_types_get_fresh_rows_and_old_rows_stay(tiny_model, tmp_path, caplog):
    from transformers import AutoModelForTokenClassification

    source_labels = ["O", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    path = ner_checkpoint(tiny_model, tmp_path / "src", source_labels)
    cfg = ModelConfig(name_or_path=path)
    with caplog.at_level(logging.INFO, logger="nerkit"):
        labels = plan_labels(cfg, DATA).labels
    assert "kept ORG, PER; added LOC" in caplog.text and "knows ORG, which the training data never has" in caplog.text
    model = build_model(cfg, labels)
    source = AutoModelForTokenClassification.from_pretrained(path)
    for label in source_labels:
        assert torch.equal(model.classifier.weight[labels.index(label)], source.classifier.weight[source_labels.index(label)])
    fresh = model.classifier.weight[[labels.index("B-LOC"), labels.index("I-LOC")]]
    assert 0.005 < fresh.std().item() < 0.05  # initializer_range 0.02, as a fresh head (the source rows have std 1)
    assert model.classifier.bias[labels.index("B-LOC")].item() == 0.0
    assert logits(model).shape[-1] == len(labels) == model.config.num_labels


@pytest.mark.parametrize("source_labels", [["LABEL_0", "LABEL_1"],
                                           ["O", "B-PERSON", "I-PERSON", "B-LOCATION", "I-LOCATION", "B-CORP",
                                            "I-CORP", "B-GROUP", "I-GROUP"]])
def test_a_head_of_another_size_never_raises_a_size_mismatch(tiny_model, tmp_path, caplog, source_labels):
    path = ner_checkpoint(tiny_model, tmp_path / "src", source_labels)
    cfg = ModelConfig(name_or_path=path, drop_labels=True)
    with caplog.at_level(logging.INFO, logger="nerkit"):
        plan = plan_labels(cfg, DATA)
    model = build_model(cfg, plan.labels)
    assert plan.labels == DATA and logits(model).shape[-1] == 5
    generic = source_labels[0] == "LABEL_0"
    assert model.classifier.weight[0 if generic else 1:].std().item() < 0.05  # fresh rows (O is kept when named)
    if generic:
        assert "the head is re-initialised" in caplog.text and plan.reinitialised
    else:
        assert plan.dropped == ["CORP", "GROUP", "LOCATION", "PERSON"] and plan.added == ["LOC", "PER"]


def test_card_says_where_the_model_came_from_and_what_rehearsal_added():
    from nerkit.label_mapping import card_line

    record = plan_for(["O", "B-PER", "I-PER"], DATA, "my-org/per", drop_labels=False).record()
    rehearsal = {"types": ["PER"], "threshold": 0.9, "added": {"PER": 1234}}
    assert card_line(record, rehearsal) == [
        "", "Continued from `my-org/per`; labels kept: PER; added: LOC.",
        "", "Rehearsal: the starting model's entities of PER with score >= 0.9 where the new data has O were used "
            "as labels (PER 1,234)."]  # a record written before per-type thresholds
    per_type = {"types": ["LOC", "PER"], "thresholds": {"LOC": 0.5, "PER": 0.4444}, "added": {"LOC": 5, "PER": 7},
                "threshold_source": "the starting model's thresholds (f1, tuned on valid.txt)"}
    assert card_line(record, per_type)[-1] == (
        "Rehearsal: the starting model's entities of LOC, PER with score >= LOC 0.5, PER 0.4444 (the starting "
        "model's thresholds (f1, tuned on valid.txt)) where the new data has O were used as labels (LOC 5, PER 7).")
    generic = plan_for(["LABEL_0", "LABEL_1"], DATA, "x", drop_labels=False).record()
    assert card_line(generic) == ["", "Continued from `x`; its head was re-initialised (its labels are generic "
                                      "(LABEL_0, ...))."]
    assert card_line(None) == []
    assert "Continued from `run-a`;" in card_line({**record, "model": "/home/me/runs/run-a"})[1]  # no local path
