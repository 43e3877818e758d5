"""User mistakes on the command line: exit status 2 and one line naming the mistake, never a traceback; checks
that can fail run before any model is loaded; `--debug` shows the traceback."""

import json

import pytest

from nerkit.cli import UsageError, main

from conftest import SAMPLE, quick_recipe


def one_line_error(capsys, argv, command):
    """Run `nerkit argv` in-process; it must exit 2 with a single `nerkit <command>: error: ...` line."""
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"nerkit {command}: error: "), lines
    return lines[0]


@pytest.fixture
def no_model_loading(monkeypatch):
    """Loading a model fails the test: the error must come first."""
    def load_trained(*args, **kwargs):
        raise AssertionError("the model was loaded before the mistake was found")

    monkeypatch.setattr("nerkit.modeling.load_trained", load_trained)


def no_model_building(monkeypatch):
    monkeypatch.setattr("nerkit.training.build_model",
                        lambda *args, **kwargs: pytest.fail("the model was loaded before the mistake was found"))


@pytest.fixture
def model_dir(tmp_path):
    """A folder that passes for a model directory until its weights are loaded."""
    directory = tmp_path / "model"
    directory.mkdir()
    (directory / "nerkit.json").write_text(json.dumps({"labels": ["O", "B-PER", "I-PER"], "kind": "full"}))
    return str(directory)


def test_cli_predict_input_directory_is_an_error(capsys, tmp_path, model_dir, no_model_loading):
    line = one_line_error(capsys, ["predict", model_dir, "--input", str(tmp_path)], "predict")
    assert f"{tmp_path} is a directory; --input takes one file" in line


@pytest.mark.parametrize("command", ["predict", "evaluate"])
@pytest.mark.parametrize("size", ["0", "-1"])
def test_cli_batch_size_must_be_positive_before_the_model_loads(capsys, model_dir, no_model_loading, command, size):
    data = [str(SAMPLE / "test.conll")] if command == "evaluate" else ["Anna visited Paris."]
    line = one_line_error(capsys, [command, model_dir, *data, "--batch-size", size], command)
    assert line.endswith(f"--batch-size must be a positive integer, got {size}")


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_cli_unknown_device_is_an_error_before_the_model_loads(capsys, model_dir, no_model_loading, command):
    data = [str(SAMPLE / "test.conll")] if command == "evaluate" else ["Anna visited Paris."]
    line = one_line_error(capsys, [command, model_dir, *data, "--device", "foo"], command)
    assert "--device 'foo' is not a device" in line


def test_cli_missing_gpu_is_an_error_before_the_model_loads(capsys, model_dir, no_model_loading):
    import torch

    if torch.accelerator.is_available():
        pytest.skip("an accelerator is present")
    line = one_line_error(capsys, ["predict", model_dir, "Anna.", "--device", "cuda:1"], "predict")
    assert "no CUDA GPU is available" in line


def write_recipe(tmp_path, text: bytes | str):
    path = tmp_path / "recipe.yaml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(path)


def test_cli_recipe_yaml_syntax_error_names_the_line(capsys, tmp_path):
    recipe = write_recipe(tmp_path, "model:\n  name_or_path: minilm\ntraining:\n  learning_rate: [3e-5\n")
    line = one_line_error(capsys, ["train", recipe], "train")
    assert f"{recipe}:5:1: invalid YAML" in line


def test_cli_recipe_not_in_utf8_names_the_line(capsys, tmp_path):
    recipe = write_recipe(tmp_path, "model:\n  name_or_path: caf\xe9\n".encode("latin-1"))
    line = one_line_error(capsys, ["train", recipe], "train")
    assert f"{recipe}:2: not valid UTF-8" in line


def test_cli_training_value_of_the_wrong_type(capsys, tiny_model, tmp_path, monkeypatch):
    no_model_building(monkeypatch)
    recipe = write_recipe(tmp_path, json.dumps(quick_recipe(tiny_model, tmp_path / "run")))
    line = one_line_error(capsys, ["train", recipe, "training.learning_rate=abc"], "train")
    assert line.endswith("training.learning_rate must be float, got 'abc'")


def test_cli_training_arguments_validation_error(capsys, tiny_model, tmp_path, monkeypatch):
    no_model_building(monkeypatch)
    recipe = write_recipe(tmp_path, json.dumps(quick_recipe(tiny_model, tmp_path / "run")))
    line = one_line_error(capsys, ["train", recipe, "training.eval_strategy=sometimes"], "train")
    assert "training: sometimes is not a valid IntervalStrategy" in line


def test_cli_early_stopping_without_validation_fails_before_the_model_loads(capsys, tiny_model, tmp_path, monkeypatch):
    no_model_building(monkeypatch)
    recipe = write_recipe(tmp_path, json.dumps(quick_recipe(tiny_model, tmp_path / "run")))
    line = one_line_error(capsys, ["train", recipe, "data.validation=null", "eval.early_stopping_patience=2"], "train")
    assert line.endswith("eval.early_stopping_patience needs a validation split (data.validation)")


def test_cli_model_without_labels_is_an_error(capsys, tmp_path):
    (tmp_path / "nerkit.json").write_text(json.dumps({"kind": "full", "max_length": 64}))
    line = one_line_error(capsys, ["predict", str(tmp_path), "Anna visited Paris."], "predict")
    assert f"{tmp_path}: nerkit.json has no label list" in line


def test_cli_model_folder_without_weights_is_an_error(capsys, tmp_path, trained_run):
    import shutil

    for name in ("nerkit.json", "config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(trained_run / name, tmp_path / name)
    line = one_line_error(capsys, ["predict", str(tmp_path), "Anna visited Paris."], "predict")
    assert str(tmp_path) in line  # transformers names the folder that has no weights


def test_cli_lone_surrogate_is_an_invalid_line(capsys, tmp_path, trained_run):
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"text": "Anna visited Paris."}\n{"text": "bad \\ud800 text"}\n{"text": "John left."}\n')
    line = one_line_error(capsys, ["predict", str(trained_run), "--input", str(docs), "--text-field", "text"],
                          "predict")
    assert f"{docs}:2: a lone surrogate escape" in line
    out = tmp_path / "out.jsonl"
    assert main(["predict", str(trained_run), "--input", str(docs), "--text-field", "text", "--skip-invalid",
                 "--output", str(out), "--format", "jsonl"]) == 0
    rows = [json.loads(row) for row in out.read_text().splitlines()]
    assert [row.get("text") for row in rows] == ["Anna visited Paris.", None, "John left."]
    assert rows[1]["line"] == 2 and "lone surrogate" in rows[1]["error"]  # the bad line keeps its place


def test_cli_evaluate_never_overwrites_the_report_with_the_png(capsys, tmp_path, model_dir, no_model_loading):
    report = tmp_path / "report.png"
    report.write_bytes(b"an earlier file")
    line = one_line_error(capsys, ["evaluate", model_dir, str(SAMPLE / "test.conll"), "--output", str(report)],
                          "evaluate")
    assert "name the report report.json" in line
    assert report.read_bytes() == b"an earlier file"


def test_cli_debug_shows_the_traceback(model_dir, no_model_loading):
    with pytest.raises(UsageError, match="--batch-size must be a positive integer"):
        main(["--debug", "predict", model_dir, "Anna.", "--batch-size", "0"])
