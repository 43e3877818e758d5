"""End-to-end training on the tiny random model: in process, and as `accelerate launch` subprocesses."""

import json
import pytest
import yaml

from nerkit.config import recipe_from_dict
from nerkit.data import DataError
from nerkit.evaluation import evaluate
from nerkit.launch import requested_cpu_processes
from nerkit.modeling import ModelError
from nerkit.training import train as run

from conftest import SAMPLE, launch, quick_recipe

GOLD_ENTITIES = {"validation": 127, "test": 125}  # entities in recipes/sample/{validation,test}.conll


def test_train_saves_model_labels_recipe_metrics_and_card(trained_run):
    for name in ("config.json", "model.safetensors", "tokenizer.json", "nerkit.json", "recipe.yaml",
                 "metrics.json", "README.md"):
        assert (trained_run / name).is_file(), name
    metadata = json.loads((trained_run / "nerkit.json").read_text())
    labels = ["O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    assert metadata["labels"] == labels and metadata["kind"] == "full"
    assert set(metadata["raw_text_agreement"]) == {"validation", "test"}  # raw-text splitter vs the gold words
    assert metadata["raw_text_agreement"]["test"]["words"] == 656 and metadata["raw_text_agreement"]["test"]["share"] > 0.99
    config = json.loads((trained_run / "config.json").read_text())
    assert [config["id2label"][str(i)] for i in range(len(labels))] == labels
    recipe = yaml.safe_load((trained_run / "recipe.yaml").read_text())
    assert recipe["data"]["max_length"] == 64 and recipe["training"]["learning_rate"] == 5e-3


def test_train_metrics_score_every_gold_entity_once(trained_run):
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert set(metrics) == {"validation", "test"}
    for split, count in GOLD_ENTITIES.items():
        assert metrics[split]["entities"] == count
        assert sum(v["support"] for v in metrics[split]["per_type"].values()) == count
        assert set(metrics[split]) >= {"precision", "recall", "f1", "accuracy", "per_type"}
    assert metrics["validation"]["f1"] > 0.05  # it learned something in two epochs


def test_train_scores_each_split_with_its_own_words(tiny_model, tmp_path):
    """A one-sentence validation split beside the 64-sentence test split: each is mapped to its own words
    (the validation scorer once ran on test predictions too, and read their padding as labels)."""
    dev = tmp_path / "dev.conll"
    dev.write_text("Anna B-PER\nvisited O\nParis B-LOC\n" + "and O\n" * 40)
    recipe = quick_recipe(tiny_model, tmp_path / "out", validation=str(dev))
    recipe["training"]["per_device_eval_batch_size"] = 8
    results = run(recipe_from_dict(recipe))
    assert results["validation"]["entities"] == 2 and results["test"]["entities"] == GOLD_ENTITIES["test"]


def test_train_label_all_tokens_still_scores_per_word(tiny_model, tmp_path):
    results = run(recipe_from_dict(quick_recipe(tiny_model, tmp_path, label_all_tokens=True)))
    assert results["validation"]["entities"] == GOLD_ENTITIES["validation"]


def test_train_continues_from_an_ner_run_and_records_the_label_mapping(trained_run, tmp_path):
    data = tmp_path / "new-type.conll"
    data.write_text("Anna B-PER\nvisited O\nthe O\nAcme B-PRODUCT\n\nJohn B-PER\nsaid O\n")
    recipe = quick_recipe(str(trained_run), tmp_path / "out")
    recipe["data"] = {"train": str(data), "max_length": 64}
    recipe["training"]["num_train_epochs"] = 1
    run(recipe_from_dict(recipe))
    metadata = json.loads((tmp_path / "out" / "nerkit.json").read_text())
    assert metadata["labels"] == ["O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER",
                                  "B-PRODUCT", "I-PRODUCT"]
    assert metadata["continued_from"] == {"model": str(trained_run), "kept": ["LOC", "MISC", "ORG", "PER"],
                                          "added": ["PRODUCT"], "dropped": [], "reinitialised": None,
                                          "kept_without_data": ["LOC", "MISC", "ORG"]}
    card = (tmp_path / "out" / "README.md").read_text()
    assert "labels kept: LOC, MISC, ORG, PER; added: PRODUCT; kept without training data: LOC, MISC, ORG." in card


def test_train_with_a_model_that_cannot_be_loaded_is_a_clear_error(tmp_path):
    recipe = quick_recipe(str(tmp_path / "no-such-model"), tmp_path / "out")
    with pytest.raises(ModelError, match="no-such-model.* cannot be loaded"):
        run(recipe_from_dict(recipe))


def test_train_bad_data_names_file_and_line(tiny_model, tmp_path):
    data = tmp_path / "bad.conll"
    data.write_text("Anna B-PER\nvisited O O\n")
    recipe = quick_recipe(tiny_model, tmp_path / "out")
    recipe["data"] = {"train": str(data)}
    with pytest.raises(DataError, match=r"bad\.conll:2: expected 2 columns"):
        run(recipe_from_dict(recipe))


def test_train_resumes_from_checkpoint(tiny_model, tmp_path):
    recipe = quick_recipe(tiny_model, tmp_path)
    recipe["training"].update(num_train_epochs=1, save_strategy="epoch")
    run(recipe_from_dict(recipe))
    checkpoints = sorted(tmp_path.glob("checkpoint-*"))
    assert checkpoints
    recipe["training"].update(num_train_epochs=2, resume_from_checkpoint=str(checkpoints[-1]))
    run(recipe_from_dict(recipe))
    state = json.loads((sorted(tmp_path.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))[-1]
                        / "trainer_state.json").read_text())
    assert state["epoch"] == 2.0
    assert state["global_step"] == 2 * int(checkpoints[-1].name.split("-")[1])


def training_features(tokenizer) -> int:
    from nerkit.config import DataConfig
    from nerkit.data import load_corpus
    from nerkit.features import Encoder

    corpus = load_corpus(DataConfig(train=str(SAMPLE / "train.conll")))
    train = corpus.splits["train"]
    encoder = Encoder(tokenizer, {label: i for i, label in enumerate(corpus.labels)}, max_length=64)
    return len(encoder({"tokens": [s["tokens"] for s in train]}, list(range(len(train))))["input_ids"])


@pytest.mark.parametrize("processes", [1, 2])
def test_accelerate_launch_trains_and_scores_the_whole_eval_set(tiny_model, tiny_tokenizer, tmp_path, processes):
    result = launch(tiny_model, tmp_path, processes)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["validation"]["entities"] == GOLD_ENTITIES["validation"]
    assert metrics["test"]["entities"] == GOLD_ENTITIES["test"]
    last = max(tmp_path.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    state = json.loads((last / "trainer_state.json").read_text())
    steps_per_epoch = -(-training_features(tiny_tokenizer) // (32 * processes))  # batch 32 on each process
    assert state["global_step"] == 2 * steps_per_epoch
    assert (tmp_path / "model.safetensors").is_file()
    again = evaluate(str(tmp_path), str(SAMPLE / "validation.conll"), split="validation")
    assert again["f1"] == pytest.approx(metrics["validation"]["f1"])  # gathered across processes in order


def test_cpu_process_count_is_read_from_the_accelerate_command_line():
    env = {"ACCELERATE_USE_CPU": "True", "MASTER_ADDR": "127.0.0.1"}
    cmd = ["python", "accelerate", "launch", "--cpu", "--num_processes", "3", "-m", "nerkit.train"]
    assert requested_cpu_processes(env, cmd) == 3
    assert requested_cpu_processes(env, ["accelerate", "launch", "--num-processes=2"]) == 2
    assert requested_cpu_processes({**env, "WORLD_SIZE": "3"}, cmd) == 1  # already distributed
    assert requested_cpu_processes({"ACCELERATE_USE_CPU": "True"}, cmd) == 1


def test_num_processes_without_cpu_on_a_machine_without_gpus_runs_as_cpu_processes():
    env = {"ACCELERATE_USE_CPU": "False", "MASTER_ADDR": "127.0.0.1"}
    cmd = ["accelerate", "launch", "--num_processes", "4", "-m", "nerkit.train"]
    assert requested_cpu_processes(env, cmd, accelerator=False) == 4  # not one process, silently
    assert requested_cpu_processes(env, cmd, accelerator=True) == 1  # accelerate runs the GPUs itself
    assert requested_cpu_processes({"MASTER_ADDR": "127.0.0.1"}, cmd, accelerator=False) == 1  # not accelerate


@pytest.mark.parametrize("processes", [1, 2])
def test_accelerate_launch_quiet_ends_a_nerkit_error_with_its_one_line(tmp_path, processes):
    import os
    import subprocess
    import sys

    from conftest import ROOT, free_port

    recipe = tmp_path / "bad.yaml"
    recipe.write_text("model:\n  name_or_path: minilm\ndata:\n  train: no-such.conll\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--quiet", "--cpu", "--num_processes",
                           str(processes), "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                           "--main_process_port", str(free_port()), "-m", "nerkit.train", str(recipe)],
                          env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    errors = [line for line in done.stderr.splitlines() if "error" in line.lower() or "Traceback" in line]
    assert errors == ["nerkit train: error: data file not found: no-such.conll"], done.stderr
    assert done.returncode == 1  # accelerate's own status for a failed process under --quiet


# --- failed starts leave nothing behind; checks before work -----------------------------------------------------

def refuse_model_building(monkeypatch):
    import importlib

    monkeypatch.setattr(importlib.import_module("nerkit.training"), "build_model",
                        lambda *args, **kwargs: pytest.fail("the model was built before the mistake was found"))


@pytest.mark.parametrize("override, error", [
    ({"data": {"train": "no/such/train.conll"}}, "data file not found: no/such/train.conll"),
    ({"data": {"dataset": "./no-such-folder"}}, "./no-such-folder: no such file or folder"),
    ({"lora": {"target_modules": ["q_proj"]}}, r"\['q_proj'\] not found in bert; its linear modules are"),
])
def test_train_mistakes_found_before_anything_is_written(tiny_model, tmp_path, monkeypatch, override, error):
    refuse_model_building(monkeypatch)
    recipe = quick_recipe(tiny_model, tmp_path / "out")
    for section, values in override.items():
        recipe[section] = {**(recipe.get(section) or {}), **values}
    with pytest.raises(Exception, match=error):
        run(recipe_from_dict(recipe))
    assert not (tmp_path / "out").exists()


def test_train_hub_push_without_a_token_stops_before_training(tiny_model, tmp_path, monkeypatch):
    from nerkit.hub import HubError

    refuse_model_building(monkeypatch)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no `hf auth login` token file either
    recipe = quick_recipe(tiny_model, tmp_path / "out")
    recipe["hub"] = {"push": True, "model_id": "me/ner"}
    with pytest.raises(HubError, match="no Hugging Face token"):
        run(recipe_from_dict(recipe))
    assert not (tmp_path / "out").exists()


def test_train_failing_before_its_first_checkpoint_removes_what_it_wrote(tiny_model, tmp_path, monkeypatch, caplog):
    import importlib

    def out_of_memory(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(importlib.import_module("nerkit.training"), "train_and_save", out_of_memory)
    recipe = recipe_from_dict(quick_recipe(tiny_model, tmp_path / "out"))
    with pytest.raises(RuntimeError, match="out of memory"):
        run(recipe)
    assert not (tmp_path / "out").exists()
    assert "nothing to resume" in caplog.text
    (tmp_path / "empty").mkdir()  # a folder the user made stays, emptied
    with pytest.raises(RuntimeError):
        run(recipe_from_dict(quick_recipe(tiny_model, tmp_path / "empty")))
    assert list((tmp_path / "empty").iterdir()) == []


def test_a_run_killed_before_its_first_checkpoint_resumes_from_the_beginning(tiny_model, tmp_path, caplog):
    from nerkit.run import INCOMPLETE, begin

    recipe = quick_recipe(tiny_model, tmp_path / "out")
    begin(tmp_path / "out", recipe)  # what a process killed at once (SIGKILL, no cleanup) leaves: no checkpoint
    assert (tmp_path / "out" / INCOMPLETE).is_file()
    recipe["training"]["resume_from_checkpoint"] = True
    run(recipe_from_dict(recipe))
    assert "has no checkpoint yet" in caplog.text and "starts from the beginning" in caplog.text
    assert (tmp_path / "out" / "nerkit.json").is_file() and not (tmp_path / "out" / INCOMPLETE).exists()


def test_train_failing_after_a_checkpoint_keeps_the_folder_to_resume(tiny_model, tmp_path, monkeypatch):
    import importlib

    def fails_after_a_checkpoint(recipe, args, *rest):
        (tmp_path / "out" / "checkpoint-5").mkdir()
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib.import_module("nerkit.training"), "train_and_save", fails_after_a_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        run(recipe_from_dict(quick_recipe(tiny_model, tmp_path / "out")))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["INCOMPLETE", "checkpoint-5", "local.json", "recipe.yaml"]


def test_train_terminal_says_what_matters_once(tiny_model, tmp_path, capfd, caplog):
    """No LOAD REPORT table, no pin_memory or pyarrow warnings, each evaluation one line."""
    import logging
    import warnings

    recipe = quick_recipe(tiny_model, tmp_path / "out")
    del recipe["training"]["dataloader_pin_memory"]  # nerkit's own default on a machine without an accelerator
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.INFO, logger="nerkit"):
        warnings.simplefilter("always")
        run(recipe_from_dict(recipe))
    assert [str(w.message) for w in caught if "pin_memory" in str(w.message) or w.category is FutureWarning] == []
    captured = capfd.readouterr()
    shown = captured.out + captured.err + caplog.text
    assert "LOAD REPORT" not in shown and "were not sharded" not in shown and "{'eval_loss'" not in shown
    assert captured.out.count("dev F1 ") == 2  # one line per epoch's evaluation, above the bar
    assert "a new classification head for 9 labels" in caplog.text
