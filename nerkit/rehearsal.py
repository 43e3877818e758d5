"""Adding types without forgetting: the starting model's confident entities as labels (`data.rehearsal`).

New data usually annotates only the new type; its old-type entities are O. Trained on it as it is, the
model learns that a person is O and forgets. With `data.rehearsal: pseudo-label` the model training starts
from tags the train split first: an entity it finds of an old type (one it knows and the new data does not
annotate), with a score at its type's threshold or above, on words that are all O in the gold, becomes a
label. A gold entity is never changed or overlapped.

The score is the one `nerkit predict` shows (calibrated when the model has a calibrator). The thresholds:
`data.rehearsal_threshold` for every type when it is set; otherwise the starting model's own thresholds,
tuned on its dev set (`nerkit evaluate START dev.txt --tune-thresholds`: per type, the best F1 of the
entities kept, which is what a pseudo-label should balance: a wrong one teaches a false entity, a missed
one teaches O); a model without tuned thresholds: 0.5 on calibrated scores (the entity is more likely
right than wrong), 0.9 on raw ones (a mean word probability, over-confident as a probability).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

from .errors import RecipeError
from .schemes import entity_types, spans
from .thresholds import describe

logger = logging.getLogger("nerkit")
REHEARSALS = ("none", "pseudo-label")
DEFAULT_THRESHOLD = {"calibrated": 0.5, "raw": 0.9}  # a starting model without tuned thresholds


class RehearsalError(RecipeError):
    """Rehearsal settings that cannot work: an unknown mode, a threshold out of range, no NER model."""


def check(mode: str, threshold: float | None) -> None:
    if mode not in REHEARSALS:
        raise RehearsalError(f"unknown data.rehearsal {mode!r}; expected one of {', '.join(REHEARSALS)}")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise RehearsalError(f"data.rehearsal_threshold must be between 0 and 1, got {threshold}")


def old_types(model_labels: list[str], sentences: list[dict[str, Any]]) -> list[str]:
    """Types the starting model knows and the new data does not annotate."""
    annotated = {tag[2:] for s in sentences for tag in s["tags"] if tag != "O"}
    return [kind for kind in entity_types(model_labels) if kind not in annotated]


def pseudo_label(sentences: list[dict[str, Any]], tagged, thresholds: dict[str, float], calibrator=None) -> Counter:
    """Write the old-type entities of `tagged` (per word: (label, probability)) whose score reaches their
    type's threshold (`thresholds`: the old types only) into the sentences' IOB2 tags where every word is
    gold O; returns the count added per type."""
    from .calibration import entity_score

    added: Counter = Counter()
    for sentence, words in zip(sentences, tagged):
        tags = sentence["tags"]
        for kind, first, last in spans([label for label, _ in words]):
            if kind not in thresholds or not all(t == "O" for t in tags[first:last]):
                continue
            if entity_score(kind, [p for _, p in words[first:last]], calibrator) >= thresholds[kind]:
                tags[first:last] = [f"B-{kind}"] + [f"I-{kind}"] * (last - first - 1)
                added[kind] += 1
    return added


def thresholds_for(tagger, kinds: list[str], threshold: float | None) -> tuple[dict[str, float], str]:
    """Each old type's threshold, and where they come from (for the log, nerkit.json and the card)."""
    if threshold is not None:
        return {kind: threshold for kind in kinds}, "data.rehearsal_threshold"
    tuned = tagger.metadata.thresholds
    if tuned is None:
        scores = "calibrated" if tagger.calibrator is not None else "raw"
        return ({kind: DEFAULT_THRESHOLD[scores] for kind in kinds},
                f"the default for {scores} scores (the starting model has no tuned thresholds)")
    values = {kind: tuned.per_type.get(kind, 0.0) for kind in kinds}
    return values, f"the starting model's thresholds ({tuned.objective}, tuned on {tuned.tuned_on or 'its dev set'})"


def rehearse(model: str, sentences: list[dict[str, Any]], threshold: float | None = None,
             revision: str | None = None) -> dict:
    """Tag the train sentences with the starting model and add its confident old-type entities (in place);
    what was done, for nerkit.json."""
    from .inference.tagger import Tagger
    from .errors import ModelError

    started = time.perf_counter()
    try:
        tagger = Tagger.load(model, precision="fp32", revision=revision)
    except (ModelError, OSError) as err:  # a plain encoder has no labels to rehearse
        raise RehearsalError(f"data.rehearsal: pseudo-label needs model.name_or_path to be an NER model; "
                             f"{model}: {err}") from None
    kinds = old_types(tagger.labels, sentences)
    thresholds, source = thresholds_for(tagger, kinds, threshold)
    documents = [s["document"] for s in sentences] if tagger.encoder.context_size else None
    tagged = tagger.tag_words([s["tokens"] for s in sentences], documents, progress=True, threshold=0)
    added = pseudo_label(sentences, tagged, thresholds, tagger.calibrator)
    seconds = time.perf_counter() - started
    logger.info("rehearsal: %s tagged %s train sentences in %.1f s; added %s entities of %s with score at "
                "least %s, from %s, where the gold is O (%s)", model, f"{len(sentences):,}", seconds,
                f"{sum(added.values()):,}", ", ".join(kinds) or "no old type", describe(thresholds),
                source, ", ".join(f"{k} {added[k]:,}" for k in kinds) or "nothing to add")
    return {"mode": "pseudo-label", "thresholds": thresholds, "threshold_source": source,
            "calibrated": tagger.calibrator is not None, "types": kinds, "added": {k: added[k] for k in kinds},
            "sentences": len(sentences), "seconds": round(seconds, 1)}
