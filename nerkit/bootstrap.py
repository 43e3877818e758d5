"""Per-sentence entity counts and the sentence bootstrap: confidence intervals for entity F1.

The unit of resampling is the sentence (entities in one sentence are not independent draws). Each
sentence's true positives, predicted and gold entities per type are counted once, with seqeval's own
entity readers (the rules of `nerkit.metric`: `default` = conlleval, `strict` = strict IOB2), so the
column sums give exactly the counts behind `metrics.score`. A resample is then a vector of how often
each sentence is drawn, and every resampled total is one matrix product:

    counts = sentence_counts(gold_tags, predicted_tags)
    intervals = f1_intervals(counts, resamples=1000, seed=0)    # {"micro": (lo, hi), "macro": ..., "per_type": {...}}

    weights = resample_weights(counts.sentences, 1000, seed=0)  # paired tests: the same draws for two systems
    f1(*resampled_totals(counts_a, weights)) - f1(*resampled_totals(counts_b, weights))

Two systems are compared on the same sentences with `types=` set to the same tuple for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .errors import MetricError
from .seqeval_metric import as_iob2, check_lengths, check_mode, check_scheme

Interval = tuple[float, float]


@dataclass(frozen=True)
class SentenceCounts:
    """Entity counts per sentence (rows) and type (columns, `types`), as int64 arrays."""

    types: tuple[str, ...]
    true_positives: np.ndarray
    predicted: np.ndarray
    gold: np.ndarray

    @property
    def sentences(self) -> int:
        return self.gold.shape[0]


def sentence_entities(tags: Sequence[Sequence[str]], mode: str = "default") -> list[set[tuple[str, int, int]]]:
    """(type, first word, last word) of every entity, one set per sentence, read as seqeval reads them."""
    if mode == "strict":
        from seqeval.scheme import IOB2, Entities

        return [{(e.tag, e.start, e.end - 1) for e in sentence}
                for sentence in Entities([list(t) for t in tags], IOB2).entities]
    from seqeval.metrics.sequence_labeling import get_entities

    return [set(get_entities(list(sentence))) for sentence in tags]


def sentence_counts(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], mode: str = "default",
                    scheme: str = "IOB2", types: Sequence[str] | None = None) -> SentenceCounts:
    """Count, per sentence and type, the predicted entities that are exactly right (type and both
    boundaries), the predicted ones and the gold ones. `types` defaults to every type seen in either."""
    mode, scheme = check_mode(mode), check_scheme(scheme)
    gold, pred = [list(s) for s in gold], [list(s) for s in pred]
    check_lengths(gold, pred)
    gold_sets = sentence_entities(as_iob2(gold, scheme, "references"), mode)
    pred_sets = sentence_entities(as_iob2(pred, scheme, "predictions"), mode)
    seen = sorted({e[0] for s in gold_sets + pred_sets for e in s})
    types = tuple(seen if types is None else types)
    if missing := set(seen) - set(types):
        raise MetricError(f"entity types {sorted(missing)} are not among the types to count {list(types)}")
    column = {kind: i for i, kind in enumerate(types)}
    counts = np.zeros((3, len(gold), len(types)), dtype=np.int64)
    for row, (gold_set, pred_set) in enumerate(zip(gold_sets, pred_sets)):
        for side, entities in enumerate((gold_set & pred_set, pred_set, gold_set)):
            for entity in entities:
                counts[side, row, column[entity[0]]] += 1
    return SentenceCounts(types, *counts)


def f1(true_positives, predicted, gold) -> np.ndarray:
    """Elementwise F1 = 2·tp / (predicted + gold); 0 where there is no entity (seqeval's zero_division=0)."""
    tp, total = np.asarray(true_positives, float), np.asarray(predicted, float) + np.asarray(gold, float)
    return np.divide(2 * tp, total, out=np.zeros_like(total), where=total > 0)


def resample_weights(sentences: int, resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """(resamples, sentences): how many times each sentence is drawn in each resample (with replacement)."""
    if sentences < 1 or resamples < 1:
        raise MetricError(f"a bootstrap needs at least one sentence and one resample "
                          f"(got {sentences} sentences, {resamples} resamples)")
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, sentences, size=(resamples, sentences))
    flat = (drawn + np.arange(resamples)[:, None] * sentences).ravel()
    return np.bincount(flat, minlength=resamples * sentences).reshape(resamples, sentences)


def resampled_totals(counts: SentenceCounts, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True positives, predicted and gold per resample and type: three (resamples, types) arrays."""
    w = np.asarray(weights, dtype=np.float64)
    return tuple(np.rint(w @ side).astype(np.int64) for side in (counts.true_positives, counts.predicted, counts.gold))


def f1_intervals(counts: SentenceCounts, resamples: int = 1000, seed: int = 0,
                 confidence: float = 0.95) -> dict:
    """Percentile intervals of micro F1, macro F1 (mean over `types`) and each type's F1."""
    if not 0 < confidence < 1:
        raise MetricError(f"confidence must be between 0 and 1 (got {confidence})")
    tp, predicted, gold = resampled_totals(counts, resample_weights(counts.sentences, resamples, seed))
    per_type = f1(tp, predicted, gold)
    micro = f1(tp.sum(axis=1), predicted.sum(axis=1), gold.sum(axis=1))
    macro = per_type.mean(axis=1) if counts.types else np.zeros(resamples)
    return {"micro": percentile_interval(micro, confidence), "macro": percentile_interval(macro, confidence),
            "per_type": {kind: percentile_interval(per_type[:, i], confidence) for i, kind in enumerate(counts.types)},
            "resamples": resamples, "seed": seed, "confidence": confidence}


def percentile_interval(values: np.ndarray, confidence: float = 0.95) -> Interval:
    """The central `confidence` share of a bootstrap distribution."""
    low, high = np.quantile(values, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)
