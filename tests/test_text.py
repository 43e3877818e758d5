from hypothesis import given, strategies as st

from nerkit.text import split_sentences, split_words


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
