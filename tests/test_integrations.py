"""What the Ray and Spark integrations share, tested without either engine: imports, options, cells."""

import json
import os
import subprocess
import sys

import pytest

from nerkit.integrations import TaggingError, check_columns, split_options, tag_values, text_of

from conftest import ROOT


def python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **env})


def test_importing_nerkit_imports_neither_ray_nor_pyspark():
    done = python("import sys, nerkit, nerkit.integrations; nerkit.load; "
                  "print(sorted({m.split('.')[0] for m in sys.modules} & {'ray', 'pyspark', 'py4j'}))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("module, extra", [("ray", "ray"), ("pyspark", "spark")])
def test_a_missing_extra_is_a_one_line_error_naming_it(module, extra):
    done = python(f"import sys; sys.modules[{module!r}] = None\n"  # as if the package were not installed
                  f"import nerkit.integrations.{extra}")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"nerkit.errors.MissingExtraError: nerkit.integrations.{extra} needs {module}, which is not installed: "
        f"pip install 'nerkit[{extra}]'")


def test_options_go_to_load_or_predict_by_their_signatures():
    # threshold: Tagger.predict takes it (per call), so a worker's one Tagger serves any threshold
    load, predict_options = split_options({"precision": "fp32", "revision": "v1", "threshold": 0.8}, engine_batch_size=8)
    assert load == {"precision": "fp32", "revision": "v1", "batch_size": 8}
    assert predict_options == {"threshold": 0.8}
    with pytest.raises(TaggingError, match=r"unknown Tagger option\(s\) colour: Tagger.load takes batch_size, decoding, device"):
        split_options({"colour": "red"})


def test_output_names_are_checked_against_the_columns():
    check_columns(["id", "text"], "text", "entities", "error")
    with pytest.raises(TaggingError, match=r"^no column 'body' \(columns: id, text\); choose one with text_column="):
        check_columns(["id", "text"], "body", "entities", "error")
    with pytest.raises(TaggingError, match=r"^the input already has a column 'error'"):
        check_columns(["text", "error"], "text", "entities", "error")
    with pytest.raises(TaggingError, match=r"^entities_column and error_column are both 'out'"):
        check_columns(["text"], "text", "out", "out")


def test_cells_are_texts_nulls_or_errors():
    assert text_of("Anna", "text") == ("Anna", None)
    assert text_of("Zoë".encode(), "text") == ("Zoë", None)
    assert text_of(None, "text") == (None, None)
    assert text_of(b"\xff", "body") == (None, "column 'body': not valid UTF-8 (invalid start byte at byte 0)")
    assert text_of(7, "body") == (None, "column 'body': expected a string, got int")


def test_tag_values_keeps_every_cell_in_its_place():
    class Echo:  # one entity per text, naming the text, so that a misplaced result shows
        def predict(self, texts, **options):
            return [{"text": t, "entities": [{"label": "X", "text": t, **options}]} for t in texts]

    entities, errors = tag_values(Echo(), ["a", None, 3, "", b"b"], "text", {"threshold": 0.5})
    assert entities == [[{"label": "X", "text": "a", "threshold": 0.5}], [], None,
                        [{"label": "X", "text": "", "threshold": 0.5}], [{"label": "X", "text": "b", "threshold": 0.5}]]
    assert errors == [None, None, "column 'text': expected a string, got int", None, None]


def test_a_worker_takes_its_threads_from_the_cpus_it_was_given(trained_run):
    done = python("import json, os, torch; from nerkit.integrations import worker_tagger\n"
                  f"t = worker_tagger({str(trained_run)!r}, {{'precision': 'fp32'}}, 1.0)\n"
                  f"same = worker_tagger({str(trained_run)!r}, {{'precision': 'fp32'}}, 1.0) is t\n"
                  "print(json.dumps([torch.get_num_threads(), os.environ['OMP_NUM_THREADS'], same]))",
                  OMP_NUM_THREADS="2")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == [1, "1", True]
