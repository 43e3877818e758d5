"""Word-level label scores -> tags that respect IOB2: constrained Viterbi (the default) or argmax.

    decoder = Decoder(labels)                             # softmax head: forbidden transitions -inf, others 0
    decoder = Decoder(labels, crf=Transitions(s, e, t))   # CRF head: learned scores, forbidden ones masked
    ids, probs = decoder([scores_of_sentence_1, ...])     # [words, labels] log-probabilities per sentence

IOB2 is nerkit's internal scheme: a sentence starts as if after `O`, and `I-X` only follows `B-X` or
`I-X`. The decoder sees whole sentences (after windows are stitched), so a word has one label however
the windows cut it. numpy only: every engine (PyTorch, ONNX Runtime) and training's evaluation use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .errors import UsageError

DECODINGS = ("viterbi", "argmax")
DEFAULT_DECODING = "viterbi"  # also for runs saved before the choice was stored
BATCH = 256  # sentences decoded together (sorted by length, so padding stays small)


class DecodingError(UsageError):
    """An unknown decoding."""


def check_decoding(decoding: str, where: str = "decoding") -> str:
    if decoding not in DECODINGS:
        raise DecodingError(f"{where} must be {' or '.join(DECODINGS)}, got {decoding!r}")
    return decoding


def may_follow(previous: str, tag: str) -> bool:
    """The IOB2 rule: `I-X` only follows `B-X` or `I-X` (a sentence starts as if after `O`)."""
    return not tag.startswith("I-") or previous in ("B-" + tag[2:], tag)


def allowed(labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Which labels may open a sentence [L], and which may follow which [from, to] (booleans)."""
    start = np.array([may_follow("O", label) for label in labels])
    transitions = np.array([[may_follow(previous, label) for label in labels] for previous in labels])
    return start, transitions


def invalid_transitions(tags: Sequence[str]) -> int:
    """How many tags of one sentence break IOB2."""
    return sum(not may_follow(previous, tag) for previous, tag in zip(["O", *tags], tags))


@dataclass
class Transitions:
    """A CRF's learned scores: opening a sentence [L], closing it [L], label to label [from, to]."""
    start: np.ndarray
    end: np.ndarray
    transitions: np.ndarray

    def to_dict(self) -> dict[str, list]:
        return {k: np.asarray(v, dtype=np.float32).tolist() for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, value: dict[str, list]) -> "Transitions":
        return cls(*(np.asarray(value[k], dtype=np.float32) for k in ("start", "end", "transitions")))


class Decoder:
    """Label ids and their probabilities for each word of each sentence."""

    def __init__(self, labels: Sequence[str], decoding: str = DEFAULT_DECODING, crf: Transitions | None = None):
        self.decoding = check_decoding(decoding)
        start_ok, transitions_ok = allowed(labels)
        learned = crf or Transitions(np.zeros(len(labels)), np.zeros(len(labels)), np.zeros((len(labels),) * 2))
        self.start = np.where(start_ok, learned.start, -np.inf).astype(np.float32)
        self.transitions = np.where(transitions_ok, learned.transitions, -np.inf).astype(np.float32)
        self.end = np.asarray(learned.end, dtype=np.float32)

    def __call__(self, scores: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per sentence, [words, labels] log-probabilities -> (label ids [words], their probabilities [words])."""
        ids = [s.argmax(-1) for s in scores] if self.decoding == "argmax" else self.viterbi(scores)
        probs = [np.exp(np.take_along_axis(s, i[:, None], 1)[:, 0]) for s, i in zip(scores, ids)]
        return ids, probs

    def viterbi(self, scores: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The best allowed path of every sentence, in batches of sentences of similar length."""
        paths: list[np.ndarray] = [np.zeros(0, dtype=np.intp)] * len(scores)
        order = sorted((i for i in range(len(scores)) if len(scores[i])), key=lambda i: len(scores[i]))
        for begin in range(0, len(order), BATCH):
            chunk = order[begin:begin + BATCH]
            lengths = np.array([len(scores[i]) for i in chunk])
            padded = np.zeros((len(chunk), lengths.max(), self.transitions.shape[0]), dtype=np.float32)
            for row, i in enumerate(chunk):
                padded[row, :lengths[row]] = scores[i]
            best = viterbi(padded, lengths, self.start, self.transitions, self.end)
            for row, i in enumerate(chunk):
                paths[i] = best[row, :lengths[row]]
        return paths


def viterbi(emissions: np.ndarray, lengths: np.ndarray, start: np.ndarray, transitions: np.ndarray,
            end: np.ndarray) -> np.ndarray:
    """emissions [B, T, L] (padded after each sentence's length, lengths >= 1), scores of opening [L],
    of each transition [from, to] and of closing [L] -> the best label ids [B, T] (padding repeats the last)."""
    batch, steps, size = emissions.shape
    score = start + emissions[:, 0]
    back = np.empty((batch, steps, size), dtype=np.intp)
    stay = np.arange(size)
    for t in range(1, steps):
        candidates = score[:, :, None] + transitions  # [B, from, to]
        best = candidates.argmax(1)
        live = (t < lengths)[:, None]  # past its end a sentence keeps its score and label
        score = np.where(live, np.take_along_axis(candidates, best[:, None], 1)[:, 0] + emissions[:, t], score)
        back[:, t] = np.where(live, best, stay)
    path = np.empty((batch, steps), dtype=np.intp)
    path[:, -1] = (score + end).argmax(1)
    for t in range(steps - 1, 0, -1):
        path[:, t - 1] = np.take_along_axis(back[:, t], path[:, t, None], 1)[:, 0]
    return path
