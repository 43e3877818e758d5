"""Partial-match (SemEval-2013) scores: nervaluate's README worked example and count invariants."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from nerkit.partial_match import SCHEMAS, format_partial, partial_match

# The README's six scenarios, one sentence each (its token tables; drug types renamed to LOC/ORG/PER):
# I exact match, II spurious, III missed, IV wrong type, V wrong boundaries, VI wrong boundaries and type.
GOLD = [["O", "B-LOC", "I-LOC", "O"], ["O", "O", "O", "O"], ["O", "B-LOC", "I-LOC", "O"],
        ["O", "O", "O", "B-LOC", "I-LOC", "O"], ["O", "B-PER", "I-PER", "O"], ["O", "B-PER", "I-PER", "O"]]
PRED = [["O", "B-LOC", "I-LOC", "O"], ["O", "B-ORG", "I-ORG", "O"], ["O", "O", "O", "O"],
        ["O", "O", "O", "B-ORG", "I-ORG", "O"], ["B-PER", "I-PER", "I-PER", "O"], ["B-ORG", "I-ORG", "I-ORG", "O"]]
# The README's table of the scenarios, column by column: (correct, incorrect, partial, missed, spurious).
README = {"ent_type": (2, 2, 0, 1, 1),  # COR: I, V; INC: IV, VI
          "partial": (2, 0, 2, 1, 1),   # COR: I, IV; PAR: V, VI
          "exact": (2, 2, 0, 1, 1),     # COR: I, IV; INC: V, VI
          "strict": (1, 3, 0, 1, 1)}    # COR: I; INC: IV, V, VI


def counts(result):
    return tuple(result[k] for k in ("correct", "incorrect", "partial", "missed", "spurious"))


def test_partial_match_gives_the_readme_table_for_its_six_scenarios():
    overall = partial_match(GOLD, PRED, ["LOC", "ORG", "PER"])["overall"]
    for schema, expected in README.items():
        assert counts(overall[schema]) == expected, schema
    assert overall["strict"]["precision"] == pytest.approx(1 / 5)  # COR / ACT, 5 predicted entities
    assert overall["partial"]["precision"] == pytest.approx((2 + 0.5 * 2) / 5)  # partial counts half


def test_partial_match_is_nervaluates_own_result_and_prints_a_row_per_schema():
    from nervaluate import Evaluator

    ours = partial_match(GOLD, PRED, ["LOC", "ORG", "PER"])
    theirs = Evaluator(GOLD, PRED, tags=["LOC", "ORG", "PER"], loader="list").evaluate()
    for schema in SCHEMAS:
        assert ours["overall"][schema]["f1"] == theirs["overall"][schema].f1
        for kind in ("LOC", "ORG", "PER"):
            assert counts(ours["per_type"][kind][schema]) == counts(theirs["entities"][kind][schema].__dict__)
    assert len(format_partial(ours).splitlines()) == 1 + 4 * (1 + 3)


tags = st.sampled_from(["O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC"])
pairs = st.lists(st.integers(1, 10).flatmap(lambda n: st.tuples(st.lists(tags, min_size=n, max_size=n),
                                                                st.lists(tags, min_size=n, max_size=n))),
                 min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(pairs)
def test_partial_match_counts_every_gold_and_every_predicted_entity_once(sentences):
    from nerkit.schemes import spans

    gold, pred = [g for g, _ in sentences], [p for _, p in sentences]
    n_gold = sum(len(spans(g)) for g in gold)
    n_pred = sum(len(spans(p)) for p in pred)
    result = partial_match(gold, pred, ["LOC", "PER"])
    for schema in SCHEMAS:
        r = result["overall"][schema]
        assert r["correct"] + r["incorrect"] + r["partial"] + r["missed"] == r["possible"] == n_gold, schema
        assert r["correct"] + r["incorrect"] + r["partial"] + r["spurious"] == r["actual"] == n_pred, schema
    assert result["overall"]["strict"]["partial"] == 0 and result["overall"]["exact"]["partial"] == 0
