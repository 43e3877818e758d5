import unicodedata

from hypothesis import given, settings, strategies as st

from nerkit.text import Word, split_sentences, split_words


def words(text):
    return [w.text for w in split_words(text)]


def test_split_words_follows_conll_tokenisation():
    assert words("Germany's U.S.-based firm didn't pay $1,000.50 (Rolls-Royce).") == [
        "Germany", "'s", "U.S.", "-", "based", "firm", "did", "n't", "pay", "$", "1,000.50", "(", "Rolls-Royce", ")", "."]


def test_split_words_keeps_conll_abbreviations_numbers_and_list_items_whole():
    text = "1. M. Schumacher ( Mr. Smith 's Ferrari Inc. ) won 2-0 on 1996-12-06 ... -- .500 +44 C$ S&P 3-year-old"
    assert words(text) == ["1.", "M.", "Schumacher", "(", "Mr.", "Smith", "'s", "Ferrari", "Inc.", ")", "won", "2-0",
                           "on", "1996-12-06", "...", "--", ".500", "+44", "C$", "S&P", "3-year-old"]
    assert words("It ended 2-1. Then Group B.") == ["It", "ended", "2-1", ".", "Then", "Group", "B", "."]
    assert words("won 1. Then") == ["won", "1", ".", "Then"]  # a list number only at the start of a line


def test_split_words_keeps_unicode_words_and_odd_characters():
    assert words("Zürich\u200bis  café\tnaïve") == ["Zürich", "\u200b", "is", "café", "naïve"]


@given(st.text(max_size=200))
def test_split_words_offsets_are_exact(text):
    for word in split_words(text):
        assert text[word.start:word.end] == word.text and word.text.strip() == word.text and word.text


@given(st.text(max_size=200))
def test_split_sentences_keeps_every_word_in_order(text):
    all_words = split_words(text)
    assert [w for s in split_sentences(all_words, text) for w in s] == all_words


def test_split_sentences_at_full_stops_and_blank_lines():
    text = 'He left. "She stayed." It rained on 3 May. in town\n\nNew paragraph'
    sentences = [[w.text for w in s] for s in split_sentences(split_words(text), text)]
    assert sentences == [["He", "left", "."], ['"', "She", "stayed", ".", '"'], ["It", "rained", "on", "3", "May", ".", "in", "town"],
                         ["New", "paragraph"]]  # a lower-case word after a full stop continues the sentence
    text = 'I see him there . "\nHe said . " We left .'
    sentences = [[w.text for w in s] for s in split_sentences(split_words(text), text)]
    assert sentences == [["I", "see", "him", "there", ".", '"'], ["He", "said", "."], ['"', "We", "left", "."]]


def sentences(text):
    return [[w.text for w in s] for s in split_sentences(split_words(text), text)]


# The table, one test per row: what training data of each language has.
def test_chinese_is_one_word_per_character_and_ends_sentences_without_a_space():
    text = "习近平昨天在北京会见了美国总统拜登。然后他去了上海。"
    assert words(text) == list(text)
    assert sentences(text) == [list("习近平昨天在北京会见了美国总统拜登。"), list("然后他去了上海。")]


def test_hindi_words_keep_their_vowel_signs_and_viramas():
    text = "नरेंद्र मोदी दिल्ली में रहते हैं।"
    assert words(text) == ["नरेंद्र", "मोदी", "दिल्ली", "में", "रहते", "हैं", "।"]
    assert sentences("नरेंद्र मोदी। वह गए।") == [["नरेंद्र", "मोदी", "।"], ["वह", "गए", "।"]]  # । ends, uncased


def test_thai_marks_stay_on_their_letters():
    assert words("สวัสดีครับ ผมชื่อสมชาย") == ["สวัสดีครับ", "ผมชื่อสมชาย"]


def test_decomposed_accents_stay_in_their_word():
    assert words("Cafe\u0301 nai\u0308ve") == ["Cafe\u0301", "nai\u0308ve"]


def test_german_quotes_close_the_sentence_they_end():
    assert sentences("Er sagte: „Angela Merkel kommt.“ Dann ging er.") == [
        ["Er", "sagte", ":", "„", "Angela", "Merkel", "kommt", ".", "“"], ["Dann", "ging", "er", "."]]


def test_closing_quotes_of_every_convention():
    assert sentences("Il dit. « Bonjour. » Puis il part.") == [["Il", "dit", "."], ["«", "Bonjour", ".", "»"],
                                                              ["Puis", "il", "part", "."]]
    assert sentences("他说：“我们走吧。”然后走了。") == [list("他说：“我们走吧。”"), list("然后走了。")]
    assert sentences("「行きます。」と言った。東京へ！") == [list("「行きます。」と言った。"), list("東京へ！")]


def test_kana_full_width_forms_and_their_marks_are_one_word_per_character():
    assert words("東京タワーへ２０２３年ＮＨＫ") == list("東京タワーへ２０２３年ＮＨＫ")
    assert words(unicodedata.normalize("NFD", "がギ")) == ["か\u3099", "キ\u3099"]
    assert words("Hello!我们 2023年") == ["Hello", "!", "我", "们", "2023", "年"]  # digits in spaced scripts stay whole


def test_whitespace_is_what_str_strip_removes():
    spaces = "".join(chr(c) for c in range(0x3100) if chr(c).isspace())
    assert split_words(f"a{spaces}b") == [Word("a", 0, 1), Word("b", len(spaces) + 1, len(spaces) + 2)]


LATIN = "abcdefgzAÉZéèçñøıß"
mixed_text = st.text(alphabet=st.sampled_from(
    list(LATIN) + list("习近平北京会见。！？上海東京") + list("ひらがなカタカナー々ＡＢ１２") + list("नरेंद्रमोदीहैं।")
    + list("สวัสดีครับ") + list("한국어서울") + list("Жизньمرحبا") + list(" \n\t\u3000.,!?'\"“”„«»」『-()$0123")
    + ["\u0301", "\u0308", "\u0323", "\u3099", "\u200d", "\u200b"]), max_size=60)


@settings(max_examples=300, deadline=None)
@given(st.one_of(mixed_text, st.text(max_size=60)))
def test_split_words_property_exact_offsets_every_character_covered(text):
    found = split_words(text)
    for word in found:
        assert text[word.start:word.end] == word.text and word.text.strip() == word.text and word.text
    assert "".join(w.text for w in found) == "".join(text.split())  # nothing but whitespace is left out


@settings(max_examples=300, deadline=None)
@given(st.one_of(mixed_text, st.text(max_size=60)))
def test_split_words_property_marks_stay_on_their_base_and_cjk_is_per_character(text):
    for word in split_words(text):
        if unicodedata.category(word.text[0]).startswith("M"):
            assert word.start == 0 or text[word.start - 1].isspace()  # only a mark with no base at all
        if any(is_cjk_letter(c) for c in word.text):
            assert len(word.text.rstrip("".join(c for c in word.text if unicodedata.category(c).startswith("M")))) == 1


def is_cjk_letter(character):
    name = unicodedata.name(character, "")
    return name.startswith(("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH", "HIRAGANA LETTER",
                            "KATAKANA LETTER", "FULLWIDTH LATIN", "FULLWIDTH DIGIT"))


@settings(max_examples=300, deadline=None)
@given(mixed_text)
def test_split_words_property_nfc_and_nfd_give_the_same_words(text):
    nfc, nfd = unicodedata.normalize("NFC", text), unicodedata.normalize("NFD", text)
    assert [unicodedata.normalize("NFC", w.text) for w in split_words(nfd)] == [w.text for w in split_words(nfc)]


@settings(max_examples=200, deadline=None)
@given(mixed_text)
def test_split_sentences_property_keeps_every_word_of_mixed_scripts(text):
    all_words = split_words(text)
    assert [w for s in split_sentences(all_words, text) for w in s] == all_words


def traced_lines(fn, *args):
    """How many lines of Python run inside `fn`: a measure of work that does not depend on the machine's speed."""
    import sys

    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        fn(*args)
    finally:
        sys.settrace(None)
    return count


def test_split_sentences_work_grows_linearly_on_adversarial_lines():
    """Closing brackets and quotes after a full stop once made it walk back over the whole sentence."""
    for piece in (") ", '" ', ". ) ", "。」"):
        small, large = piece * 200, piece * 800
        work = [traced_lines(split_sentences, split_words(text), text) for text in (small, large)]
        assert work[1] <= 4.5 * work[0], (piece, work)


def test_split_words_keeps_conll_ties_and_abbreviations_without_their_last_stop():
    assert words("10= Tom Lehman ( U.S ) 1=80") == ["10=", "Tom", "Lehman", "(", "U.S", ")", "1", "=", "80"]
