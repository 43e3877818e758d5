"""Calibrated entity scores: the probability that a predicted entity is exactly right.

An entity's raw score is the mean probability of the labels decoding chose for its words. A curve fitted
on a validation split's decoded entities (score -> 1 if type and both boundaries match a gold entity, else
0) maps it to that probability: one curve per entity type with enough validation entities, one over all
types for the others. Two kinds of curve: isotonic regression (any non-decreasing step shape) and Platt
scaling (a logistic curve of the score's logit: two numbers per type, smoother, harder to overfit).
`method="auto"` fits both on 5 folds of the entities and keeps the one whose held-out ECE is lower.
A curve is stored as its breakpoints in nerkit.json and applied with `numpy.interp`, so every engine
(PyTorch, ONNX Runtime, serve, corpus runs) applies it identically without scipy.

    calibrator = fit(kinds, raw_scores, correct, fitted_on="valid.txt")            # method="auto"
    calibrator.apply("PER", 0.93)                                  # -> 0.97
    expected_calibration_error(probabilities, correct)            # 10 equal-width bins
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Sequence

import numpy as np

from .errors import UsageError

MIN_PER_TYPE = 100  # validation entities a type needs for a curve of its own; fewer: the overall curve
BINS = 10
METHODS = ("auto", "isotonic", "platt")
FOLDS = 5  # method="auto": folds of the fitting entities, each scored by curves fitted on the others
# where a Platt curve is sampled: even steps, and ever finer ones towards 1, where most entity scores are
PLATT_GRID = np.unique(np.round(np.concatenate([np.linspace(0.0, 1.0, 51), 1.0 - np.geomspace(1e-4, 0.5, 60)]), 6))


@dataclass
class Curve:
    """A non-decreasing piecewise-linear map from raw score to probability (clipped at both ends)."""
    scores: list[float]
    probabilities: list[float]

    def __call__(self, raw) -> np.ndarray:
        return np.interp(raw, self.scores, self.probabilities)


@dataclass
class Calibrator:
    """What nerkit.json's `calibrator` holds: the method, the curves, and what they were fitted on."""
    overall: Curve
    per_type: dict[str, Curve] = field(default_factory=dict)
    method: Literal["isotonic", "platt"] = "isotonic"
    fitted_on: str | None = None
    entities: int = 0  # decoded validation entities the curves were fitted on
    cross_validated_ece: dict[str, float] | None = None  # method="auto": each method's held-out ECE

    def apply(self, kind: str, raw: float) -> float:
        return float(self.per_type.get(kind, self.overall)(raw))

    def apply_many(self, kinds: Sequence[str], raw: Sequence[float]) -> np.ndarray:
        kinds, raw, out = np.asarray(kinds, dtype=object), np.asarray(raw, dtype=float), np.empty(len(raw))
        for kind in set(kinds.tolist()):
            chosen = kinds == kind
            out[chosen] = self.per_type.get(kind, self.overall)(raw[chosen])
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> Calibrator:
        curves = {k: Curve(**c) for k, c in (value.get("per_type") or {}).items()}
        return cls(**{**value, "overall": Curve(**value["overall"]), "per_type": curves})


def fit_curve(raw: Sequence[float], correct: Sequence[bool]) -> Curve:
    """Isotonic regression (scipy's pool-adjacent-violators) of correctness on raw score; only the ends
    of each constant stretch are kept, so the curve has a few dozen points, not one per entity."""
    from scipy.optimize import isotonic_regression

    raw, correct = np.asarray(raw, dtype=float), np.asarray(correct, dtype=float)
    if raw.size == 0:
        raise UsageError("no predicted entities to calibrate on")
    x, index, counts = np.unique(raw, return_inverse=True, return_counts=True)
    mean = np.bincount(index, weights=correct) / counts  # tied scores pooled first
    y = np.clip(isotonic_regression(mean, weights=counts.astype(float)).x, 0.0, 1.0)
    keep = np.ones(len(x), dtype=bool)
    keep[1:-1] = (y[1:-1] != y[:-2]) | (y[1:-1] != y[2:])
    return Curve([round(v, 6) for v in x[keep].tolist()], [round(v, 6) for v in y[keep].tolist()])


def fit_platt(raw: Sequence[float], correct: Sequence[bool]) -> Curve:
    """Platt scaling: P(right) = sigmoid(a * logit(score) + b), a >= 0, fitted by maximum likelihood on
    Platt's smoothed targets ((n+ + 1) / (n+ + 2) for right, 1 / (n- + 2) for wrong: finite a and b even
    when every entity is right)."""
    from scipy.optimize import minimize
    from scipy.special import expit, logit

    raw, correct = np.asarray(raw, dtype=float), np.asarray(correct, dtype=bool)
    if raw.size == 0:
        raise UsageError("no predicted entities to calibrate on")
    z = logit(np.clip(raw, 1e-6, 1 - 1e-6))
    right = correct.sum()
    target = np.where(correct, (right + 1) / (right + 2), 1 / (raw.size - right + 2))

    def loss(ab):  # negative log-likelihood and its gradient
        t = ab[0] * z + ab[1]
        residual = expit(t) - target
        return np.sum(np.logaddexp(0.0, t) - target * t), np.array([residual @ z, residual.sum()])

    a, b = minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B", bounds=[(0.0, None), (None, None)]).x
    probabilities = expit(a * logit(np.clip(PLATT_GRID, 1e-6, 1 - 1e-6)) + b)
    return Curve(PLATT_GRID.tolist(), [round(v, 6) for v in probabilities.tolist()])


CURVES = {"isotonic": fit_curve, "platt": fit_platt}


def fit(kinds: Sequence[str], raw: Sequence[float], correct: Sequence[bool], fitted_on: str | None = None,
        min_per_type: int = MIN_PER_TYPE, method: str = "auto") -> Calibrator:
    """One curve over all entities, and one per type that has at least `min_per_type` of them; with
    method="auto", of the kind whose held-out ECE over FOLDS folds is lower (isotonic on a tie)."""
    if method not in METHODS:
        raise UsageError(f"calibration method {method!r}: expected one of {', '.join(METHODS)}")
    kinds, raw, correct = np.asarray(kinds, dtype=object), np.asarray(raw, dtype=float), np.asarray(correct, bool)
    cross_validated = None
    if method == "auto":
        cross_validated = {m: held_out_ece(kinds, raw, correct, m, min_per_type) for m in CURVES}
        method = min(CURVES, key=lambda m: (cross_validated[m], m != "isotonic"))
    curve = CURVES[method]
    per_type = {kind: curve(raw[kinds == kind], correct[kinds == kind])
                for kind in sorted(set(kinds.tolist())) if (kinds == kind).sum() >= min_per_type}
    return Calibrator(curve(raw, correct), per_type, method, fitted_on, int(raw.size), cross_validated)


def held_out_ece(kinds: np.ndarray, raw: np.ndarray, correct: np.ndarray, method: str, min_per_type: int,
                 folds: int = FOLDS, seed: int = 0) -> float:
    """The mean over `folds` seeded folds of the entities of the ECE of curves fitted on the other folds."""
    fold = np.random.default_rng(seed).permutation(raw.size) % folds
    errors = []
    for k in range(folds):
        train, held = fold != k, fold == k
        if held.any() and train.any():
            calibrator = fit(kinds[train], raw[train], correct[train], None, min_per_type, method)
            errors.append(expected_calibration_error(calibrator.apply_many(kinds[held], raw[held]), correct[held]))
    return round(float(np.mean(errors)), 6) if errors else float("inf")


def reliability(probabilities: Sequence[float], correct: Sequence[bool], bins: int = BINS) -> list[dict[str, Any]]:
    """Equal-width bins over [0, 1] (the last one closed): entities, mean score and share correct."""
    p, ok = np.asarray(probabilities, dtype=float), np.asarray(correct, dtype=float)
    which = np.minimum((p * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        chosen = which == b
        n = int(chosen.sum())
        rows.append({"low": b / bins, "high": (b + 1) / bins, "entities": n,
                     "mean_score": float(p[chosen].mean()) if n else None,
                     "accuracy": float(ok[chosen].mean()) if n else None})
    return rows


def expected_calibration_error(probabilities: Sequence[float], correct: Sequence[bool], bins: int = BINS) -> float:
    """Σ over bins of (entities in bin / all) · |share correct − mean score|; 0 with no entity."""
    rows = reliability(probabilities, correct, bins)
    total = sum(r["entities"] for r in rows)
    return sum(r["entities"] / total * abs(r["accuracy"] - r["mean_score"]) for r in rows if r["entities"]) if total else 0.0


def entity_score(kind: str, word_probabilities: Sequence[float], calibrator: Calibrator | None = None) -> float:
    """An entity's score: the mean probability of its words' chosen labels, calibrated when the model has
    a calibrator (then: the probability that the entity is exactly right). Rounded to 4 decimals: the score
    every output shows is the one thresholds compare, so filtering an output's entities by score gives
    what the Tagger's own threshold gives."""
    raw = round(sum(word_probabilities) / len(word_probabilities), 4)
    return round(calibrator.apply(kind, raw), 4) if calibrator is not None else raw


@dataclass
class LabelledEntities:
    """The decoded entities of a labelled set, in sentence order: type, words' probabilities, and whether
    type and both boundaries match a gold entity; with the number of gold entities per type."""
    kinds: list[str]
    word_probabilities: list[list[float]]
    correct: np.ndarray
    gold: dict[str, int]

    def scores(self, calibrator: Calibrator | None = None) -> np.ndarray:
        return np.array([entity_score(k, p, calibrator) for k, p in zip(self.kinds, self.word_probabilities)])


def labelled_entities(gold_tags: Sequence[Sequence[str]], tagged: Sequence[Sequence[tuple[str, float]]]) -> LabelledEntities:
    """Decoded (label, probability) words against gold tags, entities read as `metrics.score` reads them."""
    from collections import Counter

    from .schemes import spans

    kinds, probabilities, correct, gold = [], [], [], Counter()
    for gold_row, words in zip(gold_tags, tagged):
        truth = set(spans(gold_row))
        gold.update(kind for kind, _, _ in truth)
        for kind, first, last in spans([tag for tag, _ in words]):
            kinds.append(kind)
            probabilities.append([p for _, p in words[first:last]])
            correct.append((kind, first, last) in truth)
    return LabelledEntities(kinds, probabilities, np.array(correct, dtype=bool), dict(gold))


def fit_on(gold_tags: Sequence[Sequence[str]], tagged: Sequence[Sequence[tuple[str, float]]],
           fitted_on: str | None = None, method: str = "auto") -> Calibrator | None:
    """The calibrator of a labelled set's decoded entities; None when it has no predicted entity."""
    entities = labelled_entities(gold_tags, tagged)
    return fit(entities.kinds, entities.scores(), entities.correct, fitted_on, method=method) if entities.kinds else None
