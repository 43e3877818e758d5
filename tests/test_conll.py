"""CoNLL column variants (nerkit/formats/conll.py): word and tag columns, comment lines, BMES character
files, GermEval 2014's two layers, and writing predictions back as columns."""

import io

import pytest

from nerkit.config import DataConfig
from nerkit.data import DataError, load_corpus, read_file
from nerkit.formats.conll import read_conll, write_conll

GERMEVAL = (
    "#\thttp://de.wikipedia.org/wiki/Manfred_Korfmann [2009-10-17]\n"
    "1\tAufgrund\tO\tO\n2\tseiner\tO\tO\n3\tPersönlichkeit\tO\tO\n4\twurde\tO\tO\n5\tKorfmann\tB-PER\tO\n"
    "6\tin\tO\tO\n7\tder\tO\tO\n8\tTürkei\tB-LOC\tO\n9\tals\tO\tO\n10\t#\tO\tO\n\n"
    "#\thttp://www.sueddeutsche.de/muenchen/ [2009-02-14]\n"
    "1\tDer\tO\tO\n2\tFC\tB-ORG\tO\n3\tKickers\tI-ORG\tO\n4\tDarmstadt\tI-ORG\tB-LOC\n5\tspielt\tO\tO\n"
)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_germeval_outer_and_inner_layers(tmp_path):
    path = write(tmp_path, "germeval.tsv", GERMEVAL)
    outer = load_corpus(DataConfig(train=str(path), token_column=1, tag_column=2, comment_prefix="#"))
    inner = load_corpus(DataConfig(train=str(path), token_column=1, tag_column=3, comment_prefix="#"))
    words = [s["tokens"] for s in outer.splits["train"]]
    assert words == [["Aufgrund", "seiner", "Persönlichkeit", "wurde", "Korfmann", "in", "der", "Türkei", "als", "#"],
                     ["Der", "FC", "Kickers", "Darmstadt", "spielt"]]
    assert [s["tokens"] for s in inner.splits["train"]] == words
    assert outer.splits["train"][1]["tags"] == ["O", "B-ORG", "I-ORG", "I-ORG", "O"]
    assert inner.splits["train"][1]["tags"] == ["O", "O", "O", "B-LOC", "O"]
    assert outer.labels == ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    assert inner.labels == ["O", "B-LOC", "I-LOC"]
    assert outer.splits["train"][1]["document"] == -1


def test_comment_lines_keep_line_numbers_in_errors(tmp_path):
    path = write(tmp_path, "g.tsv", "# source\n1\tEU\tB-ORG\tO\n# another\n2\trejects\tX-ORG\tO\n")
    with pytest.raises(DataError, match=r"g\.tsv:4: malformed tag 'X-ORG'"):
        load_corpus(DataConfig(train=str(path), token_column=1, tag_column=2, comment_prefix="#"))


def test_a_comment_line_without_comment_prefix_is_an_error_with_a_hint(tmp_path):
    path = write(tmp_path, "g.tsv", GERMEVAL)
    with pytest.raises(DataError, match=r"g\.tsv:1: data.tag_column=2 but lines have 2 columns.*set data.comment_prefix"):
        read_conll(path, tag_column=2, token_column=1)  # the comment line's tab makes it 2 columns
    with pytest.raises(DataError, match=r"g\.tsv:2: expected 2 columns.*set data.comment_prefix"):
        read_conll(path, tag_column=1)


def test_token_column_reads_the_word_from_another_column(tmp_path):
    path = write(tmp_path, "a.conll", "1 EU B-ORG\n2 rejects O\n")
    sentences = read_conll(path, token_column=1)
    assert sentences[0]["tokens"] == ["EU", "rejects"] and sentences[0]["tags"] == ["B-ORG", "O"]
    with pytest.raises(DataError, match=r"a\.conll:1: data.token_column=3 but lines have 3 columns"):
        read_conll(path, token_column=3)
    with pytest.raises(DataError, match="data.token_column and data.tag_column are the same column"):
        read_conll(path, token_column=2)


def test_bmes_character_file_is_read_detected_and_converted(tmp_path):
    text = "北 B-LOC\n京 E-LOC\n的 O\n王 B-PER\n小 M-PER\n明 E-PER\n去 O\n沪 S-LOC\n。 O\n"
    for suffix in (".bmes", ".char"):
        corpus = load_corpus(DataConfig(train=str(write(tmp_path, "train" + suffix, text))))
        assert corpus.scheme == "bmes"
        assert corpus.splits["train"][0]["tokens"] == list("北京的王小明去沪。")
        assert corpus.splits["train"][0]["tags"] == ["B-LOC", "I-LOC", "O", "B-PER", "I-PER", "I-PER", "O", "B-LOC", "O"]


def test_read_file_passes_the_conll_options(tmp_path):
    path = write(tmp_path, "u.conllu", "# sent_id = 1\n# text = EU rejects\n1\tEU\tB-ORG\n2\trejects\tO\n")
    cfg = DataConfig(format="conll", token_column=1, comment_prefix="#")
    assert read_file(path, cfg)[0]["tokens"] == ["EU", "rejects"]


def test_write_conll_tags_every_word_once():
    results = [{"text": "Anna Smith visited New York.", "entities": [
        {"label": "LOC", "start": 19, "end": 27}, {"label": "PER", "start": 0, "end": 10}]},
        {"text": "北京很大", "entities": [{"label": "LOC", "start": 0, "end": 2}]}, {"text": "", "entities": []}]
    out = io.StringIO()
    write_conll(results, out)
    assert out.getvalue() == ("Anna\tB-PER\nSmith\tI-PER\nvisited\tO\nNew\tB-LOC\nYork\tI-LOC\n.\tO\n\n"
                              "北\tB-LOC\n京\tI-LOC\n很\tO\n大\tO\n\n\n")


def test_write_conll_adjacent_entities_of_one_type_stay_apart():
    out = io.StringIO()
    write_conll([{"text": "Anna Bob", "entities": [{"label": "PER", "start": 0, "end": 4},
                                                    {"label": "PER", "start": 5, "end": 8}]}], out)
    assert out.getvalue() == "Anna\tB-PER\nBob\tB-PER\n\n"


def test_write_conll_is_reexported_for_predict():
    from nerkit import documents

    assert documents.write_conll is write_conll


def test_write_conll_work_grows_linearly_with_entities_and_words():
    from test_text import traced_lines

    def document(n):
        text = "Anna met Bob . " * n
        return [{"text": text, "entities": [{"label": "PER", "start": 15 * k, "end": 15 * k + 4} for k in range(n)]}]

    work = [traced_lines(write_conll, document(n), io.StringIO()) for n in (100, 400)]
    assert work[1] <= 4.5 * work[0], work
