"""Is system A better than system B on the same sentences? Paired tests on nerkit.bootstrap's per-sentence
entity counts (one counter: the sums are `metrics.score`'s counts), overall (micro F1) and per type.

    a, b = sentence_counts(gold, pred_a, types=types), sentence_counts(gold, pred_b, types=types)
    paired_bootstrap(a, b)             # F1 difference A - B, its 95% interval, two-sided p-value
    approximate_randomisation(a, b)    # the same p-value question by swapping the two systems' outputs
    welch(f1s_a, f1s_b)                # per-seed F1s of two seeded runs: Welch's t-test on their means

The paired bootstrap (Berg-Kirkpatrick et al., 2012) draws the same sentences for both systems in each
resample; its p-value is the share of resamples whose difference, centred on the observed one, is at
least as far from it as the observed difference is from zero. Approximate randomisation (Noreen, 1989;
Dror et al., 2018) swaps A's and B's output of each sentence with probability 1/2 and counts how often
the absolute difference is at least the observed one. Both p-values are (1 + hits) / (1 + draws), so
neither is ever 0, and identical systems get 1.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .bootstrap import SentenceCounts, f1, resample_weights, resampled_totals
from .errors import MetricError

CHUNK = 1000  # resamples per matrix product: memory stays at CHUNK x sentences


def observed(counts: SentenceCounts) -> np.ndarray:
    """Micro F1 then each type's F1 from the column sums: [micro, type 1, type 2, ...]."""
    return scores(counts.true_positives.sum(0)[None], counts.predicted.sum(0)[None], counts.gold.sum(0)[None])[0]


def scores(tp: np.ndarray, predicted: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """(draws, types) totals -> (draws, 1 + types) F1: micro first, then per type."""
    micro = f1(tp.sum(1), predicted.sum(1), gold.sum(1))
    return np.column_stack([micro, f1(tp, predicted, gold)])


def check_paired(a: SentenceCounts, b: SentenceCounts) -> None:
    if a.types != b.types or a.sentences != b.sentences:
        raise MetricError(f"paired tests need the same sentences and types for both systems (got {a.sentences} "
                          f"and {b.sentences} sentences, types {list(a.types)} and {list(b.types)})")


def chunks(draws: int, seed: int):
    """(size, generator seed) of each chunk of draws, all derived from `seed`: the same seed, the same draws."""
    children = np.random.SeedSequence(seed).spawn((draws + CHUNK - 1) // CHUNK)
    for i, child in enumerate(children):
        yield min(CHUNK, draws - i * CHUNK), int(child.generate_state(1)[0])


def paired_bootstrap(a: SentenceCounts, b: SentenceCounts, resamples: int = 10_000, seed: int = 0,
                     confidence: float = 0.95) -> dict[str, Any]:
    """A - B on micro F1 and each type's F1: observed difference, percentile interval, two-sided p-value."""
    check_paired(a, b)
    diff = observed(a) - observed(b)
    deltas = []
    for size, chunk_seed in chunks(resamples, seed):
        weights = resample_weights(a.sentences, size, chunk_seed)  # the same draws for both systems
        deltas.append(scores(*resampled_totals(a, weights)) - scores(*resampled_totals(b, weights)))
    delta = np.concatenate(deltas)
    low, high = np.quantile(delta, [(1 - confidence) / 2, (1 + confidence) / 2], axis=0)
    hits = (np.abs(delta - diff) >= np.abs(diff) - 1e-12).sum(0)
    p = (1 + hits) / (1 + resamples)
    return by_name(a.types, difference=diff, low=low, high=high, p=p) | {"resamples": resamples, "seed": seed,
                                                                        "confidence": confidence}


def approximate_randomisation(a: SentenceCounts, b: SentenceCounts, trials: int = 10_000,
                              seed: int = 0) -> dict[str, Any]:
    """Two-sided p-value of A - B on micro F1 and each type's F1, by random swaps of whole sentences."""
    check_paired(a, b)
    diff = np.abs(observed(a) - observed(b))
    sides_a = [a.true_positives, a.predicted, a.gold]
    gaps = [b.true_positives - a.true_positives, b.predicted - a.predicted, b.gold - a.gold]
    totals_a, totals_b = [s.sum(0) for s in sides_a], [s.sum(0) for s in (b.true_positives, b.predicted, b.gold)]
    hits = np.zeros_like(diff)
    for size, chunk_seed in chunks(trials, seed):
        swap = np.random.default_rng(chunk_seed).integers(0, 2, size=(size, a.sentences)).astype(np.float64)
        moved = [np.rint(swap @ g).astype(np.int64) for g in gaps]  # what the swapped sentences move from B to A
        shuffled_a = scores(*[t + m for t, m in zip(totals_a, moved)])
        shuffled_b = scores(*[t - m for t, m in zip(totals_b, moved)])
        hits += (np.abs(shuffled_a - shuffled_b) >= diff - 1e-12).sum(0)
    return by_name(a.types, p=(1 + hits) / (1 + trials)) | {"trials": trials, "seed": seed}


def by_name(types: Sequence[str], **columns: np.ndarray) -> dict[str, Any]:
    """Arrays over [micro, types...] -> {"micro": {...}, "per_type": {type: {...}}}."""
    rows = [{name: float(values[i]) for name, values in columns.items()} for i in range(len(types) + 1)]
    return {"micro": rows[0], "per_type": dict(zip(types, rows[1:]))}


def welch(f1s_a: Sequence[float], f1s_b: Sequence[float]) -> dict[str, Any]:
    """Welch's t-test on two seeded runs' per-seed F1 (unequal variances): difference of means, t, df, p."""
    if len(f1s_a) < 2 or len(f1s_b) < 2:
        raise MetricError(f"Welch's t-test needs at least 2 seeds a side (got {len(f1s_a)} and {len(f1s_b)})")
    means = {"mean_a": float(np.mean(f1s_a)), "mean_b": float(np.mean(f1s_b)),
             "difference": float(np.mean(f1s_a) - np.mean(f1s_b)), "seeds_a": len(f1s_a), "seeds_b": len(f1s_b)}
    if np.ptp(f1s_a) == 0 and np.ptp(f1s_b) == 0:  # no spread on either side: t is undefined (or infinite)
        return {**means, "t": None, "df": None, "p": 1.0 if means["difference"] == 0 else 0.0}
    from scipy.stats import ttest_ind

    result = ttest_ind(f1s_a, f1s_b, equal_var=False)
    return {**means, "t": float(result.statistic), "df": float(result.df), "p": float(result.pvalue)}
