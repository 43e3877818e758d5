"""Words -> model inputs: sub-word label alignment and overlapping windows (pure functions).

Each word's first sub-token carries its label; the other sub-tokens get -100 (or, with
`label_all_tokens`, the word's label with B- turned into I-). A sentence longer than the model's
window is cut into overlapping windows at word boundaries, and each word is *owned* by exactly one
window (the overlap is split in the middle), so it is predicted and scored exactly once.
With document context, sub-tokens of the neighbouring sentences of the same document fill the rest
of the window on each side; they are never labelled.

Every feature records `example` (its sentence) and `word_index` (per position: the word it scores,
or -1), which is all that is needed to put predictions back onto words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from .errors import ModelError

if TYPE_CHECKING:
    import numpy as np

IGNORE = -100


@dataclass(frozen=True)
class Window:
    start: int  # first word in the window
    end: int  # one past the last word
    own_start: int  # the words this window scores: [own_start, own_end)
    own_end: int


def special_tokens(tokenizer) -> tuple[list[int], list[int]]:
    """The ids the tokenizer puts before and after a single sequence ([CLS] / [SEP], <s> / </s>, ...)."""
    bare = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a", add_special_tokens=True)["input_ids"]
    for i in range(len(full) - len(bare) + 1):
        if full[i:i + len(bare)] == bare:
            return full[:i], full[i + len(bare):]
    raise ModelError(f"cannot locate the special tokens of {type(tokenizer).__name__}")


def word_pieces(tokenizer, sentences: Sequence[Sequence[str]]) -> list[list[list[int]]]:
    """Sub-token ids of every word. A word the tokenizer turns into nothing (a lone zero-width or
    control character) becomes the unknown token, so that it still gets a prediction."""
    encoded = tokenizer([list(s) for s in sentences], is_split_into_words=True, add_special_tokens=False)
    unk = [tokenizer.unk_token_id if tokenizer.unk_token_id is not None else 0]
    result = []
    for i, words in enumerate(sentences):
        pieces: list[list[int]] = [[] for _ in words]
        for token_id, word in zip(encoded["input_ids"][i], encoded.word_ids(i)):
            if word is not None:
                pieces[word].append(token_id)
        result.append([p or unk for p in pieces])
    return result


def windows(lengths: Sequence[int], budget: int, stride: int) -> list[Window]:
    """Cut words of the given sub-token lengths into windows of at most `budget` sub-tokens that
    overlap by about `stride` sub-tokens. A single word longer than the budget is cut to it."""
    lengths = [min(n, budget) for n in lengths]
    spans: list[tuple[int, int]] = []
    start = 0
    while True:
        end, used = start, 0
        while end < len(lengths) and used + lengths[end] <= budget:
            used += lengths[end]
            end += 1
        spans.append((start, end))
        if end >= len(lengths):
            break
        next_start, shared = end, 0
        while next_start - 1 > start and shared + lengths[next_start - 1] <= stride:
            next_start -= 1
            shared += lengths[next_start]
        start = next_start
    result = []
    for k, (start, end) in enumerate(spans):
        own_start = 0 if k == 0 else (spans[k - 1][1] + start + 1) // 2
        own_end = len(lengths) if k == len(spans) - 1 else (end + spans[k + 1][0] + 1) // 2
        result.append(Window(start, end, own_start, own_end))
    return result


def encode_sentence(pieces: list[list[int]], label_ids: list[int] | None, budget: int, stride: int,
                    label_all_tokens: bool = False, begin_to_inside: dict[int, int] | None = None,
                    left: Sequence[int] = (), right: Sequence[int] = ()) -> list[dict[str, Any]]:
    """One sentence -> features without special tokens: `ids`, `labels`, `word_index`.
    `left` / `right` are context sub-tokens (already cut to size) placed around single-window sentences."""
    features = []
    all_windows = windows([len(p) for p in pieces], budget, stride)
    for window in all_windows:
        ids = list(left) if len(all_windows) == 1 else []
        labels, word_index = [IGNORE] * len(ids), [-1] * len(ids)
        for w in range(window.start, window.end):
            owned = window.own_start <= w < window.own_end
            for j, piece in enumerate(pieces[w][:budget]):
                ids.append(piece)
                word_index.append(w if owned and j == 0 else -1)
                labels.append(_label(label_ids, w, j, owned, label_all_tokens, begin_to_inside))
        if len(all_windows) == 1:
            ids += right
            labels += [IGNORE] * len(right)
            word_index += [-1] * len(right)
        features.append({"ids": ids, "labels": labels, "word_index": word_index})
    return features


def _label(label_ids, w, j, owned, label_all_tokens, begin_to_inside) -> int:
    if label_ids is None or not owned or label_ids[w] == IGNORE:
        return IGNORE
    if j == 0:
        return label_ids[w]
    if label_all_tokens:
        return (begin_to_inside or {}).get(label_ids[w], label_ids[w])
    return IGNORE


@dataclass
class Encoder:
    """Turns batches of sentences into model features; the same object serves training, evaluation
    and prediction, so a word is split, aligned and windowed the same way everywhere."""

    tokenizer: Any
    label2id: dict[str, int]
    max_length: int = 256
    stride: int | None = None  # None: a quarter of the window, at most 32
    label_all_tokens: bool = False
    context_size: int = 0  # sub-tokens of document context on each side; 0 = sentence mode

    def __post_init__(self) -> None:
        self.prefix, self.suffix = special_tokens(self.tokenizer)
        self.budget = self.max_length - len(self.prefix) - len(self.suffix)
        if self.budget < 4:
            raise ValueError(f"max_length={self.max_length} leaves no room for words")
        if self.stride is None:
            self.stride = min(32, self.budget // 4)
        if not 0 <= self.stride < self.budget // 2:
            raise ValueError(f"stride={self.stride} must be at least 0 and less than half the window "
                             f"({self.budget // 2} sub-tokens with a max_length of {self.max_length})")
        self.begin_to_inside = {i: self.label2id.get("I-" + label[2:], i)
                                for label, i in self.label2id.items() if label.startswith("B-")}

    def __call__(self, batch: dict[str, list], indices: list[int]) -> dict[str, list]:
        """A `datasets.map(batched=True, with_indices=True)` function: sentences -> features."""
        all_pieces = word_pieces(self.tokenizer, batch["tokens"])
        contexts = self._contexts(all_pieces, batch.get("document"))
        out: dict[str, list] = {k: [] for k in ("input_ids", "attention_mask", "labels", "length",
                                                "example", "word_index")}
        for k, pieces in enumerate(all_pieces):
            label_ids = None
            if "tags" in batch:
                label_ids = [self.label2id.get(tag, IGNORE) for tag in batch["tags"][k]]
            left, right = contexts[k]
            for feature in encode_sentence(pieces, label_ids, self.budget, self.stride, self.label_all_tokens,
                                           self.begin_to_inside, left, right):
                ids = self.prefix + feature["ids"] + self.suffix
                out["input_ids"].append(ids)
                out["attention_mask"].append([1] * len(ids))
                out["labels"].append(self._pad(feature["labels"]))
                out["word_index"].append(self._pad(feature["word_index"], -1))
                out["length"].append(len(ids))
                out["example"].append(indices[k])
        return out

    def _pad(self, values: list[int], fill: int = IGNORE) -> list[int]:
        return [fill] * len(self.prefix) + values + [fill] * len(self.suffix)

    def _contexts(self, all_pieces, documents) -> list[tuple[list[int], list[int]]]:
        """Neighbouring sentences' sub-tokens of the same document, at most `context_size` a side.
        Context only reaches sentences of the same map batch: map context runs with the whole split
        as one batch."""
        empty: tuple[list[int], list[int]] = ([], [])
        if not self.context_size or documents is None:
            return [empty] * len(all_pieces)
        flat = [[t for word in pieces for t in word] for pieces in all_pieces]
        result = []
        for k, tokens in enumerate(flat):
            room = max(0, self.budget - len(tokens))
            size = min(self.context_size, room // 2)
            if documents[k] < 0 or size == 0:
                result.append(empty)
                continue
            left = _gather(flat, documents, k, -1, size)
            right = _gather(flat, documents, k, +1, size)
            result.append((left, right))
        return result


def _gather(flat, documents, k, step, size) -> list[int]:
    """Up to `size` sub-tokens from sentences k+step, k+2*step, ... of the same document."""
    taken: list[int] = []
    j = k + step
    while 0 <= j < len(flat) and documents[j] == documents[k] and len(taken) < size:
        need = size - len(taken)
        taken = (flat[j][-need:] + taken) if step < 0 else (taken + flat[j][:need])
        j += step
    return taken


def gather_word_scores(scores, examples, word_indices, num_words: Sequence[int]) -> list[np.ndarray]:
    """Feature-level label scores ([positions, labels] per feature) -> one [words, labels] array per example,
    from each word's first sub-token in the window that owns it. Fails loudly if a word has no prediction,
    because silently skipping a word would inflate the scores."""
    import numpy as np

    width = np.shape(scores[0])[-1] if len(scores) else 0
    result = [np.zeros((n, width), dtype=np.float32) for n in num_words]
    filled = [np.zeros(n, dtype=bool) for n in num_words]
    for values, example, index in zip(scores, examples, word_indices):
        index = np.asarray(index)
        positions = np.flatnonzero(index >= 0)
        result[example][index[positions]] = values[positions]
        filled[example][index[positions]] = True
    for example, done in enumerate(filled):
        if not done.all():
            raise RuntimeError(f"example {example}: words {np.flatnonzero(~done)[:10].tolist()} received no prediction")
    return result
