import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from nerkit.features import IGNORE, Encoder, gather_word_scores, windows

LABELS = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
LABEL2ID = {label: i for i, label in enumerate(LABELS)}


def encode(tokenizer, sentences, tags=None, documents=None, **kwargs):
    encoder = Encoder(tokenizer, LABEL2ID, **{"max_length": 64, "stride": 8, **kwargs})
    batch = {"tokens": sentences}
    if tags is not None:
        batch["tags"] = tags
    if documents is not None:
        batch["document"] = documents
    return encoder, encoder(batch, list(range(len(sentences))))


def test_align_first_subtoken_carries_the_label(tiny_tokenizer):
    _, out = encode(tiny_tokenizer, [["Anna", "visited", "Wien"]], [["B-PER", "O", "B-LOC"]])
    ids, labels = out["input_ids"][0], out["labels"][0]
    pieces = tiny_tokenizer.convert_ids_to_tokens(ids)
    assert pieces == ["[CLS]", "Anna", "visited", "W", "##i", "##e", "##n", "[SEP]"]
    assert labels == [IGNORE, LABEL2ID["B-PER"], 0, LABEL2ID["B-LOC"], IGNORE, IGNORE, IGNORE, IGNORE]
    assert out["word_index"][0] == [-1, 0, 1, 2, -1, -1, -1, -1]


def test_align_label_all_tokens_turns_begin_into_inside(tiny_tokenizer):
    _, out = encode(tiny_tokenizer, [["Wien", "x"]], [["B-LOC", "O"]], label_all_tokens=True)
    b, i = LABEL2ID["B-LOC"], LABEL2ID["I-LOC"]
    assert out["labels"][0] == [IGNORE, b, i, i, i, 0, IGNORE]
    assert out["word_index"][0] == [-1, 0, -1, -1, -1, 1, -1]  # still scored once per word


def test_align_word_the_tokenizer_drops_becomes_unknown(tiny_tokenizer):
    _, out = encode(tiny_tokenizer, [["Anna", "\u200b", "Paris"]], [["B-PER", "O", "B-LOC"]])
    assert out["input_ids"][0][2] == tiny_tokenizer.unk_token_id
    assert out["word_index"][0] == [-1, 0, 1, 2, -1]


def test_align_unknown_label_is_ignored_in_the_loss(tiny_tokenizer):
    _, out = encode(tiny_tokenizer, [["Acme"]], [["B-ORG"]])
    assert out["labels"][0] == [IGNORE, IGNORE, IGNORE]
    assert out["word_index"][0] == [-1, 0, -1]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 12), min_size=1, max_size=80), st.integers(8, 40), st.data())
def test_windows_own_every_word_exactly_once(lengths, budget, data):
    stride = data.draw(st.integers(0, budget // 2 - 1))
    result = windows(lengths, budget, stride)
    owned = [w for win in result for w in range(win.own_start, win.own_end)]
    assert owned == list(range(len(lengths)))
    for win in result:
        assert win.start <= win.own_start <= win.own_end <= win.end
        assert sum(min(n, budget) for n in lengths[win.start:win.end]) <= budget
    assert result[0].start == 0 and result[-1].end == len(lengths)


def test_windows_overlap_by_about_the_stride():
    result = windows([1] * 100, budget=30, stride=10)
    assert [(w.start, w.end) for w in result[:2]] == [(0, 30), (20, 50)]
    assert result[0].own_end == result[1].own_start == 25


def test_long_sentence_becomes_windows_and_every_word_is_predicted(tiny_tokenizer):
    words = ["Wien"] * 150  # 4 sub-tokens each: 600 sub-tokens
    encoder, out = encode(tiny_tokenizer, [words, ["Anna"]], [["B-LOC"] * 150, ["B-PER"]], max_length=32)
    assert len(out["input_ids"]) > 20
    assert all(len(ids) <= 32 for ids in out["input_ids"])
    preds = [np.ones((len(ids), 5)) for ids in out["input_ids"]]
    per_word = gather_word_scores(preds, out["example"], out["word_index"], [150, 1])
    assert [len(w) for w in per_word] == [150, 1]
    scored = sum(1 for index in out["word_index"] for w in index if w >= 0)
    assert scored == 151  # each word exactly once


def test_a_word_longer_than_the_window_is_cut_not_lost(tiny_tokenizer):
    _, out = encode(tiny_tokenizer, [["x" * 40, "Anna"]], [["B-LOC", "B-PER"]], max_length=16, stride=4)
    assert all(len(ids) <= 16 for ids in out["input_ids"])
    per_word = gather_word_scores(np.zeros((len(out["input_ids"]), 16, 5)), out["example"], out["word_index"], [2])
    assert len(per_word[0]) == 2


def test_gather_fails_loudly_when_a_word_has_no_prediction():
    with pytest.raises(RuntimeError, match=r"words \[1\] received no prediction"):
        gather_word_scores(np.zeros((1, 3, 5)), [0], [[-1, 0, -1]], [2])


def test_context_comes_from_the_same_document_and_is_never_labelled(tiny_tokenizer):
    sentences = [["Anna"], ["Paris"], ["Berlin"], ["Tokyo"]]
    tags = [["B-PER"], ["B-LOC"], ["B-LOC"], ["B-LOC"]]
    _, out = encode(tiny_tokenizer, sentences, tags, documents=[0, 0, 1, 1], context_size=4)
    pieces = [tiny_tokenizer.convert_ids_to_tokens(ids) for ids in out["input_ids"]]
    assert pieces[0] == ["[CLS]", "Anna", "Paris", "[SEP]"]
    assert pieces[1] == ["[CLS]", "Anna", "Paris", "[SEP]"]
    assert pieces[2] == ["[CLS]", "Berlin", "Tokyo", "[SEP]"]  # never Paris: another document
    assert out["labels"][1] == [IGNORE, IGNORE, LABEL2ID["B-LOC"], IGNORE]
    assert out["word_index"][1] == [-1, -1, 0, -1]
    assert out["word_index"][0] == [-1, 0, -1, -1]


def test_context_is_off_without_document_boundaries(tiny_tokenizer):
    _, out = encode(tiny_tokenizer, [["Anna"], ["Paris"]], documents=[-1, -1], context_size=4)
    assert [len(ids) for ids in out["input_ids"]] == [3, 3]


def test_encoder_rejects_windows_too_small(tiny_tokenizer):
    with pytest.raises(ValueError, match="stride"):
        Encoder(tiny_tokenizer, LABEL2ID, max_length=20, stride=16)
