"""Run folders: one run per folder, interrupted runs recognised, nothing stale loaded, no remote code run."""

import json
import os
import shutil

import pytest
import yaml

import nerkit.hub
from nerkit.cli import main as cli
from nerkit.config import load_recipe, recipe_from_dict
from nerkit.hub import HubError, push
from nerkit.modeling import ModelError, load_trained
from nerkit.run import INCOMPLETE, RunError, atomic_write, begin, files_to_push
from nerkit.training import train as run

from conftest import ROOT, quick_recipe

RECIPE = {"model": {"name_or_path": "bert-base-cased"}, "training": {"output_dir": "x"}, "lora": None}


def test_training_refuses_an_existing_run_and_keeps_it(trained_run, tiny_model, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(trained_run, folder)
    before = (folder / "model.safetensors").read_bytes()
    recipe = quick_recipe(tiny_model, folder)
    recipe["training"]["max_steps"] = 2
    with pytest.raises(RunError, match=r"output_dir .*run is not empty .*--overwrite"):
        run(recipe_from_dict(recipe))
    assert (folder / "model.safetensors").read_bytes() == before and not (folder / INCOMPLETE).exists()


def test_overwrite_clears_the_folder_first(tmp_path):
    out = tmp_path / "run"
    (out / "checkpoint-3").mkdir(parents=True)
    for name in ("adapter_config.json", "adapter_model.safetensors", "nerkit.json", "metrics.json"):
        (out / name).write_text("{}")
    begin(out, RECIPE, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == [INCOMPLETE, "local.json", "recipe.yaml"]


def test_overwrite_never_deletes_a_folder_that_is_not_a_run(tmp_path, monkeypatch):
    (tmp_path / "thesis.tex").write_text("years of work")
    with pytest.raises(RunError, match="holds files that no nerkit run wrote"):
        begin(tmp_path, RECIPE, overwrite=True)
    monkeypatch.chdir(tmp_path / "..")
    with pytest.raises(RunError, match="current directory"):
        begin(".", RECIPE, overwrite=True)
    assert (tmp_path / "thesis.tex").is_file()


def test_resume_keeps_checkpoints_and_refuses_another_kind_of_run(tmp_path):
    out = tmp_path / "run"
    begin(out, {**RECIPE, "lora": {"r": 8}})
    (out / "checkpoint-5").mkdir()
    (out / "adapter_model.safetensors").write_text("old")
    with pytest.raises(RunError, match="holds a LoRA adapter run of bert-base-cased; this recipe trains a full model"):
        begin(out, RECIPE, resume=True)
    assert begin(out, {**RECIPE, "lora": {"r": 8}}, resume=str(out / "checkpoint-5")) is True
    assert sorted(p.name for p in out.iterdir()) == [INCOMPLETE, "checkpoint-5", "local.json", "recipe.yaml"]


def test_recipe_yaml_is_saved_without_secrets(tmp_path):
    recipe = {**RECIPE, "training": {"output_dir": "x", "hub_token": "hf_abcdefghijklmnopqrstuvwxyz", "tokens": 3},
              "hub": {"password": "pw", "note": "uses hf_abcdefghijklmnopqrstuvwxyz"}}
    begin(tmp_path / "run", recipe)
    text = (tmp_path / "run" / "recipe.yaml").read_text()
    saved = yaml.safe_load(text)
    assert "hf_abc" not in text and "pw" not in text
    assert saved["training"] == {"output_dir": "x", "hub_token": "<redacted>", "tokens": 3}


def test_a_recipe_without_output_dir_is_named_after_the_recipe(tmp_path):
    path = tmp_path / "my-ner.yaml"
    path.write_text("model:\n  name_or_path: bert-base-cased\ntraining:\n  learning_rate: 1e-4\n")
    assert load_recipe(path).output_dir == "runs/my-ner"
    assert load_recipe(path, ["training.output_dir=elsewhere"]).output_dir == "elsewhere"
    assert load_recipe(ROOT / "recipes" / "quickstart.yaml").output_dir == "runs/quickstart"


def test_an_interrupted_run_is_recognised_and_never_loaded_or_pushed(tiny_model, tmp_path, monkeypatch):
    """Interrupted after the model was written: the folder holds weights, but is marked unfinished."""
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    recipe = quick_recipe(tiny_model, tmp_path / "run")
    recipe["training"]["num_train_epochs"] = 1
    monkeypatch.setattr(nerkit.hub, "write_model_card", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(recipe_from_dict(recipe))
    out = tmp_path / "run"
    assert (out / "model.safetensors").is_file() and (out / INCOMPLETE).is_file() and not (out / "nerkit.json").exists()
    with pytest.raises(RunError, match="this run has not finished"):
        load_trained(out)
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    with pytest.raises((RunError, HubError), match="not a finished nerkit run|has not finished"):
        push(out, "me/x", api=object())
    monkeypatch.undo()
    recipe["training"]["resume_from_checkpoint"] = True  # resuming finishes it
    run(recipe_from_dict(recipe))
    assert not (out / INCOMPLETE).exists() and load_trained(out)[2]["kind"] == "full"


def test_a_stale_adapter_beside_a_full_model_is_never_applied(trained_run, tmp_path):
    """transformers applies an adapter_config.json found beside config.json; nerkit refuses the mix."""
    folder = tmp_path / "run"
    shutil.copytree(trained_run, folder)
    (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "base_model_name_or_path": "x"}))
    with pytest.raises(ModelError, match="full model and a LoRA adapter .* side by side"):
        load_trained(folder)


def test_a_model_that_needs_remote_code_is_refused_even_when_the_prompt_says_yes(trained_run, tmp_path, monkeypatch,
                                                                                  capsys):
    folder = tmp_path / "evil"
    shutil.copytree(trained_run, folder)
    sentinel = tmp_path / "code-ran"
    (folder / "evil.py").write_text(f"open({str(sentinel)!r}, 'w').write('ran')\n"
                                    "from transformers import BertConfig\nclass EvilConfig(BertConfig):\n"
                                    "    model_type = 'evil'\n")
    config = json.loads((folder / "config.json").read_text())
    config.update(model_type="evil", auto_map={"AutoConfig": "evil.EvilConfig",
                                               "AutoModelForTokenClassification": "evil.EvilModel"})
    (folder / "config.json").write_text(json.dumps(config))
    monkeypatch.setattr("builtins.input", lambda *args: "y")
    assert cli(["predict", str(folder), "Anna visited Paris."]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "needs to run Python code from its own files" in err and "evil" in err
    assert not sentinel.exists()


def test_writes_are_atomic(tmp_path, monkeypatch):
    path = tmp_path / "nerkit.json"
    path.write_text('{"labels": ["O"]}')

    def cut(*args):
        raise KeyboardInterrupt  # the process dies between writing and renaming

    monkeypatch.setattr(os, "replace", cut)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, '{"labels": ["O", "B-PER"]' * 1000)
    assert path.read_text() == '{"labels": ["O"]}' and [p.name for p in tmp_path.iterdir()] == ["nerkit.json"]


def test_only_finished_runs_have_files_to_push(tmp_path):
    begin(tmp_path / "run", RECIPE)
    with pytest.raises(RunError, match="has not finished"):
        files_to_push(tmp_path / "run")
