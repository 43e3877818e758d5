"""The per-sentence entity counts behind the bootstrap are seqeval's, and the resampler is seeded."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from nerkit import metrics
from nerkit.bootstrap import (SentenceCounts, f1, f1_intervals, resample_weights, resampled_totals,
                              sentence_counts)
from nerkit.errors import MetricError

tags = st.sampled_from(["O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG"])
sentence_pairs = st.lists(st.integers(1, 8).flatmap(
    lambda n: st.tuples(st.lists(tags, min_size=n, max_size=n), st.lists(tags, min_size=n, max_size=n))),
    min_size=1, max_size=12)


@settings(max_examples=80, deadline=None)
@given(sentence_pairs, st.sampled_from(["default", "strict"]))
def test_bootstrap_counts_sum_to_the_scorers_figures(pairs, mode):
    gold, pred = [g for g, _ in pairs], [p for _, p in pairs]
    counts = sentence_counts(gold, pred, mode=mode)
    report = metrics.score(gold, pred, mode=mode)
    assert counts.types == tuple(report["per_type"])
    assert counts.gold.sum() == report["entities"]
    for i, kind in enumerate(counts.types):
        assert counts.gold[:, i].sum() == report["per_type"][kind]["support"]
        assert f1(counts.true_positives[:, i].sum(), counts.predicted[:, i].sum(),
                  counts.gold[:, i].sum()) == pytest.approx(report["per_type"][kind]["f1"])
    assert f1(counts.true_positives.sum(), counts.predicted.sum(), counts.gold.sum()) == pytest.approx(report["f1"])


def test_bootstrap_counts_a_stray_inside_tag_as_conlleval_does_unless_strict():
    gold, pred = [["B-PER", "I-PER", "O"]], [["I-PER", "I-PER", "O"]]
    assert sentence_counts(gold, pred).true_positives.tolist() == [[1]]
    assert sentence_counts(gold, pred, mode="strict").true_positives.tolist() == [[0]]


def test_bootstrap_counts_iob1_after_converting_it():
    counts = sentence_counts([["I-PER", "I-PER", "B-PER"]], [["I-PER", "I-PER", "I-PER"]], scheme="IOB1")
    assert (counts.true_positives.tolist(), counts.predicted.tolist(), counts.gold.tolist()) == ([[0]], [[1]], [[2]])


def test_bootstrap_counts_take_a_fixed_type_order_and_reject_an_unlisted_type():
    counts = sentence_counts([["B-PER"]], [["O"]], types=("LOC", "PER"))
    assert counts.gold.tolist() == [[0, 1]]
    with pytest.raises(MetricError, match="PER"):
        sentence_counts([["B-PER"]], [["O"]], types=("LOC",))


def test_bootstrap_weights_draw_every_sentence_count_once_per_resample_and_repeat_with_the_seed():
    weights = resample_weights(50, resamples=200, seed=3)
    assert weights.shape == (200, 50) and (weights.sum(axis=1) == 50).all()
    assert np.array_equal(weights, resample_weights(50, resamples=200, seed=3))
    assert not np.array_equal(weights, resample_weights(50, resamples=200, seed=4))
    # with replacement: on average a sentence is drawn once, and some are left out of each resample
    assert weights.mean() == pytest.approx(1.0) and (weights == 0).any(axis=1).all()


def synthetic_counts(sentences: int, seed: int = 0) -> SentenceCounts:
    rng = np.random.default_rng(seed)
    gold = rng.integers(0, 3, size=(sentences, 2))
    tp = rng.binomial(gold, 0.8)
    predicted = tp + rng.binomial(1, 0.2, size=(sentences, 2))
    return SentenceCounts(("LOC", "PER"), tp, predicted, gold)


def test_bootstrap_intervals_are_reproducible_and_hold_the_full_sample_f1():
    counts = synthetic_counts(400)
    intervals = f1_intervals(counts, resamples=500, seed=1)
    assert intervals == f1_intervals(counts, resamples=500, seed=1)
    point = f1(counts.true_positives.sum(), counts.predicted.sum(), counts.gold.sum())
    low, high = intervals["micro"]
    assert low < point < high and high - low < 0.1
    for i, kind in enumerate(counts.types):
        low, high = intervals["per_type"][kind]
        assert low < f1(counts.true_positives[:, i].sum(), counts.predicted[:, i].sum(), counts.gold[:, i].sum()) < high


def test_bootstrap_interval_narrows_with_more_sentences():
    small = f1_intervals(synthetic_counts(100), resamples=400)["micro"]
    large = f1_intervals(synthetic_counts(2500), resamples=400)["micro"]
    assert large[1] - large[0] < (small[1] - small[0]) / 3


def test_bootstrap_covers_the_true_f1_about_95_percent_of_the_time():
    """Draw many test sets from one known population; the 95% interval should cover its F1 most times."""
    population = synthetic_counts(200_000, seed=9)
    truth = f1(population.true_positives.sum(), population.predicted.sum(), population.gold.sum())
    rng = np.random.default_rng(0)
    covered = 0
    for trial in range(60):
        rows = rng.integers(0, population.sentences, 300)
        sample = SentenceCounts(population.types, population.true_positives[rows], population.predicted[rows],
                                population.gold[rows])
        low, high = f1_intervals(sample, resamples=300, seed=trial)["micro"]
        covered += low <= truth <= high
    assert 50 <= covered <= 60


def test_bootstrap_resampled_totals_of_identity_weights_are_the_column_sums():
    counts = synthetic_counts(30)
    tp, predicted, gold = resampled_totals(counts, np.ones((1, 30), dtype=np.int64))
    assert tp.tolist() == [counts.true_positives.sum(axis=0).tolist()]
    assert gold.tolist() == [counts.gold.sum(axis=0).tolist()]


def test_bootstrap_f1_is_zero_without_entities_and_rejects_bad_settings():
    assert f1(0, 0, 0) == 0.0
    with pytest.raises(MetricError, match="at least one sentence"):
        resample_weights(0)
    with pytest.raises(MetricError, match="confidence"):
        f1_intervals(synthetic_counts(5), confidence=1.5)
