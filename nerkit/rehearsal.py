"""Adding types without forgetting: the starting model's confident entities as labels (`data.rehearsal`).

New data usually annotates only the new type; its old-type entities are O. Trained on it as it is, the
model learns that a person is O and forgets. With `data.rehearsal: pseudo-label` the model training starts
from tags the train split first: an entity it finds of an old type (one it knows and the new data does not
annotate), with a mean word probability of at least `data.rehearsal_threshold`, on words that are all O
in the gold, becomes a label. A gold entity is never changed or overlapped.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

from .errors import RecipeError
from .schemes import entity_types, spans

logger = logging.getLogger("nerkit")
REHEARSALS = ("none", "pseudo-label")


class RehearsalError(RecipeError):
    """Rehearsal settings that cannot work: an unknown mode, a threshold out of range, no NER model."""


def check(mode: str, threshold: float) -> None:
    if mode not in REHEARSALS:
        raise RehearsalError(f"unknown data.rehearsal {mode!r}; expected one of {', '.join(REHEARSALS)}")
    if not 0.0 <= threshold <= 1.0:
        raise RehearsalError(f"data.rehearsal_threshold must be between 0 and 1, got {threshold}")


def old_types(model_labels: list[str], sentences: list[dict[str, Any]]) -> list[str]:
    """Types the starting model knows and the new data does not annotate."""
    annotated = {tag[2:] for s in sentences for tag in s["tags"] if tag != "O"}
    return [kind for kind in entity_types(model_labels) if kind not in annotated]


def pseudo_label(sentences: list[dict[str, Any]], tagged, kinds: list[str], threshold: float) -> Counter:
    """Write the confident old-type entities of `tagged` (per word: (label, probability)) into the
    sentences' IOB2 tags where every word is gold O; returns the count added per type."""
    added: Counter = Counter()
    wanted = set(kinds)
    for sentence, words in zip(sentences, tagged):
        tags = sentence["tags"]
        for kind, first, last in spans([label for label, _ in words]):
            score = sum(p for _, p in words[first:last]) / (last - first)
            if kind in wanted and score >= threshold and all(t == "O" for t in tags[first:last]):
                tags[first:last] = [f"B-{kind}"] + [f"I-{kind}"] * (last - first - 1)
                added[kind] += 1
    return added


def rehearse(model: str, sentences: list[dict[str, Any]], threshold: float, revision: str | None = None) -> dict:
    """Tag the train sentences with the starting model and add its confident old-type entities (in place);
    what was done, for nerkit.json."""
    from .inference.tagger import Tagger
    from .run import ModelError

    started = time.perf_counter()
    try:
        tagger = Tagger.load(model, precision="fp32", revision=revision)
    except (ModelError, OSError) as err:  # a plain encoder has no labels to rehearse
        raise RehearsalError(f"data.rehearsal: pseudo-label needs model.name_or_path to be an NER model; "
                             f"{model}: {err}") from None
    kinds = old_types(tagger.labels, sentences)
    documents = [s["document"] for s in sentences] if tagger.encoder.context_size else None
    tagged = tagger.tag_words([s["tokens"] for s in sentences], documents, progress=True)
    added = pseudo_label(sentences, tagged, kinds, threshold)
    seconds = time.perf_counter() - started
    logger.info("rehearsal: %s tagged %s train sentences in %.1f s; added %s entities of %s with score >= %s "
                "where the gold is O (%s)", model, f"{len(sentences):,}", seconds, f"{sum(added.values()):,}",
                ", ".join(kinds) or "no old type", threshold,
                ", ".join(f"{k} {added[k]:,}" for k in kinds) or "nothing to add")
    return {"mode": "pseudo-label", "threshold": threshold, "types": kinds, "added": {k: added[k] for k in kinds},
            "sentences": len(sentences), "seconds": round(seconds, 1)}
