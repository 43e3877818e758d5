"""Span exports (Label Studio, doccano, spaCy/Prodigy spans) <-> nerkit's words and IOB2 tags, and the
pre-annotation writers. The exports in tests/data/spans are hand-written in each tool's own shape."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nerkit.config import DataConfig
from nerkit.data import DataError, load_corpus, read_file, read_span_documents
from nerkit.formats.spans import (Document, SpanStats, checked_document, spans_from_tags, to_sentences,
                                  words_and_tags, write_doccano, write_label_studio, write_spans)

DATA = Path(__file__).parent / "data" / "spans"
NEWS = "Anna Smith joined Acme Corp. in Paris on Monday.\nShe met John Smith there."
NEWS_SPANS = [(0, 10, "PER"), (18, 27, "ORG"), (32, 37, "LOC"), (57, 67, "PER")]
BLOG = "Tokyo-based Acme's prize \U0001F3C6 went to Berlin."
BLOG_SPANS = [(0, 5, "LOC"), (12, 16, "ORG"), (35, 41, "LOC")]
NEWS_TAGGED = [("Anna", "B-PER"), ("Smith", "I-PER"), ("joined", "O"), ("Acme", "B-ORG"), ("Corp", "I-ORG"),
               (".", "O"), ("in", "O"), ("Paris", "B-LOC"), ("on", "O"), ("Monday", "O"), (".", "O")]


def tagged(sentence: dict) -> list[tuple[str, str]]:
    return list(zip(sentence["tokens"], sentence["tags"]))


def document_spans(path: Path, **cfg) -> list[list[tuple[int, int, str]]]:
    fmt = cfg.pop("format")
    return [d.spans for d in read_span_documents(path, fmt, DataConfig(**cfg))]


# ---- round trip --------------------------------------------------------------------------------------

ALPHABET = "abcXYZ09 .,'-\n\t’é漢字🏆"


@st.composite
def texts_with_spans(draw):
    text = draw(st.text(alphabet=ALPHABET, min_size=1, max_size=60))
    cuts = sorted(draw(st.sets(st.integers(0, len(text)), max_size=10)))
    spans = []
    for start, end in zip(cuts[::2], cuts[1::2]):
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start < end:
            spans.append((start, end, draw(st.sampled_from(["PER", "LOC"]))))
    return text, spans


@settings(max_examples=300, deadline=None)
@given(texts_with_spans())
def test_spans_round_trip_through_words_and_tags_exactly(case):
    text, spans = case
    words, tags, _ = words_and_tags(text, spans)
    assert all(text[w.start:w.end] == w.text for w in words)
    assert all(a.end <= b.start for a, b in zip(words, words[1:]))
    assert spans_from_tags(words, tags) == spans


@settings(max_examples=200, deadline=None)
@given(texts_with_spans())
def test_sentences_never_break_inside_a_span(case):
    text, spans = case
    sentences, _ = to_sentences(Document(text, spans, "doc"), 0)
    assert all(s["tags"][0][:2] != "I-" for s in sentences)
    words, tags, _ = words_and_tags(text, spans)
    assert [t for s in sentences for t in s["tags"]] == tags


def test_span_ending_inside_a_word_splits_the_word_and_is_counted():
    words, tags, split = words_and_tags("Visit Acmecorp and AcmeLabs today", [(6, 10, "ORG"), (23, 27, "ORG")])
    assert [(w.text, t) for w, t in zip(words, tags)] == [("Visit", "O"), ("Acme", "B-ORG"), ("corp", "O"), ("and", "O"),
                                                          ("Acme", "O"), ("Labs", "B-ORG"), ("today", "O")]
    assert split == 2


# ---- readers on the hand-written exports -------------------------------------------------------------

def test_label_studio_export_reads_first_completed_annotation_and_skips_unlabelled_tasks(caplog):
    with caplog.at_level(logging.INFO):
        sentences = read_file(DATA / "label_studio_export.json", DataConfig())
    assert tagged(sentences[0]) == NEWS_TAGGED  # the cancelled annotation (Paris as PER) is not used
    assert [s["document"] for s in sentences] == [0, 0, 1]  # the unlabelled task is skipped
    assert "1 records skipped: no completed annotation" in caplog.text
    assert "2 words split at span boundaries" in caplog.text  # Corp. and Tokyo-based


def test_label_studio_annotation_choice():
    path = DATA / "label_studio_export.json"
    assert document_spans(path, format="label-studio") == [NEWS_SPANS, BLOG_SPANS]
    assert document_spans(path, format="label-studio", annotation="last-completed")[0] == [(0, 10, "PER")]
    assert document_spans(path, format="label-studio", annotation="predictions") == [[(0, 10, "PER")]]


def test_label_studio_utf16_offsets_are_converted_by_their_text():
    assert document_spans(DATA / "label_studio_utf16.json", format="label-studio") == [[(2, 8, "LOC"), (14, 19, "LOC")]]


@pytest.mark.parametrize("name, skip", [("doccano_export.jsonl", 1), ("doccano_relations.jsonl", None),
                                        ("prodigy_spans.jsonl", None)])
def test_other_exports_give_the_same_sentences_as_label_studio(name, skip):
    reference = read_file(DATA / "label_studio_export.json", DataConfig())
    sentences = read_file(DATA / name, DataConfig())
    assert [tagged(s) for s in sentences if s["document"] != skip] == [tagged(s) for s in reference]


def test_doccano_and_prodigy_spans():
    assert document_spans(DATA / "doccano_export.jsonl", format="doccano") == [NEWS_SPANS, [], BLOG_SPANS]
    assert document_spans(DATA / "doccano_relations.jsonl", format="doccano") == [NEWS_SPANS, BLOG_SPANS]
    assert document_spans(DATA / "prodigy_spans.jsonl", format="spans") == [NEWS_SPANS, BLOG_SPANS]  # reject skipped


def test_format_is_detected_from_keys_and_word_jsonl_still_reads(tmp_path):
    path = tmp_path / "words.jsonl"
    path.write_text(json.dumps({"tokens": ["Anna", "left"], "tags": ["B-PER", "O"], "text": "Anna left"}) + "\n")
    assert tagged(read_file(path, DataConfig())[0]) == [("Anna", "B-PER"), ("left", "O")]
    corpus = load_corpus(DataConfig(train=str(DATA / "doccano_export.jsonl"), test=str(DATA / "prodigy_spans.jsonl")))
    assert corpus.labels == ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    assert corpus.scheme == "iob2"


def test_text_field_names_the_text_key(tmp_path):
    path = tmp_path / "custom.jsonl"
    path.write_text(json.dumps({"body": "Anna left", "label": [[0, 4, "PER"]]}) + "\n")
    assert tagged(read_file(path, DataConfig(format="doccano", text_field="body"))[0]) == [("Anna", "B-PER"), ("left", "O")]
    with pytest.raises(DataError, match=r"custom.jsonl:1: no field 'text' \(fields: body, label\); set data.text_field"):
        read_file(path, DataConfig(format="doccano"))


# ---- malformed input -------------------------------------------------------------------------------

def write(tmp_path: Path, *records) -> Path:
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.mark.parametrize("record, message", [
    ({"text": "Anna left", "spans": [{"start": 0, "end": 4, "label": "PER", "text": "Anne"}]},
     r"bad.jsonl:2: span 0-4 \(PER\) is 'Anna' in the text but its text field says 'Anne'"),
    ({"text": "Anna left", "spans": [{"start": 5, "end": 12, "label": "PER"}]},
     r"bad.jsonl:2: span 5-12 \(PER\) lies outside the text of 9 characters"),
    ({"text": "Anna left", "spans": [{"start": -1, "end": 4, "label": "PER"}]}, r"bad.jsonl:2: span -1-4 \(PER\) lies outside"),
    ({"text": "Anna left", "spans": [{"start": 3, "end": 3, "label": "PER"}]}, r"bad.jsonl:2: span 3-3 \(PER\) lies outside"),
    ({"text": "Anna left", "spans": [{"start": "0", "end": 4, "label": "PER"}]}, r"bad.jsonl:2: span offsets must be integers"),
    ({"text": "Anna left", "spans": [{"start": 0, "end": 4}]}, r"bad.jsonl:2: span label must be a non-empty string"),
    ({"text": "Anna  left", "spans": [{"start": 4, "end": 6, "label": "PER"}]}, r"bad.jsonl:2: span \(PER\) covers only whitespace"),
    ({"text": "Anna Smith", "spans": [{"start": 0, "end": 10, "label": "PER"}, {"start": 5, "end": 10, "label": "LOC"}]},
     r"bad.jsonl:2: spans 0-10 \(PER\) and 5-10 \(LOC\) overlap; .*data.overlaps: longest"),
    ({"text": 7, "spans": []}, r"bad.jsonl:2: the text must be a string"),
    ({"text": "Anna", "spans": {"start": 0}}, r"bad.jsonl:2: \"spans\" must be a list of objects"),
])
def test_malformed_spans_name_file_and_record(tmp_path, record, message):
    path = write(tmp_path, {"text": "fine", "spans": []}, record)
    with pytest.raises(DataError, match=message):
        read_file(path, DataConfig())


def test_malformed_doccano_and_label_studio_records(tmp_path):
    path = write(tmp_path, {"text": "Anna left", "label": [[0, 4]]})
    with pytest.raises(DataError, match=r"bad.jsonl:1: doccano \"label\" must be a list of \[start, end, label\]"):
        read_file(path, DataConfig(format="doccano"))
    task = {"data": {"text": "Anna left"}, "annotations": [{"result": [
        {"id": "r1", "type": "labels", "value": {"start": 0, "end": 4, "text": "Anna", "labels": ["PER", "ORG"]}}]}]}
    path = write(tmp_path, task)
    with pytest.raises(DataError, match=r"bad.jsonl:1: region 'r1' has 2 labels \['PER', 'ORG'\]"):
        read_file(path, DataConfig())
    path = write(tmp_path, {"data": {"body": "Anna"}, "annotations": []})
    with pytest.raises(DataError, match=r"bad.jsonl:1: no data field 'text' \(fields: body\)"):
        read_file(path, DataConfig())
    with pytest.raises(DataError, match="unknown data.overlaps 'first'"):
        read_file(DATA / "doccano_export.jsonl", DataConfig(overlaps="first"))


def test_overlaps_longest_keeps_the_longest_and_warns(tmp_path, caplog):
    path = write(tmp_path, {"text": "New York City Hall", "spans": [
        {"start": 0, "end": 8, "label": "LOC"}, {"start": 0, "end": 18, "label": "ORG"}, {"start": 9, "end": 13, "label": "LOC"}]})
    with caplog.at_level(logging.WARNING):
        sentences = read_file(path, DataConfig(overlaps="longest"))
    assert sentences[0]["tags"] == ["B-ORG", "I-ORG", "I-ORG", "I-ORG"]
    assert "2 overlapping spans dropped" in caplog.text


# ---- writers, re-read by the readers ---------------------------------------------------------------

RESULTS = [{"text": NEWS, "entities": [{"label": l, "start": s, "end": e, "text": NEWS[s:e], "score": 0.9 - k / 10}
                                       for k, (s, e, l) in enumerate(NEWS_SPANS)]},
           {"text": "Nothing here.", "entities": []},
           {"text": BLOG, "entities": [{"label": l, "start": s, "end": e, "text": BLOG[s:e], "score": 0.75}
                                       for s, e, l in BLOG_SPANS]}]


@pytest.mark.parametrize("writer, fmt, suffix", [(write_spans, "spans", "jsonl"), (write_doccano, "doccano", "jsonl"),
                                                 (write_label_studio, "label-studio", "json")])
def test_prediction_writers_are_read_back_by_the_readers(tmp_path, writer, fmt, suffix):
    path = tmp_path / f"pre.{suffix}"
    with open(path, "w", encoding="utf-8") as out:
        writer(RESULTS, out)
    cfg = {"annotation": "predictions"} if fmt == "label-studio" else {}
    assert document_spans(path, format=fmt, **cfg) == [NEWS_SPANS, [], BLOG_SPANS]
    auto = read_span_documents(path, fmt, DataConfig(**cfg))
    assert [d.text for d in auto] == [NEWS, "Nothing here.", BLOG]


def test_label_studio_predictions_carry_model_version_and_scores():
    out = io.StringIO()
    write_label_studio(RESULTS, out, model_version="runs/news")
    tasks = json.loads(out.getvalue())
    prediction = tasks[0]["predictions"][0]
    assert prediction["model_version"] == "runs/news" and prediction["score"] == pytest.approx(0.6)
    region = prediction["result"][0]
    assert region["from_name"] == "label" and region["to_name"] == "text" and region["type"] == "labels"
    assert region["value"] == {"start": 0, "end": 10, "text": "Anna Smith", "labels": ["PER"]} and region["score"] == 0.9
    assert tasks[1] == {"data": {"text": "Nothing here."}, "predictions": [{"model_version": "runs/news", "result": []}]}


def test_nerkit_predict_output_reads_as_spans(tmp_path):
    path = tmp_path / "predicted.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RESULTS))
    assert [s.spans for s in read_span_documents(path, "spans", DataConfig())] == [NEWS_SPANS, [], BLOG_SPANS]


def test_checked_document_trims_whitespace_at_span_edges():
    document = checked_document(" Anna  left", [(0, 6, "PER", None)], "doc", "error", SpanStats())
    assert document.spans == [(1, 5, "PER")]


# ---- with a model ----------------------------------------------------------------------------------

def test_predict_formats_and_evaluate_char_spans(trained_run, tmp_path, capsys):
    from nerkit.cli import main
    from nerkit.evaluation import evaluate

    texts = ["Anna Smith visited Paris on Monday .", "The Acme Corp team said ."]
    for fmt, suffix in (("label-studio", "json"), ("doccano", "jsonl"), ("spans", "jsonl"), ("jsonl", "jsonl")):
        assert main(["predict", str(trained_run), *texts, "--format", fmt, "--output", str(tmp_path / f"{fmt}.{suffix}"),
                     "--device", "cpu"]) == 0
    expected = [d.spans for d in read_span_documents(tmp_path / "jsonl.jsonl", "spans", DataConfig())]
    assert any(expected)
    ls = read_span_documents(tmp_path / "label-studio.json", "label-studio", DataConfig(annotation="predictions"))
    assert [d.spans for d in ls] == expected
    assert json.loads((tmp_path / "label-studio.json").read_text())[0]["predictions"][0]["model_version"] == str(trained_run)
    for fmt, suffix in (("doccano", "jsonl"), ("spans", "jsonl")):
        assert [d.spans for d in read_span_documents(tmp_path / f"{fmt}.{suffix}", fmt, DataConfig())] == expected
    report = evaluate(str(trained_run), str(tmp_path / "spans.jsonl"))  # the model's own output as gold
    assert report["char_spans"]["f1"] == 1.0 and report["char_spans"]["gold"] == sum(map(len, expected))
    assert report["entities"] == sum(map(len, expected))
    capsys.readouterr()
    assert main(["evaluate", str(trained_run), str(tmp_path / "doccano.jsonl"), "--device", "cpu"]) == 0
    assert "character spans (raw text, as predict): precision 1.0000 recall 1.0000 f1 1.0000" in capsys.readouterr().out


def test_span_on_characters_no_word_covers_is_an_error_not_a_loss(tmp_path, monkeypatch):
    import nerkit.formats.spans as spans_module
    from nerkit.text import Word

    monkeypatch.setattr(spans_module, "split_words", lambda text: [Word("left", 5, 9)])  # a splitter that skips "Anna"
    path = write(tmp_path, {"text": "Anna left", "spans": [{"start": 0, "end": 4, "label": "PER"}]})
    with pytest.raises(DataError, match=r"bad.jsonl:1: span 0-4 \(PER\) does not start and end on words"):
        read_file(path, DataConfig())
