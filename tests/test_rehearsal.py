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
    added = pseudo_label(sentences, tagged, ["LOC", "ORG", "PER"], 0.9)
    assert sentences[0]["tags"] == ["B-PER", "I-PER", "O", "B-MISC", "O", "O", "O"]
    assert added == {"PER": 1}


def test_pseudo_label_never_overrides_or_joins_a_gold_entity():
    sentences = [sentence(["B-PER", "I-PER", "O", "O"])]
    tagged = [[("B-PER", 1.0), ("I-PER", 1.0), ("I-PER", 1.0), ("B-LOC", 1.0)]]  # one PER over the gold and an O
    added = pseudo_label(sentences, tagged, ["LOC", "PER"], 0.5)
    assert sentences[0]["tags"] == ["B-PER", "I-PER", "O", "B-LOC"] and added == {"LOC": 1}


def test_old_types_are_the_models_types_the_new_data_does_not_annotate():
    labels = ["O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-PER", "I-PER"]
    assert old_types(labels, [sentence(["B-MISC", "O"]), sentence(["O"])]) == ["LOC", "PER"]


def test_rehearsal_settings_are_checked():
    with pytest.raises(RehearsalError, match="unknown data.rehearsal 'pseudo'"):
        check("pseudo", 0.9)
    with pytest.raises(RehearsalError, match="between 0 and 1, got 1.5"):
        check("pseudo-label", 1.5)


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
    changed = [(a, b) for s, before in zip(sentences, only_per) for a, b in zip(before, s["tags"]) if a != b]
    assert all(a == "O" and b[2:] in record["types"] for a, b in changed)  # only O words, only old types
    assert sum(record["added"].values()) == sum(b.startswith("B-") for _, b in changed) > 0
    assert all(t == g for s, g in zip(sentences, gold) for t, g in zip(s["tags"], g) if g.endswith("PER"))


def test_rehearsal_needs_an_ner_model(tiny_model):
    with pytest.raises(RehearsalError, match="needs model.name_or_path to be an NER model"):
        rehearse(tiny_model, [sentence(["O"])], 0.9)
