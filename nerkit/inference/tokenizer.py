"""The tokenizer of a model folder from `tokenizer.json` alone (the `tokenizers` library), without importing
transformers: the small part of a transformers tokenizer that nerkit's Encoder uses.

    tokenizer = WordTokenizer.from_folder("runs/conll03-onnx")
    tokenizer([["George", "Washington"]], is_split_into_words=True, add_special_tokens=False).word_ids(0)

Loading transformers' tokenizer classes costs seconds of imports; an ONNX model folder needs none of it.
`nerkit export` checks that this tokenizer and the transformers one give the same ids on sample words.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from ..errors import TokenizerError


class Encoded(dict):
    """`input_ids` per sequence, and `word_ids(i)` as in transformers' BatchEncoding."""

    def __init__(self, encodings):
        super().__init__(input_ids=[e.ids for e in encodings])
        self._encodings = encodings

    def word_ids(self, index: int = 0) -> list[int | None]:
        return self._encodings[index].word_ids


class WordTokenizer:
    """A `tokenizers.Tokenizer` with the special-token ids and call signature the Encoder needs."""

    def __init__(self, backend, config: dict):
        backend.no_truncation()  # windows, not truncation, keep every word
        backend.no_padding()  # the Tagger pads its batches itself
        self.backend = backend
        self.model_max_length = int(config.get("model_max_length") or 512)
        self.pad_token_id = self._id(config.get("pad_token"))
        self.unk_token_id = self._id(config.get("unk_token"))

    @classmethod
    def from_folder(cls, folder: str | Path) -> "WordTokenizer":
        from tokenizers import Tokenizer

        path = Path(folder, "tokenizer.json")
        if not path.is_file():
            raise TokenizerError(f"{folder}: no tokenizer.json (a fast tokenizer is needed to load without transformers)")
        config_path = Path(folder, "tokenizer_config.json")
        config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
        return cls(Tokenizer.from_file(str(path)), config)

    def _id(self, token) -> int | None:
        if isinstance(token, dict):  # an AddedToken written out in full
            token = token.get("content")
        return self.backend.token_to_id(token) if token else None

    def __call__(self, texts: str | Sequence, is_split_into_words: bool = False,
                 add_special_tokens: bool = True) -> Encoded:
        single = isinstance(texts, str) or (is_split_into_words and texts and isinstance(texts[0], str))
        batch = [texts] if single else list(texts)
        encodings = self.backend.encode_batch(batch, is_pretokenized=is_split_into_words,
                                              add_special_tokens=add_special_tokens)
        encoded = Encoded(encodings)
        if single:
            encoded["input_ids"] = encoded["input_ids"][0]
        return encoded

    def convert_ids_to_tokens(self, ids: Sequence[int]) -> list[str]:
        return [self.backend.id_to_token(i) for i in ids]
