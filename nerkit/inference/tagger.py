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

from ..errors import ModelError, UsageError
from ..features import Encoder, gather_word_scores
from ..decoding import Decoder, Transitions
from ..lines import check_newlines
from ..metadata import RunMetadata
from ..text import entity_offsets, split_sentences, split_words

logger = logging.getLogger(__name__)
ONNX_FILE = "model.onnx"  # the file `nerkit export` writes
# Sentences per forward pass unless asked otherwise. ONNX Runtime on a CPU tags the CoNLL-2003 test set
# about 10% faster in passes of 32 than of 64 (docs/benchmarks.md); PyTorch keeps 64 (GPUs like them larger).
BATCH_SIZE = {"onnx": 32, "torch": 64}


class Tagger:
    """An engine with the tokenizer, labels, encoding settings and decoding it was trained with.
    `decoding` (viterbi or argmax) overrides the stored one; `crf` is a CRF head's scores (an ONNX
    folder keeps them in its nerkit.json)."""

    def __init__(self, engine, tokenizer, metadata: RunMetadata, batch_size: int = 64, newlines: str | None = None,
                 decoding: str | None = None, crf: Transitions | None = None):
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
        try:
            self.encoder = Encoder(tokenizer, metadata.label2id, metadata.max_length, metadata.stride,
                                   context_size=metadata.context_size)
        except ValueError as err:  # settings saved with the model that its tokenizer cannot use
            raise ModelError(f"nerkit.json: {err}") from None

    @classmethod
    def load(cls, path: str, device: str = "auto", batch_size: int | None = None, precision: str = "auto",
             revision: str | None = None, token: str | None = None, newlines: str | None = None,
             decoding: str | None = None) -> "Tagger":
        """A local run or model folder, or a Hub id; an ONNX export runs on ONNX Runtime without torch.
        `newlines` (auto | sentence | space) overrides the model's own rule for raw text's newlines,
        `decoding` (viterbi | argmax) its decoding."""
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
                       newlines, decoding)
        from ..heads import find_crf
        from ..modeling import load_source
        from .engines import TorchEngine

        model, tokenizer, metadata = load_source(source)
        crf = find_crf(model)
        return cls(TorchEngine(model, device, precision), tokenizer, metadata, _batch_size(batch_size, "torch"),
                   newlines, decoding, crf.scores() if crf is not None else None)

    @property
    def device(self) -> str:
        return self.engine.device

    def tag_words(self, sentences: Sequence[Sequence[str]], documents: Sequence[int] | None = None,
                  progress: bool = False) -> list[list[tuple[str, float]]]:
        """(label, probability) for every word of every sentence, in input order."""
        return self._decoded(self.word_scores(sentences, documents, progress))[0]

    def _decoded(self, scores: list[np.ndarray]) -> tuple[list[list[tuple[str, float]]], list[np.ndarray]]:
        """Word scores -> (label, probability) per word, and the chosen label ids, per sentence."""
        ids, probs = self.decoder(scores)
        return [[(self.labels[i], p) for i, p in zip(row_ids.tolist(), row_p.tolist())]
                for row_ids, row_p in zip(ids, probs)], ids

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

    def predict(self, texts: Iterable[str], progress: bool = False, newlines: str | None = None) -> list[dict[str, Any]]:
        """Raw documents -> {"text", "entities": [{label, start, end, text, score}]}, offsets into the text.
        Sentences end at single newlines as `newlines` says (default: the Tagger's, from training)."""
        return [result for result, _ in self.predict_with_scores(texts, progress, newlines)]

    def predict_with_scores(self, texts: Iterable[str], progress: bool = False, newlines: str | None = None
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
        tagged, ids = self._decoded(scores)
        results = [({"text": text, "entities": []}, []) for text in texts]
        for words, tags, owner, row_scores, row_ids in zip(sentences, tagged, documents, scores, ids):
            results[owner][0]["entities"] += entities(texts[owner], words, tags)
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


def entities(text: str, words, tagged: list[tuple[str, float]]) -> list[dict[str, Any]]:
    """Word tags -> entity spans with character offsets; the score is the mean probability of the labels
    chosen for its words (each word's own label distribution, whichever the decoding)."""
    found = []
    for kind, first, last, start, end in entity_offsets(words, [tag for tag, _ in tagged]):
        score = sum(p for _, p in tagged[first:last]) / (last - first)
        found.append({"label": kind, "start": start, "end": end, "text": text[start:end], "score": round(score, 4)})
    return found


def load(path: str, **kwargs) -> Tagger:
    """The public entry point: `nerkit.load(path).predict(texts)`."""
    return Tagger.load(path, **kwargs)
