"""Paired significance tests (bootstrap, approximate randomisation, Welch) and `nerkit compare`."""

import json

import numpy as np
import pytest

from nerkit.bootstrap import sentence_counts
from nerkit.cli import main as cli
from nerkit.compare import compare
from nerkit.errors import MetricError
from nerkit.significance import approximate_randomisation, paired_bootstrap, welch

from conftest import SAMPLE, train_seeded

GOLD = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "O"], ["B-LOC", "O"]] * 40  # 120 sentences


def counts(pred, gold=GOLD):
    return sentence_counts(gold, pred, types=("LOC", "ORG", "PER"))


def test_identical_systems_differ_by_zero_with_p_one():
    a = counts(GOLD[:60] + [["O"] * len(s) for s in GOLD[60:]])
    boot = paired_bootstrap(a, a, resamples=2000, seed=1)
    assert boot["micro"]["difference"] == 0.0 and boot["micro"]["low"] <= 0.0 <= boot["micro"]["high"]
    assert boot["micro"]["p"] == 1.0 and all(row["p"] == 1.0 for row in boot["per_type"].values())
    assert approximate_randomisation(a, a, trials=2000, seed=1)["micro"]["p"] == 1.0


def test_a_system_better_on_every_sentence_is_significant():
    better = counts(GOLD)  # every entity right
    worse = counts([["O"] * len(s) for s in GOLD])  # none found
    boot = paired_bootstrap(better, worse, resamples=2000, seed=0)
    assert boot["micro"]["difference"] == 1.0 and boot["micro"]["low"] > 0
    assert boot["micro"]["p"] < 0.01 and boot["micro"]["p"] == 1 / 2001
    randomised = approximate_randomisation(better, worse, trials=2000, seed=0)
    assert randomised["micro"]["p"] < 0.01 and randomised["per_type"]["ORG"]["p"] < 0.01


def test_a_difference_on_one_sentence_in_many_is_not_significant():
    pred = [list(s) for s in GOLD]
    pred[0] = ["O"] * 4  # B misses the two entities of one sentence out of 120
    boot = paired_bootstrap(counts(GOLD), counts(pred), resamples=2000, seed=0)
    randomised = approximate_randomisation(counts(GOLD), counts(pred), trials=2000, seed=0)
    assert boot["micro"]["difference"] > 0 and boot["micro"]["p"] > 0.2 and randomised["micro"]["p"] > 0.2
    # AR: only the swap of sentence 0 changes anything, and it flips the sign: half the trials hit exactly
    assert randomised["micro"]["p"] == pytest.approx(1.0, abs=0.01)


def test_the_same_seed_draws_the_same_resamples():
    pred = [["O"] * len(s) if i % 3 == 0 else list(s) for i, s in enumerate(GOLD)]
    first, second = (paired_bootstrap(counts(GOLD), counts(pred), resamples=1500, seed=7) for _ in range(2))
    assert first == second and paired_bootstrap(counts(GOLD), counts(pred), resamples=1500, seed=8) != first


def test_paired_tests_need_the_same_sentences_and_types():
    with pytest.raises(MetricError, match="same sentences and types"):
        paired_bootstrap(counts(GOLD), counts(GOLD[:-1], GOLD[:-1]))


def test_welch_t_test_arithmetic():
    result = welch([0.80, 0.82, 0.84], [0.70, 0.71, 0.72])
    se2_a, se2_b = 0.02 ** 2 / 3, 0.01 ** 2 / 3
    assert result["difference"] == pytest.approx(0.11)
    assert result["t"] == pytest.approx(0.11 / np.sqrt(se2_a + se2_b))
    assert result["df"] == pytest.approx((se2_a + se2_b) ** 2 / (se2_a ** 2 / 2 + se2_b ** 2 / 2))
    assert result["p"] < 0.05
    assert welch([0.8, 0.8], [0.8, 0.8])["p"] == 1.0 and welch([0.8, 0.8], [0.7, 0.7])["p"] == 0.0
    with pytest.raises(MetricError, match="at least 2 seeds a side"):
        welch([0.8], [0.7, 0.8])


@pytest.fixture(scope="module")
def seeded_pair(tiny_model, tmp_path_factory):
    return train_seeded(tiny_model, tmp_path_factory.mktemp("compare") / "seeded", [1, 2])


def test_compare_of_a_model_with_itself_finds_no_difference(trained_run, tmp_path):
    report = compare(str(trained_run), str(trained_run), str(SAMPLE / "test.conll"), resamples=500,
                     output=str(tmp_path / "compare.json"))
    assert report["bootstrap"]["micro"]["difference"] == 0.0 and report["bootstrap"]["micro"]["p"] == 1.0
    assert report["randomisation"]["micro"]["p"] == 1.0 and report["welch"] is None
    assert json.loads((tmp_path / "compare.json").read_text())["a"]["f1"] == report["a"]["f1"]


def test_compare_of_seeded_folders_uses_the_best_seeds_and_welch_over_all_seeds(seeded_pair, trained_run, capsys):
    summary = json.loads((seeded_pair / "summary.json").read_text())
    assert cli(["compare", str(seeded_pair), str(seeded_pair), str(SAMPLE / "test.conll"), "--resamples", "300"]) == 0
    shown = capsys.readouterr().out
    assert f"(seed {summary['best_seed']}, best on dev)" in shown and "Welch's t" in shown
    report = compare(str(seeded_pair), str(trained_run), str(SAMPLE / "test.conll"), resamples=300)
    seed_f1 = report["a"]["seed_f1"]
    assert set(seed_f1) == {"1", "2"} and report["a"]["f1"] == seed_f1[str(summary["best_seed"])]
    assert report["welch"] is None  # B is a single run
