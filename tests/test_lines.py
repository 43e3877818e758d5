"""text.newlines (nerkit/lines.py): which single newlines of raw text end a sentence."""

import textwrap

import pytest
from hypothesis import given, settings, strategies as st

from nerkit.lines import NewlinesError, is_wrapped, line_ends
from nerkit.text import split_sentences, split_words

PROSE = ("The committee met on Tuesday to discuss the proposal that had been put forward by the regional "
         "council last spring, and after a long debate the members agreed that the plan should go ahead with "
         "some changes to the budget and to the timetable for the construction work in the old harbour.")
NEWS = ("SOCCER - JAPAN GET LUCKY WIN , CHINA IN SURPRISE DEFEAT\nNadim Ladki\nAL-AIN , United Arab Emirates "
        "1996-12-06\nJapan began the defence of their Asian Cup title with a lucky 2-1 win against Syria in a "
        "Group C championship match on Friday .\nBut China saw their luck desert them in the second match")


def sentences(text, newlines):
    return [" ".join(w.text for w in s) for s in split_sentences(split_words(text), text, newlines)]


def test_wrapped_prose_is_recognised_and_its_newlines_are_spaces():
    wrapped = textwrap.fill(PROSE, 72)
    assert wrapped.count("\n") >= 3 and is_wrapped(wrapped.split("\n"))
    assert sentences(wrapped, "auto") == sentences(wrapped, "space") == [" ".join(w.text for w in split_words(PROSE))]
    assert len(sentences(wrapped, "sentence")) == wrapped.count("\n") + 1


def test_line_structured_news_ends_a_sentence_at_each_line():
    assert not is_wrapped(NEWS.split("\n"))
    assert sentences(NEWS, "auto") == sentences(NEWS, "sentence")
    assert sentences(NEWS, "auto")[:3] == ["SOCCER - JAPAN GET LUCKY WIN , CHINA IN SURPRISE DEFEAT", "Nadim Ladki",
                                           "AL-AIN , United Arab Emirates 1996-12-06"]
    assert sentences(NEWS, "space")[0].startswith("SOCCER - JAPAN GET LUCKY WIN , CHINA IN SURPRISE DEFEAT Nadim Ladki")


@pytest.mark.parametrize("lines", [
    ["Japan        2  1  0  0  4  1  7    top of group C", "Syria        2  0  1  1  2  2  1    second place"],
    ["A headline that is long enough to look like a full line here", "LONDON 1996-12-06"],
    ["Short lines", "of a poem", "are not wrapped prose at all", "whatever their case"],
])
def test_tables_headlines_and_short_lines_are_not_wrapped(lines):
    assert not is_wrapped(lines)


def test_auto_decides_per_paragraph():
    text = NEWS + "\n\n" + textwrap.fill(PROSE, 60)
    auto = sentences(text, "auto")
    assert auto[:5] == sentences(NEWS, "sentence") and auto[5:] == sentences(textwrap.fill(PROSE, 60), "space")


def test_an_unknown_newlines_setting_is_refused():
    with pytest.raises(NewlinesError, match="unknown newlines setting 'lines'; expected one of auto, sentence, space"):
        line_ends("a\nb", "lines")


text_pieces = st.sampled_from(["Anna", "visited", "paris", "Berlin", ".", ",", "?", "\n", "\n", "\n\n", " ", "  ",
                               "the harbour council agreed", "1996-12-06"])


@settings(max_examples=200, deadline=None)
@given(st.lists(text_pieces, max_size=40).map(" ".join))
def test_every_mode_partitions_the_words_and_sentence_breaks_include_the_others(text):
    words = split_words(text)
    breaks = {}
    for mode in ("space", "auto", "sentence"):
        found = split_sentences(words, text, mode)
        assert [w for s in found for w in s] == words and all(found)
        breaks[mode] = {s[0].start for s in found}
    assert breaks["space"] <= breaks["auto"] <= breaks["sentence"]


def test_a_trained_model_keeps_its_newlines_rule_and_predict_can_override_it(trained_run, monkeypatch):
    import json

    from nerkit.cli import main
    from nerkit.inference.tagger import Tagger

    assert json.loads((trained_run / "nerkit.json").read_text())["newlines"] == "auto"
    seen = []
    word_scores = Tagger.word_scores
    monkeypatch.setattr(Tagger, "word_scores",
                        lambda self, s, *a, **k: seen.append(len(s)) or word_scores(self, s, *a, **k))
    tagger = Tagger.load(str(trained_run))
    text = "Anna Smith\nvisited Paris"
    tagger.predict([text])
    tagger.predict([text], newlines="space")
    assert Tagger.load(str(trained_run), newlines="space").newlines == "space"
    assert main(["predict", str(trained_run), text, "--newlines", "space", "--format", "jsonl"]) == 0
    assert main(["predict", str(trained_run), text, "--newlines", "sentence", "--format", "jsonl"]) == 0
    assert seen == [2, 1, 1, 2]


@pytest.mark.parametrize("command", [["serve", "m"], ["evaluate", "m", "d.conll"], ["predict", "m", "text"]])
def test_serve_evaluate_and_predict_take_newlines(command):
    from nerkit.cli import build_parser

    assert build_parser().parse_args([*command, "--newlines", "sentence"]).newlines == "sentence"
    assert build_parser().parse_args(command).newlines is None  # the model's own rule
