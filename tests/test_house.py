"""The package's shape: one error family, no import of the CLI or an entry point from the library, the
public `nerkit.train` / `nerkit.evaluate` plain functions however their old modules are imported, and old
import paths that still work with a DeprecationWarning."""

import ast
import importlib
import inspect
import json
import pkgutil
import runpy
import sys
import warnings
from pathlib import Path

import pytest

import nerkit
from nerkit import errors
from nerkit.config import recipe_from_dict
from nerkit.metadata import RunMetadata

from conftest import quick_recipe

PACKAGE = Path(nerkit.__file__).parent
ENTRY_POINTS = {"cli.py", "train.py", "predict.py"}  # the top floor: `nerkit ...` and `python -m nerkit.<x>`
OLD_HOMES = {"evaluate.py"}  # compatibility only, never imported by nerkit


def library_modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).as_posix() not in ENTRY_POINTS | OLD_HOMES)


def imported_modules(path: Path) -> set[str]:
    """The nerkit modules a file imports (at the top or inside functions), as dotted names."""
    package = ".".join(("nerkit", *path.relative_to(PACKAGE).parent.parts))
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) if node.level else node.module
            names |= {base} | {f"{base}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
    return names


@pytest.mark.parametrize("path", library_modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_library_module_never_imports_the_cli_or_an_entry_point(path):
    forbidden = {"nerkit.cli", "nerkit.train", "nerkit.predict", "nerkit.evaluate"}
    assert not imported_modules(path) & forbidden


def all_modules():
    for info in pkgutil.walk_packages(nerkit.__path__, "nerkit."):
        if info.name not in ("nerkit.train", "nerkit.evaluate", "nerkit.predict"):
            try:
                yield importlib.import_module(info.name)
            except errors.MissingExtraError:  # an integration whose engine (an optional extra) is not installed
                continue


def test_every_nerkit_exception_is_a_nerkit_error_so_the_cli_prints_it_as_one_line():
    classes = {obj for module in all_modules() for _, obj in inspect.getmembers(module, inspect.isclass)
               if issubclass(obj, BaseException) and obj.__module__.startswith("nerkit")}
    assert len(classes) >= 17
    assert [c.__name__ for c in classes if not issubclass(c, errors.NerkitError)] == []


@pytest.mark.parametrize("module, name", [
    ("nerkit.config", "RecipeError"), ("nerkit.run", "ModelError"), ("nerkit.run", "RunError"),
    ("nerkit.cli", "UsageError"), ("nerkit.seqeval_metric", "MetricError"), ("nerkit.schemes", "SchemeError"),
    ("nerkit.serve", "ServeError"), ("nerkit.quantize", "ExportError"), ("nerkit.export", "ExportError"),
    ("nerkit.inference.tokenizer", "TokenizerError"), ("nerkit.inference.corpus", "CorpusError"),
    ("nerkit.formats.spans", "SpanError"), ("nerkit.formats", "DataError"), ("nerkit.data", "DataError"),
    ("nerkit.formats.tables", "InputError"), ("nerkit.hub", "HubError"), ("nerkit.evaluation", "OutputError"),
    ("nerkit.prediction", "PredictError"), ("nerkit.modeling", "ModelError"),
])
def test_error_keeps_its_old_import_path_and_builtin_base(module, name):
    cls = getattr(importlib.import_module(module), name)
    assert cls is getattr(errors, name)
    assert issubclass(cls, errors.NerkitError) and issubclass(cls, (ValueError, RuntimeError))


def test_cli_treats_nerkit_errors_and_os_errors_as_user_errors_and_nothing_else():
    from nerkit.cli import is_user_error

    assert is_user_error(errors.SpanError("x")) and is_user_error(FileNotFoundError("x"))
    assert not is_user_error(ValueError("x")) and not is_user_error(KeyError("x"))


def test_tagger_rejects_a_bad_batch_size_as_a_usage_error():
    from nerkit.inference.tagger import Tagger

    with pytest.raises(errors.UsageError, match="batch size must be a positive integer, got 0"):
        Tagger(None, None, RunMetadata(["O"]), batch_size=0)


def test_window_settings_from_nerkit_json_that_do_not_fit_are_a_model_error(tiny_tokenizer):
    from nerkit.inference.tagger import Tagger

    with pytest.raises(errors.ModelError, match=r"nerkit.json: max_length=5 leaves no room for words"):
        Tagger(None, tiny_tokenizer, RunMetadata(["O"], max_length=5))


def test_window_settings_from_the_recipe_that_do_not_fit_are_a_recipe_error(tiny_model, tmp_path):
    recipe = quick_recipe(tiny_model, tmp_path / "run", max_length=20, stride=16)
    with pytest.raises(errors.RecipeError, match=r"^data\.stride=16 must be at least 0"):
        nerkit.train(recipe_from_dict(recipe))


def test_public_train_and_evaluate_are_the_library_functions():
    from nerkit.evaluation import evaluate
    from nerkit.training import train

    assert nerkit.train is train and nerkit.evaluate is evaluate
    assert list(inspect.signature(nerkit.train).parameters) == ["recipe", "overwrite", "callbacks"]


def two_steps(tiny_model, out: Path) -> dict:
    recipe = quick_recipe(tiny_model, out)
    return {**recipe, "training": {**recipe["training"], "max_steps": 2, "eval_strategy": "no"},
            "eval": {"splits": ["test"]}}


def test_train_stays_the_function_after_python_m_style_and_explicit_imports(tiny_model, tmp_path, monkeypatch,
                                                                              trained_run):
    for name in ("train", "evaluate"):  # as in a fresh process; put back as they were afterwards
        monkeypatch.delitem(sys.modules, f"nerkit.{name}", raising=False)
        monkeypatch.setattr(nerkit, name, None, raising=False)
        monkeypatch.delattr(nerkit, name)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(json.dumps(two_steps(tiny_model, tmp_path / "by-m")))
    monkeypatch.setattr(sys, "argv", ["nerkit.train", str(recipe)])
    with pytest.raises(SystemExit) as exit_status:  # what `python -m nerkit.train recipe.yaml` runs
        runpy.run_module("nerkit.train", run_name="__main__", alter_sys=False)
    assert exit_status.value.code == 0 and (tmp_path / "by-m" / "nerkit.json").is_file()
    assert nerkit.train is nerkit.training.train  # running it as __main__ binds nothing

    importlib.import_module("nerkit.evaluate")  # old code's `import nerkit.train`: binds the package attribute
    importlib.import_module("nerkit.train")  # to whatever the import leaves in sys.modules

    results = nerkit.train(recipe_from_dict(two_steps(tiny_model, tmp_path / "explicit")))
    assert set(results) == {"test"} and 0 <= results["test"]["f1"] <= 1
    report = nerkit.evaluate(str(trained_run), str(Path(quick_recipe(tiny_model, tmp_path)["data"]["test"])))
    assert 0 <= report["f1"] <= 1


def test_old_import_paths_warn_and_give_the_moved_names():
    from nerkit.evaluation import error_breakdown
    from nerkit.prediction import predict_to
    from nerkit.aliases import local_path
    from nerkit.training import train

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from nerkit.evaluate import error_breakdown as old_breakdown
        from nerkit.modeling import resolve_model_path
        from nerkit.predict import predict_to as old_predict_to
        from nerkit.train import run

    assert (run, old_breakdown, old_predict_to, resolve_model_path) == (train, error_breakdown, predict_to, local_path)
    messages = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
    assert "nerkit.train.run moved to nerkit.training.train" in messages
    assert "nerkit.predict.predict_to moved to nerkit.prediction.predict_to" in messages
    assert "nerkit.modeling.resolve_model_path moved to nerkit.aliases.local_path" in messages
    with pytest.raises(ImportError):
        from nerkit.predict import no_such_name  # noqa: F401


@pytest.mark.parametrize("old, new", [
    ("nerkit.run:resolve", "nerkit.sources:resolve"), ("nerkit.run:Source", "nerkit.sources:Source"),
    ("nerkit.run:local_path", "nerkit.aliases:local_path"), ("nerkit.run:ALIASES", "nerkit.aliases:ALIASES"),
    ("nerkit.run:write_atomically", "nerkit.writing:atomic_write"),
    ("nerkit.run:read_json", "nerkit.metadata:RunMetadata.from_file"),
    ("nerkit.formats.tables:Document", "nerkit.formats.tables:InputRecord"),
    ("nerkit.formats.spans:Document", "nerkit.formats.spans:SpanDocument"),
    ("nerkit.formats.spans:read_documents", "nerkit.formats.spans:span_documents"),
    ("nerkit.formats.spans:write_label_studio", "nerkit.formats.span_writers:write_label_studio"),
    ("nerkit.formats.spans:json_array", "nerkit.formats.span_writers:json_array"),
    ("nerkit.documents:read_documents", "nerkit.documents:read_texts"),
    ("nerkit.seqeval_metric:SCHEMES", "nerkit.seqeval_metric:SEQEVAL_SCHEMES"),
    ("nerkit.serve.app:describe", "nerkit.serve.app:model_summary"), ("nerkit.config:describe", "nerkit.starter:describe"),
])
def test_a_moved_name_answers_at_its_old_place_with_a_warning_naming_the_new_one(old, new):
    def find(where):
        module, _, path = where.partition(":")
        value = importlib.import_module(module)
        for part in path.split("."):
            value = getattr(value, part)
        return value

    with pytest.warns(DeprecationWarning, match=f"{old.replace(':', '.')} moved to {new.replace(':', '.')}"):
        assert find(old) is find(new) or find(old) == find(new)
