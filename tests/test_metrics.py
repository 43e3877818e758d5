import pytest

from nerkit.metrics import format_table, score

GOLD = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "I-MISC"]]
PRED = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O", "O"]]


def test_metrics_match_conlleval_counts():
    # conlleval: gold PER, LOC, ORG and MISC (a stray I- opens an entity) = 4; predicted PER, ORG, ORG = 3;
    # correct PER and the second ORG = 2 -> precision 2/3, recall 2/4, F1 4/7; 5 of 7 tokens right.
    metrics = score(GOLD, PRED)
    assert metrics["precision"] == pytest.approx(2 / 3)
    assert metrics["recall"] == pytest.approx(2 / 4)
    assert metrics["f1"] == pytest.approx(4 / 7)
    assert metrics["accuracy"] == pytest.approx(5 / 7)
    assert metrics["entities"] == 4
    assert metrics["per_type"]["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert metrics["per_type"]["ORG"]["precision"] == pytest.approx(0.5)
    assert sum(v["support"] for v in metrics["per_type"].values()) == 4


def test_metrics_strict_mode_does_not_count_stray_inside_tags():
    metrics = score(GOLD, PRED, mode="strict")
    assert metrics["entities"] == 3  # the stray I-MISC is not an entity in strict IOB2
    assert metrics["recall"] == pytest.approx(2 / 3)


def test_metrics_stray_inside_prediction_counts_as_predicted_entity():
    metrics = score([["O", "B-PER"]], [["I-PER", "B-PER"]])
    assert metrics["precision"] == pytest.approx(1 / 2) and metrics["recall"] == 1.0


def test_metrics_need_one_tag_per_word():
    with pytest.raises(ValueError, match="one tag per word"):
        score([["O", "O"]], [["O"]])


def test_metrics_table_lists_every_type_and_the_micro_row():
    table = format_table({"test": score(GOLD, PRED)})
    for kind in ("LOC", "MISC", "ORG", "PER", "micro", "macro", "accuracy"):
        assert f"test         {kind}" in table
