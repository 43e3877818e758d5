"""Seeded runs: one run folder per seed, summary.json arithmetic, the best-dev seed used from the parent folder."""

import json
import logging
import shutil

import pytest

from nerkit.cli import main as cli
from nerkit.config import recipe_from_dict
from nerkit.errors import RecipeError, RunError
from nerkit.inference.tagger import Tagger
from nerkit.seeds import train_seeds
from nerkit.summary import best_run, statistics, summarize

from conftest import quick_recipe, train_seeded
from test_hub import pushed


def test_statistics_mean_sd_and_t_interval():
    stats = statistics([0.80, 0.82, 0.84])
    assert stats["n"] == 3 and stats["mean"] == pytest.approx(0.82)
    assert stats["sd"] == pytest.approx(0.02)  # sample sd: sqrt((0.02² + 0 + 0.02²) / 2)
    half = 4.302653 * 0.02 / 3 ** 0.5  # t(0.975, 2 degrees of freedom)
    assert stats["ci95"] == pytest.approx([0.82 - half, 0.82 + half], abs=1e-6)
    assert (stats["min"], stats["max"]) == (0.80, 0.84)


def test_statistics_of_one_seed_has_no_spread():
    assert statistics([0.5]) == {"n": 1, "mean": 0.5, "sd": None, "min": 0.5, "max": 0.5, "ci95": None}


def fake_seed(parent, seed, dev, test, per=0.5):
    folder = parent / f"seed-{seed}"
    folder.mkdir(parents=True)
    scores = lambda f1: {"f1": f1, "precision": f1, "recall": f1, "per_type": {"PER": {"f1": per}, "LOC": {"f1": f1}}}
    (folder / "metrics.json").write_text(json.dumps({"validation": scores(dev), "test": scores(test)}))


def test_summary_chooses_the_best_seed_on_dev_never_on_test(tmp_path):
    fake_seed(tmp_path, 1, dev=0.70, test=0.90)
    fake_seed(tmp_path, 2, dev=0.80, test=0.60)
    fake_seed(tmp_path, 3, dev=0.80, test=0.70)  # ties with seed 2 on dev: the first one wins
    summary = summarize(tmp_path, [1, 2, 3])
    assert (summary["best_seed"], summary["best_folder"], summary["best_by"]) == (2, "seed-2", "validation.f1")
    assert summary["splits"]["test"]["f1"]["mean"] == pytest.approx(0.7333333)
    assert summary["splits"]["test"]["per_seed_f1"] == {"1": 0.90, "2": 0.60, "3": 0.70}
    assert summary["splits"]["validation"]["per_type"]["PER"]["f1"]["sd"] == 0.0
    assert summary["splits"]["validation"]["per_type"]["LOC"]["f1"]["max"] == 0.80


def test_summary_refuses_an_unfinished_seed(tmp_path):
    fake_seed(tmp_path, 1, dev=0.7, test=0.7)
    (tmp_path / "seed-2").mkdir()
    (tmp_path / "seed-2" / "INCOMPLETE").write_text("")
    with pytest.raises(RunError, match="seed-2: this seed's run has not finished"):
        summarize(tmp_path, [1, 2])


@pytest.fixture(scope="module")
def seeded(tiny_model, tmp_path_factory):
    return train_seeded(tiny_model, tmp_path_factory.mktemp("seeded") / "runs", [5, 6])


def test_seeds_make_one_run_folder_each_and_a_summary(seeded):
    assert sorted(p.name for p in seeded.iterdir()) == ["seed-5", "seed-6", "summary.json"]
    summary = json.loads((seeded / "summary.json").read_text())
    assert summary["seeds"] == [5, 6] and set(summary["splits"]) == {"validation", "test"}
    for seed in (5, 6):
        folder = seeded / f"seed-{seed}"
        assert (folder / "nerkit.json").is_file() and not (folder / "INCOMPLETE").exists()
        assert f"seed: {seed}" in (folder / "recipe.yaml").read_text()
        f1 = json.loads((folder / "metrics.json").read_text())["test"]["f1"]
        assert summary["splits"]["test"]["per_seed_f1"][str(seed)] == f1
    best = max((5, 6), key=lambda s: summary["splits"]["validation"]["per_seed_f1"][str(s)])
    assert summary["best_seed"] == best


def test_predict_on_the_parent_folder_loads_the_best_seed_and_says_so(seeded, caplog, monkeypatch):
    monkeypatch.setattr("nerkit.summary._SAID", set())  # said once per folder and process
    best = json.loads((seeded / "summary.json").read_text())["best_folder"]
    with caplog.at_level(logging.INFO):
        tagger = Tagger.load(str(seeded))
    assert best_run(seeded) == seeded / best
    assert f"using {best}, the best on validation" in caplog.text
    assert tagger.labels == Tagger.load(str(seeded / best)).labels


def test_evaluate_on_the_parent_folder_scores_the_best_seed_on_its_own_test_file(seeded):
    from nerkit.evaluation import evaluate

    best = json.loads((seeded / "summary.json").read_text())["best_folder"]
    report = evaluate(str(seeded), "test")
    assert report["f1"] == json.loads((seeded / best / "metrics.json").read_text())["test"]["f1"]


def test_push_of_the_parent_folder_pushes_the_best_seed_with_the_spread_in_the_card(seeded, monkeypatch):
    summary = json.loads((seeded / "summary.json").read_text())
    files = pushed(seeded, "me/seeded", monkeypatch)
    best = seeded / summary["best_folder"]
    assert files["model.safetensors"] == (best / "model.safetensors").read_bytes()
    card = files["README.md"].decode()
    test = summary["splits"]["test"]["f1"]
    assert f"This model is seed {summary['best_seed']}" in card
    assert f"| test | {test['mean']:.4f} ± {test['sd']:.4f} |" in card


def test_resuming_a_seeded_run_keeps_finished_seeds_and_restarts_one_killed_before_a_checkpoint(seeded, tiny_model,
                                                                                                caplog):
    before = (seeded / "seed-5" / "model.safetensors").stat().st_mtime_ns
    shutil.rmtree(seeded / "seed-6")  # as a run killed (SIGKILL) in its first steps leaves it
    (seeded / "seed-6").mkdir()
    (seeded / "seed-6" / "INCOMPLETE").write_text("")
    (seeded / "seed-6" / "recipe.yaml").write_text("{}")
    recipe = quick_recipe(tiny_model, seeded)
    recipe["training"].update(max_steps=3, num_train_epochs=1, resume_from_checkpoint=True)
    with caplog.at_level(logging.INFO):
        train_seeds(recipe_from_dict(recipe), [5, 6])
    assert (seeded / "seed-5" / "model.safetensors").stat().st_mtime_ns == before
    assert "seed 5: " in caplog.text and "finished earlier" in caplog.text
    assert (seeded / "seed-6" / "nerkit.json").is_file() and not (seeded / "seed-6" / "INCOMPLETE").exists()


def test_seeds_refuse_repeats_and_a_run_folder_as_parent(trained_run, tiny_model, tmp_path):
    with pytest.raises(RecipeError, match="a seed is repeated"):
        train_seeds(recipe_from_dict(quick_recipe(tiny_model, tmp_path)), [1, 1])
    with pytest.raises(RunError, match="is a run folder itself"):
        train_seeds(recipe_from_dict(quick_recipe(tiny_model, trained_run)), [1])


def test_cli_seeds_after_the_overrides(tiny_model, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr("nerkit.seeds.train_seeds", lambda recipe, seeds, overwrite: calls.append((recipe, seeds)))
    assert cli(["train", "recipes/quickstart.yaml", f"model.name_or_path={tiny_model}", "--seeds", "3", "4"]) == 0
    assert calls[0][1] == [3, 4]
