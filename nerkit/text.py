"""Raw text -> words with character offsets, split the way CoNLL-2003 was tokenised, and sentences.

Punctuation is split from words, clitics stand alone ("Germany 's", "does n't"); abbreviations
("U.S.", "Mr.", initials), numbered list items ("1.") and numbers, scores and dates ("1,000.5", "2-0",
"1996-12-06") stay whole, as they do in the CoNLL-2003 files. `text[start:end]` is always the word itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ABBREVIATIONS = ("Mr Mrs Ms Dr Prof St Mt Ft Jr Sr Lt Col Gen Sgt Capt Rev Gov Sen Rep Inc Corp Ltd Co Bros vs "
                 "Jan Feb Aug Sept Oct Nov Dec Calif Fla Mich").split()
WORD_RE = re.compile(
    r"""(?:[^\W\d_]\.){2,}                  # U.S. , e.g.
      | (?i:%s)\.(?=\s)                     # Mr. Inc. Calif. vs. ST.
      | [A-Z]\.(?=\s+[A-Z])                  # an initial: M. Johnson
      | ^\d{1,3}\.(?=[ \t])                  # a numbered list item at the start of a line: 1. Schumacher
      | (?:(?<!\S)\+)?(?:\d+(?:[-.,:/]\d+)*|\.\d+)(?![^\W_]|-[^\W_])  # 1,000.5 12:30 1/2 2-0 1996-12-06 .500 +44
      | [A-Z]{1,3}\$ | [A-Z]+&[A-Z]+         # US$ C$ S&P AT&T
      | \.{2,} | -{2,}                       # ... --
      | [^\W_]+(?=n't\b)                    # does|n't
      | n't\b | ['’](?:s|S|re|ve|ll|d|m)\b  # clitics
      | [^\W_]+(?:(?:-|['’](?!(?:s|S|re|ve|ll|d|m)\b))[^\W_]+)*  # words; inner - and ' kept (Rolls-Royce, O'Neill, 3-year-old)
      | \S                                  # any other character: punctuation, symbols, zero-width marks
    """ % "|".join(ABBREVIATIONS),
    re.VERBOSE | re.MULTILINE,
)
SENTENCE_END = {".", "!", "?"}
CLOSERS = {'"', "'", ")", "]", "}", "”", "’", "»"}


@dataclass(frozen=True)
class Word:
    text: str
    start: int
    end: int


def split_words(text: str) -> list[Word]:
    return [Word(m.group(), m.start(), m.end()) for m in WORD_RE.finditer(text)]


def split_sentences(words: list[Word], text: str) -> list[list[Word]]:
    """Sentence ends after . ! ? (and any closing quotes or brackets) when the next word begins a new
    line or starts with an upper-case letter, a digit or an opening quote; blank lines always end a
    sentence. A straight quote after a full stop that ends its line is taken as closing."""
    sentences: list[list[Word]] = []
    current: list[Word] = []
    for i, word in enumerate(words):
        current.append(word)
        following = words[i + 1] if i + 1 < len(words) else None
        if following is None or _breaks(current, following, text):
            sentences.append(current)
            current = []
    return sentences


def _breaks(current: list[Word], following: Word, text: str) -> bool:
    gap = text[current[-1].end:following.start]
    if gap.count("\n") >= 2 or (gap.count("\n") == 1 and current[-1].text in SENTENCE_END | CLOSERS):
        return True
    k = len(current) - 1
    while k > 0 and current[k].text in CLOSERS:
        k -= 1
    ends = current[k].text in SENTENCE_END
    if following.text in ('"', "'") and not text[following.end:].split("\n", 1)[0].strip():
        return False  # a quote that ends its line closes this sentence: ... he said . "
    return ends and bool(gap) and (following.text[0].isupper() or following.text[0].isdigit()
                                   or following.text[0] in "\"'“(")
