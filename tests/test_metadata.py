"""nerkit.json as RunMetadata: files of older nerkit versions load, unknown keys of newer ones are kept and
written back, choice fields are checked once with the file named, defaults live in one place."""

import json
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from nerkit.config import DataConfig
from nerkit.errors import ModelError
from nerkit.metadata import VERSION, OnnxExport, RunMetadata

OLD = Path(__file__).parent / "data"  # nerkit.json files written by nerkit before RunMetadata (version 1)


@pytest.mark.parametrize("name", ["nerkit-v1-run.json", "nerkit-v1-onnx-int8.json"])
def test_a_file_written_before_run_metadata_loads_and_writes_back_every_key(name, tmp_path):
    raw = json.loads((OLD / name).read_text())
    meta = RunMetadata.from_file(OLD / name)
    assert meta.version == 1 and meta.extra == {}
    assert meta.labels == raw["labels"] and meta.kind == raw["kind"] and meta.context == raw["context"]
    assert meta.raw_text_agreement == raw["raw_text_agreement"] and meta.max_length == raw["max_length"]
    meta.write(tmp_path)
    written = json.loads((tmp_path / "nerkit.json").read_text())
    assert {key: written[key] for key in raw} == raw and written["version"] == VERSION
    assert all(RunMetadata.from_dict({"labels": ["O"]}).to_dict()[key] == value  # the rest: defaults
               for key, value in written.items() if key not in raw and key != "version")


def test_onnx_export_keys_become_typed_fields():
    meta = RunMetadata.from_file(OLD / "nerkit-v1-onnx-int8.json")
    assert meta.engine == "onnx" and isinstance(meta.onnx, OnnxExport) and meta.onnx.opset == 17
    assert meta.quantization["method"] == "onnxruntime dynamic int8"


def test_keys_of_a_newer_nerkit_are_kept_and_written_back(tmp_path):
    future = {"labels": ["O", "B-PER", "I-PER"], "version": VERSION + 1, "abstain": {"PER": 0.4}, "conformal": 1.5}
    meta = RunMetadata.from_dict(future)
    assert meta.extra == {"abstain": {"PER": 0.4}, "conformal": 1.5}
    meta.write(tmp_path)
    written = json.loads((tmp_path / "nerkit.json").read_text())
    assert written["abstain"] == {"PER": 0.4} and written["conformal"] == 1.5


@pytest.mark.parametrize("key, value, expected", [
    ("kind", "lora", "full, adapter"), ("context", "paragraph", "sentence, document"),
    ("source_scheme", "bilou2", "iob1, iob2, bioes, bmes, bilou, io"), ("engine", "tensorrt", "torch, onnx"),
])
def test_a_choice_field_is_checked_once_as_the_file_is_read(tmp_path, key, value, expected):
    (tmp_path / "nerkit.json").write_text(json.dumps({"labels": ["O"], key: value}))
    with pytest.raises(ModelError, match=rf"nerkit.json: {key} is {value!r}; expected one of {expected}$"):
        RunMetadata.from_file(tmp_path / "nerkit.json")


@pytest.mark.parametrize("content", ['{"kind": "full"}', '{"labels": []}', "[1, 2]", "{not json"])
def test_a_file_without_labels_is_not_a_model_folder(tmp_path, content):
    (tmp_path / "nerkit.json").write_text(content)
    with pytest.raises(ModelError, match=f"{tmp_path}: nerkit.json"):
        RunMetadata.from_file(tmp_path / "nerkit.json")


def test_encoding_defaults_are_the_recipes():
    assert RunMetadata(["O"]).max_length == DataConfig().max_length


def test_the_dict_it_used_to_be_still_answers_with_a_warning():
    meta = RunMetadata(["O", "B-LOC", "I-LOC"], kind="adapter")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert meta["kind"] == "adapter" and meta.get("labels") == ["O", "B-LOC", "I-LOC"]
    assert all(issubclass(w.category, DeprecationWarning) for w in caught) and len(caught) == 2
    assert "quantization" not in meta and "labels" in meta
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        meta["context_size"], meta["conformal"] = 16, 1.5
        assert {**meta}["context_size"] == 16
    assert meta.context_size == 16 and meta.extra == {"conformal": 1.5}


def test_a_trained_run_writes_the_current_version(trained_run):
    from nerkit.inference.tagger import Tagger

    raw = json.loads((trained_run / "nerkit.json").read_text())
    assert raw["version"] == VERSION and raw["kind"] == "full" and "onnx" not in raw
    assert Tagger.load(str(trained_run), device="cpu").metadata == RunMetadata.from_dict(raw)


labels = st.lists(st.sampled_from(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]), min_size=1, unique=True)


def test_a_malformed_calibrator_names_the_file_and_key(tmp_path):
    (tmp_path / "nerkit.json").write_text(json.dumps({"labels": ["O", "B-PER", "I-PER"], "calibrator": {"per_type": {}}}))
    with pytest.raises(ModelError, match="nerkit.json: calibrator cannot be read"):
        RunMetadata.from_file(tmp_path / "nerkit.json")


@settings(max_examples=50, deadline=None)
@given(labels=labels, kind=st.sampled_from(["full", "adapter"]), context=st.sampled_from(["sentence", "document"]),
       stride=st.none() | st.integers(0, 64), max_length=st.integers(8, 512),
       extra=st.dictionaries(st.sampled_from(["abstain", "conformal", "lineage"]), st.integers() | st.text()))
def test_to_dict_and_from_dict_round_trip(labels, kind, context, stride, max_length, extra):
    meta = RunMetadata(labels, kind=kind, context=context, stride=stride, max_length=max_length, extra=extra)
    assert RunMetadata.from_dict(json.loads(json.dumps(meta.to_dict()))) == meta
