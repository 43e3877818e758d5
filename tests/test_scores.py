"""Scores users can act on: the same threshold everywhere, calibrators and thresholds stored in the run,
partial-match scores equal to nervaluate's, and `--predictions` files that rescore to evaluate's F1."""

from __future__ import annotations

import json
import shutil

import pytest

from nerkit.cli import main
from nerkit.errors import UsageError
from nerkit.evaluation import evaluate
from nerkit.inference.tagger import Tagger
from nerkit.metadata import RunMetadata
from nerkit.partial_match import partial_match
from nerkit.thresholds import check, filter_results

from conftest import SAMPLE

TEXTS = ["Anna Smith visited Paris on Monday .", "The Acme Corp team said John won the prize in Berlin .",
         "Tokyo and Berlin .", "John Smith of Acme Corp visited Tokyo and Paris ."]


@pytest.fixture(scope="module")
def tagger(trained_run):
    return Tagger.load(str(trained_run), precision="fp32", threshold=0)


@pytest.fixture(scope="module")
def cut(tagger):
    """A threshold that keeps some entities of the texts and drops others."""
    scores = sorted(e["score"] for r in tagger.predict(TEXTS) for e in r["entities"])
    assert len(scores) >= 4, "the tiny model should find entities in the texts"
    return scores[len(scores) // 2]


@pytest.fixture()
def run_copy(trained_run, tmp_path):
    return shutil.copytree(trained_run, tmp_path / "run")


def test_training_fits_a_calibrator_on_validation_and_the_card_says_so(trained_run):
    meta = RunMetadata.from_file(trained_run / "nerkit.json")
    assert meta.calibrator is not None and meta.calibrator.fitted_on == "validation split"
    assert meta.calibrator.entities > 0 and meta.thresholds is None
    how = {"isotonic": "isotonic regression", "platt": "Platt scaling"}[meta.calibrator.method]
    assert f"Entity scores are calibrated ({how} (the lower held-out ECE" in (trained_run / "README.md").read_text()
    folds = meta.calibrator.cross_validated_ece  # eval.calibration: auto
    assert set(folds) == {"isotonic", "platt"} and folds[meta.calibrator.method] == min(folds.values())


def test_threshold_drops_whole_entities_the_same_in_the_python_api_load_and_serve(trained_run, tagger, cut):
    everything = tagger.predict(TEXTS)
    expected = filter_results(everything, check(cut, tagger.metadata.entity_types))
    assert expected != everything and any(r["entities"] for r in expected)
    assert tagger.predict(TEXTS, threshold=cut) == expected
    assert Tagger.load(str(trained_run), precision="fp32", threshold=cut).predict(TEXTS) == expected
    per_type = {"PER": cut}
    assert tagger.predict(TEXTS, threshold=per_type) == filter_results(everything, per_type)

    from fastapi.testclient import TestClient

    from nerkit.serve.app import create_app

    with TestClient(create_app(tagger, str(trained_run))) as client:
        assert client.post("/predict", json={"texts": TEXTS, "threshold": cut}).json() == expected
        assert client.post("/predict", json={"texts": TEXTS, "threshold": per_type}).json() == \
            filter_results(everything, per_type)
        assert client.post("/predict", json={"texts": TEXTS}).json() == everything  # the server's default: none
        bad = client.post("/predict", json={"texts": TEXTS, "threshold": {"DRUG": 0.5}})
        assert bad.status_code == 422 and "DRUG: the model has no such entity type" in bad.json()["error"]
    with TestClient(create_app(Tagger.load(str(trained_run), precision="fp32", threshold=cut), None)) as client:
        assert client.post("/predict", json={"texts": TEXTS}).json() == expected  # --threshold as the default


@pytest.mark.parametrize("fmt", ["jsonl", "spans"])
def test_threshold_is_the_same_in_nerkit_predict_corpus_runs(trained_run, tagger, cut, tmp_path, fmt):
    source = tmp_path / "docs.txt"
    source.write_text("\n".join(TEXTS) + "\n")
    out = tmp_path / f"out.{fmt}.jsonl"
    assert main(["predict", str(trained_run), "--input", str(source), "--output", str(out), "--format", fmt,
                 "--threshold", str(cut), "--chunk-size", "2"]) == 0
    expected = filter_results(tagger.predict(TEXTS), check(cut, tagger.metadata.entity_types))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    found = [sorted((e["start"], e["end"], e["label"]) for e in r["entities"]) for r in rows] if fmt == "jsonl" else \
        [sorted((s["start"], s["end"], s["label"]) for s in r["spans"]) for r in rows]
    assert found == [sorted((e["start"], e["end"], e["label"]) for e in r["entities"]) for r in expected]


def test_threshold_errors_are_one_line(trained_run, capsys):
    assert main(["predict", str(trained_run), "Anna", "--threshold", "PER=2"]) == 2
    assert main(["predict", str(trained_run), "Anna", "--threshold", "DRUG=0.5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-2] == "nerkit predict: error: threshold 'PER=2': 2.0 is outside [0, 1]"
    assert err[-1].startswith("nerkit predict: error: threshold for DRUG: the model has no such entity type")


def test_evaluate_calibrates_and_tunes_into_the_run_and_predict_uses_them(run_copy, capsys):
    valid = str(SAMPLE / "validation.conll")
    assert main(["evaluate", str(run_copy), valid, "--calibrate", "--tune-thresholds", "--min-precision", "0.9",
                 "--bootstrap", "50"]) == 0
    printed = capsys.readouterr().out
    assert "ECE" in printed and "thresholds tuned (min_precision=0.9)" in printed and "overall strict" in printed
    meta = RunMetadata.from_file(run_copy / "nerkit.json")
    assert meta.calibrator.fitted_on == "validation.conll" and meta.thresholds.objective == "min_precision=0.9"
    tuned = {k: v for k, v in meta.thresholds.per_type.items() if v > 0}
    tagger = Tagger.load(str(run_copy), precision="fp32")
    assert tagger.thresholds == tuned and tagger.calibrator == meta.calibrator
    assert Tagger.load(str(run_copy), precision="fp32", threshold=0).thresholds == {}
    report = evaluate(str(run_copy), valid)
    assert report["thresholds"] == tuned and "ece_calibrated" in report["entity_scores"]
    assert "Entity scores are calibrated" in (run_copy / "README.md").read_text()


def test_evaluate_calibrates_with_the_kind_of_curve_asked_for(run_copy, capsys):
    valid = str(SAMPLE / "validation.conll")
    assert main(["evaluate", str(run_copy), valid, "--calibrate", "--calibration", "platt", "--bootstrap", "0"]) == 0
    assert "calibrated (platt, fitted on validation.conll)" in capsys.readouterr().out
    calibrator = RunMetadata.from_file(run_copy / "nerkit.json").calibrator
    assert calibrator.method == "platt" and calibrator.cross_validated_ece is None
    assert "Platt scaling" in (run_copy / "README.md").read_text()
    report = evaluate(str(run_copy), valid, calibrate=True, resamples=0)  # auto: both kinds scored
    assert set(report["entity_scores"]["calibrator"]["cross_validated_ece"]) == {"isotonic", "platt"}


def test_calibrating_again_removes_thresholds_tuned_on_the_old_scores(run_copy):
    valid = str(SAMPLE / "validation.conll")
    evaluate(str(run_copy), valid, tune_thresholds=True, resamples=0)
    assert RunMetadata.from_file(run_copy / "nerkit.json").thresholds is not None
    report = evaluate(str(run_copy), valid, calibrate=True, resamples=0)
    assert RunMetadata.from_file(run_copy / "nerkit.json").thresholds is None
    assert "tune them again" in report["entity_scores"]["notes"][0]


def test_evaluate_options_that_cannot_work_are_refused_before_the_model_loads(trained_run, tmp_path):
    valid = str(SAMPLE / "validation.conll")
    with pytest.raises(UsageError, match="add --tune-thresholds"):
        evaluate(str(trained_run), valid, min_precision=0.9)
    with pytest.raises(UsageError, match="leave out --threshold"):
        evaluate(str(trained_run), valid, tune_thresholds=True, threshold=0.5)
    with pytest.raises(UsageError, match="not a local run folder"):
        evaluate(str(tmp_path), valid, calibrate=True)


def read_predictions(path):
    sentences, words = [], []
    for line in path.read_text().splitlines() + [""]:
        if line.strip():
            words.append(line.split(" "))
        elif words:
            sentences.append(words)
            words = []
    return sentences


def entity_set(tags):
    """An independent reading of IOB2 entities (conlleval's: a stray I- opens one)."""
    found, start, kind = set(), None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        if start is not None and (tag == "O" or tag.startswith("B-") or tag[2:] != kind):
            found.add((kind, start, i))
            start = None
        if tag != "O" and start is None:
            start, kind = i, tag[2:]
    return found


def test_predictions_file_rescored_independently_gives_evaluates_f1_and_partial_match_is_nervaluates(
        trained_run, tagger, tmp_path):
    out = tmp_path / "test.pred.conll"
    report = evaluate(tagger, str(SAMPLE / "test.conll"), predictions=str(out), resamples=200, seed=3)
    rows = read_predictions(out)
    gold_tags, pred_tags = [[w[1] for w in s] for s in rows], [[w[2] for w in s] for s in rows]
    correct = predicted = gold = 0
    for g, p in zip(gold_tags, pred_tags):
        g_set, p_set = entity_set(g), entity_set(p)
        correct, predicted, gold = correct + len(g_set & p_set), predicted + len(p_set), gold + len(g_set)
    assert report["f1"] == pytest.approx(2 * correct / (predicted + gold), abs=1e-12)
    assert report["partial_match"] == partial_match(gold_tags, pred_tags, tagger.metadata.entity_types)
    strict = report["partial_match"]["overall"]["strict"]
    assert strict["correct"] == correct and strict["actual"] == predicted and strict["possible"] == gold
    low, high = report["intervals"]["f1"]
    assert low <= report["f1"] <= high and report["intervals"]["resamples"] == 200
    assert evaluate(tagger, str(SAMPLE / "test.conll"), resamples=200, seed=3)["intervals"] == report["intervals"]


def test_serve_takes_a_default_threshold_and_refuses_a_bad_one_in_one_line(trained_run, capsys, monkeypatch):
    import nerkit.serve as serving

    given = {}
    monkeypatch.setattr(serving, "serve", lambda model, **options: given.update(options) or 0)
    assert main(["serve", str(trained_run), "--threshold", "PER=0.6,LOC=0.7"]) == 0
    assert given["threshold"] == {"PER": 0.6, "LOC": 0.7}
    assert main(["serve", str(trained_run), "--threshold", "1.2"]) == 2
    assert capsys.readouterr().err.strip() == "nerkit serve: error: threshold '1.2': 1.2 is outside [0, 1]"


def test_plot_confusion_answers_at_its_old_place_with_a_warning():
    import nerkit.evaluation
    from nerkit.plots import plot_confusion

    with pytest.warns(DeprecationWarning, match="nerkit.evaluation.plot_confusion moved to nerkit.plots"):
        assert nerkit.evaluation.plot_confusion is plot_confusion
