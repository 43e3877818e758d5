"""Thresholds: parsed and checked against the model's types, tuned on hand-made score lists."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from nerkit.errors import UsageError
from nerkit.thresholds import (ThresholdError, TunedThresholds, check, curve, effective, filter_results, parse,
                               tune)

TYPES = ["LOC", "ORG", "PER"]


def test_threshold_parses_one_number_or_one_per_type():
    assert parse("0.8") == 0.8
    assert parse("PER=0.6, ORG=0.9") == {"PER": 0.6, "ORG": 0.9}


@pytest.mark.parametrize("text, message", [("1.5", "outside"), ("-0.1", "outside"), ("high", "expected a number"),
                                           ("PER=x", "expected a number"), ("=0.5", "TYPE=NUMBER")])
def test_threshold_refuses_values_outside_0_1_and_bad_syntax_in_one_line(text, message):
    with pytest.raises(ThresholdError, match=message) as err:
        parse(text)
    assert "\n" not in str(err.value) and isinstance(err.value, UsageError)


def test_threshold_names_a_type_the_model_does_not_have():
    with pytest.raises(ThresholdError, match="MISC: the model has no such entity type .*LOC, ORG, PER"):
        check({"MISC": 0.5}, TYPES)


def test_threshold_in_force_is_the_explicit_one_else_the_tuned_one_and_zero_turns_them_off():
    stored = TunedThresholds({"PER": 0.7, "ORG": 0.0})
    assert effective(None, stored, TYPES) == {"PER": 0.7}
    assert effective("ORG=0.9", stored, TYPES) == {"ORG": 0.9}
    assert effective(0.5, stored, TYPES) == {"LOC": 0.5, "ORG": 0.5, "PER": 0.5}
    assert effective(0, stored, TYPES) == {} and effective("0", stored, TYPES) == {}
    assert effective(None, None, TYPES) == {}


def test_tuning_for_f1_keeps_the_entities_above_the_best_cut():
    # PER: 3 right at 0.9+, 2 wrong at 0.5-0.6, 4 gold entities: best F1 keeps the top 3 (F1 6/7)
    kinds = ["PER"] * 5
    scores = [0.95, 0.92, 0.9, 0.6, 0.5]
    correct = [True, True, True, False, False]
    tuned = tune(kinds, scores, correct, {"PER": 4})
    assert tuned.per_type == {"PER": 0.9} and tuned.objective == "f1"


def test_tuning_for_f1_chooses_no_threshold_when_every_entity_helps():
    tuned = tune(["LOC"] * 3, [0.3, 0.6, 0.9], [True, True, True], {"LOC": 5})
    assert tuned.per_type == {"LOC": 0.0}


def test_tuning_for_min_precision_takes_the_lowest_threshold_that_reaches_it():
    scores = [0.99, 0.97, 0.95, 0.9, 0.8, 0.7]
    correct = [True, True, True, True, False, True]  # precision: 1, 1, 1, 1, .8, .83
    assert tune(["ORG"] * 6, scores, correct, {"ORG": 6}, min_precision=0.95).per_type == {"ORG": 0.9}
    assert tune(["ORG"] * 6, scores, correct, {"ORG": 6}, min_precision=0.8).per_type == {"ORG": 0.0}


def test_tuning_notes_a_precision_no_threshold_reaches_and_uses_the_most_precise():
    tuned = tune(["MISC"] * 3, [0.9, 0.8, 0.7], [False, True, False], {"MISC": 3}, min_precision=0.95)
    assert tuned.per_type == {"MISC": 0.8}
    assert "MISC: no threshold reaches precision 0.95" in tuned.notes[0]


def test_tuning_gives_a_type_with_gold_but_no_prediction_no_threshold():
    assert tune([], [], [], {"PER": 2}).per_type == {"PER": 0.0}


def test_precision_recall_curve_counts_entities_at_or_above_each_threshold():
    points = curve([0.9, 0.8, 0.8, 0.4], [True, False, True, True], gold=5, candidates=[0.0, 0.8, 0.85, 1.0])
    assert points["predicted"].tolist() == [4, 3, 1, 0]
    assert points["precision"].tolist() == pytest.approx([0.75, 2 / 3, 1.0, 0.0])
    assert points["recall"].tolist() == pytest.approx([0.6, 0.4, 0.2, 0.0])


entity = st.builds(lambda label, score: {"label": label, "score": score}, st.sampled_from(TYPES),
                   st.floats(0, 1).map(lambda x: round(x, 4)))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(entity, max_size=5), max_size=4), st.floats(0, 1), st.dictionaries(st.sampled_from(TYPES), st.floats(0, 1)))
def test_filtering_results_keeps_exactly_the_entities_at_or_above_their_types_threshold(docs, number, per_type):
    results = [{"text": "", "entities": e} for e in docs]
    for limits in (check(number, TYPES), check(per_type, TYPES)):
        kept = filter_results(results, limits)
        for before, after in zip(results, kept):
            assert after["entities"] == [e for e in before["entities"] if e["score"] >= limits.get(e["label"], 0)]
