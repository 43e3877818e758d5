import pytest

from nerkit.config import LoraConfig, RecipeError, load_recipe, parse_yaml, recipe_from_dict
from nerkit.starter import recipe_keys


def write(tmp_path, text):
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


BASE = "model:\n  name_or_path: minilm\ndata:\n  train: t.conll\ntraining:\n  learning_rate: 5e-5\n"


def test_config_reads_yaml_with_yaml12_floats(tmp_path):
    recipe = load_recipe(write(tmp_path, BASE))
    assert recipe.training["learning_rate"] == pytest.approx(5e-5)
    assert recipe.data.max_length == 256 and recipe.lora is None


def test_config_dotted_overrides_are_typed(tmp_path):
    recipe = load_recipe(write(tmp_path, BASE), ["training.learning_rate=3e-5", "data.max_length=128",
                                                 "data.label_all_tokens=true", "eval.splits=[test]"])
    assert recipe.training["learning_rate"] == pytest.approx(3e-5)
    assert recipe.data.max_length == 128 and recipe.data.label_all_tokens is True
    assert recipe.eval.splits == ["test"]


def test_config_lora_override_turns_lora_on_and_off(tmp_path):
    on = load_recipe(write(tmp_path, BASE), ["lora.r=8"])
    assert on.lora == LoraConfig(r=8)
    off = load_recipe(write(tmp_path, BASE + "lora:\n  r: 4\n"), ["lora=null"])
    assert off.lora is None


def test_config_unknown_key_names_it_and_lists_valid_keys(tmp_path):
    with pytest.raises(RecipeError, match=r"unknown key data\.'max_lenght'.*did you mean 'max_length'.*valid keys"):
        load_recipe(write(tmp_path, BASE), ["data.max_lenght=12"])


def test_config_unknown_section_is_an_error(tmp_path):
    with pytest.raises(RecipeError, match="unknown key 'optimizer'"):
        load_recipe(write(tmp_path, BASE + "optimizer:\n  lr: 1\n"))


def test_config_unknown_training_key_is_checked_against_training_arguments(tmp_path):
    with pytest.raises(RecipeError, match=r"training\.learnin_rate.*learning_rate"):
        load_recipe(write(tmp_path, BASE), ["training.learnin_rate=1e-4"])


def test_config_wrong_type_is_an_error(tmp_path):
    with pytest.raises(RecipeError, match="data.max_length must be int"):
        load_recipe(write(tmp_path, BASE), ["data.max_length=long"])


def test_config_missing_model_is_an_error():
    with pytest.raises(RecipeError, match="missing required key model"):
        recipe_from_dict({"data": {"train": "x"}})


def test_config_bad_override_form(tmp_path):
    with pytest.raises(RecipeError, match="section.key=value"):
        load_recipe(write(tmp_path, BASE), ["data.max_length"])


def test_config_resolved_recipe_round_trips(tmp_path):
    import yaml

    recipe = load_recipe(write(tmp_path, BASE), ["lora.r=4"])
    again = recipe_from_dict(yaml.safe_load(yaml.safe_dump(recipe.to_dict())))
    assert again == recipe


def test_config_every_field_has_help():
    rows = recipe_keys()
    assert [r.help for r in rows if r.key == "data.max_length"][0].startswith("Longest input in sub-tokens")
    assert all(row.help for row in rows)


def test_yaml_no_and_on_are_strings_as_in_yaml_12(tmp_path):
    assert parse_yaml("a: no\nb: on\nc: true\nd: False\ne: yes") == {"a": "no", "b": "on", "c": True, "d": False, "e": "yes"}
    recipe = load_recipe(write(tmp_path, BASE), ["training.eval_strategy=no", "data.label_all_tokens=true"])
    assert recipe.training["eval_strategy"] == "no" and recipe.data.label_all_tokens is True


def test_yaml_floats_keep_ints_and_strings():
    assert parse_yaml("a: 3\nb: 1e-4\nc: e5\nd: 1.5") == {"a": 3, "b": 1e-4, "c": "e5", "d": 1.5}


def test_config_yaml_syntax_error_names_file_line_and_column(tmp_path):
    path = write(tmp_path, BASE + "data:\n  train: [a.conll\n  test: b\n")
    with pytest.raises(RecipeError, match=rf"^{path}:9:7: invalid YAML \(while parsing a flow sequence from line 8"):
        load_recipe(path)


def test_config_override_yaml_error_names_the_override(tmp_path):
    with pytest.raises(RecipeError, match=r"^override 'eval.splits=\[test': invalid YAML"):
        load_recipe(write(tmp_path, BASE), ["eval.splits=[test"])


def test_config_recipe_not_in_utf8_names_the_line(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_bytes(BASE.encode() + "# caf\xe9\n".encode("latin-1"))
    with pytest.raises(RecipeError, match=rf"^{path}:7: not valid UTF-8 \(invalid continuation byte at byte 5\)"):
        load_recipe(path)


@pytest.mark.parametrize("override, message", [
    ("training.learning_rate=abc", "training.learning_rate must be float, got 'abc'"),
    ("training.num_train_epochs=two", "training.num_train_epochs must be float, got 'two'"),
    ("training.per_device_train_batch_size=8.5", "training.per_device_train_batch_size must be int, got 8.5"),
    ("training.bf16=yes", "training.bf16 must be bool, got 'yes'"),
    ("eval.mode=lenient", "eval.mode must be default or strict, got 'lenient'"),
])
def test_config_training_values_are_checked_against_training_arguments_types(tmp_path, override, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe(write(tmp_path, BASE), [override])


def test_config_training_values_of_the_right_type_are_kept_as_written(tmp_path):
    recipe = load_recipe(write(tmp_path, BASE), ["training.num_train_epochs=3", "training.eval_steps=0.5",
                                                 "training.run_name=first", "training.max_steps=-1",
                                                 "training.resume_from_checkpoint=true"])
    assert recipe.training["num_train_epochs"] == 3 and isinstance(recipe.training["num_train_epochs"], int)
    assert recipe.training["eval_steps"] == 0.5 and recipe.training["max_steps"] == -1
