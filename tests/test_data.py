import json
import logging

import pytest
from hypothesis import given, settings, strategies as st

from nerkit.config import DataConfig
from nerkit.data import DataError, load_corpus, read_conll, read_file, warn_unseen_labels

from conftest import CONLL, CONLL_IOB1, needs_conll


def write(tmp_path, name, text, mode="w"):
    path = tmp_path / name
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def test_read_conll_keeps_documents_and_line_numbers(tmp_path):
    path = write(tmp_path, "a.conll", "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n"
                                      "-DOCSTART- -X- -X- O\n\nPeter NNP B-NP B-PER\n")
    sentences = read_conll(path)
    assert [s["tokens"] for s in sentences] == [["EU", "rejects"], ["Peter"]]
    assert [s["tags"] for s in sentences] == [["B-ORG", "O"], ["B-PER"]]
    assert [s["document"] for s in sentences] == [0, 1]
    assert sentences[0]["lines"] == [f"{path}:3", f"{path}:4"]


def test_read_conll_tolerates_crlf_bom_and_tabs(tmp_path):
    path = write(tmp_path, "a.conll", "\ufeffEU\tB-ORG\r\nrejects\tO\r\n\r\nPeter\tB-PER\r\n")
    sentences = read_conll(path)
    assert [s["tokens"] for s in sentences] == [["EU", "rejects"], ["Peter"]]
    assert sentences[0]["document"] == -1  # no -DOCSTART-: no document boundaries known


def test_read_conll_tag_column_is_configurable(tmp_path):
    path = write(tmp_path, "a.conll", "EU B-ORG NNP\nrejects O VBZ\n")
    assert read_conll(path, tag_column=1)[0]["tags"] == ["B-ORG", "O"]


def test_read_conll_wrong_column_count_names_line(tmp_path):
    path = write(tmp_path, "a.conll", "EU NNP B-ORG\nrejects O\n")
    with pytest.raises(DataError, match=r"a\.conll:2: expected 3 columns \(as on line 1\), found 2"):
        read_conll(path)


def test_read_conll_single_column_is_an_error(tmp_path):
    with pytest.raises(DataError, match=r"a\.conll:1: expected at least 2 columns"):
        read_conll(write(tmp_path, "a.conll", "EU\n"))


def test_read_conll_empty_file_is_an_error(tmp_path):
    with pytest.raises(DataError, match="no sentences found"):
        read_conll(write(tmp_path, "a.conll", "\n\n-DOCSTART- -X- O\n\n"))


def test_read_conll_invalid_utf8_names_line(tmp_path):
    with pytest.raises(DataError, match=r"a\.conll:2: not valid UTF-8"):
        read_conll(write(tmp_path, "a.conll", b"EU B-ORG\nM\xfcnchen B-LOC\n", "wb"))


def test_load_corpus_invalid_tag_names_file_and_line(tmp_path):
    path = write(tmp_path, "a.conll", "EU B-ORG\nrejects O\n\nPeter B-PERSON\nsaid X-PER\n")
    with pytest.raises(DataError, match=r"a\.conll:5: malformed tag 'X-PER'"):
        load_corpus(DataConfig(train=str(path)))


def test_load_corpus_declared_iob2_rejects_iob1_file_with_invalid_tags_error(tmp_path):
    path = write(tmp_path, "a.conll", "EU I-ORG\nrejects O\n")
    with pytest.raises(DataError, match=r"a\.conll:1: 'I-ORG' follows 'O'"):
        load_corpus(DataConfig(train=str(path), scheme="iob2", invalid_tags="error"))


def test_load_corpus_repairs_broken_bmes_tags_and_names_the_first_five(tmp_path, caplog):
    # ResumeNER's shape: an entity cut by a sentence break leaves an M- after O on the next line
    body = "".join(f"中 B-ORG\n国 E-ORG\n\n银 M-ORG\n行 E-ORG\n人 O\n\n" for _ in range(6))
    path = write(tmp_path, "train.char.bmes", body)
    with caplog.at_level(logging.WARNING):
        corpus = load_corpus(DataConfig(train=str(path)))
    assert corpus.scheme == "bmes" and corpus.repaired_tags == {"train": 6}
    assert corpus.splits["train"][1]["tags"] == ["B-ORG", "I-ORG", "O"]
    warnings = [r.getMessage() for r in caplog.records if "conlleval" in r.getMessage()]
    assert len(warnings) == 1
    assert "6 BMES tags" in warnings[0] and f"{path}:4, {path}:11, {path}:18, {path}:25, {path}:32, ..." in warnings[0]
    with pytest.raises(DataError, match=r"train\.char\.bmes:4: 'M-ORG' follows 'O'; in BMES"):
        load_corpus(DataConfig(train=str(path), invalid_tags="error"))


def test_load_corpus_refuses_an_unknown_invalid_tags_setting(tmp_path):
    path = write(tmp_path, "a.conll", "EU B-ORG\n")
    with pytest.raises(DataError, match="unknown data.invalid_tags 'fix'"):
        load_corpus(DataConfig(train=str(path), invalid_tags="fix"))


def test_load_corpus_converts_iob1_and_builds_labels(tmp_path):
    path = write(tmp_path, "a.conll", "EU I-ORG\nrejects O\nGerman I-MISC\ncall O\n")
    corpus = load_corpus(DataConfig(train=str(path)))
    assert corpus.scheme == "iob1"
    assert corpus.splits["train"][0]["tags"] == ["B-ORG", "O", "B-MISC", "O"]
    assert corpus.labels == ["O", "B-MISC", "I-MISC", "B-ORG", "I-ORG"]


def test_labels_the_model_will_not_have_are_warned_about(tmp_path, caplog):
    train = write(tmp_path, "train.conll", "EU B-ORG\n")
    dev = write(tmp_path, "dev.conll", "Peter B-PER\n")
    corpus = load_corpus(DataConfig(train=str(train), validation=str(dev)))
    with caplog.at_level(logging.WARNING):
        warn_unseen_labels(corpus.splits, corpus.labels)
    assert "'validation' has labels the model will not have (the train split never has them): B-PER" in caplog.text
    assert corpus.splits["validation"][0]["tags"] == ["B-PER"]  # kept: scored as a missed entity


def test_labels_a_continued_model_keeps_are_not_warned_about(tmp_path, caplog):
    train = write(tmp_path, "train.conll", "EU B-ORG\n")
    dev = write(tmp_path, "dev.conll", "Peter B-PER\n")
    corpus = load_corpus(DataConfig(train=str(train), validation=str(dev)))
    with caplog.at_level(logging.WARNING):
        warn_unseen_labels(corpus.splits, ["O", "B-ORG", "I-ORG", "B-PER", "I-PER"])  # the source head knew PER
    assert "will not have" not in caplog.text


def test_read_jsonl_json_and_parquet(tmp_path):
    records = [{"words": ["EU", "rejects"], "labels": ["B-ORG", "O"]}, {"words": ["Peter"], "labels": ["B-PER"]}]
    jsonl = write(tmp_path, "a.jsonl", "\n".join(json.dumps(r) for r in records) + "\n")
    js = write(tmp_path, "a.json", json.dumps(records))
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(records), tmp_path / "a.parquet")
    import gzip

    gz = tmp_path / "a.jsonl.gz"
    gz.write_bytes(gzip.compress(jsonl.read_bytes()))
    cfg = DataConfig(tokens_field="words", tags_field="labels")
    for path in (jsonl, gz, js, tmp_path / "a.parquet"):
        sentences = read_file(path, cfg)
        assert [s["tokens"] for s in sentences] == [["EU", "rejects"], ["Peter"]], path
        assert [s["tags"] for s in sentences] == [["B-ORG", "O"], ["B-PER"]], path


def test_read_jsonl_errors_name_the_line(tmp_path):
    cfg = DataConfig()
    with pytest.raises(DataError, match=r"a\.jsonl:2: invalid JSON"):
        read_file(write(tmp_path, "a.jsonl", '{"tokens": ["a"], "tags": ["O"]}\n{oops\n'), cfg)
    with pytest.raises(DataError, match=r"b\.jsonl:1: 2 tokens but 1 tags"):
        read_file(write(tmp_path, "b.jsonl", '{"tokens": ["a", "b"], "tags": ["O"]}\n'), cfg)
    with pytest.raises(DataError, match=r"c\.jsonl:1: missing field 'tags'"):
        read_file(write(tmp_path, "c.jsonl", '{"tokens": ["a"], "ner": ["O"]}\n'), cfg)


def test_read_file_unknown_suffix_and_content_asks_for_data_format(tmp_path):
    with pytest.raises(DataError, match="cannot tell the format from the suffix '.xml' or the content; set data.format"):
        read_file(write(tmp_path, "a.xml", "<a/>"), DataConfig())
    with pytest.raises(DataError, match="or the content"):  # columns, but the last one is no tag
        read_file(write(tmp_path, "b", "EU rejects\nGerman call\n"), DataConfig())
    with pytest.raises(DataError, match="or the content"):  # tag-like, but the column count changes
        read_file(write(tmp_path, "c", "EU NNP B-ORG\nrejects O\n"), DataConfig())


@pytest.mark.parametrize(("name", "text"), [
    ("emerging.test.annotated", "-DOCSTART- O\n\n&\tO\nAnna\tB-person\n\nMusk\tI-person\n"),
    ("wikiann-test", "EU B-ORG\nrejects O\n"),
    ("records", '[{"tokens": ["EU", "rejects"], "tags": ["B-ORG", "O"]}]'),
    ("records.data", '{"tokens": ["EU", "rejects"], "tags": ["B-ORG", "O"]}\n'),
])
def test_read_file_without_a_known_suffix_is_recognised_by_content(tmp_path, caplog, name, text):
    with caplog.at_level(logging.INFO, logger="nerkit.data"):
        sentences = read_file(write(tmp_path, name, text), DataConfig())
    assert sentences[0]["tokens"][-1] in ("rejects", "Anna")
    assert [r.getMessage() for r in caplog.records if "no known suffix" in r.getMessage()] == [
        f"{tmp_path / name}: no known suffix; read as {'conll' if 'EU B' in text or '&' in text else 'json' if text[0] == '[' else 'jsonl'}"
        f" (the content is {'whitespace columns ending in a tag' if 'EU B' in text or '&' in text else 'a JSON array' if text[0] == '[' else 'JSON Lines'})"]


def test_read_conll_splits_tab_files_on_tabs_only(tmp_path):
    path = write(tmp_path, "a.tsv", "-LRB-034-RRB-\xa0661-2458\tO\nNew York \t B-LOC\n\u3000\tO\n")
    assert read_conll(path)[0]["tokens"] == ["-LRB-034-RRB-\xa0661-2458", "New York", "\u3000"]


def test_read_conll_keeps_unicode_spaces_inside_space_separated_words(tmp_path):
    path = write(tmp_path, "a.conll", "10\u202f000  \t O\nEU\u2009x B-ORG\n\n\xa0\u3000\n\nnext O\n")
    sentences = read_conll(path)
    assert sentences[0]["tokens"] == ["10\u202f000", "EU\u2009x"] and sentences[1]["tokens"] == ["next"]
    with pytest.raises(DataError, match=r"a\.conll:2: expected 2 columns \(as on line 1\), found 3"):
        read_conll(write(tmp_path, "a.conll", "EU O\nNew York B-LOC\n"))


# Any character but the separators: ASCII space and tab, line ends, the byte-order mark read as a file's start.
cell = st.text(alphabet=st.characters(blacklist_characters=" \t\n\r\ufeff", blacklist_categories=("Cs",)),
               min_size=1, max_size=8).filter(lambda w: not w.isspace() and w != "-DOCSTART-")


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.tuples(cell, st.sampled_from(["O", "B-PER", "I-LOC"])), min_size=1, max_size=6), min_size=1, max_size=5),
       st.sampled_from([" ", "\t", "  \t "]), st.booleans())
def test_read_conll_round_trips_words_with_unicode_spaces(tmp_path_factory, sentences, separator, inner_space):
    if separator != " " and inner_space:  # a tab file's words may hold ASCII spaces too
        sentences = [[(f"{w} {w}", t) for w, t in s] for s in sentences]
    path = tmp_path_factory.mktemp("rt") / "a.conll"
    path.write_text("\n\n".join("\n".join(f"{w}{separator}{t}" for w, t in s) for s in sentences) + "\n",
                    encoding="utf-8", newline="")
    assert [list(zip(s["tokens"], s["tags"])) for s in read_conll(path)] == sentences


words = st.text(alphabet=st.characters(blacklist_categories=("Zs", "Zl", "Zp", "Cc", "Cs")), min_size=1, max_size=8)
tags = st.sampled_from(["O", "B-PER", "I-PER", "B-LOC"])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.tuples(words, tags), min_size=1, max_size=6), min_size=1, max_size=5))
def test_read_conll_round_trips_what_was_written(tmp_path_factory, sentences):
    sentences = [[(w.replace("\ufeff", "x").replace("\x85", "x"), t) for w, t in s] for s in sentences]
    sentences = [[(w, t) for w, t in s if w.split() == [w] and w != "-DOCSTART-"] or [("x", "O")] for s in sentences]
    path = tmp_path_factory.mktemp("rt") / "a.conll"
    path.write_text("\n\n".join("\n".join(f"{w} {t}" for w, t in s) for s in sentences) + "\n", encoding="utf-8")
    read = read_conll(path)
    assert [list(zip(s["tokens"], s["tags"])) for s in read] == sentences


@needs_conll(CONLL_IOB1)
@needs_conll(CONLL)
def test_iob1_and_iob2_conll2003_give_identical_training_labels():
    iob2 = load_corpus(DataConfig(train=str(CONLL / "train.txt"), validation=str(CONLL / "valid.txt"),
                                  test=str(CONLL / "test.txt")))
    iob1 = load_corpus(DataConfig(train=str(CONLL_IOB1 / "eng.train"), validation=str(CONLL_IOB1 / "eng.testa"),
                                  test=str(CONLL_IOB1 / "eng.testb")))
    assert (iob2.scheme, iob1.scheme) == ("iob2", "iob1")
    assert iob1.labels == iob2.labels == ["O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    for split in ("train", "validation", "test"):
        assert [s["tags"] for s in iob1.splits[split]] == [s["tags"] for s in iob2.splits[split]]
        assert [s["document"] for s in iob1.splits[split]] == [s["document"] for s in iob2.splits[split]]
    assert len(iob2.splits["train"]) == 14041 and iob2.splits["train"][-1]["document"] == 945


def test_hub_style_dataset_with_classlabel_tags(tmp_path):
    """`data.dataset` goes through datasets.load_dataset; a local parquet folder stands in for the Hub."""
    from datasets import ClassLabel, Dataset, Features, Sequence, Value

    features = Features({"tokens": Sequence(Value("string")),
                         "ner_tags": Sequence(ClassLabel(names=["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]))})
    for split, rows in (("train", [[("Anna", 1), ("Smith", 2), ("left", 0)]]), ("validation", [[("Paris", 3)]])):
        ds = Dataset.from_dict({"tokens": [[w for w, _ in r] for r in rows], "ner_tags": [[t for _, t in r] for r in rows]},
                               features=features)
        ds.to_parquet(str(tmp_path / f"{split}.parquet"))
    corpus = load_corpus(DataConfig(dataset=str(tmp_path), tags_field="ner_tags"))
    assert corpus.splits["train"][0]["tags"] == ["B-PER", "I-PER", "O"]
    assert corpus.splits["validation"][0]["tokens"] == ["Paris"]


def test_hub_dataset_that_cannot_be_reached_is_a_data_error(monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'my-org/ner' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DataError, match=r"data.dataset 'my-org/ner' cannot be loaded: Couldn't reach"):
        load_corpus(DataConfig(dataset="my-org/ner"))
