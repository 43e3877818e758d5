"""Raw text -> words with character offsets, and sentences, in any script.

English follows CoNLL-2003's tokenisation: punctuation is split from words, clitics stand alone
("Germany 's", "does n't"); abbreviations ("U.S.", "Mr.", initials), numbered list items ("1.") and
numbers, scores and dates ("1,000.5", "2-0", "1996-12-06") stay whole. Every script keeps a letter's
combining marks on it (Devanagari, Thai, decomposed accents: NFC and NFD text give the same words), and
Chinese/Japanese ideographs, kana and full-width forms are one word per character, as character-level
corpora annotate them and as BERT's basic tokenizer splits them. The text itself is never normalised:
`text[start:end]` is always the word. Both functions run in time linear in the length of the text.
"""

from __future__ import annotations

from typing import NamedTuple

import regex

ABBREVIATIONS = ("Mr Mrs Ms Dr Prof St Mt Ft Jr Sr Lt Col Gen Sgt Capt Rev Gov Sen Rep Inc Corp Ltd Co Bros vs "
                 "Jan Feb Aug Sept Oct Nov Dec Calif Fla Mich").split()
# Python's str.isspace (what str.strip removes) is Unicode White_Space plus the separators \x1c-\x1f.
SPACE = r"\s\x1c-\x1f"
# One word per character: ideographs, kana (with the prolonged-sound mark), bopomofo, full-width forms.
CJK = r"[[\p{Han}\p{Hiragana}\p{Katakana}\p{Bopomofo}\p{ea=F}\u30fc\uff70]--[\p{M}%s]]" % SPACE
# What may sit next to a CJK character without a space in natural text: CJK and its punctuation (。「」、).
CJK_TEXT = regex.compile(r"%s|[\p{Block=CJK_Symbols_And_Punctuation}\uff61-\uff65--%s]" % (CJK, SPACE), regex.V1)
MARKS = r"[\p{M}\u200c\u200d]*"  # combining marks and the joiners that Indic and Persian words contain
ALNUM = r"[[\p{L}\p{N}]--%s]" % CJK  # a letter or digit of a spaced script
# A run of letters and digits with their marks: one character class repeated, never a repeated group, so
# that failing (does|n't) costs one step per character: backtracking into a repeated group takes quadratic
# time in `regex`. For the same reason numbers are bounded (40 digits, 20 separators; a longer run of
# digits is a word all the same), so a failing number costs a constant at each position.
RUN = r"%s[[\p{L}\p{N}\p{M}\u200c\u200d]--%s]*" % (ALNUM, CJK)
LETTER = r"[\p{L}--%s]%s" % (CJK, MARKS)
DIGIT = r"[\p{Nd}--\p{ea=F}]"
CLITIC = r"(?:s|S|re|ve|ll|d|m)\b"  # after an apostrophe
WORD_RE = regex.compile(
    r"""(?:(?:LETTER\.){2,}                          # U.S. , e.g.
      | (?i:ABBREVIATIONS)\.(?=\s)                # Mr. Inc. Calif. vs. ST.
      | [A-Z]\.(?=\s+[A-Z])                       # an initial: M. Johnson
      | ^\d{1,3}\.(?=[ \t])                       # a numbered list item at the start of a line: 1. Schumacher
      | (?:[A-Z]\.)+[A-Z](?![\p{L}\p{N}\p{M}.])   # U.S without its last full stop
      | DIGIT+=(?![^SPACE])                       # a tie in a results table: 10= Tom Lehman
      | (?:(?<!\S)\+)?(?:DIGIT{1,40}(?:[-.,:/]DIGIT{1,40}){0,20}|\.DIGIT{1,40})(?!-?ALNUM)  # 1,000.5 12:30 2-0 .500
      | [A-Z]{1,3}\$ | [A-Z]+&[A-Z]+              # US$ C$ S&P AT&T
      | \.{2,} | -{2,}                            # ... --
      | RUN(?=n't\b)                              # does|n't
      | n't\b | ['’]CLITIC                           # clitics
      | RUN(?:(?:-|['’](?!CLITIC))RUN)*            # words; inner - and ' kept (Rolls-Royce, O'Neill, 3-year-old)
      | CJK                                       # 北 京: one ideograph, kana or full-width form at a time
      | [^SPACE]                                  # any other character: punctuation, symbols, zero-width marks
    )\p{M}*                                       # with the combining marks that follow it
    """.replace("ABBREVIATIONS", "|".join(ABBREVIATIONS)).replace("CLITIC", CLITIC).replace("RUN", RUN)
       .replace("ALNUM", ALNUM)
       .replace("LETTER", LETTER).replace("DIGIT", DIGIT).replace("CJK", CJK).replace("SPACE", SPACE),
    regex.VERBOSE | regex.MULTILINE | regex.V1,
)
# `.` `!` `?` end a sentence before a space and a word that can start one; these end it in any case.
SENTENCE_END = {".", "!", "?"}
STRONG_END = {"。", "！", "？", "｡", "।", "॥"}
# Closing quotes and brackets of every convention stay with the sentence they close: "…" “…” „…“ «…» »…« 「…」
CLOSERS = {'"', "'", ")", "]", "}", "”", "’", "“", "«", "»", "‘", "」", "』", "）", "］", "｝", "】", "〕", "〉", "》", "〗", "〙"}
HIRAGANA = regex.compile(r"\p{Hiragana}")
EITHER = {'"', "'", "“", "‘", "«"}  # closing or opening, depending on the language and the space before
ENDS = SENTENCE_END | STRONG_END
OPENERS = "\"'“‘„‚«([{「『（［｛【〔〈《"


class Word(NamedTuple):  # a tuple: built once per word of every text, several times cheaper than a dataclass
    text: str
    start: int
    end: int


def split_words(text: str) -> list[Word]:
    return [Word(m.group(), m.start(), m.end()) for m in WORD_RE.finditer(text)]


def is_cjk(character: str) -> bool:
    """True for a character that natural text writes without spaces around it (ideographs, kana, 。「」)."""
    return CJK_TEXT.match(character) is not None


def split_sentences(words: list[Word], text: str, newlines: str = "auto") -> list[list[Word]]:
    """Sentence ends after . ! ? (and any closing quotes or brackets) when the next word begins a new
    line, starts with an upper-case or uncased letter, a digit or an opening quote, or is a CJK character;
    after 。！？ and । it ends whatever follows (no space needed). Blank lines always end a sentence; a
    single newline ends one as `newlines` says (nerkit/lines.py). A straight quote after a full stop that
    ends its line is taken as closing. One pass over the words."""
    from .lines import line_ends

    ends_line = line_ends(text, newlines)
    sentences: list[list[Word]] = []
    current: list[Word] = []
    ending = None  # the last word of `current` that is not a closer, when it ends a sentence
    for i, word in enumerate(words):
        if not current or word.text not in CLOSERS:
            ending = word.text if word.text in ENDS else None
        current.append(word)
        following = words[i + 1] if i + 1 < len(words) else None
        after = words[i + 2] if i + 2 < len(words) else None
        if following is None or _breaks(word, ending, following, after, text, ends_line):
            sentences.append(current)
            current, ending = [], None
    return sentences


def _breaks(last: Word, ending: str | None, following: Word, after: Word | None, text: str, ends_line) -> bool:
    gap = text[last.end:following.start]  # only whitespace: the words cover every other character
    newlines = gap.count("\n")
    if newlines >= 2 or (newlines == 1 and (last.text in ENDS or last.text in CLOSERS or ends_line(last.end))):
        return True
    if ending is None or following.text in ENDS or (following.text in CLOSERS and following.text not in EITHER):
        return False
    if following.text in ('"', "'") and (after is None or "\n" in text[following.end:after.start]):
        return False  # a quote that ends its line closes this sentence: ... he said . "
    if ending in STRONG_END:  # 「行きます。」と言った: a particle after the closing quote continues the sentence
        return not (last.text in CLOSERS and HIRAGANA.match(following.text) is not None)
    if following.text in EITHER:
        return bool(gap)  # after a space it opens the next sentence, right after the full stop it closes this one
    first = following.text[0]
    return is_cjk(first) or bool(gap) and (first.isupper() or first.isdigit() or first in OPENERS
                                           or (first.isalpha() and not first.islower()))  # uncased: Devanagari
