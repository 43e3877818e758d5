"""Score a saved model on a labelled file: seqeval report with bootstrap intervals, SemEval-2013 partial-match
scores, error breakdown, entity-score calibration and precision-recall curves, and their PNGs.

    nerkit evaluate runs/conll03 ../shared/data/conll2003/test.txt --output runs/conll03/test-report.json
    nerkit evaluate runs/conll03 valid.txt --calibrate --tune-thresholds --min-precision 0.95
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

from .config import DataConfig
from .data import DataError, load_corpus, read_span_documents, span_format_of
from .metrics import score
from .partial_match import partial_match
from .thresholds import effective
from .inference.tagger import Tagger
from .lines import check_newlines
from .run import RECIPE, SPLITS, data_file, read_recipe
from .sources import resolve
from .summary import best_run
from .writing import atomic_write
from .schemes import spans
from .errors import OutputError
from .confidence import check_writable_run, score_section
from .deprecated import moved_names

logger = logging.getLogger(__name__)
__getattr__ = moved_names(__name__, {"plot_confusion": "nerkit.plots"})
ERROR_KINDS = ("type", "boundary", "boundary_and_type", "missed", "spurious")


def evaluate(model: str | Tagger, data: str, split: str = "test", mode: str = "default", output: str | None = None,
             data_config: DataConfig | None = None, examples: int = 3, newlines: str | None = None,
             threshold: Any = None, calibrate: bool = False, calibration: str = "auto", tune_thresholds: bool = False,
             min_precision: float | None = None, predictions: str | None = None, resamples: int = 1000,
             seed: int = 0, **tagger_kwargs) -> dict[str, Any]:
    """Word-level predictions on `data` scored exactly as training scores its eval splits. A span export's
    texts are split into sentences by `newlines` (default: the model's rule), as predict splits them.
    `data` may name a split of the run (`test`): the file it was trained with, read with its recipe's settings.
    Entities below `threshold` (default: the model's tuned thresholds; 0: none) are dropped first.
    `calibrate` / `tune_thresholds` fit a calibrator (curves of kind `calibration`) / per-type thresholds on these entities and store them
    in the run (confidence.py); every F1 gets a `resamples`-sentence bootstrap interval (0: none)."""
    if output and Path(output).suffix.lower() == ".png":
        raise OutputError(f"--output {output}: the report is JSON and the confusion-matrix PNG is written beside it "
                        f"with the suffix .png; name the report {Path(output).with_suffix('.json').name}")
    cfg = data_config or DataConfig()
    check_writable_run(model, calibrate, tune_thresholds, min_precision, threshold)
    if isinstance(model, str) and data in SPLITS and not Path(data).exists() and Path(best_run(model), RECIPE).is_file():
        split = data
        data, cfg = run_data(best_run(model), data)  # the run's own file (a seeded folder: its best seed's)
    if threshold is not None and isinstance(model, Tagger):  # checked before the words are tagged
        effective(threshold, None, model.metadata.entity_types)
    elif threshold is not None:
        tagger_kwargs["threshold"] = threshold  # Tagger.load checks it against the model's types
    corpus, sentences, scores, tagger, newlines = score_file(model, data, split, cfg, newlines, **tagger_kwargs)
    gold = [s["tags"] for s in sentences]
    started = time.perf_counter()
    entity_scores = score_section(tagger, model, gold, scores, data, calibrate, tune_thresholds, min_precision,
                                  calibration)
    tuning = time.perf_counter() - started
    limits = tagger.thresholds if threshold is None else effective(threshold, None, tagger.metadata.entity_types)
    pred = [[tag for tag, _ in words] for words in tagger.decode(scores, limits)]  # tuned just now, stored, or given
    report = {**score(gold, pred, mode), "split": split, "data": str(data), "model": str(model) if isinstance(model, str) else None,
              "decoding": tagger.decoder.decoding, "thresholds": limits}
    if limits:  # what the thresholds cost or bring: the same words with every entity kept
        everything = score(gold, [[tag for tag, _ in words] for words in tagger.decode(scores, threshold=0)], mode)
        report["without_thresholds"] = {k: everything[k] for k in ("precision", "recall", "f1")}
    started = time.perf_counter()
    if resamples:
        add_intervals(report, gold, pred, mode, resamples, seed)
    report["timings"] = {"scores_s": round(tuning, 3), "bootstrap_s": round(time.perf_counter() - started, 3)}
    report["partial_match"] = partial_match(gold, pred, tagger.metadata.entity_types)
    report["entity_scores"] = entity_scores
    report["newlines"] = newlines
    report["invalid_tags"] = cfg.invalid_tags  # gold continuations that continue nothing: repaired or refused
    report["repaired_tags"] = sum(corpus.repaired_tags.values())
    report["errors"], confusion = error_breakdown(sentences, pred, examples)
    span_format = span_format_of(data, cfg)
    if span_format:
        report["char_spans"] = char_span_scores(tagger, read_span_documents(data, span_format, cfg), newlines)
    if predictions:
        write_predictions(predictions, sentences, pred)
    if output:
        write_report(output, report, confusion)
    return report


def write_report(output: str, report: dict[str, Any], confusion: Counter) -> None:
    """The JSON, the confusion matrix (.png), the reliability diagram (.reliability.png) and the
    precision-recall curves (.pr.png) beside it."""
    from .plots import plot_confusion, plot_pr_curves, plot_reliability

    Path(output).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(output, json.dumps(report, indent=2) + "\n")
    atomic_write(Path(output).with_suffix(".png"), lambda path: plot_confusion(confusion, path))
    section = report["entity_scores"]
    atomic_write(Path(output).with_suffix(".reliability.png"), lambda path: plot_reliability(section["reliability"], path))
    chosen = {kind: (values["recall"], values["precision"]) for kind, values in report["per_type"].items()
              if kind in report["thresholds"]}
    atomic_write(Path(output).with_suffix(".pr.png"), lambda path: plot_pr_curves(section["pr_curves"], path, chosen))


def add_intervals(report: dict[str, Any], gold, pred, mode: str, resamples: int, seed: int) -> None:
    """`intervals`: a 95% sentence-bootstrap interval of every F1 of the report (nerkit/bootstrap.py)."""
    from .bootstrap import f1_intervals, sentence_counts

    intervals = f1_intervals(sentence_counts(gold, pred, mode, types=list(report["per_type"])), resamples, seed)
    report["intervals"] = {"f1": intervals["micro"], "macro_f1": intervals["macro"], "per_type": intervals["per_type"],
                           **{k: intervals[k] for k in ("resamples", "seed", "confidence")}}


def write_predictions(path: str, sentences, pred) -> None:
    """word, gold tag, predicted tag per line, a blank line after each sentence: what conlleval reads."""
    lines = []
    for sentence, tags in zip(sentences, pred):
        lines += [f"{word} {gold} {tag}" for word, gold, tag in zip(sentence["tokens"], sentence["tags"], tags)] + [""]
    atomic_write(path, "\n".join(lines) + "\n")


def tag_file(model: str | Tagger, data: str, split: str, cfg: DataConfig, newlines: str | None = None,
             **tagger_kwargs) -> tuple[Any, list[dict], list[list[str]], Tagger, str]:
    """`data` read as `split` and tagged word by word with the model's own settings (its thresholds too):
    (corpus, sentences, predicted tags per sentence, tagger, newlines rule). What compare pairs."""
    corpus, sentences, scores, tagger, newlines = score_file(model, data, split, cfg, newlines, **tagger_kwargs)
    return corpus, sentences, [[tag for tag, _ in words] for words in tagger.decode(scores)], tagger, newlines


def score_file(model: str | Tagger, data: str, split: str, cfg: DataConfig, newlines: str | None = None,
               **tagger_kwargs) -> tuple[Any, list[dict], list, Tagger, str]:
    """`data` read as `split` and its words' label log-probabilities from the model, with its own settings:
    (corpus, sentences, word scores per sentence, tagger, newlines rule). What evaluate scores."""
    if not (newlines or isinstance(model, Tagger)):  # the model's own rule, from its nerkit.json alone
        newlines = (resolve(model, tagger_kwargs.get("revision")).metadata or {}).get("newlines")
    newlines = check_newlines(newlines or (model.newlines if isinstance(model, Tagger) else "auto"))
    corpus = load_corpus(DataConfig(**{**cfg.__dict__, "dataset": None, "train": None, "validation": None,
                                       "test": None, split if split in ("train", "validation") else "test": data}),
                         newlines)  # read before the model loads: a mistake in the data is said at once
    tagger = model if isinstance(model, Tagger) else Tagger.load(model, precision="fp32", **tagger_kwargs)
    sentences = next(iter(corpus.splits.values()))
    unknown = sorted({t[2:] for s in sentences for t in s["tags"] if t != "O"} - {l[2:] for l in tagger.labels if l != "O"})
    if unknown:
        raise DataError(f"{data}: entity types {unknown} are not among the model's labels {tagger.labels}")
    documents = [s["document"] for s in sentences] if tagger.encoder.context_size else None
    if documents and all(d < 0 for d in documents):
        logger.warning("%s has no document boundaries (no -DOCSTART- lines or --document-field): the model was "
                       "trained with document context but is scored sentence by sentence", data)
    scores = tagger.word_scores([s["tokens"] for s in sentences], documents, progress=True)
    return corpus, sentences, scores, tagger, newlines


def run_data(run: str | Path, split: str) -> tuple[str, DataConfig]:
    """A run's `split` file, found from any folder (nerkit.run.data_file), and its recipe's data settings."""
    path, tried = data_file(run, split)
    if path is None:
        raise DataError(f"{run}: no {split} file ({', '.join(tried) + ': none exists' if tried else 'none in its recipe.yaml'})")
    data = (read_recipe(run) or {}).get("data") or {}
    return path, DataConfig(**{k: v for k, v in data.items() if k in DataConfig.__dataclass_fields__ and k not in SPLITS})


def char_span_scores(tagger: Tagger, documents, newlines: str | None = None) -> dict[str, Any]:
    """Exact (start, end, label) matches between gold spans and what `nerkit predict` finds in the raw texts
    (its own words: unlike the word-level scores, no word is cut at a gold span boundary)."""
    results = tagger.predict([d.text for d in documents], newlines=newlines)
    gold = {(i, *span) for i, d in enumerate(documents) for span in d.spans}
    pred = {(i, e["start"], e["end"], e["label"]) for i, r in enumerate(results) for e in r["entities"]}
    scores = _prf(gold, pred)
    kinds = sorted({g[3] for g in gold} | {p[3] for p in pred})
    scores["per_type"] = {k: _prf({g for g in gold if g[3] == k}, {p for p in pred if p[3] == k}) for k in kinds}
    return scores


def _prf(gold: set, pred: set) -> dict[str, Any]:
    correct = len(gold & pred)
    precision = correct / len(pred) if pred else 0.0
    recall = correct / len(gold) if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if correct else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "gold": len(gold), "predicted": len(pred),
            "correct": correct}


def format_char_spans(scores: dict[str, Any]) -> str:
    return (f"character spans (raw text, as predict): precision {scores['precision']:.4f} recall "
            f"{scores['recall']:.4f} f1 {scores['f1']:.4f} ({scores['correct']} of {scores['gold']} gold, "
            f"{scores['predicted']} predicted)")
def error_breakdown(sentences, pred, examples: int = 3) -> tuple[dict[str, Any], Counter]:
    """Classify each mismatch between gold and predicted entities; also a (gold, predicted) type count."""
    counts: Counter = Counter()
    samples: dict[str, list] = {kind: [] for kind in ERROR_KINDS}
    confusion: Counter = Counter()
    for sentence, tags in zip(sentences, pred):
        gold_spans, pred_spans = set(spans(sentence["tags"])), set(spans(tags))
        for kind, item in _classify(gold_spans, pred_spans, confusion):
            counts[kind] += 1
            if len(samples[kind]) < examples:
                samples[kind].append({"sentence": " ".join(sentence["tokens"]), **item,
                                      "where": sentence["lines"][0] if sentence.get("lines") else None})
    return {kind: {"count": counts[kind], "examples": samples[kind]} for kind in ERROR_KINDS}, confusion


def _classify(gold_spans: set, pred_spans: set, confusion: Counter):
    def text(span):
        return {"type": span[0], "words": [span[1], span[2]]}

    for g in sorted(gold_spans):
        if g in pred_spans:
            confusion[(g[0], g[0])] += 1
            continue
        overlapping = [p for p in pred_spans if p[1] < g[2] and g[1] < p[2]]
        if not overlapping:
            confusion[(g[0], "O")] += 1
            yield "missed", {"gold": text(g)}
            continue
        p = overlapping[0]
        confusion[(g[0], p[0])] += 1
        same_bounds, same_type = (p[1], p[2]) == (g[1], g[2]), p[0] == g[0]
        kind = "type" if same_bounds else "boundary" if same_type else "boundary_and_type"
        yield kind, {"gold": text(g), "predicted": text(p)}
    for p in sorted(pred_spans - gold_spans):
        if not any(g[1] < p[2] and p[1] < g[2] for g in gold_spans):
            confusion[("O", p[0])] += 1
            yield "spurious", {"predicted": text(p)}


def format_errors(errors: dict[str, Any]) -> str:
    lines = ["errors: " + ", ".join(f"{kind} {errors[kind]['count']}" for kind in ERROR_KINDS)]
    for kind in ERROR_KINDS:
        for sample in errors[kind]["examples"]:
            words = sample["sentence"].split(" ")
            parts = [f"{side} {s['type']} '{' '.join(words[s['words'][0]:s['words'][1]])}'"
                     for side, s in (("gold", sample.get("gold")), ("predicted", sample.get("predicted"))) if s]
            lines.append(f"  {kind:<18} {'; '.join(parts)}  ({sample.get('where') or ''})")
    return "\n".join(lines)
