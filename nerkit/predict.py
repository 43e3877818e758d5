"""Tag words and raw text with a saved model: length-sorted batches, windows, exact character offsets.

    tagger = nerkit.load("runs/conll03")
    tagger.predict(["George Washington went to Washington."])
    # [{"text": ..., "entities": [{"label": "PER", "start": 0, "end": 17, "text": "George Washington", "score": 0.99}, ...]}]
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Iterable, Sequence

from .features import Encoder, gather_word_predictions
from .modeling import ModelError, load_trained
from .schemes import spans
from .text import split_sentences, split_words

logger = logging.getLogger(__name__)


def pick_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"device {device!r} was asked for but no CUDA GPU is available")
    return device


def native_bf16(device: str) -> bool:
    """bf16 only where the hardware computes it natively (elsewhere it is emulated and slower)."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.is_bf16_supported()
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


class Tagger:
    """A trained model with the encoding settings it was trained with."""

    def __init__(self, model, tokenizer, metadata: dict[str, Any], device: str = "auto", batch_size: int = 64,
                 precision: str = "auto"):
        if precision not in ("auto", "fp32", "bf16"):
            raise ModelError(f"unknown precision {precision!r}; expected auto, fp32 or bf16")
        self.device = pick_device(device)
        self.model = model.to(self.device).eval()
        self.tokenizer, self.metadata = tokenizer, metadata
        self.labels: list[str] = metadata["labels"]
        self.batch_size = batch_size
        self.bf16 = precision == "bf16" or (precision == "auto" and native_bf16(self.device))
        self.encoder = Encoder(tokenizer, {label: i for i, label in enumerate(self.labels)},
                               metadata.get("max_length", 256), metadata.get("stride"),
                               context_size=metadata.get("context_size", 0))

    @classmethod
    def load(cls, path: str, **kwargs) -> "Tagger":
        model, tokenizer, metadata = load_trained(path)
        return cls(model, tokenizer, metadata, **kwargs)

    def tag_words(self, sentences: Sequence[Sequence[str]], documents: Sequence[int] | None = None,
                  progress: bool = False) -> list[list[tuple[str, float]]]:
        """(label, probability) for every word of every sentence, in input order."""
        if not sentences:
            return []
        batch = {"tokens": [list(s) for s in sentences]}
        if documents is not None:
            batch["document"] = list(documents)
        features = self.encoder(batch, list(range(len(sentences))))
        label_ids, probs = self._run(features["input_ids"], progress)
        sizes = [len(s) for s in sentences]
        ids = gather_word_predictions(label_ids, features["example"], features["word_index"], sizes)
        prob = gather_word_predictions(probs, features["example"], features["word_index"], sizes, cast=float)
        return [[(self.labels[i], p) for i, p in zip(row_ids, row_p)] for row_ids, row_p in zip(ids, prob)]

    def _run(self, input_ids: list[list[int]], progress: bool):
        """Model over length-sorted batches; returns per-feature label ids and probabilities in input order."""
        import torch
        from tqdm.auto import tqdm

        order = sorted(range(len(input_ids)), key=lambda i: len(input_ids[i]))
        label_ids: list[list[int]] = [[] for _ in input_ids]
        probs: list[list[float]] = [[] for _ in input_ids]
        pad = self.tokenizer.pad_token_id or 0
        autocast = torch.autocast(self.device.split(":")[0], dtype=torch.bfloat16) if self.bf16 \
            else contextlib.nullcontext()
        starts = range(0, len(order), self.batch_size)
        with torch.inference_mode(), autocast:
            for start in tqdm(starts, desc="tagging", unit="batch", disable=not progress):
                chunk = order[start:start + self.batch_size]
                width = max(len(input_ids[i]) for i in chunk)
                ids = torch.full((len(chunk), width), pad, dtype=torch.long)
                mask = torch.zeros((len(chunk), width), dtype=torch.long)
                for row, i in enumerate(chunk):
                    ids[row, :len(input_ids[i])] = torch.tensor(input_ids[i])
                    mask[row, :len(input_ids[i])] = 1
                logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).logits
                best, best_ids = logits.float().softmax(-1).max(-1)
                for row, i in enumerate(chunk):
                    label_ids[i] = best_ids[row].tolist()
                    probs[i] = best[row].tolist()
        return label_ids, probs

    def predict(self, texts: Iterable[str], progress: bool = False) -> list[dict[str, Any]]:
        """Raw documents -> {"text", "entities": [{label, start, end, text, score}]}, offsets into the text."""
        texts = list(texts)
        sentences, documents = [], []
        for d, text in enumerate(texts):
            for sentence in split_sentences(split_words(text), text):
                sentences.append(sentence)
                documents.append(d)
        tagged = self.tag_words([[w.text for w in s] for s in sentences], documents, progress)
        results: list[dict[str, Any]] = [{"text": text, "entities": []} for text in texts]
        for words, tags, owner in zip(sentences, tagged, documents):
            results[owner]["entities"] += entities(texts[owner], words, tags)
        return results


def entities(text: str, words, tagged: list[tuple[str, float]]) -> list[dict[str, Any]]:
    """Word tags -> entity spans with character offsets and the mean word probability as score."""
    found = []
    for kind, first, last in spans([tag for tag, _ in tagged]):
        start, end = words[first].start, words[last - 1].end
        score = sum(p for _, p in tagged[first:last]) / (last - first)
        found.append({"label": kind, "start": start, "end": end, "text": text[start:end], "score": round(score, 4)})
    return found


def load(path: str, **kwargs) -> Tagger:
    """The public entry point: `nerkit.load(path).predict(texts)`."""
    return Tagger.load(path, **kwargs)
