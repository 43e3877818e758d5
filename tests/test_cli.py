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


# --- arguments in any order, defaults in --help, errors in the user's words -----------------------------------

from nerkit.cli import build_parser  # noqa: E402

DOCUMENTED = [  # (positional words, flags) of command lines the README and docs/ show
    (["train", "recipes/quickstart.yaml", "training.max_steps=5"], ["--overwrite"]),
    (["predict", "runs/conll03", "John left."], ["--device", "cpu"]),
    (["predict", "runs/conll03"], ["--input", "docs.jsonl", "--text-field", "body", "--output", "ents.jsonl"]),
    (["evaluate", "runs/conll03", "test.txt"], ["--output", "runs/conll03/test-report.json", "--scheme", "iob1"]),
    (["export", "runs/conll03"], ["--output", "runs/conll03-int8", "--quantize", "int8"]),
    (["serve", "runs/conll03"], ["--port", "8081", "--max-texts", "8"]),
]


@pytest.mark.parametrize("words, flags", DOCUMENTED, ids=[w[0] for w, _ in DOCUMENTED])
def test_cli_flags_go_before_between_or_after_positional_arguments(words, flags):
    command, *positional = words
    parse = build_parser().parse_args
    after = parse([command, *positional, *flags])
    assert parse([command, *flags, *positional]) == after
    assert parse([command, positional[0], *flags, *positional[1:]]) == after


def test_cli_predict_text_after_a_flag_is_a_document():
    args = build_parser().parse_args(["predict", "runs/x", "--device", "cpu", "John left.", "Anna left."])
    assert (args.model, args.device, args.texts) == ("runs/x", "cpu", ["John left.", "Anna left."])


def test_cli_train_overrides_around_a_flag():
    args = build_parser().parse_args(["train", "r.yaml", "a.b=1", "--overwrite", "c.d=2"])
    assert (args.recipe, args.overrides, args.overwrite) == ("r.yaml", ["a.b=1", "c.d=2"], True)


def test_cli_help_shows_every_default(capsys):
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name, command in commands.items():
        with pytest.raises(SystemExit):
            parser.parse_args([name, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        for action in command._actions:
            if action.option_strings and action.default not in (None, False, "==SUPPRESS=="):
                assert f"default: {action.default}" in text or f"default {action.default}" in text, \
                    (name, action.option_strings)


def test_cli_evaluate_options_are_the_data_config_fields():
    from nerkit.config import DataConfig

    args = build_parser().parse_args(["evaluate", "m", "d.conll"])
    fields = {f.name: f for f in DataConfig.__dataclass_fields__.values() if f.metadata.get("flag")}
    assert {name: getattr(args, name) for name in fields} == {name: f.default for name, f in fields.items()}
    assert {"scheme", "comment_prefix", "format", "overlaps"} <= set(fields)


def test_cli_serve_defaults_are_the_servers():
    import inspect

    from nerkit.serve import Batching, Limits, serve
    from nerkit.serve.app import create_app
    from nerkit.serve.batcher import Batcher

    args = build_parser().parse_args(["serve", "m"])
    assert (args.max_texts, args.max_chars, args.batch_texts, args.max_wait_ms, args.batch_size) == \
        (Limits().max_texts, Limits().max_chars, Batching().batch_texts, Batching().max_wait_ms, Batching().batch_size)
    defaults = {**{k: p.default for k, p in inspect.signature(serve).parameters.items()},
                **{k: p.default for k, p in inspect.signature(create_app).parameters.items()}}
    assert all(defaults[k] == getattr(args, k) for k in ("max_texts", "max_chars", "batch_texts", "max_wait_ms"))
    assert inspect.signature(Batcher).parameters["max_texts"].default == args.batch_texts


def test_cli_overwrite_output_dir_in_the_recipe_is_a_setting_not_a_crash(tmp_path):
    from nerkit.config import RecipeError, load_recipe

    recipe = write_recipe(tmp_path, "model:\n  name_or_path: minilm\ntraining:\n  overwrite_output_dir: true\n")
    assert load_recipe(recipe).training["overwrite_output_dir"] is True
    with pytest.raises(RecipeError, match="training.overwrite_output_dir must be bool, got 'maybe'"):
        load_recipe(recipe, ["training.overwrite_output_dir=maybe"])


def test_cli_evaluate_errors_name_the_flag_and_training_errors_the_recipe_key(capsys, tmp_path, model_dir,
                                                                               no_model_loading):
    data = tmp_path / "iob1.conll"
    data.write_text("Anna I-PER\nvisited O\nParis I-LOC\n")
    line = one_line_error(capsys, ["evaluate", model_dir, str(data), "--scheme", "iob2", "--invalid-tags", "error"],
                          "evaluate")
    assert "set --scheme iob1; --invalid-tags repair reads it" in line and "data." not in line
    commented = tmp_path / "commented.conll"
    commented.write_text("# a comment\nAnna B-PER\n")
    line = one_line_error(capsys, ["evaluate", model_dir, str(commented)], "evaluate")
    assert "set --comment-prefix" in line
    recipe = write_recipe(tmp_path, f"model:\n  name_or_path: minilm\ndata:\n  train: {data}\n  scheme: iob2\n"
                                    "  invalid_tags: error\n")
    line = one_line_error(capsys, ["train", recipe, f"training.output_dir={tmp_path / 'run'}"], "train")
    assert "set data.scheme: iob1; data.invalid_tags: repair reads it" in line


def test_cli_predict_stopped_by_a_bad_row_runs_again_once_the_row_is_fixed(capsys, tmp_path, trained_run):
    docs, out = tmp_path / "docs.jsonl", tmp_path / "out.jsonl"
    docs.write_text('{"text": "Anna visited Paris."}\n{"text": 3}\n')
    argv = ["predict", str(trained_run), "--input", str(docs), "--output", str(out)]
    assert main(argv) == 2
    assert f"{docs}:2" in capsys.readouterr().err.strip().splitlines()[-1]  # after the progress bar
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs.jsonl"]
    docs.write_text('{"text": "Anna visited Paris."}\n{"text": "John left."}\n')
    assert main(argv) == 0 and len(out.read_text().splitlines()) == 2


def test_cli_argument_mistakes_are_said_with_the_commands_usage(capsys):
    with pytest.raises(SystemExit):
        main(["predict", "runs/x", "--bogus", "x"])
    err = capsys.readouterr().err
    assert "usage: nerkit predict" in err and "nerkit predict: error: unrecognized arguments: --bogus x" in err
    with pytest.raises(SystemExit):
        main(["train"])
    assert capsys.readouterr().err.strip().endswith("the following arguments are required: recipe")
