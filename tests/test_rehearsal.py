"""data.rehearsal: pseudo-label (nerkit/rehearsal.py): the starting model's confident old-type entities as labels."""

import pytest

from nerkit.rehearsal import RehearsalError, check, old_types, pseudo_label, rehearse

from conftest import SAMPLE


def sentence(tags):
    return {"tokens": [f"w{i}" for i in range(len(tags))], "tags": list(tags), "document": -1}


def test_pseudo_label_adds_confident_old_type_entities_only_where_the_gold_is_o():
    sentences = [sentence(["O", "O", "O", "B-MISC", "O", "O", "O"])]
    tagged = [[("B-PER", 0.95), ("I-PER", 0.97), ("O", 0.9),   # PER on gold O, score 0.96: added
               ("B-LOC", 0.99), ("I-LOC", 0.99),                 # overlaps the gold MISC: never
               ("B-ORG", 0.80), ("B-MISC", 0.99)]]               # ORG under the threshold; MISC is no old type
    added = pseudo_label(sentences, tagged, {"LOC": 0.9, "ORG": 0.9, "PER": 0.9})
    assert sentences[0]["tags"] == ["B-PER", "I-PER", "O", "B-MISC", "O", "O", "O"]
    assert added == {"PER": 1}


def test_pseudo_label_never_overrides_or_joins_a_gold_entity():
    sentences = [sentence(["B-PER", "I-PER", "O", "O"])]
    tagged = [[("B-PER", 1.0), ("I-PER", 1.0), ("I-PER", 1.0), ("B-LOC", 1.0)]]  # one PER over the gold and an O
    added = pseudo_label(sentences, tagged, {"LOC": 0.5, "PER": 0.5})
    assert sentences[0]["tags"] == ["B-PER", "I-PER", "O", "B-LOC"] and added == {"LOC": 1}


def test_old_types_are_the_models_types_the_new_data_does_not_annotate():
    labels = ["O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-PER", "I-PER"]
    assert old_types(labels, [sentence(["B-MISC", "O"]), sentence(["O"])]) == ["LOC", "PER"]


def test_rehearsal_settings_are_checked():
    with pytest.raises(RehearsalError, match="unknown data.rehearsal 'pseudo'"):
        check("pseudo", 0.9)
    with pytest.raises(RehearsalError, match="between 0 and 1, got 1.5"):
        check("pseudo-label", 1.5)
    check("pseudo-label", None)  # the starting model's tuned thresholds, else the default


def test_rehearse_tags_the_train_split_with_the_starting_model(trained_run):
    from nerkit.config import DataConfig
    from nerkit.data import load_corpus

    sentences = load_corpus(DataConfig(train=str(SAMPLE / "train.conll"))).splits["train"][:40]
    gold = [list(s["tags"]) for s in sentences]
    for s in sentences:  # the new data annotates only PER
        s["tags"] = [t if t.endswith("PER") else "O" for t in s["tags"]]
    only_per = [list(s["tags"]) for s in sentences]
    record = rehearse(str(trained_run), sentences, threshold=0.0)
    assert record["types"] == ["LOC", "MISC", "ORG"] and record["sentences"] == 40 and record["seconds"] >= 0
    assert record["thresholds"] == {"LOC": 0.0, "MISC": 0.0, "ORG": 0.0}
    assert record["threshold_source"] == "data.rehearsal_threshold"
    changed = [(a, b) for s, before in zip(sentences, only_per) for a, b in zip(before, s["tags"]) if a != b]
    assert all(a == "O" and b[2:] in record["types"] for a, b in changed)  # only O words, only old types
    assert sum(record["added"].values()) == sum(b.startswith("B-") for _, b in changed) > 0
    assert all(t == g for s, g in zip(sentences, gold) for t, g in zip(s["tags"], g) if g.endswith("PER"))


def test_rehearsal_needs_an_ner_model(tiny_model):
    with pytest.raises(RehearsalError, match="needs model.name_or_path to be an NER model"):
        rehearse(tiny_model, [sentence(["O"])], 0.9)


def test_pseudo_label_compares_each_types_threshold_with_the_calibrated_score():
    from nerkit.calibration import Calibrator, Curve

    halves = Calibrator(Curve([0.0, 1.0], [0.0, 0.5]))  # a calibrated score is half the raw one
    tagged = [[("B-PER", 0.9), ("O", 0.9), ("B-LOC", 0.9)]]
    sentences = [sentence(["O", "O", "O"])]
    assert pseudo_label(sentences, tagged, {"PER": 0.4, "LOC": 0.5}, halves) == {"PER": 1}  # 0.45: PER only
    assert sentences[0]["tags"] == ["B-PER", "O", "O"]


def test_rehearsal_uses_the_starting_models_tuned_thresholds_unless_one_is_set(trained_run, tmp_path):
    import shutil

    from nerkit.evaluation import evaluate
    from nerkit.metadata import RunMetadata
    from nerkit.rehearsal import DEFAULT_THRESHOLD

    run = shutil.copytree(trained_run, tmp_path / "run")
    untuned = rehearse(str(run), [sentence(["B-PER", "O"])])  # trained with a calibrator, never tuned
    assert untuned["thresholds"] == {kind: DEFAULT_THRESHOLD["calibrated"] for kind in ("LOC", "MISC", "ORG")}
    assert untuned["threshold_source"] == "the default for calibrated scores (the starting model has no tuned thresholds)"
    evaluate(str(run), str(SAMPLE / "validation.conll"), tune_thresholds=True, resamples=0)
    tuned = RunMetadata.from_file(run / "nerkit.json").thresholds
    record = rehearse(str(run), [sentence(["B-PER", "O"])])
    assert record["thresholds"] == {kind: tuned.per_type.get(kind, 0.0) for kind in ("LOC", "MISC", "ORG")}
    assert record["threshold_source"] == "the starting model's thresholds (f1, tuned on validation.conll)"
    assert rehearse(str(run), [sentence(["B-PER", "O"])], 0.7)["thresholds"] == {"LOC": 0.7, "MISC": 0.7, "ORG": 0.7}
