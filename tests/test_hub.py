"""Model card, push and loading by Hub id, tested at the HfApi boundary: no test reaches the network.

A push goes to a fake HfApi that records the uploaded files; `publish` lays them out as the Hugging Face
cache would (models--org--name/snapshots/<commit>/ and refs/<revision>); with HF_HUB_OFFLINE set, loading
by id then goes through huggingface_hub exactly as on a user's machine that has the files cached."""

import json
import logging
import re
import shutil
import sys
from pathlib import Path

import pytest
import torch
import yaml

from nerkit.cli import main as cli
from nerkit.config import recipe_from_dict
from nerkit.hub import HubError, push, write_model_card
from nerkit.inference.tagger import Tagger
from nerkit.modeling import ModelError, load_trained
from nerkit.training import train as run

from conftest import SAMPLE, publish, quick_recipe

TEXTS = ["Anna Smith visited Paris on Monday.", "The Acme Corp team said John left Berlin.\n\nTokyo won the prize."]
BASE_ID = "nerkit-test/tiny-bert"


class FakeApi:
    def __init__(self, fail=False):
        self.calls, self.fail = [], fail

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))

    def create_branch(self, repo_id, **kwargs):
        self.calls.append(("create_branch", repo_id, kwargs))

    def create_commit(self, repo_id, operations, **kwargs):
        if self.fail:
            raise ConnectionError("network unreachable")
        self.calls.append(("create_commit", repo_id, {"operations": list(operations), **kwargs}))

    @property
    def uploaded(self) -> dict[str, bytes]:
        """path in repo -> content of the last commit."""
        ops = [c for c in self.calls if c[0] == "create_commit"][-1][2]["operations"]
        return {op.path_in_repo: op.path_or_fileobj if isinstance(op.path_or_fileobj, bytes)
                else Path(op.path_or_fileobj).read_bytes() for op in ops}


def folder_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in Path(folder).iterdir() if p.is_file()}


def pushed(folder: Path, repo_id: str, monkeypatch, **kwargs) -> dict[str, bytes]:
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    monkeypatch.delenv("RANK", raising=False)
    api = FakeApi()
    push(folder, repo_id, api=api, **kwargs)
    return api.uploaded


@pytest.fixture(scope="module")
def shipped_base(tiny_model, tmp_path_factory):
    """The tiny model as `minilm` is: a Hub id (BASE_ID) shipped in an installed package, alias `tiny`."""
    from nerkit import run as nerkit_run

    root = tmp_path_factory.mktemp("site-packages")
    package = root / "nerkit_tiny_shipped"
    shutil.copytree(tiny_model, package / "model")
    (package / "__init__.py").write_text("")
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(root))
        mp.setitem(nerkit_run.SHIPPED, BASE_ID, "nerkit_tiny_shipped")
        mp.setitem(nerkit_run.ALIASES, "tiny", BASE_ID)
        yield package


@pytest.fixture(scope="module")
def lora_run(shipped_base, tmp_path_factory):
    """A LoRA run (merged too) of the `tiny` alias, with the paths written relative, as in a project folder."""
    where = tmp_path_factory.mktemp("project")
    shutil.copytree(SAMPLE, where / "data")
    recipe = quick_recipe("tiny", Path("runs/lora"))
    recipe["data"].update(train="data/train.conll", validation="data/validation.conll", test="data/test.conll")
    recipe["training"]["num_train_epochs"] = 1
    recipe["lora"] = {"r": 4, "alpha": 8, "merge": True}
    from huggingface_hub import constants

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(where)
        mp.setattr(constants, "HF_HUB_OFFLINE", True)  # PEFT looks the base id up on the Hub when saving
        run(recipe_from_dict(recipe))
    return where / "runs" / "lora"


@pytest.fixture(scope="module")
def document_run(tiny_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("doc")
    recipe = quick_recipe(tiny_model, out, context="document", context_size=16)
    recipe["training"]["num_train_epochs"] = 1
    run(recipe_from_dict(recipe))
    return out


@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    """An empty Hub cache under a temporary HF_HOME, and HF_HUB_OFFLINE=1."""
    from huggingface_hub import constants

    cache = tmp_path / "hf" / "hub"
    cache.mkdir(parents=True)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))  # read at import; the calls read these
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


def predictions(name, **kwargs):
    tagger = Tagger.load(str(name), precision="fp32", **kwargs)
    return tagger.predict(TEXTS), tagger.metadata.to_dict()


# --- the card ----------------------------------------------------------------------------------------------

def test_model_card_has_model_index_results_and_usage(trained_run, tmp_path):
    from huggingface_hub import ModelCard

    metrics = json.loads((trained_run / "metrics.json").read_text())
    recipe = yaml.safe_load((trained_run / "recipe.yaml").read_text())
    recipe["data"]["name"] = "nerkit-sample"
    metadata = json.loads((trained_run / "nerkit.json").read_text())
    card = ModelCard.load(write_model_card(tmp_path, recipe, metrics, metadata))
    data = card.data.to_dict()
    assert data["pipeline_tag"] == "token-classification" and "ner" in data["tags"]
    results = {(r.dataset_split, r.metric_type): r.metric_value for r in card.data.eval_results}
    assert results[("test", "f1")] == round(metrics["test"]["f1"], 4)
    assert results[("validation", "precision")] == round(metrics["validation"]["precision"], 4)
    assert "nerkit predict" in card.text and 'pipeline("token-classification"' in card.text
    assert "| PER |" in card.text and "## Limitations" in card.text


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
    assert "AutoPeftModelForTokenClassification.from_pretrained(\"me/x\", id2label={0: 'O', 1: 'B-PER', 2: 'I-PER'})" in text


def test_card_hides_secrets_and_local_paths(tmp_path):
    recipe = {"model": {"name_or_path": "/home/alice/models/bert"},
              "data": {"train": "/home/alice/private/train.conll", "test": "/home/alice/private/test.conll"},
              "training": {"hub_token": "hf_abcdefghijklmnopqrstuvwxyz", "output_dir": "/home/alice/runs/x",
                           "tokens_field_note": "kept"}, "lora": None}
    text = write_model_card(tmp_path, recipe, {}, {"labels": ["O", "B-PER", "I-PER"], "kind": "full"}).read_text()
    assert "/home/alice" not in text and "hf_abcdefghij" not in text
    assert "train.conll" in text and "hub_token: <redacted>" in text and "kept" in text


# --- the push ----------------------------------------------------------------------------------------------

def test_push_uploads_exactly_the_allow_list_and_logs_it(trained_run, tmp_path, monkeypatch, caplog):
    """Stale weights, pickles, checkpoints, reports and stray files in the folder are never uploaded."""
    folder = tmp_path / "run"
    shutil.copytree(trained_run, folder)
    for junk in ("training_args.bin", "test-report.json", "test-report.png", "notes.txt", "adapter_model.safetensors",
                 "checkpoint-9/model.safetensors", "checkpoint-9/optimizer.pt", "runs/events.out"):
        (folder / junk).parent.mkdir(parents=True, exist_ok=True)
        (folder / junk).write_bytes(b"private")
    with caplog.at_level(logging.INFO, logger="nerkit"):
        files = pushed(folder, "me/ner", monkeypatch, private=True, revision="v1")
    tokenizer = {"tokenizer.json", "tokenizer_config.json"} & set(files)
    assert tokenizer and set(files) == {"config.json", "model.safetensors", "nerkit.json", "recipe.yaml", "metrics.json",
                                         "train_results.json", "README.md", *tokenizer}
    assert not any(name.endswith((".bin", ".pt", ".pkl")) for name in files)
    assert "me/ner: " in caplog.text and "model.safetensors" in caplog.text and "README.md" in caplog.text
    card = files["README.md"].decode()
    assert 'nerkit predict me/ner "' in card and 'model="me/ner"' in card  # the card names the pushed repo


def test_push_redacts_secrets_from_recipe_and_card(tiny_model, tmp_path, monkeypatch):
    recipe = quick_recipe(tiny_model, tmp_path / "run")
    recipe["training"].update(num_train_epochs=1, hub_token="hf_secretsecretsecretsecret1234")
    run(recipe_from_dict(recipe))
    files = pushed(tmp_path / "run", "me/ner", monkeypatch)
    for name, data in [*files.items(), *folder_files(tmp_path / "run").items()]:
        assert b"secretsecret" not in data, name
    assert yaml.safe_load(files["recipe.yaml"])["training"]["hub_token"] == "<redacted>"


def test_push_only_from_the_main_process(trained_run, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    monkeypatch.setenv("RANK", "1")
    api = FakeApi()
    assert push(trained_run, "me/ner", api=api) is None and api.calls == []


def test_push_creates_the_repo_and_branch(trained_run, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    monkeypatch.delenv("RANK", raising=False)
    api = FakeApi()
    assert push(trained_run, "me/ner", private=True, revision="v1", api=api) == "me/ner"
    assert [c[0] for c in api.calls] == ["create_repo", "create_branch", "create_commit"]
    assert api.calls[0][2]["private"] is True and api.calls[2][2]["revision"] == "v1"


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


def test_push_merged_rebuilds_a_merged_model_made_from_an_older_adapter(lora_run, tmp_path, monkeypatch):
    from safetensors.torch import load_file, save_file
    from transformers import AutoModelForTokenClassification

    folder = tmp_path / "lora"
    shutil.copytree(lora_run, folder)
    stale = AutoModelForTokenClassification.from_pretrained(folder / "merged")
    weights = load_file(folder / "adapter_model.safetensors")  # the adapter changes after the merge
    save_file({k: v + 0.5 if "lora_B" in k or "classifier" in k else v for k, v in weights.items()},
              folder / "adapter_model.safetensors")
    files = pushed(folder, "me/ner-merged", monkeypatch, merged=True)
    assert "model.safetensors" in files and "adapter_config.json" not in files
    adapter, tokenizer, _ = load_trained(folder)
    merged = AutoModelForTokenClassification.from_pretrained(folder / "merged").eval()
    batch = tokenizer([["Anna", "visited", "Paris"]], is_split_into_words=True, return_tensors="pt")
    with torch.inference_mode():
        expected, got, old = adapter(**batch).logits, merged(**batch).logits, stale(**batch).logits
    assert torch.allclose(expected, got, atol=1e-4) and not torch.allclose(expected, old, atol=1e-2)


# --- loading by Hub id -------------------------------------------------------------------------------------

def test_full_model_by_hub_id_predicts_as_the_local_run(trained_run, offline_cache, monkeypatch):
    publish(offline_cache, "me/ner", pushed(trained_run, "me/ner", monkeypatch))
    local, local_meta = predictions(trained_run)
    by_id, metadata = predictions("me/ner")
    assert by_id == local and metadata == local_meta == json.loads((trained_run / "nerkit.json").read_text())


def test_document_context_model_by_hub_id_keeps_its_context(document_run, offline_cache, monkeypatch):
    publish(offline_cache, "me/ner-doc", pushed(document_run, "me/ner-doc", monkeypatch))
    local, _ = predictions(document_run)
    by_id, metadata = predictions("me/ner-doc")
    assert metadata == json.loads((document_run / "nerkit.json").read_text())
    assert metadata["context"] == "document" and Tagger.load("me/ner-doc").encoder.context_size == 16
    assert by_id == local


def test_adapter_and_merged_by_hub_id_predict_as_the_local_run(lora_run, offline_cache, monkeypatch):
    adapter_files = pushed(lora_run, "me/ner-lora", monkeypatch)
    assert "config.json" not in adapter_files and "adapter_model.safetensors" in adapter_files
    publish(offline_cache, "me/ner-lora", adapter_files)
    publish(offline_cache, "me/ner-merged", pushed(lora_run, "me/ner-merged", monkeypatch, merged=True))
    local, _ = predictions(lora_run)
    by_id, metadata = predictions("me/ner-lora")
    assert by_id == local and metadata == json.loads((lora_run / "nerkit.json").read_text())
    merged, merged_meta = predictions("me/ner-merged")
    assert merged_meta == json.loads((lora_run / "merged" / "nerkit.json").read_text())
    assert merged == predictions(lora_run / "merged")[0]
    assert [[e["label"] for e in r["entities"]] for r in merged] == [[e["label"] for e in r["entities"]] for r in local]


def test_a_revision_is_loaded_and_a_missing_one_is_a_clear_error(trained_run, lora_run, offline_cache, monkeypatch,
                                                                 capsys):
    publish(offline_cache, "me/ner", pushed(lora_run, "me/ner", monkeypatch))
    publish(offline_cache, "me/ner", pushed(trained_run, "me/ner", monkeypatch), revision="v1")
    assert predictions("me/ner", revision="v1")[1]["kind"] == "full"
    assert predictions("me/ner")[1]["kind"] == "adapter"
    assert cli(["evaluate", "me/ner", str(SAMPLE / "validation.conll"), "--split", "validation", "--revision", "v1"]) == 0
    assert "micro" in capsys.readouterr().out
    with pytest.raises(ModelError, match=r"^me/ner \(revision v9\): .*cache holds no copy"):
        load_trained("me/ner", revision="v9")


def test_unreachable_id_and_non_ner_repo_are_one_line_errors(tiny_model, offline_cache, capsys):
    publish(offline_cache, "me/encoder", folder_files(Path(tiny_model)))  # a plain encoder, no NER head
    with pytest.raises(ModelError, match=r"^me/encoder is not a token-classification model \(its architectures: BertModel\)"):
        load_trained("me/encoder")
    assert cli(["predict", "me/nothing-here", "Anna visited Paris."]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("nerkit predict: error: me/nothing-here: not a saved nerkit run or model directory")


def test_plain_hub_token_classification_model_loads_by_id(trained_run, offline_cache, capsys):
    plain = {k: v for k, v in folder_files(trained_run).items() if k.startswith(("config", "model", "tokenizer"))}
    publish(offline_cache, "someone/bert-ner", plain)
    by_id, metadata = predictions("someone/bert-ner")
    assert metadata["labels"] == json.loads((trained_run / "nerkit.json").read_text())["labels"]
    run = Tagger.load(str(trained_run), precision="fp32")
    run.calibrator = None  # a plain model has no calibrator: its scores are the raw ones
    assert by_id == run.predict(TEXTS)  # same weights; default encoding settings match the tiny run's
    assert cli(["predict", "someone/bert-ner", TEXTS[0], "--format", "jsonl"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[0])["text"] == TEXTS[0]


def test_card_snippets_run_as_written_against_the_pushed_files(trained_run, lora_run, shipped_base, offline_cache,
                                                              monkeypatch):
    publish(offline_cache, BASE_ID, folder_files(shipped_base / "model"))  # what PEFT fetches as the base
    full = publish(offline_cache, "me/ner", pushed(trained_run, "me/ner", monkeypatch))
    adapter = publish(offline_cache, "me/ner-lora", pushed(lora_run, "me/ner-lora", monkeypatch))
    for snapshot, check in ((full, "ner"), (adapter, "model")):
        blocks = re.findall(r"```python\n(.*?)```", (snapshot / "README.md").read_text(), re.S)
        assert len(blocks) == 1
        scope = {}
        exec(blocks[0], scope)
        assert check in scope
    model, tokenizer, _ = load_trained(lora_run)
    batch = tokenizer([["Anna", "visited", "Paris"]], is_split_into_words=True, return_tensors="pt")
    with torch.inference_mode():
        assert torch.allclose(scope["model"].eval()(**batch).logits, model(**batch).logits, atol=1e-5)
    assert scope["model"].config.id2label == model.config.id2label


def test_lora_run_saves_no_path_of_the_training_machine(lora_run, shipped_base):
    """Every file of the run (checkpoints and binaries too) is free of the machine's own paths, but local.json:
    the data paths that let export and evaluate find the data from any folder, never pushed."""
    from nerkit.run import LOCAL, files_to_push

    project = lora_run.parents[1]
    machine = [str(shipped_base), str(project), sys.prefix, "site-packages"]
    assert (lora_run / LOCAL).is_file() and LOCAL not in files_to_push(lora_run)
    files = [p for p in lora_run.rglob("*") if p.is_file() and p.name != LOCAL]
    assert len(files) > 20
    for path in files:
        data = path.read_bytes()
        for needle in machine:
            assert needle.encode() not in data, (path.relative_to(lora_run), needle)
    assert json.loads((lora_run / "adapter_config.json").read_text())["base_model_name_or_path"] == BASE_ID
    assert json.loads((lora_run / "nerkit.json").read_text())["base_model"] == BASE_ID
    assert not (lora_run / "training_args.bin").exists()
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


@pytest.mark.parametrize("data, named", [({"train": "/data/eng.train", "name": "conll2003"}, "conll2003"),
                                         ({"dataset": "eriktks/conll2003"}, "eriktks/conll2003"),
                                         ({"train": "/data/eng.train"}, None)])
def test_model_card_names_the_data_set_never_a_file(tmp_path, data, named):
    recipe = {"model": {"name_or_path": "minilm"}, "data": data, "training": {}}
    results = {"test": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "accuracy": 0.9, "per_type": {}}}
    text = write_model_card(tmp_path, recipe, results, {"labels": ["O", "B-PER", "I-PER"], "kind": "full"}).read_text()
    meta = yaml.safe_load(text.split("---")[1])
    names = {r["dataset"]["name"] for entry in meta.get("model-index", []) for r in entry["results"]}
    assert names == ({named} if named else set())  # no model-index rather than a made-up name
    assert "name: eng" not in text and "github.com/nerkit" not in text
