"""LoRA through PEFT: the classifier head is trained, saved and reloaded; merged models load without PEFT."""

import json

import pytest
import torch

from nerkit.config import LoraConfig, recipe_from_dict
from nerkit.modeling import ModelError, load_trained, lora_targets, wrap_lora
from nerkit.training import train as run

from conftest import launch, quick_recipe

SENTENCES = [["Anna", "Smith", "visited", "Paris", "."], ["The", "Acme", "Corp", "team", "won", "in", "Tokyo"]]


@pytest.fixture(scope="module")
def lora_run(tiny_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("lora")
    recipe = quick_recipe(tiny_model, out)
    recipe["lora"] = {"r": 4, "alpha": 8, "merge": True}
    results = run(recipe_from_dict(recipe))
    return out, results


def logits(model, tokenizer):
    batch = tokenizer(SENTENCES, is_split_into_words=True, padding=True, return_tensors="pt")
    with torch.inference_mode():
        return model(**batch).logits


def test_lora_saves_a_small_adapter_with_the_classifier(lora_run):
    out, _ = lora_run
    assert (out / "adapter_model.safetensors").is_file() and not (out / "model.safetensors").exists()
    from safetensors import safe_open

    with safe_open(str(out / "adapter_model.safetensors"), "pt") as handle:
        keys = list(handle.keys())
    assert any("classifier" in k for k in keys), keys  # modules_to_save: the head travels with the adapter
    assert any("lora_A" in k for k in keys)
    assert json.loads((out / "nerkit.json").read_text())["kind"] == "adapter"


def test_lora_reloaded_adapter_predicts_exactly_as_the_trained_model(lora_run, tiny_model):
    out, results = lora_run
    model, tokenizer, _ = load_trained(out)
    again, _, _ = load_trained(out)
    assert torch.equal(logits(model, tokenizer), logits(again, tokenizer))
    classifier = model.base_model.model.classifier.modules_to_save["default"].weight
    fresh = torch.nn.Linear(classifier.shape[1], classifier.shape[0]).weight  # what a lost head would look like
    assert classifier.shape == fresh.shape and not torch.allclose(classifier, fresh)


def test_lora_merged_model_loads_without_peft_and_matches_the_adapter(lora_run):
    from transformers import AutoModelForTokenClassification

    out, _ = lora_run
    adapter, tokenizer, _ = load_trained(out)
    merged = AutoModelForTokenClassification.from_pretrained(out / "merged").eval()
    assert type(merged).__name__ == "BertForTokenClassification"
    assert torch.allclose(logits(adapter, tokenizer), logits(merged, tokenizer), atol=1e-5)
    assert merged.config.id2label[1] == "B-LOC"


def test_lora_run_scores_every_entity(lora_run):
    _, results = lora_run
    assert results["validation"]["entities"] == 127


def test_lora_unknown_target_module_lists_the_existing_ones(tiny_model):
    from transformers import AutoModelForTokenClassification

    model = AutoModelForTokenClassification.from_pretrained(tiny_model, num_labels=3)
    with pytest.raises(ModelError, match=r"\['q_proj'\] not found in bert; its linear modules are: dense, key, query, value"):
        wrap_lora(model, LoraConfig(target_modules=["q_proj", "query"]))


def test_lora_default_targets_per_architecture(tiny_model):
    from transformers import AutoModelForTokenClassification

    model = AutoModelForTokenClassification.from_pretrained(tiny_model, num_labels=3)
    assert lora_targets(model, LoraConfig()) == ["query", "key", "value", "dense"]
    wrapped = wrap_lora(model, LoraConfig(r=2))
    trainable = {n for n, p in wrapped.named_parameters() if p.requires_grad}
    assert any("classifier" in n for n in trainable) and any("lora_B" in n for n in trainable)
    assert not any("word_embeddings" in n for n in trainable)


def test_lora_trains_under_accelerate_launch_with_two_processes(tiny_model, tmp_path):
    result = launch(tiny_model, tmp_path, 2, "lora.r=4")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "adapter_model.safetensors").is_file()
    assert json.loads((tmp_path / "metrics.json").read_text())["validation"]["entities"] == 127


def test_lora_loading_says_the_head_is_restored_not_newly_initialised(lora_run, capfd, caplog):
    import logging

    out, _ = lora_run
    with caplog.at_level(logging.INFO, logger="nerkit"):
        load_trained(str(out))
    shown = capfd.readouterr().err + caplog.text  # transformers' logger writes to either, as pytest sets it up
    assert "LOAD REPORT" not in shown and "MISSING" not in shown and "newly" not in shown.lower()
    assert "LoRA adapter on" in shown and "classification head for 9 labels restored" in shown


def test_lora_debug_shows_transformers_load_report(lora_run, capfd, caplog, monkeypatch):
    from nerkit import modeling

    monkeypatch.setattr(modeling, "SHOW_LOAD_REPORTS", True)
    load_trained(str(lora_run[0]))
    assert "LOAD REPORT" in capfd.readouterr().err + caplog.text  # the base's own table: the head is not in it
