"""`nerkit select`: the texts of an unlabelled pool the model would learn most from, with its pre-annotations.

    nerkit select runs/support-tickets --input pool.jsonl --budget 200 --strategy entropy --output next-batch.json

The pool is read as `nerkit predict` reads its input (text lines, JSON Lines, Parquet, a Hub dataset;
streamed: prediction.input_documents), tagged once chunk by chunk, and each text scored by the strategy
(informativeness.py); only the `--budget` best are held (a heap), so memory does not grow with the pool.
After every chunk the held picks and the count of texts done are saved to OUT.partial (atomically), so
`--resume` continues an interrupted run after its last whole chunk. The picks are written in ranked
order, their fields passed through and their score in `meta`.
"""

from __future__ import annotations

import logging
import random
from dataclasses import asdict, dataclass
from typing import Any, Iterable

from .config import option
from .errors import UsageError
from .informativeness import STRATEGIES

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Selection:
    """What to pick: `nerkit select`'s options."""
    budget: int = option(100, "--budget", "how many texts to pick")
    strategy: str = option("entropy", "--strategy", "entropy: mean word entropy; least-confidence: 1 - P(predicted "
                            "tags); mnlp: -(mean log-probability of the predicted tags); random: a control",
                            choices=STRATEGIES)
    diversity: float | None = option(None, "--diversity", "leave out a text whose word set's estimated Jaccard "
                                      "similarity (MinHash) to a better pick is at least this, e.g. 0.7")
    exclude: str | None = option(None, "--exclude", "texts already labelled (a Label Studio export, doccano or "
                                  "spans JSON Lines, any JSON/JSON Lines records): skipped by --id-field or by text")
    id_field: str | None = option(None, "--id-field", "the field that identifies a record in the pool and in "
                                   "--exclude (default: texts are matched by their exact content)")
    seed: int = option(42, "--seed", "the random strategy's seed")


def select_to(model: str, selection: Selection, output: str, input: str | None = None, fmt: str | None = None,
              text_field: str | None = None, dataset: str | None = None, split: str = "train",
              dataset_config: str | None = None, input_format: str = "auto", skip_invalid: bool = False,
              chunk_size: int = 1000, resume: bool = False, progress: bool = True, **tagger_options) -> int:
    from .informativeness import TopK, check_strategy
    from .prediction import RUN_NEUTRAL_OPTIONS, input_documents, load
    from .selection_io import Checkpoint, Exclusions, output_format, write_picks

    check_strategy(selection.strategy)
    fmt = output_format(output, fmt)
    if chunk_size < 1:
        raise UsageError(f"--chunk-size must be a positive integer, got {chunk_size}")
    best = TopK(selection.budget, selection.diversity)
    exclusions = Exclusions.read(selection.exclude, text_field, selection.id_field)
    documents, total, name, _ = input_documents(None, input, dataset, split, dataset_config, text_field,
                                                input_format, skip_invalid)
    settings = {"model": model, "input": name, "text_field": text_field or "text", "format": fmt,
                "chunk_size": chunk_size, **asdict(selection),
                **{key: value for key, value in tagger_options.items() if key not in RUN_NEUTRAL_OPTIONS}}
    checkpoint = Checkpoint(output, settings, resume)
    counts = checkpoint.restore(best)
    tagger = load(model, **tagger_options)
    from tqdm.auto import tqdm

    with tqdm(total=total, unit="doc", desc="selecting", disable=not progress) as bar:
        for number, chunk in enumerate(_chunks(documents, chunk_size)):
            if number >= checkpoint.chunks:
                _rank(tagger, chunk, best, selection, exclusions, counts, number * chunk_size)
                checkpoint.save(best, number + 1, counts)
            bar.update(len(chunk))
    picks = best.ranked()
    write_picks(picks, output, fmt, selection.strategy, text_field or "text", str(model))
    checkpoint.remove()
    logger.info("%s: %d texts read, %d picked; left out: %d already labelled, %d without words, %d invalid records",
                name, counts["read"], len(picks), counts["excluded"], counts["empty"], counts["invalid"])
    return 0


def _chunks(documents: Iterable, size: int):
    from .inference.corpus import chunked

    return chunked(documents, size)


def _rank(tagger, chunk, best, selection: Selection, exclusions, counts: dict[str, int], first: int) -> None:
    """Tag a chunk's texts and offer each to the top-k; `first` is the pool position of the chunk's first text."""
    from .informativeness import informativeness

    counts["read"] += len(chunk)
    kept = []
    for position, document in enumerate(chunk, start=first):
        if document.text is None:
            counts["invalid"] += 1
        elif exclusions.holds(document.fields, document.text):
            counts["excluded"] += 1
        else:
            kept.append((position, document))
    for (position, document), (result, sentences) in zip(kept, tagger.predict_with_scores([d.text for _, d in kept])):
        rng = random.Random(f"{selection.seed}:{position}")  # the same draw for a text however the run is chunked
        value = informativeness(selection.strategy, [s for s, _, _ in sentences], [c for _, c, _ in sentences], rng)
        if value is None:
            counts["empty"] += 1
            continue
        pick = {"fields": document.fields, "text": document.text, "entities": result["entities"]}
        best.offer(value, pick, [w for _, _, words in sentences for w in words])

