"""Document context: neighbouring sentences of the same document as unlabelled context."""

import json
import logging

from nerkit.config import recipe_from_dict
from nerkit.features import IGNORE, Encoder
from nerkit.inference.tagger import Tagger
from nerkit.training import train as run

from conftest import quick_recipe

LABEL2ID = {"O": 0, "B-LOC": 1, "I-LOC": 2}


def test_context_at_document_edges_is_one_sided(tiny_tokenizer):
    encoder = Encoder(tiny_tokenizer, LABEL2ID, max_length=32, context_size=8)
    sentences = [["Paris"], ["Berlin"], ["Tokyo"]]
    out = encoder({"tokens": sentences, "tags": [["B-LOC"]] * 3, "document": [0, 0, 0]}, [0, 1, 2])
    pieces = [tiny_tokenizer.convert_ids_to_tokens(ids) for ids in out["input_ids"]]
    assert pieces[0] == ["[CLS]", "Paris", "Berlin", "Tokyo", "[SEP]"]  # no left context at the start
    assert pieces[2] == ["[CLS]", "Paris", "Berlin", "Tokyo", "[SEP]"]  # no right context at the end
    assert [sum(1 for w in index if w >= 0) for index in out["word_index"]] == [1, 1, 1]
    assert [sum(1 for label in labels if label != IGNORE) for labels in out["labels"]] == [1, 1, 1]


def test_context_is_cut_to_context_size_nearest_first(tiny_tokenizer):
    encoder = Encoder(tiny_tokenizer, LABEL2ID, max_length=64, context_size=2)
    out = encoder({"tokens": [["Paris", "Berlin", "Tokyo"], ["the"], ["Anna", "John", "Smith"]],
                   "document": [3, 3, 3]}, [0, 1, 2])
    assert tiny_tokenizer.convert_ids_to_tokens(out["input_ids"][1]) == [
        "[CLS]", "Berlin", "Tokyo", "the", "Anna", "John", "[SEP]"]


def test_document_context_run_is_stored_and_used_by_predict(tiny_model, tmp_path):
    recipe = quick_recipe(tiny_model, tmp_path, context="document", context_size=16)
    results = run(recipe_from_dict(recipe))
    assert results["validation"]["entities"] == 127  # every word still scored exactly once
    metadata = json.loads((tmp_path / "nerkit.json").read_text())
    assert metadata["context"] == "document" and metadata["context_size"] == 16
    tagger = Tagger.load(str(tmp_path), precision="fp32")
    assert tagger.encoder.context_size == 16
    text = "Anna Smith visited Paris. John left Berlin.\n\nThe Acme Corp team won in Tokyo."
    for entity in tagger.predict([text])[0]["entities"]:
        assert text[entity["start"]:entity["end"]] == entity["text"]


def test_document_context_without_boundaries_falls_back_with_a_warning(tiny_model, tmp_path, caplog):
    data = tmp_path / "d.jsonl"
    data.write_text("\n".join(json.dumps({"tokens": ["Anna", "visited", "Paris"], "tags": ["B-PER", "O", "B-LOC"]})
                              for _ in range(8)) + "\n")
    recipe = quick_recipe(tiny_model, tmp_path / "out", context="document")
    recipe["data"].update(train=str(data), validation=str(data), test=str(data))
    with caplog.at_level(logging.WARNING):
        run(recipe_from_dict(recipe))
    assert "no document boundaries" in caplog.text
    assert json.loads((tmp_path / "out" / "nerkit.json").read_text())["context"] == "sentence"


def test_jsonl_document_field_groups_sentences(tmp_path):
    from nerkit.config import DataConfig
    from nerkit.data import read_file

    data = tmp_path / "d.jsonl"
    rows = [{"doc": "a", "tokens": ["x"], "tags": ["O"]}, {"doc": "a", "tokens": ["y"], "tags": ["O"]},
            {"doc": "b", "tokens": ["z"], "tags": ["O"]}]
    data.write_text("\n".join(json.dumps(r) for r in rows))
    sentences = read_file(data, DataConfig(document_field="doc"))
    assert [s["document"] for s in sentences] == [0, 0, 1]


def test_evaluate_uses_document_field_and_warns_without_boundaries(tiny_model, tmp_path, caplog):
    from nerkit.cli import main

    recipe = quick_recipe(tiny_model, tmp_path / "run", context="document", context_size=16)
    run(recipe_from_dict(recipe))
    rows = [{"doc": d, "tokens": ["Anna", "visited", "Paris"], "tags": ["B-PER", "O", "B-LOC"]} for d in "aab"]
    data = tmp_path / "d.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with caplog.at_level(logging.WARNING):
        assert main(["evaluate", str(tmp_path / "run"), str(data), "--document-field", "doc"]) == 0
    assert "no document boundaries" not in caplog.text
    with caplog.at_level(logging.WARNING):
        assert main(["evaluate", str(tmp_path / "run"), str(data)]) == 0
    assert "no document boundaries" in caplog.text
