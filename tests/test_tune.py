"""nerkit tune: an Optuna study of nerkit runs (tiny model, 2 steps a trial), resumable, its space checked first."""

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from nerkit.config import load_recipe, recipe_from_dict
from nerkit.errors import RecipeError, RunError, UsageError
from nerkit.space import space_of
from nerkit.training import train
from nerkit.tune import tune

from conftest import ROOT, quick_recipe

pytest.importorskip("optuna")


def tune_recipe(tiny_model, out, **tune_section) -> dict:
    recipe = quick_recipe(tiny_model, out)
    recipe["training"].update(max_steps=2, num_train_epochs=1)
    recipe["tune"] = {"eval_steps": 1, "space": {"training.learning_rate": {"low": 1e-3, "high": 1e-2, "log": True},
                                                 "training.per_device_train_batch_size": [8, 16]}, **tune_section}
    return recipe


@pytest.fixture(scope="module")
def study_folder(tiny_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("study") / "tune"
    tune(recipe_from_dict(tune_recipe(tiny_model, out)), trials=3)
    return out


def test_tune_runs_each_trial_in_its_own_run_folder_and_writes_the_reports(study_folder):
    names = {p.name for p in study_folder.iterdir()}
    assert {"study.db", "trials.csv", "best-recipe.yaml", "history.png", "importance.png"} <= names
    trials = (study_folder / "trials.csv").read_text().splitlines()
    assert len(trials) == 4 and trials[0].startswith("trial,state,validation.f1,steps")
    for line in trials[1:]:
        number, state = line.split(",")[:2]
        folder = study_folder / f"trial-{number}"
        assert state in ("complete", "pruned")
        assert (folder / "nerkit.json").is_file() if state == "complete" else (folder / "INCOMPLETE").is_file()
    complete = [line for line in trials[1:] if ",complete," in line]
    assert complete, "at least one trial completes (the pruner never stops the first ones)"
    # trials never score the test split
    metrics = (study_folder / f"trial-{complete[0].split(',')[0]}" / "metrics.json").read_text()
    assert '"validation"' in metrics and '"test"' not in metrics


def test_best_recipe_holds_the_best_values_and_trains_as_written(study_folder, tmp_path):
    import optuna

    best = optuna.load_study(study_name="nerkit", storage=f"sqlite:///{study_folder / 'study.db'}").best_trial
    written = yaml.safe_load((study_folder / "best-recipe.yaml").read_text())
    assert written["training"]["learning_rate"] == best.params["training.learning_rate"]
    assert written["training"]["per_device_train_batch_size"] == best.params["training.per_device_train_batch_size"]
    assert "tune" not in written and written["eval"]["splits"] == ["validation", "test"]
    out = tmp_path / "best"
    results = train(load_recipe(study_folder / "best-recipe.yaml", [f"training.output_dir={out}"]))
    assert (out / "nerkit.json").is_file() and "test" in results


def test_a_study_folder_is_refused_without_resume(study_folder, tiny_model):
    with pytest.raises(RunError, match="holds a study .*--resume"):
        tune(recipe_from_dict(tune_recipe(tiny_model, study_folder)), trials=3)


def test_a_killed_study_resumes_where_it_stopped(tiny_model, tmp_path):
    import optuna

    out = tmp_path / "tune"
    recipe_file = tmp_path / "recipe.yaml"
    recipe_file.write_text(yaml.safe_dump(tune_recipe(tiny_model, out)))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-m", "nerkit.cli", "tune", str(recipe_file), "--trials", "2"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (out / "trial-1").exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)  # killed while trial 1 trains
    process.wait()
    first = (out / "trial-0" / "nerkit.json").stat().st_mtime_ns
    study = tune(load_recipe(recipe_file), trials=2, resume=True)
    states = [t.state for t in study.trials]
    finished = [s for s in states if s != optuna.trial.TrialState.RUNNING]
    assert len(finished) == 2 and len(states) == 3  # trial 0 from before the kill, trial 1 killed, then one more
    assert (out / "trial-0" / "nerkit.json").stat().st_mtime_ns == first
    assert (out / "best-recipe.yaml").is_file()


def test_a_process_joining_a_study_while_a_trial_runs_draws_new_values(tiny_model, tmp_path):
    import optuna

    from nerkit.space import suggest

    recipe = recipe_from_dict(tune_recipe(tiny_model, tmp_path / "tune", pruner="none"))
    (tmp_path / "tune").mkdir()
    storage = f"sqlite:///{tmp_path / 'tune' / 'study.db'}"
    other = optuna.create_study(storage=storage, study_name="nerkit", direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=int(recipe.training.get("seed", 42))))
    running = suggest(other.ask(), space_of(recipe))  # the first process's draw: its trial is still training
    study = tune(recipe, trials=1, resume=True)
    joined = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(joined) == 1 and joined[0].params != running


@pytest.mark.parametrize("space, message", [
    ({"training.learnig_rate": [1e-4]}, "unknown key 'training.learnig_rate'"),
    ({"training.learning_rate": {"low": 1e-3, "high": 1e-4}}, "low 0.001 must be below high 0.0001"),
    ({"data.context": {"low": 0, "high": 1}}, "data.context is not a number, so it has no range"),
    ({"lora.r": [8, 16]}, "the recipe trains without lora"),
    ({"training.num_train_epochs": {"low": "one", "high": 3}}, "low and high must be numbers"),
    ({"training.per_device_train_batch_size": {"low": 8.5, "high": 32}}, "low and high must be integers"),
    ({"training.learning_rate": {"low": 0.0, "high": 1e-3, "log": True}}, "a log range needs low above 0"),
    ({"eval.mode": ["default", "lenient"]}, "eval.mode must be"),
    ({"data.context": ["sentence", "paragraph"]}, "data.context must be sentence or document, got 'paragraph'"),
    ({"training.learning_rate": []}, "an empty list"),
    ({"learning_rate": [1e-4]}, "not a recipe key"),
])
def test_bad_spaces_are_one_line_errors_before_any_trial(tiny_model, tmp_path, space, message):
    recipe = recipe_from_dict(tune_recipe(tiny_model, tmp_path / "never", space=space))
    with pytest.raises(RecipeError, match=message) as error:
        tune(recipe, trials=3)
    assert "\n" not in str(error.value) and not (tmp_path / "never").exists()


def test_a_study_never_reads_the_test_set(tiny_model, tmp_path):
    recipe = recipe_from_dict(tune_recipe(tiny_model, tmp_path, metric="test.f1"))
    with pytest.raises(RecipeError, match="never reads the test set"):
        space_of(recipe)


def test_default_space_searches_lora_rank_only_with_lora(tiny_model, tmp_path):
    plain = tune_recipe(tiny_model, tmp_path)
    del plain["tune"]["space"]
    assert "lora.r" not in space_of(recipe_from_dict(plain))
    assert space_of(recipe_from_dict({**plain, "lora": {"r": 4}}))["lora.r"] == [8, 16, 32]


def test_tune_without_optuna_says_how_to_install_it(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(UsageError, match=r"pip install 'nerkit\[tune\]'"):
        tune(recipe_from_dict(tune_recipe(tiny_model, tmp_path / "x")), trials=3)
