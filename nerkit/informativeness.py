"""Which unlabelled texts a model would learn most from: informativeness strategies over its word label
probabilities, and a top-k that holds only the best `k` texts while a pool streams past.

    scores, ids = text's sentences' [words, labels] log-probabilities and the label ids the Tagger chose
    informativeness("entropy", scores, ids)             # higher: label this text first
    best = TopK(200, diversity=0.7)
    best.offer(score, record, words)                    # for every text of the pool
    best.ranked()                                       # [(score, record)], most informative first

Strategies (each a score per text; Settles & Craven 2008, Shen et al. 2017):
- `entropy`: the mean over the text's words of each word's label entropy (nats), so long texts are not
  favoured for being long;
- `least-confidence`: 1 - the probability of the predicted tags (the product of their word probabilities);
- `mnlp`: maximum normalised log-probability, negated: -(1/n) * sum of log p(predicted tag), n words;
- `random`: a seeded random number, the control arm.
Word probabilities are those the Tagger decodes from (the softmax over labels of each word's first
sub-token; for a CRF head its per-word emissions). numpy only, imported when first used: `nerkit --help`
reads STRATEGIES.
"""

from __future__ import annotations

import hashlib
import heapq
import random
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Sequence

from .errors import UsageError

if TYPE_CHECKING:
    import numpy as np

STRATEGIES = ("entropy", "least-confidence", "mnlp", "random")
SIGNATURE = 64  # MinHash values per text: a Jaccard similarity estimate within about 0.06 (1 sd at 0.5)


def check_strategy(strategy: str) -> str:
    if strategy not in STRATEGIES:
        raise UsageError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    return strategy


def informativeness(strategy: str, scores: Sequence[np.ndarray], chosen: Sequence[np.ndarray],
                    rng: random.Random | None = None) -> float | None:
    """One text's score from its sentences' [words, labels] log-probabilities and chosen label ids; None
    for a text without words (nothing to label)."""
    import numpy as np

    check_strategy(strategy)
    words = sum(len(s) for s in scores)
    if not words:
        return None
    if strategy == "random":
        return (rng or random).random()
    if strategy == "entropy":
        return sum(_entropy(s) for s in scores) / words
    log_p = sum(float(np.take_along_axis(s, np.asarray(c)[:, None], 1).sum()) for s, c in zip(scores, chosen))
    if strategy == "least-confidence":
        return 1.0 - float(np.exp(log_p))
    return -log_p / words  # mnlp


def _entropy(log_probs: np.ndarray) -> float:
    import numpy as np

    probs = np.exp(log_probs)
    return float(-(probs * np.where(probs > 0, log_probs, 0.0)).sum())


@lru_cache(maxsize=1)
def _masks() -> np.ndarray:
    import numpy as np

    return np.random.default_rng(20170101).integers(0, 2 ** 63, SIGNATURE, dtype=np.uint64)


def minhash(words: Sequence[str]) -> np.ndarray:
    """A MinHash signature of a text's set of lower-cased words: the fraction of equal positions of two
    signatures estimates the Jaccard similarity of the two sets."""
    import numpy as np

    items = sorted({w.lower() for w in words})
    if not items:
        return np.full(SIGNATURE, np.iinfo(np.uint64).max, dtype=np.uint64)
    hashes = np.array([int.from_bytes(hashlib.blake2b(w.encode("utf-8"), digest_size=8).digest(), "little")
                       for w in items], dtype=np.uint64)
    mixed = hashes[:, None] ^ _masks()[None, :]  # one hash function per mask: xor, then a 64-bit mix
    with np.errstate(over="ignore"):
        mixed = (mixed ^ (mixed >> np.uint64(31))) * np.uint64(0x9E3779B97F4A7C15)
        mixed = (mixed ^ (mixed >> np.uint64(29))) * np.uint64(0xBF58476D1CE4E5B9)
    return mixed.min(0)


class TopK:
    """The `k` best offers seen so far, in memory of `k` items (a heap). Equal scores: the earlier offer
    wins. With `diversity` (0-1), an offer whose words' estimated Jaccard similarity to a held one
    reaches it keeps only the better of the two, so no two picks are near-duplicates; a held text pushed
    out by a better near-duplicate leaves a slot that later texts fill."""

    def __init__(self, k: int, diversity: float | None = None):
        if k < 1:
            raise UsageError(f"the budget must be a positive number of texts, got {k}")
        if diversity is not None and not 0 < diversity <= 1:
            raise UsageError(f"--diversity is a Jaccard similarity in (0, 1], got {diversity}")
        self.k, self.diversity = k, diversity
        self.offers = 0
        self._heap: list[tuple[float, int, Any, Any]] = []  # (score, -order, item, signature): worst first

    def offer(self, score: float, item: Any, words: Sequence[str] | None = None) -> None:
        order, self.offers = self.offers, self.offers + 1
        entry = (score, -order)
        if len(self._heap) >= self.k and entry <= self._heap[0][:2]:
            return
        signature = None
        if self.diversity is not None:
            signature = minhash(words or [])
            near = [held for held in self._heap if float((held[3] == signature).mean()) >= self.diversity]
            if any(held[:2] > entry for held in near):
                return  # a better near-duplicate is already held
            if near:
                self._heap = [held for held in self._heap if not any(held is n for n in near)]
                heapq.heapify(self._heap)
        heapq.heappush(self._heap, (score, -order, item, signature))
        if len(self._heap) > self.k:
            heapq.heappop(self._heap)

    def ranked(self) -> list[tuple[float, Any]]:
        """(score, item), most informative first."""
        return [(score, item) for score, _, item, _ in sorted(self._heap, key=lambda h: h[:2], reverse=True)]

    def state(self) -> list[list]:
        """The held offers as JSON-ready lists (what a resumed run starts from); items must be JSON values."""
        return [[score, -negative, item, None if sig is None else sig.tolist()]
                for score, negative, item, sig in self._heap]

    def restore(self, state: list[list], offers: int) -> None:
        import numpy as np

        self._heap = [(score, -order, item, None if sig is None else np.array(sig, dtype=np.uint64))
                      for score, order, item, sig in state]
        heapq.heapify(self._heap)
        self.offers = offers
