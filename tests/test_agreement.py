"""The agreement check: gold words written as natural text and split again by the raw-text splitter."""

import logging

from nerkit.agreement import check, measure, natural_text

from conftest import CONLL, needs_conll


def test_natural_text_puts_no_space_between_cjk_characters():
    text, spans = natural_text(["他", "去", "了", "Paris", "和", "北", "京", "。"])
    assert text == "他去了 Paris 和北京。"
    assert [text[a:b] for a, b in spans] == ["他", "去", "了", "Paris", "和", "北", "京", "。"]


def test_measure_counts_reproduced_words_and_names_the_mismatches():
    result = measure([["S.AFRICA", "beat", "U.S.", "team", "."], ["北", "京"], ["6-", "Tom"]])
    assert (result.words, result.reproduced) == (9, 7)
    assert result.most_common() == ["S.AFRICA -> S | . | AFRICA (1x)", "6- -> 6 | - (1x)"]
    assert round(result.share, 4) == round(7 / 9, 4)


def test_check_warns_below_99_percent_with_the_most_frequent_mismatches(caplog):
    with caplog.at_level(logging.INFO):
        report = check({"test": [["6-", "Tom"]] * 3 + [["fine", "words"]]})
    assert report["test"]["words"] == 8 and report["test"]["reproduced"] == 5
    assert report["test"]["mismatches"] == ["6- -> 6 | - (3x)"]
    assert "reproduces 62.50% of the test words" in caplog.text
    assert "raw text will be split differently from the test data" in caplog.text and "6- -> 6 | - (3x)" in caplog.text


def test_check_is_quiet_at_full_agreement(caplog):
    with caplog.at_level(logging.WARNING):
        assert check({"validation": [["Anna", "went", "to", "北", "京", "."]]})["validation"]["share"] == 1.0
    assert not caplog.records


@needs_conll(CONLL)
def test_conll2003_test_agreement_does_not_drop():
    from nerkit.data import read_conll

    result = measure(s["tokens"] for s in read_conll(CONLL / "test.txt"))
    assert result.words == 46435 and result.words - result.reproduced == 41  # 66 with the English-only splitter
