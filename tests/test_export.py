"""ONNX export: the exported folder predicts as the PyTorch run does, loads without transformers' model
classes, and a quantized export that loses F1 is refused."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from nerkit.cli import main
from nerkit.config import recipe_from_dict
from nerkit.export import ExportError, export
from nerkit.inference.tagger import Tagger
from nerkit.modeling import ModelError
from nerkit.training import train as run

from conftest import ROOT, WORDS, quick_recipe

LONG = " ".join(["Anna Smith visited Paris and Berlin on Monday with the Acme Corp team ."] * 12)
SHORT = ["Anna visited Tokyo.", "The prize went to John Smith of Acme Corp in Berlin.", "x"]


@pytest.fixture(scope="module")
def onnx_folder(trained_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "onnx"
    assert main(["export", str(trained_run), "--output", str(out)]) == 0
    return out


def assert_same_predictions(run_dir, onnx_dir, sentences, documents=None):
    torch_tagger = Tagger.load(str(run_dir), precision="fp32")
    onnx_tagger = Tagger.load(str(onnx_dir))
    assert type(onnx_tagger.engine).__name__ == "OnnxEngine"
    expected = torch_tagger.tag_words(sentences, documents)
    got = onnx_tagger.tag_words(sentences, documents)
    assert [[tag for tag, _ in s] for s in got] == [[tag for tag, _ in s] for s in expected]
    difference = max(abs(p - q) for s, t in zip(got, expected) for (_, p), (_, q) in zip(s, t))
    assert difference < 1e-4


def test_onnx_folder_is_a_nerkit_model_with_the_run_files(onnx_folder):
    names = {p.name for p in onnx_folder.iterdir()}
    assert {"model.onnx", "tokenizer.json", "nerkit.json", "recipe.yaml", "metrics.json", "README.md"} <= names
    metadata = json.loads((onnx_folder / "nerkit.json").read_text())
    assert metadata["engine"] == "onnx" and metadata["kind"] == "full" and "quantization" not in metadata
    assert "## ONNX export" in (onnx_folder / "README.md").read_text()


def test_onnx_card_shows_python_usage_that_runs_on_the_folder(onnx_folder):
    card = (onnx_folder / "README.md").read_text()
    assert "from transformers import pipeline" not in card  # transformers cannot load model.onnx
    snippet = card.split("```python\n")[1].split("```")[0].replace("path/to/this/model", str(onnx_folder))
    assert "nerkit.load(" in snippet
    exec(compile(snippet, "card", "exec"), {})


def test_export_fuses_every_attention_layer_for_onnx_runtime(onnx_folder):
    import onnx

    fused = json.loads((onnx_folder / "nerkit.json").read_text())["onnx"]["fused"]
    ops = [node.op_type for node in onnx.load(str(onnx_folder / "model.onnx")).graph.node]
    assert fused["Attention"] == ops.count("Attention") == 2  # the tiny model's two layers
    assert "Softmax" not in ops and fused["SkipLayerNormalization"] >= 2


def test_onnx_logits_have_one_column_per_label(onnx_folder):
    tagger = Tagger.load(str(onnx_folder))
    ids = np.array([[2, 10, 11, 3]], dtype=np.int64)
    assert tagger.engine.logits(ids, np.ones_like(ids)).shape == (1, 4, len(tagger.labels))


def test_onnx_predictions_equal_pytorch_on_short_and_long_texts(trained_run, onnx_folder):
    sentences = [text.split() for text in SHORT] + [LONG.split()]
    tagger = Tagger.load(str(onnx_folder))
    windows = tagger.encoder({"tokens": [LONG.split()]}, [0])["input_ids"]
    assert len(windows) > 1  # the long sentence is cut into windows
    assert_same_predictions(trained_run, onnx_folder, sentences)


def test_onnx_raw_text_predictions_equal_pytorch(trained_run, onnx_folder):
    texts = [LONG, "Anna Smith visited Paris. John left Berlin.\n\nThe Acme Corp team won in Tokyo."]
    expected = Tagger.load(str(trained_run), precision="fp32").predict(texts)
    got = Tagger.load(str(onnx_folder)).predict(texts)
    assert [[(e["label"], e["start"], e["end"]) for e in r["entities"]] for r in got] == \
        [[(e["label"], e["start"], e["end"]) for e in r["entities"]] for r in expected]


def test_onnx_export_of_a_document_context_run_uses_the_context(tiny_model, tmp_path):
    run(recipe_from_dict(quick_recipe(tiny_model, tmp_path / "run", context="document", context_size=16)))
    export(tmp_path / "run", tmp_path / "onnx")
    tagger = Tagger.load(str(tmp_path / "onnx"))
    assert tagger.encoder.context_size == 16
    sentences = [["Anna", "Smith", "visited", "Paris"], ["John", "left", "Berlin", "."], ["The", "Acme", "Corp"]]
    assert_same_predictions(tmp_path / "run", tmp_path / "onnx", sentences, documents=[0, 0, 1])


def test_a_lora_run_exports_with_its_head(tiny_model, tmp_path):
    recipe = quick_recipe(tiny_model, tmp_path / "run")
    recipe["lora"] = {"r": 4, "alpha": 8}
    run(recipe_from_dict(recipe))
    meta = export(tmp_path / "run", tmp_path / "onnx")
    assert meta["kind"] == "full" and not (tmp_path / "onnx" / "adapter_config.json").exists()
    assert_same_predictions(tmp_path / "run", tmp_path / "onnx", [text.split() for text in SHORT])


def test_int8_export_records_its_check(trained_run, tmp_path):
    meta = export(trained_run, tmp_path / "int8", quantize="int8", max_drop=1.0)
    check = json.loads((tmp_path / "int8" / "nerkit.json").read_text())["quantization"]
    assert check == meta["quantization"] and check["per_channel"] and not check["forced"]
    assert check["check_data"].endswith("validation.conll")
    assert check["f1_drop"] == pytest.approx(check["f1_fp32"] - check["f1_int8"], abs=2e-4)
    tagger = Tagger.load(str(tmp_path / "int8"))
    assert tagger.engine.precision == "int8"
    assert f"{check['f1_int8']:.4f}" in (tmp_path / "int8" / "README.md").read_text()


def test_int8_quantizes_the_encoder_and_keeps_classifier_and_embeddings_fp32(trained_run, tmp_path):
    import onnx

    meta = export(trained_run, tmp_path / "int8", quantize="int8", max_drop=1.0)
    graph = onnx.load(str(tmp_path / "int8" / "model.onnx")).graph
    ops = [node.op_type for node in graph.node]
    assert ops.count("QAttention") == 2 and "Attention" not in ops and "MatMulInteger" in ops
    assert "EmbedLayerNormalization" in ops and "QEmbedLayerNormalization" not in ops
    assert meta["quantization"]["kept_fp32"] == ["/inner/classifier/MatMul"]
    classifier = next(node for node in graph.node if node.name == "/inner/classifier/MatMul")
    assert classifier.op_type == "MatMul"
    weights = {init.name: init.data_type for init in graph.initializer}
    assert weights[classifier.input[1]] == onnx.TensorProto.FLOAT


def test_int8_check_refuses_a_model_whose_f1_drops(trained_run, tmp_path):
    with pytest.raises(ExportError, match="nothing was written"):
        export(trained_run, tmp_path / "int8", quantize="int8", max_drop=-1.0)  # any result counts as a drop
    assert not (tmp_path / "int8").exists() and list(tmp_path.iterdir()) == []
    meta = export(trained_run, tmp_path / "int8", quantize="int8", max_drop=-1.0, force=True)
    assert meta["quantization"]["forced"]


def test_int8_check_without_validation_data_asks_for_check_data(trained_run, tmp_path):
    copy = tmp_path / "run"
    copy.mkdir()
    for path in trained_run.iterdir():
        if path.is_file() and path.name != "recipe.yaml":
            (copy / path.name).write_bytes(path.read_bytes())
    with pytest.raises(ExportError, match="--check-data"):
        export(copy, tmp_path / "int8", quantize="int8")
    meta = export(copy, tmp_path / "int8", quantize="int8", max_drop=1.0,
                  check_data=str(ROOT / "recipes" / "sample" / "validation.conll"))
    assert meta["quantization"]["check_data"].endswith("validation.conll")


def test_export_refuses_an_existing_output_with_a_one_line_error(trained_run, onnx_folder, capsys):
    assert main(["export", str(trained_run), "--output", str(onnx_folder)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_onnx_folder_refuses_bf16_and_gpu(onnx_folder):
    with pytest.raises(ModelError, match="bf16 is for PyTorch"):
        Tagger.load(str(onnx_folder), precision="bf16")
    with pytest.raises(ModelError, match="runs on the CPU"):
        Tagger.load(str(onnx_folder), device="cuda")


def test_onnx_folder_evaluates_from_the_cli(onnx_folder, capsys):
    assert main(["evaluate", str(onnx_folder), str(ROOT / "recipes" / "sample" / "test.conll")]) == 0
    assert "micro" in capsys.readouterr().out


def test_onnx_folder_loads_without_torch_or_transformers(onnx_folder):
    script = ("import sys\nfrom nerkit.cli import main\n"
              f"main(['predict', {str(onnx_folder)!r}, 'Anna Smith visited Paris.', '--format', 'jsonl'])\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'seqeval')))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert json.loads(lines[0])["text"] == "Anna Smith visited Paris."
    assert lines[-1] == "[]"


def test_light_tokenizer_gives_the_transformers_ids_and_words(onnx_folder, tiny_tokenizer):
    from nerkit.features import special_tokens, word_pieces
    from nerkit.inference.tokenizer import WordTokenizer

    light = WordTokenizer.from_folder(onnx_folder)
    sentences = [WORDS, ["naïve", "Zürich", "O'Neill", "\u200b", "1,000"], ["x"]]
    assert word_pieces(light, sentences) == word_pieces(tiny_tokenizer, sentences)
    assert special_tokens(light) == special_tokens(tiny_tokenizer)
    assert (light.pad_token_id, light.unk_token_id) == (tiny_tokenizer.pad_token_id, tiny_tokenizer.unk_token_id)


def test_batch_size_defaults_per_engine_and_an_explicit_one_wins(trained_run, onnx_folder):
    assert Tagger.load(str(onnx_folder)).batch_size == 32
    assert Tagger.load(str(onnx_folder), batch_size=5).batch_size == 5
    assert Tagger.load(str(trained_run)).batch_size == 64
    with pytest.raises(ValueError, match="positive"):
        Tagger.load(str(onnx_folder), batch_size=0)


def test_a_run_finds_its_data_from_any_folder(tiny_model, tmp_path, monkeypatch):
    """Trained with relative paths in one folder; evaluated and exported from another."""
    from nerkit.evaluation import evaluate

    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    for name in ("train.conll", "validation.conll"):
        (project / "data" / name).write_bytes((ROOT / "recipes" / "sample" / name).read_bytes())
    recipe = quick_recipe(tiny_model, project / "runs" / "x", train="data/train.conll",
                          validation="data/validation.conll", test=None)
    recipe["training"]["num_train_epochs"] = 1
    recipe["eval"] = {"splits": ["validation"]}
    monkeypatch.chdir(project)
    run(recipe_from_dict(recipe))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    report = evaluate(str(project / "runs" / "x"), "validation")
    assert report["split"] == "validation" and report["data"] == str(project / "data" / "validation.conll")
    meta = export(project / "runs" / "x", elsewhere / "int8", quantize="int8", max_drop=1.0)
    assert meta["quantization"]["check_data"] == str(project / "data" / "validation.conll")


def test_int8_export_without_its_check_file_stops_before_exporting(trained_run, tmp_path, monkeypatch):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(trained_run, copy)
    recipe = (copy / "recipe.yaml").read_text().replace("validation.conll", "moved.conll")
    (copy / "recipe.yaml").write_text(recipe)
    (copy / "local.json").unlink()
    monkeypatch.setattr("nerkit.export.load_trained", lambda *a, **k: pytest.fail("exported before the check"))
    with pytest.raises(ExportError, match=r"no validation file \(.*moved.conll: none exists\); pass --check-data"):
        export(copy, tmp_path / "int8", quantize="int8")


def test_onnx_export_keeps_the_calibrator_and_applies_it_and_thresholds_as_pytorch_does(trained_run, onnx_folder):
    texts = [LONG, "Anna Smith visited Paris. John left Berlin.\n\nThe Acme Corp team won in Tokyo."]
    torch_tagger, onnx_tagger = Tagger.load(str(trained_run), precision="fp32"), Tagger.load(str(onnx_folder))
    assert onnx_tagger.calibrator is not None and onnx_tagger.calibrator == torch_tagger.calibrator
    for threshold in (0, 0.5, {"PER": 0.6}):
        expected, got = torch_tagger.predict(texts, threshold=threshold), onnx_tagger.predict(texts, threshold=threshold)
        assert [[(e["label"], e["start"], e["end"]) for e in r["entities"]] for r in got] == \
            [[(e["label"], e["start"], e["end"]) for e in r["entities"]] for r in expected]
        assert [e["score"] for r in got for e in r["entities"]] == \
            pytest.approx([e["score"] for r in expected for e in r["entities"]], abs=2e-3)
