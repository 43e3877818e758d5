"""How well the raw-text word splitter reproduces the words of a labelled corpus.

A model scored on gold words is used on raw text through `nerkit.text.split_words`. Where the splitter
cuts a text differently from the corpus, raw-text predictions differ from the word-level scores. This
module writes each sentence out as natural text (words joined by a space, none between two CJK
characters), splits it again and counts the gold words that come back exactly (same start and end).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from .text import is_cjk, split_words

logger = logging.getLogger(__name__)
THRESHOLD = 0.99  # below this share, training warns that raw-text predictions will differ


@dataclass
class Agreement:
    words: int = 0
    reproduced: int = 0
    mismatches: Counter = field(default_factory=Counter)  # "gold word -> pieces" -> count

    @property
    def share(self) -> float:
        return self.reproduced / self.words if self.words else 1.0

    def most_common(self, n: int = 5) -> list[str]:
        return [f"{example} ({count}x)" for example, count in self.mismatches.most_common(n)]

    def to_dict(self, n: int = 5) -> dict:
        return {"share": round(self.share, 6), "words": self.words, "reproduced": self.reproduced,
                "mismatches": self.most_common(n)}


def natural_text(tokens: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    """The sentence as it would be written, and the character span of each token in it."""
    parts, spans, position = [], [], 0
    for i, token in enumerate(tokens):
        if i and not (is_cjk(tokens[i - 1][-1]) and is_cjk(token[0])):
            parts.append(" ")
            position += 1
        parts.append(token)
        spans.append((position, position + len(token)))
        position += len(token)
    return "".join(parts), spans


def measure(sentences: Iterable[Sequence[str]]) -> Agreement:
    """Share of gold words the splitter reproduces over every sentence, with the words it cuts otherwise."""
    result = Agreement()
    for tokens in sentences:
        text, spans = natural_text(tokens)
        words = split_words(text)
        found = {(w.start, w.end) for w in words}
        result.words += len(spans)
        for token, span in zip(tokens, spans):
            if span in found:
                result.reproduced += 1
            else:
                result.mismatches[_describe(token, span, words)] += 1
    return result


def _describe(token: str, span: tuple[int, int], words) -> str:
    """'S.AFRICA -> S. | AFRICA': the gold word and the splitter's words that overlap it."""
    pieces = [w.text for w in words if w.start < span[1] and w.end > span[0]]
    return f"{token} -> {' | '.join(pieces)}"


def check(splits: dict[str, Iterable[Sequence[str]]]) -> dict[str, dict]:
    """Measure each split (name -> sentences of words), log the share, warn below THRESHOLD; for nerkit.json."""
    report = {}
    for name, sentences in splits.items():
        result = measure(sentences)
        report[name] = result.to_dict()
        logger.info("raw text: nerkit's word splitter reproduces %.2f%% of the %s words (%d of %d)",
                    100 * result.share, name, result.reproduced, result.words)
        if result.share < THRESHOLD:
            logger.warning("raw text will be split differently from the %s data (%.2f%% of its words reproduced): "
                           "predictions on raw text will differ from the word-level scores. Most frequent: %s",
                           name, 100 * result.share, "; ".join(result.most_common()))
    return report
