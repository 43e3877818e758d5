"""The CRF head end to end on the tiny model: trained, saved, reloaded (full, LoRA adapter, merged, by Hub
id, ONNX) to the same scores and labels; and Viterbi over windows stitched into whole sentences."""

import json

import numpy as np
import pytest

from nerkit.cli import main
from nerkit.config import recipe_from_dict
from nerkit.evaluation import evaluate
from nerkit.decoding import Transitions, invalid_transitions
from nerkit.inference.tagger import Tagger
from nerkit.training import train as run

from conftest import SAMPLE, publish, quick_recipe

SENTENCES = [["Anna", "Smith", "visited", "Paris", "."], ["The", "Acme", "Corp", "team", "won", "in", "Tokyo"],
             ["John", "said", "Berlin", "and", "Tokyo", "on", "Monday"] * 6]


def crf_recipe(model, out, **extra):
    recipe = quick_recipe(model, out)
    recipe["model"]["head"] = "crf"
    recipe.update(extra)
    return recipe_from_dict(recipe)


@pytest.fixture(scope="module")
def crf_run(tiny_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("crf")
    return out, run(crf_recipe(tiny_model, out))


@pytest.fixture(scope="module")
def crf_lora_run(tiny_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("crf-lora")
    return out, run(crf_recipe(tiny_model, out, lora={"r": 4, "alpha": 8, "merge": True}))


def tags(tagger, sentences=SENTENCES):
    return [[tag for tag, _ in words] for words in tagger.tag_words(sentences)]


def test_crf_run_saves_its_scores_with_the_model_and_reloads_them(crf_run):
    from safetensors import safe_open

    out, _ = crf_run
    metadata = json.loads((out / "nerkit.json").read_text())
    assert metadata["head"] == "crf" and metadata["decoding"] == "viterbi"
    with safe_open(str(out / "model.safetensors"), "pt") as weights:
        saved = weights.get_tensor("crf.transitions").numpy()
    assert np.abs(saved).max() > 0.01  # trained, not the initial zeros
    tagger = Tagger.load(str(out), precision="fp32")
    allowed = np.isfinite(tagger.decoder.transitions)
    assert np.array_equal(tagger.decoder.transitions[allowed], saved[allowed])
    assert not allowed[0, 2]  # O -> I-LOC stays forbidden


def test_crf_evaluate_equals_the_training_scores(crf_run):
    out, results = crf_run
    again = evaluate(str(out), str(SAMPLE / "test.conll"))
    assert again["decoding"] == "viterbi" and again["f1"] == pytest.approx(results["test"]["f1"])


def test_crf_lora_adapter_holds_the_crf_and_merged_predicts_the_same(crf_lora_run):
    from safetensors import safe_open

    out, results = crf_lora_run
    with safe_open(str(out / "adapter_model.safetensors"), "pt") as weights:
        assert any(".crf." in key for key in weights.keys())  # saved with the adapter, as a module to save
    adapter, merged = Tagger.load(str(out), precision="fp32"), Tagger.load(str(out / "merged"), precision="fp32")
    assert np.array_equal(adapter.decoder.transitions, merged.decoder.transitions)
    assert np.abs(np.nan_to_num(adapter.decoder.transitions, neginf=0)).max() > 0.01  # the trained copy, not zeros
    assert tags(adapter) == tags(merged)
    assert evaluate(str(out), str(SAMPLE / "test.conll"))["f1"] == pytest.approx(results["test"]["f1"])


def test_crf_onnx_export_predicts_label_for_label_as_pytorch(crf_run, crf_lora_run, tmp_path):
    pytest.importorskip("onnxruntime")
    for name, (out, _) in (("full", crf_run), ("lora", crf_lora_run)):
        assert main(["export", str(out), "--output", str(tmp_path / name)]) == 0
        assert "crf" in json.loads((tmp_path / name / "nerkit.json").read_text())
        onnx_tagger = Tagger.load(str(tmp_path / name))
        assert type(onnx_tagger.engine).__name__ == "OnnxEngine"
        assert tags(onnx_tagger) == tags(Tagger.load(str(out), precision="fp32"))


def test_crf_model_by_hub_id_predicts_as_the_local_run(crf_run, tmp_path, monkeypatch):
    from huggingface_hub import constants
    from test_hub import pushed

    out, _ = crf_run
    files = pushed(out, "me/ner-crf", monkeypatch)
    cache = tmp_path / "hf" / "hub"
    cache.mkdir(parents=True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    publish(cache, "me/ner-crf", files)
    texts = ["Anna Smith visited Paris on Monday.", "The Acme Corp team said John left Berlin."]
    assert Tagger.load("me/ner-crf", precision="fp32").predict(texts) == Tagger.load(str(out), precision="fp32").predict(texts)


def test_evaluate_and_training_agree_for_argmax_decoding(tiny_model, tmp_path):
    recipe = quick_recipe(tiny_model, tmp_path)
    recipe["eval"] = {"decoding": "argmax"}
    results = run(recipe_from_dict(recipe))
    assert json.loads((tmp_path / "nerkit.json").read_text())["decoding"] == "argmax"
    again = evaluate(str(tmp_path), str(SAMPLE / "test.conll"))  # the stored choice
    assert again["decoding"] == "argmax" and again["f1"] == pytest.approx(results["test"]["f1"])
    viterbi = evaluate(str(tmp_path), str(SAMPLE / "test.conll"), decoding="viterbi")
    assert viterbi["decoding"] == "viterbi"


# --- Viterbi over stitched windows ----------------------------------------------------------------------

class ContextFreeEngine:
    """Each token's label scores depend on its id alone, so any windowing gives a word the same scores."""
    device = "cpu"

    def __init__(self, vocab_size, labels):
        rng = np.random.default_rng(3)
        logits = rng.normal(scale=2.0, size=(vocab_size, len(labels))).astype(np.float32)
        self.table = logits - np.log(np.exp(logits).sum(-1, keepdims=True))

    def __call__(self, input_ids, attention_mask):
        return self.table[input_ids]


def test_viterbi_gives_the_same_labels_for_a_sentence_in_windows_and_in_one(tiny_tokenizer):
    labels = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    engine = ContextFreeEngine(len(tiny_tokenizer.get_vocab()), labels)
    rng = np.random.default_rng(5)
    crf = Transitions(rng.normal(size=5), rng.normal(size=5), rng.normal(size=(5, 5)))
    words = [w for _ in range(8) for w in ["Anna", "Smith", "visited", "Paris", "Berlin", "Acme", "Corp", "x", "Tokyo"]]
    for scores in (None, crf):
        whole = Tagger(engine, tiny_tokenizer, {"labels": labels, "max_length": 512}, crf=scores)
        windowed = Tagger(engine, tiny_tokenizer, {"labels": labels, "max_length": 16, "stride": 4}, crf=scores)
        assert len(windowed.encoder({"tokens": [words]}, [0])["input_ids"]) > 5  # really cut into windows
        one, cut = tags(whole, [words]), tags(windowed, [words])
        assert one == cut and invalid_transitions(one[0]) == 0
    argmax = Tagger(engine, tiny_tokenizer, {"labels": labels, "max_length": 16, "stride": 4, "decoding": "argmax"})
    assert invalid_transitions(tags(argmax, [words])[0]) > 0  # the scores alone break the scheme


def test_bad_head_or_decoding_is_a_one_line_error(tiny_model, tmp_path, capsys):
    recipe = SAMPLE.parent / "quickstart.yaml"
    for override, message in (("model.head=mlp", "model.head must be softmax or crf, got 'mlp'"),
                              ("eval.decoding=beam", "eval.decoding must be viterbi or argmax, got 'beam'")):
        assert main(["train", str(recipe), override, f"training.output_dir={tmp_path}"]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], lines


def test_evaluate_and_predict_take_decoding_on_the_command_line(crf_run, tmp_path, capsys):
    out, _ = crf_run
    report = tmp_path / "report.json"
    assert main(["evaluate", str(out), str(SAMPLE / "test.conll"), "--decoding", "argmax", "--output", str(report)]) == 0
    assert json.loads(report.read_text())["decoding"] == "argmax"
    capsys.readouterr()
    texts = ["Anna Smith visited Paris on Monday .", "The Acme Corp team said John left Berlin ."]
    for decoding in ("argmax", "viterbi"):
        assert main(["predict", str(out), *texts, "--format", "jsonl", "--decoding", decoding]) == 0
        records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        expected = Tagger.load(str(out), decoding=decoding).predict(texts)
        assert [r["entities"] for r in records] == [r["entities"] for r in expected]
