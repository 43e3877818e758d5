"""Tag words and raw text with a saved model: length-sorted batches, windows, exact character offsets.

    tagger = nerkit.load("runs/conll03")
    tagger.predict(["George Washington went to Washington."])
    # [{"text": ..., "entities": [{"label": "PER", "start": 0, "end": 17, "text": "George Washington", "score": 0.99}, ...]}]

The Tagger holds the tokenizer, the label list and the encoding settings of training (`nerkit.json`);
the network itself is an engine (inference/engines.py), so the same words, windows, document context
and offsets serve every engine. Each sentence's word-level label scores are decoded whole, after its
windows are stitched (decoding.py: constrained Viterbi unless `decoding="argmax"`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..calibration import entity_score
from ..errors import ModelError, UsageError
from ..features import Encoder, gather_word_scores
from ..decoding import Decoder, Transitions
from ..lines import check_newlines
from ..metadata import RunMetadata
from ..schemes import spans
from ..text import entity_offsets, split_sentences, split_words
from ..thresholds import Threshold, effective, kept

logger = logging.getLogger(__name__)
ONNX_FILE = "model.onnx"  # the file `nerkit export` writes
# Sentences per forward pass unless asked otherwise. ONNX Runtime on a CPU tags the CoNLL-2003 test set
# about 10% faster in passes of 32 than of 64 (docs/benchmarks.md); PyTorch keeps 64 (GPUs like them larger).
BATCH_SIZE = {"onnx": 32, "torch": 64}


class Tagger:
    """An engine with the tokenizer, labels, encoding settings and decoding it was trained with.
    `decoding` (viterbi or argmax) overrides the stored one; `crf` is a CRF head's scores (an ONNX
    folder keeps them in its nerkit.json). `threshold` (a number or per type) replaces the tuned thresholds
    of nerkit.json; 0 turns them off."""

    def __init__(self, engine, tokenizer, metadata: RunMetadata, batch_size: int = 64, newlines: str | None = None,
                 decoding: str | None = None, crf: Transitions | None = None, threshold: Threshold = None):
        if isinstance(metadata, dict):  # the plain nerkit.json dict older callers pass
            metadata = RunMetadata.from_dict(metadata)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise UsageError(f"batch size must be a positive integer, got {batch_size!r}")
        # does a single newline of raw text end a sentence (nerkit/lines.py): as asked, else as trained
        self.newlines = check_newlines(newlines or metadata.newlines)
        self.engine, self.tokenizer, self.metadata = engine, tokenizer, metadata
        self.labels: list[str] = metadata.labels
        self.batch_size = batch_size
        if crf is None and metadata.crf is not None:
            crf = Transitions.from_dict(metadata.crf)
        if metadata.get("head") == "crf" and crf is None:
            raise ModelError("this model has a CRF head but its transition scores were not found")
        self.crf = crf
        self.decoder = Decoder(self.labels, decoding or metadata.decoding, crf)
        self.calibrator = metadata.calibrator
        self.thresholds = effective(threshold, metadata.thresholds, metadata.entity_types)
        try:
            self.encoder = Encoder(tokenizer, metadata.label2id, metadata.max_length, metadata.stride,
                                   context_size=metadata.context_size)
        except ValueError as err:  # settings saved with the model that its tokenizer cannot use
            raise ModelError(f"nerkit.json: {err}") from None

    @classmethod
    def load(cls, path: str, device: str = "auto", batch_size: int | None = None, precision: str = "auto",
             revision: str | None = None, token: str | None = None, newlines: str | None = None,
             decoding: str | None = None, threshold: Threshold = None) -> "Tagger":
        """A local run or model folder, or a Hub id; an ONNX export runs on ONNX Runtime without torch.
        `newlines` (auto | sentence | space) overrides the model's own rule for raw text's newlines,
        `decoding` (viterbi | argmax) its decoding, `threshold` its tuned thresholds."""
        from ..sources import resolve
        from ..decoding import check_decoding

        if decoding is not None:
            check_decoding(decoding, "--decoding")
        source = resolve(path, revision, token)
        if source.local and Path(source.path, ONNX_FILE).is_file() and source.metadata is not None:
            from .engines import OnnxEngine
            from .tokenizer import WordTokenizer

            metadata = source.metadata
            engine = OnnxEngine(Path(source.path, ONNX_FILE), device, precision, quantized=metadata.quantization is not None)
            return cls(engine, WordTokenizer.from_folder(source.path), metadata, _batch_size(batch_size, "onnx"),
                       newlines, decoding, threshold=threshold)
        from ..heads import find_crf
        from ..modeling import load_source
        from .engines import TorchEngine

        model, tokenizer, metadata = load_source(source)
        crf = find_crf(model)
        return cls(TorchEngine(model, device, precision), tokenizer, metadata, _batch_size(batch_size, "torch"),
                   newlines, decoding, crf.scores() if crf is not None else None, threshold)

    @property
    def device(self) -> str:
        return self.engine.device

    def tag_words(self, sentences: Sequence[Sequence[str]], documents: Sequence[int] | None = None,
                  progress: bool = False, threshold: Threshold = None) -> list[list[tuple[str, float]]]:
        """(label, probability) for every word of every sentence, in input order."""
        return self.decode(self.word_scores(sentences, documents, progress), threshold)

    def decode(self, scores: Sequence[np.ndarray], threshold: Threshold = None) -> list[list[tuple[str, float]]]:
        """Word scores -> (label, probability) per word; entities below their threshold become O words
        (with O's probability). `threshold` None: the Tagger's thresholds."""
        return self._decoded(scores, threshold)[0]

    def _decoded(self, scores: Sequence[np.ndarray], threshold: Threshold = None
                 ) -> tuple[list[list[tuple[str, float]]], list[np.ndarray]]:
        """Word scores -> (label, probability) per word, thresholds applied, and the label ids decoding chose
        (before any threshold), per sentence."""
        ids, probs = self.decoder(scores)
        limits = self.thresholds if threshold is None else effective(threshold, None, self.metadata.entity_types)
        tagged = [[(self.labels[i], p) for i, p in zip(row_ids.tolist(), row_p.tolist())]
                  for row_ids, row_p in zip(ids, probs)]
        if limits:
            tagged = [self._drop_below(words, s, limits) for words, s in zip(tagged, scores)]
        return tagged, ids

    def _drop_below(self, words: list[tuple[str, float]], scores: np.ndarray, limits: dict[str, float]):
        outside = self.metadata.label2id.get("O")
        for kind, first, last in spans([tag for tag, _ in words]):
            if not kept(kind, entity_score(kind, [p for _, p in words[first:last]], self.calibrator), limits):
                for w in range(first, last):
                    words[w] = ("O", float(np.exp(scores[w, outside])) if outside is not None else 0.0)
        return words

    def word_scores(self, sentences: Sequence[Sequence[str]], documents: Sequence[int] | None = None,
                    progress: bool = False) -> list[np.ndarray]:
        """Each sentence's [words, labels] log-probabilities (its words' first sub-tokens, windows stitched)."""
        if not sentences:
            return []
        batch = {"tokens": [list(s) for s in sentences]}
        if documents is not None:
            batch["document"] = list(documents)
        features = self.encoder(batch, list(range(len(sentences))))
        scores = self._run(features["input_ids"], progress)
        return gather_word_scores(scores, features["example"], features["word_index"], [len(s) for s in sentences])

    def _run(self, input_ids: list[list[int]], progress: bool) -> list:
        """The engine over length-sorted batches; per feature, its tokens' label log-probabilities, in input order."""
        order = sorted(range(len(input_ids)), key=lambda i: len(input_ids[i]))
        scores: list = [None] * len(input_ids)
        pad = self.tokenizer.pad_token_id or 0
        starts = range(0, len(order), self.batch_size)
        if progress:  # tqdm only when asked: its import is a tenth of an ONNX folder's start-up
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="tagging", unit="batch")
        for start in starts:
            chunk = order[start:start + self.batch_size]
            log_probs = self.engine(*padded([input_ids[i] for i in chunk], pad))
            for row, i in enumerate(chunk):
                scores[i] = log_probs[row]
        return scores

    def predict(self, texts: Iterable[str], progress: bool = False, newlines: str | None = None,
                threshold: Threshold = None) -> list[dict[str, Any]]:
        """Raw documents -> {"text", "entities": [{label, start, end, text, score}]}, offsets into the text.
        Sentences end at single newlines as `newlines` says (default: the Tagger's, from training);
        `threshold` (a number or {type: number}; 0: none) replaces the Tagger's thresholds."""
        return [result for result, _ in self.predict_with_scores(texts, progress, newlines, threshold)]

    def predict_with_scores(self, texts: Iterable[str], progress: bool = False, newlines: str | None = None,
                            threshold: Threshold = None
                            ) -> list[tuple[dict[str, Any], list[tuple[np.ndarray, np.ndarray, list[str]]]]]:
        """As `predict`, each result with its sentences' (word log-probabilities [words, labels], chosen label
        ids [words], words): what informativeness strategies rank texts by (nerkit/informativeness.py)."""
        texts = list(texts)
        newlines = check_newlines(newlines or self.newlines)
        sentences, documents = [], []
        for d, text in enumerate(texts):
            for sentence in split_sentences(split_words(text), text, newlines):
                sentences.append(sentence)
                documents.append(d)
        scores = self.word_scores([[w.text for w in s] for s in sentences], documents, progress)
        tagged, ids = self._decoded(scores, threshold)
        results = [({"text": text, "entities": []}, []) for text in texts]
        for words, tags, owner, row_scores, row_ids in zip(sentences, tagged, documents, scores, ids):
            results[owner][0]["entities"] += entities(texts[owner], words, tags, self.calibrator)
            results[owner][1].append((row_scores, row_ids, [w.text for w in words]))
        return results


def padded(rows: Sequence[Sequence[int]], pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Token id rows -> an int64 [B, T] batch padded on the right with `pad`, and its attention mask."""
    width = max(map(len, rows))
    ids = np.full((len(rows), width), pad, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, :len(row)], mask[i, :len(row)] = row, 1
    return ids, mask


def _batch_size(batch_size: int | None, engine: str) -> int:
    return BATCH_SIZE[engine] if batch_size is None else batch_size


def entities(text: str, words, tagged: list[tuple[str, float]], calibrator=None) -> list[dict[str, Any]]:
    """Word tags -> entity spans with character offsets; the score is the mean probability of the labels
    chosen for its words (each word's own label distribution, whichever the decoding), calibrated when
    there is a calibrator."""
    found = []
    for kind, first, last, start, end in entity_offsets(words, [tag for tag, _ in tagged]):
        score = entity_score(kind, [p for _, p in tagged[first:last]], calibrator)
        found.append({"label": kind, "start": start, "end": end, "text": text[start:end], "score": score})
    return found


def load(path: str, **kwargs) -> Tagger:
    """The public entry point: `nerkit.load(path).predict(texts)`."""
    return Tagger.load(path, **kwargs)
