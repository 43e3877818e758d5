"""Model card and push, tested at the HfApi boundary: no test reaches the network."""

import json

import pytest
import yaml

from nerkit.hub import HubError, push, write_model_card


class FakeApi:
    def __init__(self, fail=False):
        self.calls, self.fail = [], fail

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))

    def create_branch(self, repo_id, **kwargs):
        self.calls.append(("create_branch", repo_id, kwargs))

    def upload_folder(self, **kwargs):
        if self.fail:
            raise ConnectionError("network unreachable")
        self.calls.append(("upload_folder", kwargs["repo_id"], kwargs))


def test_model_card_has_model_index_results_and_usage(trained_run):
    from huggingface_hub import ModelCard

    card = ModelCard.load(trained_run / "README.md")
    metrics = json.loads((trained_run / "metrics.json").read_text())
    data = card.data.to_dict()
    assert data["pipeline_tag"] == "token-classification" and "ner" in data["tags"]
    results = {(r.dataset_split, r.metric_type): r.metric_value for r in card.data.eval_results}
    assert results[("test", "f1")] == round(metrics["test"]["f1"], 4)
    assert results[("validation", "precision")] == round(metrics["validation"]["precision"], 4)
    assert "nerkit predict" in card.text and 'pipeline("token-classification"' in card.text
    assert "| PER |" in card.text and "## Limitations" in card.text


def test_push_uploads_the_run_folder_privately(trained_run, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    monkeypatch.delenv("RANK", raising=False)
    api = FakeApi()
    assert push(trained_run, "me/ner", private=True, revision="v1", api=api) == "me/ner"
    names = [c[0] for c in api.calls]
    assert names == ["create_repo", "create_branch", "upload_folder"]
    assert api.calls[0][2]["private"] is True
    upload = api.calls[2][2]
    assert upload["folder_path"] == str(trained_run) and upload["revision"] == "v1"
    assert "checkpoint-*" in upload["ignore_patterns"]


def test_push_only_from_the_main_process(trained_run, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    monkeypatch.setenv("RANK", "1")
    api = FakeApi()
    assert push(trained_run, "me/ner", api=api) is None and api.calls == []


def test_push_without_token_is_a_clear_error(trained_run, monkeypatch, tmp_path):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # no cached login
    with pytest.raises(HubError, match="no Hugging Face token"):
        push(trained_run, "me/ner", api=FakeApi())


def test_failed_upload_leaves_the_local_run_intact(trained_run, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    monkeypatch.delenv("RANK", raising=False)
    before = sorted(p.name for p in trained_run.iterdir())
    with pytest.raises(HubError, match="upload of .* to me/ner failed: network unreachable; the local files are unchanged"):
        push(trained_run, "me/ner", api=FakeApi(fail=True))
    assert sorted(p.name for p in trained_run.iterdir()) == before


def test_push_merged_adapter_writes_a_loadable_full_model(tiny_model, tmp_path, monkeypatch):
    from transformers import AutoModelForTokenClassification

    from nerkit.config import recipe_from_dict
    from nerkit.train import run

    from conftest import quick_recipe

    recipe = quick_recipe(tiny_model, tmp_path)
    recipe["training"]["num_train_epochs"] = 1
    recipe["lora"] = {"r": 2}
    run(recipe_from_dict(recipe))
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    monkeypatch.delenv("RANK", raising=False)
    api = FakeApi()
    push(tmp_path, "me/ner-merged", merged=True, api=api)
    folder = api.calls[-1][2]["folder_path"]
    assert folder == str(tmp_path / "merged")
    model = AutoModelForTokenClassification.from_pretrained(folder)
    assert model.config.id2label[0] == "O"
    assert "library_name: transformers" in (tmp_path / "merged" / "README.md").read_text()
    assert "library_name: peft" in (tmp_path / "README.md").read_text()


def test_model_card_is_written_for_an_adapter_with_peft_usage(tmp_path):
    recipe = {"model": {"name_or_path": "minilm"}, "data": {"train": "a.conll"}, "training": {}, "lora": {"r": 8},
              "hub": {"model_id": "me/x", "license": "apache-2.0"}}
    results = {"test": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "accuracy": 0.9,
                        "per_type": {"PER": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}}}}
    path = write_model_card(tmp_path, recipe, results, {"labels": ["O", "B-PER", "I-PER"], "kind": "adapter",
                                                          "max_length": 128})
    text = path.read_text()
    meta = yaml.safe_load(text.split("---")[1])
    assert meta["base_model"] == "sentence-transformers/all-MiniLM-L6-v2" and meta["license"] == "apache-2.0"
    assert "AutoPeftModelForTokenClassification" in text


def test_model_card_shows_raw_text_agreement_and_warns_below_99_percent(tmp_path):
    recipe = {"model": {"name_or_path": "minilm"}, "data": {"train": "a.conll"}, "training": {}}
    results = {"test": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "accuracy": 0.9, "per_type": {}}}
    agreement = {"test": {"share": 0.9986, "words": 46435, "reproduced": 46369, "mismatches": ["6- -> 6 | - (5x)"]}}
    metadata = {"labels": ["O", "B-PER", "I-PER"], "kind": "full", "raw_text_agreement": agreement}
    text = write_model_card(tmp_path, recipe, results, metadata).read_text()
    assert "reproduces 99.86% of the test words written as natural text (46,369 of 46,435)" in text
    assert "Warning" not in text
    agreement["test"].update(share=0.95, reproduced=44113)
    text = write_model_card(tmp_path, recipe, results, metadata).read_text()
    assert "**Warning:** below 99%" in text and "6- -> 6 | - (5x)" in text
