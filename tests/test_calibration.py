"""Entity-score calibration: isotonic and Platt curves stored as breakpoints, the choice between them, ECE, and the
decoded entities they are fitted on."""

from __future__ import annotations

import numpy as np
import pytest

from nerkit.calibration import (Calibrator, Curve, entity_score, expected_calibration_error, fit, fit_curve, fit_on,
                                fit_platt, labelled_entities, reliability)
from nerkit.errors import UsageError
from nerkit.metadata import RunMetadata


def test_ece_is_zero_for_scores_that_are_their_own_accuracy_and_the_gap_for_overconfident_ones():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 200_000)
    correct = rng.uniform(0, 1, p.size) < p  # right with exactly the stated probability
    assert expected_calibration_error(p, correct) < 0.005
    overconfident = np.full(10_000, 0.95)
    right = np.arange(10_000) < 7_000  # 70% right at score 0.95
    assert expected_calibration_error(overconfident, right) == pytest.approx(0.25)


def test_ece_weights_each_bin_by_its_entities():
    scores = [0.05] * 3 + [0.95]  # bin 0: 3 entities, 1 right (gap |1/3 - 0.05|); bin 9: 1 entity, right (gap 0.05)
    right = [True, False, False, True]
    assert expected_calibration_error(scores, right) == pytest.approx(0.75 * (1 / 3 - 0.05) + 0.25 * 0.05)
    rows = reliability(scores, right)
    assert [r["entities"] for r in rows] == [3, 0, 0, 0, 0, 0, 0, 0, 0, 1] and rows[1]["accuracy"] is None
    assert expected_calibration_error([], []) == 0.0


def test_isotonic_calibration_brings_a_miscalibrated_model_to_its_accuracy():
    rng = np.random.default_rng(1)
    raw = rng.uniform(0.5, 1, 20_000)
    correct = rng.uniform(0, 1, raw.size) < (raw - 0.5) * 1.6  # raw 0.9 is right 64% of the time
    curve = fit_curve(raw, correct)
    assert expected_calibration_error(raw, correct) > 0.1
    fresh = rng.uniform(0.5, 1, 20_000)  # new entities from the same model: out of sample
    fresh_right = rng.uniform(0, 1, fresh.size) < (fresh - 0.5) * 1.6
    assert expected_calibration_error(curve(fresh), fresh_right) < 0.02
    assert all(np.diff(curve.probabilities) >= 0) and len(curve.scores) < 400  # breakpoints, not one per entity


def logistic_model(rng, n, a=3.0, b=-1.0):
    """Raw scores whose true probability of being right is sigmoid(a * logit(score) + b): Platt's own shape."""
    raw = rng.uniform(0.3, 0.999, n)
    truth = 1 / (1 + np.exp(-(a * np.log(raw / (1 - raw)) + b)))
    return raw, rng.uniform(0, 1, n) < truth, truth


def test_platt_scaling_recovers_a_logistic_miscalibration_out_of_sample():
    rng = np.random.default_rng(2)
    raw, correct, _ = logistic_model(rng, 20_000)
    curve = fit_platt(raw, correct)
    assert expected_calibration_error(raw, correct) > 0.05
    fresh, fresh_right, truth = logistic_model(rng, 20_000)
    assert expected_calibration_error(curve(fresh), fresh_right) < 0.015
    assert np.abs(curve(fresh) - truth).max() < 0.03  # the sampled curve follows the true one
    assert all(np.diff(curve.probabilities) >= 0)


def test_platt_scaling_stays_finite_when_every_entity_is_right():
    curve = fit_platt([0.7, 0.8, 0.9, 0.95], [True] * 4)
    assert 0.5 < curve(0.9) < 1.0 and np.isfinite(curve.probabilities).all()


def test_auto_calibration_keeps_the_kind_with_the_lower_held_out_ece():
    rng = np.random.default_rng(3)
    raw, correct, _ = logistic_model(rng, 4_000)  # a logistic truth: Platt's two numbers fit it best
    kinds = np.where(rng.uniform(0, 1, raw.size) < 0.5, "PER", "LOC")
    auto = fit(kinds, raw, correct)
    assert set(auto.cross_validated_ece) == {"isotonic", "platt"}
    best = min(auto.cross_validated_ece, key=auto.cross_validated_ece.get)
    assert auto.method == best
    fixed = fit(kinds, raw, correct, method=best)
    assert fixed.method == best and fixed.cross_validated_ece is None and fixed.overall == auto.overall
    step = (raw > 0.8) & (rng.uniform(0, 1, raw.size) < 0.97) | (raw <= 0.8) & (rng.uniform(0, 1, raw.size) < 0.2)
    assert fit(kinds, raw, step).method == "isotonic"  # a jump no logistic curve follows
    with pytest.raises(UsageError, match="calibration method 'spline'"):
        fit(kinds, raw, correct, method="spline")


def test_calibration_curve_pools_tied_scores_and_clips_outside_its_range():
    curve = fit_curve([0.6, 0.6, 0.8, 0.8, 0.9], [True, False, False, False, True])
    assert curve(0.6) == pytest.approx(0.25) and curve(0.8) == pytest.approx(0.25)  # 1 of 2 above 0 of 2: pooled
    assert curve(0.1) == curve(0.6) and curve(0.99) == 1.0


def test_calibrator_has_a_curve_for_each_type_with_enough_entities_and_the_overall_one_for_the_rest():
    kinds = ["PER"] * 150 + ["MISC"] * 20
    raw = np.linspace(0.5, 1, 170)
    calibrator = fit(kinds, raw, np.arange(170) % 2 == 0, fitted_on="dev.txt")
    assert list(calibrator.per_type) == ["PER"] and calibrator.entities == 170
    assert calibrator.apply("MISC", 0.7) == pytest.approx(float(calibrator.overall(0.7)))
    assert calibrator.apply_many(["PER", "MISC"], [0.7, 0.7]).tolist() == [calibrator.apply("PER", 0.7),
                                                                           calibrator.apply("MISC", 0.7)]


def test_calibrator_travels_in_nerkit_json_and_reads_back_equal(tmp_path):
    calibrator = Calibrator(Curve([0.5, 1.0], [0.2, 0.9]), {"PER": Curve([0.4, 0.99], [0.1, 0.95])}, fitted_on="dev")
    RunMetadata(labels=["O", "B-PER", "I-PER"], calibrator=calibrator).write(tmp_path)
    back = RunMetadata.from_file(tmp_path / "nerkit.json")
    assert back.calibrator == calibrator and back.calibrator.apply("PER", 0.99) == pytest.approx(0.95)


def test_entity_score_is_the_rounded_mean_word_probability_calibrated_when_asked():
    assert entity_score("PER", [0.9, 0.8]) == 0.85
    assert entity_score("PER", [0.123456]) == 0.1235
    calibrator = Calibrator(Curve([0.0, 1.0], [0.0, 0.5]))
    assert entity_score("PER", [0.9, 0.8], calibrator) == 0.425


def test_labelled_entities_mark_exact_matches_and_count_gold_per_type():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    tagged = [[("B-PER", 0.9), ("I-PER", 0.7), ("O", 0.9), ("B-ORG", 0.6)], [("B-ORG", 0.5), ("I-ORG", 0.4)]]
    entities = labelled_entities(gold, tagged)
    assert entities.kinds == ["PER", "ORG", "ORG"] and entities.correct.tolist() == [True, False, False]
    assert entities.gold == {"PER": 1, "LOC": 1, "ORG": 1}
    assert entities.scores().tolist() == [0.8, 0.6, 0.45]
    assert fit_on(gold, tagged).entities == 3 and fit_on(gold, [[("O", 1.0)] * 4, [("O", 1.0)] * 2]) is None
