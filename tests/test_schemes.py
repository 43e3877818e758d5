import pytest
from hypothesis import given, settings, strategies as st

from nerkit.schemes import SchemeError, detect_scheme, from_iob2, label_list, spans, to_iob2

TYPES = ["PER", "LOC", "ORG"]


@st.composite
def iob2_sequences(draw):
    """Random valid IOB2 sentences: a run of entities and O's, adjacent same-type entities included."""
    tags = []
    for _ in range(draw(st.integers(1, 12))):
        if draw(st.booleans()):
            tags.append("O")
        else:
            kind = draw(st.sampled_from(TYPES))
            tags += [f"B-{kind}"] + [f"I-{kind}"] * draw(st.integers(0, 3))
    return tags


def iob2_to_iob1(tags):
    out = []
    for i, tag in enumerate(tags):
        if tag.startswith("B-") and not (i > 0 and tags[i - 1] != "O" and tags[i - 1][2:] == tag[2:]):
            out.append("I-" + tag[2:])
        else:
            out.append(tag)
    return out


def iob2_to_bioes(tags):
    out = []
    for i, tag in enumerate(tags):
        nxt = tags[i + 1] if i + 1 < len(tags) else "O"
        ends = not nxt.startswith("I-")
        if tag == "O":
            out.append(tag)
        elif tag.startswith("B-"):
            out.append(("S-" if ends else "B-") + tag[2:])
        else:
            out.append(("E-" if ends else "I-") + tag[2:])
    return out


@given(iob2_sequences())
def test_schemes_iob1_converts_to_the_same_iob2(tags):
    assert to_iob2(iob2_to_iob1(tags), "iob1") == tags


@given(iob2_sequences())
def test_schemes_bioes_and_bilou_convert_to_the_same_iob2(tags):
    bioes = iob2_to_bioes(tags)
    assert to_iob2(bioes, "bioes") == tags
    bilou = [t.replace("E-", "L-").replace("S-", "U-") for t in bioes]
    assert to_iob2(bilou, "bilou") == tags


@given(iob2_sequences())
def test_schemes_iob2_is_unchanged_and_detected(tags):
    assert to_iob2(tags, "iob2") == tags
    assert detect_scheme([tags]) == "iob2"


def test_schemes_detects_iob1_bioes_bilou():
    assert detect_scheme([["I-PER", "I-PER", "O"]]) == "iob1"
    assert detect_scheme([["I-PER", "B-PER"], ["O", "I-LOC"]]) == "iob1"
    assert detect_scheme([["S-PER", "O"]]) == "bioes"
    assert detect_scheme([["U-PER", "O"]]) == "bilou"


def test_schemes_iob1_adjacent_same_type_entities_stay_apart():
    assert to_iob2(["I-PER", "I-PER", "B-PER", "O", "I-LOC"], "iob1") == ["B-PER", "I-PER", "B-PER", "O", "B-LOC"]


def test_schemes_io_merges_runs():
    assert to_iob2(["I-PER", "I-PER", "O", "I-LOC", "I-ORG"], "io") == ["B-PER", "I-PER", "O", "B-LOC", "B-ORG"]


def test_schemes_invalid_tag_in_iob2_names_where():
    with pytest.raises(SchemeError, match=r"f\.conll:12: 'I-PER' follows 'O'.*IOB1.*invalid_tags: repair"):
        to_iob2(["O", "I-PER"], "iob2", lambda i: f"f.conll:{11 + i}")


def test_schemes_detects_iob2_with_a_few_broken_tags_as_iob2():
    assert detect_scheme([["B-PER", "I-PER"], ["O", "I-LOC"], ["B-ORG", "O"]]) == "iob2"


# (scheme, tags as in the file, IOB2 as conlleval reads them, positions repaired)
REPAIRS = [
    ("iob2", ["O", "I-PER", "I-PER"], ["O", "B-PER", "I-PER"], [1]),
    ("iob2", ["B-PER", "I-LOC", "O"], ["B-PER", "B-LOC", "O"], [1]),
    ("iob2", ["I-PER"], ["B-PER"], [0]),
    ("iob2", ["B-PER", "I-PER", "O", "I-PER"], ["B-PER", "I-PER", "O", "B-PER"], [3]),
    ("bioes", ["O", "I-ORG", "E-ORG"], ["O", "B-ORG", "I-ORG"], [1]),
    ("bioes", ["O", "E-ORG", "O"], ["O", "B-ORG", "O"], [1]),
    ("bioes", ["S-PER", "E-PER"], ["B-PER", "B-PER"], [1]),
    ("bioes", ["B-PER", "E-PER", "I-PER", "E-PER"], ["B-PER", "I-PER", "B-PER", "I-PER"], [2]),
    ("bioes", ["B-PER", "I-LOC", "E-LOC"], ["B-PER", "B-LOC", "I-LOC"], [1]),
    ("bmes", ["O", "M-ORG", "E-ORG"], ["O", "B-ORG", "I-ORG"], [1]),
    ("bmes", ["E-LOC", "S-LOC"], ["B-LOC", "B-LOC"], [0]),
    ("bmes", ["B-ORG", "M-ORG", "E-ORG", "M-ORG", "E-ORG"], ["B-ORG", "I-ORG", "I-ORG", "B-ORG", "I-ORG"], [3]),
    ("bilou", ["O", "L-PER"], ["O", "B-PER"], [1]),
    ("bmes", ["B-ORG", "M-ORG", "E-ORG"], ["B-ORG", "I-ORG", "I-ORG"], []),
]


@pytest.mark.parametrize(("scheme", "tags", "iob2", "where"), REPAIRS)
def test_schemes_repair_reads_broken_continuations_as_conlleval(scheme, tags, iob2, where):
    repaired = []
    assert to_iob2(tags, scheme, lambda i: i, repaired) == iob2
    assert repaired == where
    if where:
        with pytest.raises(SchemeError, match="follows"):
            to_iob2(tags, scheme)


@pytest.mark.parametrize(("scheme", "tags", "iob2", "where"), REPAIRS)
def test_schemes_repair_gives_seqevals_entities(scheme, tags, iob2, where):
    from seqeval.metrics.sequence_labeling import get_entities

    as_bioes = [{"M": "I", "L": "E", "U": "S"}.get(t[0], t[0]) + t[1:] for t in tags]  # seqeval knows BIOES letters
    assert spans(iob2) == [(k, s, e + 1) for k, s, e in get_entities(as_bioes)]


def test_schemes_bioes_prefix_not_allowed_in_iob2():
    with pytest.raises(SchemeError, match="'S-PER' is not valid in IOB2"):
        to_iob2(["S-PER"], "iob2")


def test_schemes_malformed_tag():
    with pytest.raises(SchemeError, match="malformed tag 'PERSON'"):
        to_iob2(["PERSON"], "iob2")


def test_schemes_bioes_continuation_must_continue():
    with pytest.raises(SchemeError, match="must continue a PER entity"):
        to_iob2(["S-PER", "E-PER"], "bioes")


def test_schemes_label_list_is_deterministic():
    assert label_list([["B-ORG", "O"], ["B-LOC", "I-LOC"]]) == ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
    assert label_list([["B-LOC", "I-LOC"], ["B-ORG", "O"]]) == label_list([["B-ORG", "O"], ["B-LOC", "I-LOC"]])


def test_schemes_spans_stray_inside_opens_entity():
    assert spans(["O", "I-PER", "I-PER", "B-LOC", "O", "B-LOC", "I-ORG"]) == [
        ("PER", 1, 3), ("LOC", 3, 4), ("LOC", 5, 6), ("ORG", 6, 7)]


TAGS = st.sampled_from(["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "E-PER", "S-LOC", "I-ORG", "B-ORG"])


@settings(deadline=None)  # the first example imports seqeval (and scikit-learn)
@given(st.lists(TAGS, max_size=30))
def test_spans_agree_with_seqeval_get_entities(tags):
    from seqeval.metrics.sequence_labeling import get_entities

    assert spans(tags) == [(kind, start, end + 1) for kind, start, end in get_entities(list(tags))]
def iob2_to_bmes(tags):
    return [t.replace("I-", "M-") for t in iob2_to_bioes(tags)]


@given(iob2_sequences())
def test_schemes_bmes_and_w_single_forms_convert_to_the_same_iob2(tags):
    bmes = iob2_to_bmes(tags)
    assert to_iob2(bmes, "bmes") == tags
    assert to_iob2([t.replace("S-", "W-") for t in bmes], "bmes") == tags
    assert to_iob2([t.replace("S-", "W-") for t in iob2_to_bioes(tags)], "bioes") == tags


@given(iob2_sequences(), st.sampled_from(["iob2", "iob1", "bioes", "bmes", "bilou"]))
def test_schemes_from_iob2_is_the_inverse_of_to_iob2(tags, scheme):
    written = from_iob2(tags, scheme)
    assert to_iob2(written, scheme) == tags
    expected = {"iob2": tags, "iob1": iob2_to_iob1(tags), "bioes": iob2_to_bioes(tags), "bmes": iob2_to_bmes(tags)}
    assert written == expected.get(scheme, written)


def test_schemes_bmes_both_ways_on_a_character_level_sentence():
    chars = ["B-PER", "M-PER", "E-PER", "O", "S-LOC", "B-ORG", "E-ORG", "W-LOC"]
    iob2 = ["B-PER", "I-PER", "I-PER", "O", "B-LOC", "B-ORG", "I-ORG", "B-LOC"]
    assert detect_scheme([chars]) == "bmes"
    assert to_iob2(chars, "bmes") == iob2
    assert from_iob2(iob2, "bmes") == [t.replace("W-", "S-") for t in chars]


def test_schemes_detects_bmes_and_w_singles():
    assert detect_scheme([["B-PER", "M-PER", "E-PER"]]) == "bmes"
    assert detect_scheme([["W-PER", "O"]]) == "bioes"


def test_schemes_m_tag_in_iob2_suggests_bmes():
    with pytest.raises(SchemeError, match=r"'M-CONT' is not valid in IOB2.*set data.scheme: bmes"):
        to_iob2(["B-CONT", "M-CONT"], "iob2")
    with pytest.raises(SchemeError, match="'I-PER' is not valid in BMES"):
        to_iob2(["B-PER", "I-PER"], "bmes")
    with pytest.raises(SchemeError, match="must continue a PER entity"):
        to_iob2(["O", "M-PER"], "bmes")


def test_schemes_from_iob2_unknown_scheme():
    with pytest.raises(SchemeError, match="unknown tag scheme 'bmeow'"):
        from_iob2(["O"], "bmeow")
