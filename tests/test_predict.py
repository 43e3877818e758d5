"""Prediction on raw text: exact offsets, windows for long documents, input order, and the CLI paths."""

import io
import json
import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st

from nerkit.documents import InputError, read_texts
from nerkit.modeling import ModelError
from nerkit.inference.tagger import Tagger, entities
from nerkit.text import split_words

from conftest import ROOT


@pytest.fixture(scope="module")
def tagger(trained_run):
    return Tagger.load(str(trained_run), precision="fp32", batch_size=4)


separators = st.sampled_from([" ", "  ", "\t", "\n", " \u00a0 ", " \u3000"])
plain = st.text(alphabet="abcdefghijkäöüß", min_size=1, max_size=6)
names = st.lists(st.text(alphabet="ABCDÉŻ", min_size=1, max_size=5).map(str.capitalize), min_size=1, max_size=3)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.one_of(plain.map(lambda w: ("O", [w])), names.map(lambda n: ("PER", n))), separators),
                min_size=1, max_size=12))
def test_entity_offsets_match_the_text_exactly(pieces):
    """Random text with entities placed at known positions: decoding word tags gives exact character spans."""
    text, placed, tags = "", [], []
    for (kind, ws), sep in pieces:
        start = len(text)
        for k, w in enumerate(ws):
            text += w + (sep if k < len(ws) - 1 else "")
            tags.append("O" if kind == "O" else ("B-" if k == 0 else "I-") + kind)
        if kind != "O":
            placed.append(text[start:])
        text += sep
    words = split_words(text)
    assert len(words) == len(tags)
    found = entities(text, words, [(t, 1.0) for t in tags])
    assert [e["text"] for e in found] == placed
    assert all(text[e["start"]:e["end"]] == e["text"] for e in found)


def test_predict_returns_exact_offsets_in_input_order(tagger):
    texts = ["Anna Smith visited Paris.", "", "The Acme Corp team won in Tokyo .\tJohn said so.", "x" * 3]
    together = tagger.predict(texts)
    assert [r["text"] for r in together] == texts
    assert together[1]["entities"] == []
    assert together == [tagger.predict([t])[0] for t in texts]  # batching and sorting do not change results
    for result in together:
        for e in result["entities"]:
            assert result["text"][e["start"]:e["end"]] == e["text"] and 0 < e["score"] <= 1


def test_long_document_gets_a_prediction_for_every_word(tagger):
    sentence = ["Anna", "visited", "Wien"] * 200  # one sentence of 600 words, many windows
    tagged = tagger.tag_words([sentence, ["Paris"]])
    assert [len(t) for t in tagged] == [600, 1]
    assert all(label in tagger.labels for label, _ in tagged[0])


def test_a_model_directory_without_labels_is_a_clear_error(tiny_model):
    with pytest.raises(ModelError, match="no label maps"):
        Tagger.load(tiny_model)


def test_a_missing_model_directory_is_a_clear_error(tmp_path):
    from nerkit.cli import main

    with pytest.raises(ModelError, match="not a saved nerkit run"):
        Tagger.load(str(tmp_path / "no-such-run"))
    assert main(["evaluate", str(tmp_path / "no-such-run"), str(tmp_path / "data.conll")]) == 2


def test_asking_for_cuda_without_a_gpu_is_a_clear_error(trained_run, capsys):
    import torch
    from nerkit.cli import main

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    assert main(["predict", str(trained_run), "Anna", "--device", "cuda"]) == 2
    assert "no CUDA GPU is available" in capsys.readouterr().err


def test_read_documents_errors_name_the_line():
    with pytest.raises(InputError, match=r"docs\.txt:2: not valid UTF-8"):
        read_texts(io.BytesIO(b"fine\n\xff\xfe\n"), "docs.txt")
    with pytest.raises(InputError, match=r"d\.jsonl:2: invalid JSON"):
        read_texts(io.BytesIO(b'{"body": "a"}\n{nope\n'), "d.jsonl", text_field="body")
    with pytest.raises(InputError, match=r"d\.jsonl:1: expected an object with a string field 'body'"):
        read_texts(io.BytesIO(b'{"text": "a"}\n'), "d.jsonl", text_field="body")


def test_read_documents_can_skip_invalid_lines_and_keeps_empty_ones():
    assert read_texts(io.BytesIO(b"a\n\xff\n\nb\r\n"), "d.txt", skip_invalid=True) == ["a", "", "b"]


def nerkit(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "nerkit.cli", *map(str, args)], input=stdin, capture_output=True,
                          cwd=ROOT, timeout=120)


def test_cli_predict_arguments_stdin_and_files(trained_run, tmp_path):
    direct = nerkit("predict", trained_run, "Anna Smith visited Paris.", "John left.")
    assert direct.returncode == 0, direct.stderr.decode()[-2000:]
    results = [json.loads(line) for line in direct.stdout.decode().splitlines()]
    assert [r["text"] for r in results] == ["Anna Smith visited Paris.", "John left."]

    piped = nerkit("predict", trained_run, stdin="Anna Smith visited Paris.\nJohn left.\n".encode())
    assert [json.loads(line) for line in piped.stdout.decode().splitlines()] == results

    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"body": "Anna Smith visited Paris."}\n{"body": "John left."}\n')
    out = tmp_path / "ents.jsonl"
    assert nerkit("predict", trained_run, "--input", docs, "--text-field", "body", "--output", out).returncode == 0
    assert [json.loads(line) for line in out.read_text().splitlines()] == \
        [{"body": r["text"], "entities": r["entities"]} for r in results]  # the input's fields, entities added

    conll = nerkit("predict", trained_run, "John left.", "--format", "conll")
    rows = [line.split("\t") for line in conll.stdout.decode().splitlines()]
    assert [r[0] for r in rows] == ["John", "left", ".", ""]
    assert all(r[1] in ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC") for r in rows[:3])


def test_cli_predict_bad_input_is_a_clear_error(trained_run, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\n\xff\n")
    result = nerkit("predict", trained_run, "--input", bad)
    assert result.returncode == 2
    assert f"{bad}:2: not valid UTF-8" in result.stderr.decode()
