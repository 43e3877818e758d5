"""Active learning's ranking: the strategies on hand-made probability tables, the bounded top-k, and
near-duplicate exclusion (MinHash)."""

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nerkit.errors import UsageError
from nerkit.informativeness import TopK, informativeness, minhash


def table(*rows):
    """Word rows of label probabilities -> (log-probabilities [words, labels], each word's best label id)."""
    probs = np.array(rows, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.log(probs), probs.argmax(1)


def score(strategy, *sentences, rng=None):
    tables = [table(*rows) for rows in sentences]
    return informativeness(strategy, [t[0] for t in tables], [t[1] for t in tables], rng)


LONG = [[0.9, 0.05, 0.05]] * 10  # ten fairly sure words
SHORT = [[0.6, 0.2, 0.2]]  # one unsure word


def test_entropy_is_the_mean_word_entropy_so_length_does_not_count():
    assert score("entropy", LONG) == pytest.approx(-(0.9 * math.log(0.9) + 2 * 0.05 * math.log(0.05)))
    assert score("entropy", SHORT) == pytest.approx(-(0.6 * math.log(0.6) + 2 * 0.2 * math.log(0.2)))
    assert score("entropy", SHORT) > score("entropy", LONG)
    assert score("entropy", [[1.0, 0.0, 0.0]]) == 0.0  # a zero probability adds nothing (not nan)


def test_least_confidence_favours_the_long_text_and_mnlp_normalises_it_away():
    assert score("least-confidence", LONG) == pytest.approx(1 - 0.9 ** 10)
    assert score("least-confidence", SHORT) == pytest.approx(0.4)
    assert score("least-confidence", LONG) > score("least-confidence", SHORT)
    assert score("mnlp", LONG) == pytest.approx(-math.log(0.9))
    assert score("mnlp", SHORT) == pytest.approx(-math.log(0.6))
    assert score("mnlp", SHORT) > score("mnlp", LONG)


def test_a_text_of_several_sentences_is_scored_over_all_its_words():
    assert score("mnlp", SHORT, [[0.9, 0.05, 0.05]]) == pytest.approx(-(math.log(0.6) + math.log(0.9)) / 2)
    assert score("entropy", SHORT, LONG) == pytest.approx((score("entropy", SHORT) + 10 * score("entropy", LONG)) / 11)


def test_the_chosen_labels_are_the_decoders_not_each_words_best():
    """Viterbi may choose a label that is not a word's argmax: confidence is that label's probability."""
    log_p, _ = table([0.7, 0.3])
    assert informativeness("mnlp", [log_p], [np.array([1])]) == pytest.approx(-math.log(0.3))


def test_random_is_seeded_and_a_text_without_words_gets_no_score():
    first = [score("random", SHORT, rng=rng) for rng in [random.Random(42)] for _ in range(3)]
    again = [score("random", SHORT, rng=rng) for rng in [random.Random(42)] for _ in range(3)]
    assert first == again and len(set(first)) == 3
    assert all(informativeness(s, [], [], random.Random(0)) is None for s in ("entropy", "mnlp", "random"))
    with pytest.raises(UsageError, match="unknown strategy 'margin'"):
        informativeness("margin", *map(list, zip(table(*SHORT))))


def test_topk_holds_at_most_k_offers_while_a_large_pool_streams_past():
    best = TopK(5)
    rng = random.Random(1)
    scores = [rng.random() for _ in range(20_000)]
    for i, value in enumerate(scores):
        best.offer(value, i)
        assert len(best._heap) <= 5
    assert [i for _, i in best.ranked()] == sorted(range(len(scores)), key=lambda i: -scores[i])[:5]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 5), max_size=40), st.integers(1, 8))
def test_topk_ranks_as_a_full_sort_with_earlier_texts_first_on_ties(scores, k):
    best = TopK(k)
    for i, value in enumerate(scores):
        best.offer(float(value), i)
    assert best.ranked() == sorted(((float(v), i) for i, v in enumerate(scores)), key=lambda p: (-p[0], p[1]))[:k]


def test_topk_state_restores_to_the_same_ranking():
    best, resumed = TopK(3, diversity=0.5), TopK(3, diversity=0.5)
    texts = [f"w{i} x{i} y{i} z{i}".split() for i in range(10)]
    for i in range(6):
        best.offer(i % 4, {"i": i}, texts[i])
    resumed.restore(best.state(), best.offers)
    for i in range(6, 10):
        best.offer(i % 4, {"i": i}, texts[i])
        resumed.offer(i % 4, {"i": i}, texts[i])
    assert resumed.ranked() == best.ranked()


def test_minhash_estimates_jaccard_similarity_of_word_sets():
    words = [f"w{i}" for i in range(100)]
    same = (minhash(words) == minhash([w.upper() for w in reversed(words)])).mean()
    half = (minhash(words) == minhash(words[:50] + [f"v{i}" for i in range(50)])).mean()  # Jaccard 1/3
    none = (minhash(words) == minhash([f"v{i}" for i in range(100)])).mean()
    assert same == 1.0 and 0.15 < half < 0.5 and none < 0.1


def test_diversity_keeps_only_the_better_of_two_near_duplicates():
    odd = "the the the £$%^ odd line of wire copy".split()
    best = TopK(3, diversity=0.8)
    best.offer(0.9, "odd-1", odd)
    best.offer(0.8, "odd-2", odd + ["too"])  # a near-duplicate of a better pick: left out
    best.offer(0.5, "other", "Anna Smith visited Paris".split())
    best.offer(0.95, "odd-3", odd)  # a better near-duplicate: replaces odd-1
    best.offer(0.4, "third", "Acme Corp won".split())
    assert [item for _, item in best.ranked()] == ["odd-3", "other", "third"]
    without = TopK(3)
    for value, item in [(0.9, "odd-1"), (0.8, "odd-2"), (0.5, "other"), (0.95, "odd-3")]:
        without.offer(value, item)
    assert [item for _, item in without.ranked()] == ["odd-3", "odd-1", "odd-2"]


@pytest.mark.parametrize("k, diversity, message", [(0, None, "budget must be a positive"),
                                                    (3, 1.5, "Jaccard similarity in (0, 1]")])
def test_topk_refuses_a_bad_budget_or_diversity(k, diversity, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        TopK(k, diversity)
