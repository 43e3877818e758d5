import json
from collections import Counter

import pytest

from nerkit.config import DataConfig
from nerkit.data import DataError
from nerkit.evaluation import error_breakdown, evaluate

from conftest import SAMPLE


def test_evaluate_gives_the_same_numbers_as_training(trained_run, tmp_path):
    training = json.loads((trained_run / "metrics.json").read_text())
    for split, name in (("validation", "validation.conll"), ("test", "test.conll")):
        report = evaluate(str(trained_run), str(SAMPLE / name), split=split)
        for key in ("precision", "recall", "f1", "accuracy", "entities"):
            assert report[key] == pytest.approx(training[split][key]), (split, key)
        for kind, values in training[split]["per_type"].items():
            assert report["per_type"][kind] == pytest.approx(values), (split, kind)


def test_evaluate_writes_report_and_confusion_png(trained_run, tmp_path):
    out = tmp_path / "report.json"
    report = evaluate(str(trained_run), str(SAMPLE / "test.conll"), output=str(out))
    assert json.loads(out.read_text())["f1"] == report["f1"]
    png = out.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    errors = report["errors"]
    assert set(errors) == {"type", "boundary", "boundary_and_type", "missed", "spurious"}


def test_evaluate_rejects_entity_types_the_model_does_not_know(trained_run, tmp_path):
    data = tmp_path / "d.conll"
    data.write_text("Anna B-PERSON\n")
    with pytest.raises(DataError, match=r"entity types \['PERSON'\] are not among the model's labels"):
        evaluate(str(trained_run), str(data))


def test_error_breakdown_classifies_each_kind():
    sentence = {"tokens": list("abcdefghij"), "lines": ["f:1"] * 10,
                "tags": ["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG", "I-ORG", "O", "B-MISC", "O"]}
    pred = ["B-PER", "O", "O", "B-ORG", "O", "B-ORG", "I-ORG", "O", "O", "B-LOC"]
    errors, confusion = error_breakdown([sentence], [pred])
    counts = {kind: errors[kind]["count"] for kind in errors}
    assert counts == {"type": 1, "boundary": 1, "boundary_and_type": 0, "missed": 1, "spurious": 1}
    assert confusion == Counter({("PER", "PER"): 1, ("LOC", "ORG"): 1, ("ORG", "ORG"): 1, ("MISC", "O"): 1,
                                 ("O", "LOC"): 1})
    assert errors["type"]["examples"][0]["gold"] == {"type": "LOC", "words": [3, 4]}


def test_evaluate_report_is_replaced_whole_or_not_at_all(tmp_path):
    from nerkit.writing import atomic_write

    target = tmp_path / "report.json"
    target.write_text("the old report")

    def cut_off(path):
        path.write_text("half a new rep")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, cut_off)
    assert target.read_text() == "the old report" and list(tmp_path.iterdir()) == [target]


def test_evaluate_writes_report_and_png_through_temporary_files(trained_run, tmp_path):
    import os

    out = tmp_path / "report.json"
    out.write_text("an older report")
    report = evaluate(str(trained_run), str(SAMPLE / "test.conll"), output=str(out))
    assert json.loads(out.read_text())["f1"] == report["f1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "report.png", "report.pr.png",
                                                          "report.reliability.png"]  # no temporary left
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # as readable as a file written directly


def test_evaluate_repairs_broken_gold_tags_and_says_so(trained_run, tmp_path):
    data = tmp_path / "gold.conll"
    data.write_text("Maria I-PER\nGarcia I-PER\narrived O\n\nin O\nCanada B-LOC\n", encoding="utf-8")
    report = evaluate(str(trained_run), str(data))
    assert (report["invalid_tags"], report["repaired_tags"], report["entities"]) == ("repair", 1, 2)
    with pytest.raises(DataError, match=r"gold\.conll:1: 'I-PER' follows 'O'"):
        evaluate(str(trained_run), str(data), data_config=DataConfig(invalid_tags="error", scheme="iob2"))
