"""Readers: CoNLL column files (nerkit/formats/conll.py), JSON Lines / JSON / Parquet, Hub datasets -> sentences
with IOB2 tags.

A sentence is a dict: `tokens`, `tags` (as in the file), `document` (index of its document, -1 when the
source has no document boundaries) and `lines` (`file:line` of each token, for error messages).
`load_corpus` reads every split, validates and converts the tags to IOB2, and returns a
`datasets.DatasetDict` with the columns `tokens`, `tags` and `document`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import DataConfig, setting
from .formats.spans import SPAN_FORMATS, detect_format
from .formats import DataError, numbered_lines, open_bytes, suffix_format
from .formats.conll import CONLL_SUFFIXES, read_conll
from .schemes import SCHEMES, SchemeError, detect_scheme, label_list, to_iob2

logger = logging.getLogger(__name__)
SPLITS = ("train", "validation", "test")
INVALID_TAGS = ("repair", "error")


def named_format(path: str | Path) -> str | None:
    """The format a labelled file's name says (`.jsonl.gz` included); None: tell it from the content."""
    fmt = suffix_format(path)
    if fmt in ("jsonl", "json", "parquet"):
        return fmt
    return "conll" if Path(path).suffix.lower() in CONLL_SUFFIXES else None


@dataclass
class Corpus:
    splits: dict[str, list[dict[str, Any]]]  # split -> sentences, tags already in IOB2
    scheme: str  # the scheme the source files were in
    labels: list[str]  # IOB2 label list from the train split (or all splits when there is none)
    repaired_tags: dict[str, int] = field(default_factory=dict)  # split -> broken continuations repaired

    def to_datasets(self):
        from datasets import Dataset, DatasetDict

        columns = ("tokens", "tags", "document")
        return DatasetDict({name: Dataset.from_dict({c: [s[c] for s in sents] for c in columns})
                            for name, sents in self.splits.items()})


def read_records(path: str | Path, fmt: str) -> list[tuple[str, dict[str, Any]]]:
    """(location, record) pairs from a .jsonl, .json (a list of objects) or .parquet file."""
    if fmt == "jsonl":
        records = []
        for number, line in numbered_lines(path):
            if line.strip():
                try:
                    records.append((f"{path}:{number}", json.loads(line)))
                except json.JSONDecodeError as err:
                    raise DataError(f"{path}:{number}: invalid JSON ({err.msg})") from None
        return records
    if fmt == "json":
        try:
            items = json.loads(Path(path).read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DataError(f"{path}: invalid JSON ({err})") from None
        if not isinstance(items, list):
            raise DataError(f"{path}: expected a JSON list of objects, got {type(items).__name__}")
        return [(f"{path}: record {i}", item) for i, item in enumerate(items)]
    import pyarrow.parquet as pq

    return [(f"{path}: row {i}", row) for i, row in enumerate(pq.read_table(path).to_pylist())]


def sentences_from_records(records, tokens_field: str, tags_field: str, document_field: str | None = None,
                           tag_names: list[str] | None = None, source: str = "") -> list[dict[str, Any]]:
    """Check each record has aligned lists of string words and tags (or ClassLabel ids with `tag_names`)."""
    sentences, documents = [], {}
    for where, record in records:
        if not isinstance(record, dict):
            raise DataError(f"{where}: expected an object with {tokens_field!r} and {tags_field!r}")
        for name in (tokens_field, tags_field):
            if name not in record:
                raise DataError(f"{where}: missing field {name!r} (fields: {', '.join(record)}); "
                                f"set {setting('data.tokens_field')} / {setting('data.tags_field')}")
        tokens, tags = record[tokens_field], record[tags_field]
        if tag_names is not None:
            tags = [tag_names[t] for t in tags]
        if not _strings(tokens) or not _strings(tags):
            raise DataError(f"{where}: {tokens_field!r} and {tags_field!r} must be lists of strings")
        if len(tokens) != len(tags):
            raise DataError(f"{where}: {len(tokens)} tokens but {len(tags)} tags")
        document = -1
        if document_field is not None:
            if document_field not in record:
                raise DataError(f"{where}: missing document field {document_field!r}")
            document = documents.setdefault(record[document_field], len(documents))
        if tokens:
            sentences.append({"tokens": tokens, "tags": tags, "document": document, "lines": [where] * len(tokens)})
    return _nonempty(sentences, source)


def _strings(items: Any) -> bool:
    return isinstance(items, list) and all(isinstance(x, str) for x in items)


def _nonempty(sentences: list, source: Any) -> list:
    if not sentences:
        raise DataError(f"{source}: no sentences found (empty file?)")
    return sentences


def read_file(path: str | Path, cfg: DataConfig, has_tags: bool = True, newlines: str = "auto") -> list[dict[str, Any]]:
    """Any supported local file -> sentences (tags as in the file); span exports' texts are split into
    sentences with the `newlines` rule (nerkit/lines.py)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    fmt = cfg.format if cfg.format != "auto" else named_format(path) or _sniff(path, cfg)
    if fmt == "conll":
        return read_conll(path, cfg.tag_column, has_tags, cfg.token_column, cfg.comment_prefix)
    if fmt in SPAN_FORMATS:
        return read_span_file(path, fmt, cfg, newlines)
    if fmt not in ("jsonl", "json", "parquet"):
        raise DataError(f"unknown {setting('data.format')} {fmt!r}; expected auto, conll, jsonl, json, parquet, "
                        f"{', '.join(SPAN_FORMATS)}")
    records = read_records(path, fmt)
    span_format = _detect_span_format(records, cfg) if fmt != "parquet" and cfg.format == "auto" else None
    if span_format:
        return span_sentences(records, span_format, cfg, path, newlines)
    return sentences_from_records(records, cfg.tokens_field, cfg.tags_field, cfg.document_field, source=path)


def _sniff(path: Path, cfg: DataConfig) -> str:
    from .formats.sniff import sniff_format

    found = sniff_format(path, cfg.comment_prefix)
    if found is None:
        raise DataError(f"{path}: cannot tell the format from the suffix {path.suffix!r} or the content; set "
                        f"{setting('data.format')} to one of conll, jsonl, json, parquet, {', '.join(SPAN_FORMATS)}")
    logger.info("%s: no known suffix; read as %s (the content is %s)", path, found[0], found[1])
    return found[0]


def read_span_file(path: str | Path, fmt: str, cfg: DataConfig, newlines: str = "auto") -> list[dict[str, Any]]:
    """A Label Studio / doccano / spans export (.json list or .jsonl) -> sentences with IOB2 tags."""
    return span_sentences(read_json_records(path), fmt, cfg, path, newlines)


def read_span_documents(path: str | Path, fmt: str, cfg: DataConfig, stats=None):
    """The checked documents (text and character spans) of a span-format file."""
    from .formats.spans import SpanError, span_documents

    records = read_json_records(path)
    try:
        return span_documents(records, fmt, cfg.text_field, cfg.annotation, cfg.overlaps, stats)
    except SpanError as err:
        raise DataError(str(err)) from None


def span_format_of(path: str | Path, cfg: DataConfig) -> str | None:
    """The span format of a local file (from data.format, or detected from its first record), else None."""
    if cfg.format in SPAN_FORMATS:
        return cfg.format
    path = Path(path)
    if cfg.format != "auto" or not path.is_file():
        return None
    named = named_format(path)
    if named is None:
        from .formats.sniff import sniff_format

        if (sniff_format(path) or ("",))[0] not in ("json", "jsonl"):
            return None
    elif named not in ("json", "jsonl"):
        return None
    return _detect_span_format(read_json_records(path), cfg)


def _detect_span_format(records: list, cfg: DataConfig) -> str | None:
    """A span format from the first record's keys, unless it has words and tags (Prodigy's token objects are not)."""
    if not records or not isinstance(records[0][1], dict):
        return None
    record = records[0][1]
    if cfg.tags_field in record and _strings(record.get(cfg.tokens_field)):
        return None
    return detect_format(record)


def span_sentences(records, fmt: str, cfg: DataConfig, source: Any, newlines: str = "auto") -> list[dict[str, Any]]:
    from .formats.spans import SpanError, SpanStats, span_documents, to_sentences

    stats, sentences = SpanStats(), []
    try:
        documents = span_documents(records, fmt, cfg.text_field, cfg.annotation, cfg.overlaps, stats)
        for number, document in enumerate(documents):
            found, split = to_sentences(document, number, newlines)
            sentences += found
            stats.split_words += split
    except SpanError as err:
        raise DataError(str(err)) from None
    stats.log(source)
    return _nonempty(sentences, source)


def read_json_records(path: str | Path) -> list[tuple[str, dict[str, Any]]]:
    """(location, record) pairs of a JSON list file or a JSON Lines file, told apart by the first character."""
    return read_records(path, "json" if _is_json_list(path) else "jsonl")


def _is_json_list(path: str | Path) -> bool:
    with open_bytes(path) as handle:
        return handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"[")


def read_hub(cfg: DataConfig) -> dict[str, list[dict[str, Any]]]:
    """A Hub dataset by name (parquet/arrow; tags as strings or ClassLabel ids)."""
    from datasets import load_dataset

    from .formats.tables import InputError, dataset_arguments

    try:
        args, kwargs = dataset_arguments(cfg.dataset)
        loaded = load_dataset(*args, **(kwargs or {"name": cfg.dataset_config}))
    except (OSError, InputError) as err:  # not found, or the Hub cannot be reached (offline)
        raise DataError(f"data.dataset {cfg.dataset!r} cannot be loaded: {' '.join(str(err).split())}") from err
    splits = {}
    for name, ds in loaded.items():
        feature = ds.features.get(cfg.tags_field)
        names = getattr(getattr(feature, "feature", None), "names", None)
        rows = ((f"{cfg.dataset}[{name}] row {i}", row) for i, row in enumerate(ds))
        splits[name] = sentences_from_records(rows, cfg.tokens_field, cfg.tags_field, cfg.document_field,
                                              tag_names=names, source=f"{cfg.dataset}[{name}]")
    return splits


def load_corpus(cfg: DataConfig, newlines: str = "auto") -> Corpus:
    """Read every configured split, detect or check the scheme, convert to IOB2, build the label list.
    `newlines` (text.newlines) splits span exports' texts into sentences as prediction will."""
    if cfg.scheme not in SCHEMES:
        raise DataError(f"unknown {setting('data.scheme')} {cfg.scheme!r}; expected one of {', '.join(SCHEMES)}")
    if cfg.invalid_tags not in INVALID_TAGS:
        raise DataError(f"unknown {setting('data.invalid_tags')} {cfg.invalid_tags!r}; expected one of {', '.join(INVALID_TAGS)}")
    if cfg.dataset:
        raw = read_hub(cfg)
    else:
        raw = {name: read_file(getattr(cfg, name), cfg, newlines=newlines) for name in SPLITS if getattr(cfg, name)}
    if not raw:
        raise DataError("no data: set data.dataset or data.train / data.validation / data.test")
    all_tags = [s["tags"] for sents in raw.values() for s in sents]
    try:
        scheme = detect_scheme(all_tags) if cfg.scheme == "auto" else cfg.scheme
    except SchemeError as err:
        raise DataError(_locate_malformed(raw, str(err))) from None
    repaired: dict[str, int] = {}
    try:
        for name, sents in raw.items():
            locations = [] if cfg.invalid_tags == "repair" else None
            convert(sents, scheme, locations)
            if locations:
                repaired[name] = len(locations)
                _warn_repaired(getattr(cfg, name, None) if not cfg.dataset else f"{cfg.dataset}[{name}]",
                               locations, scheme)
    except SchemeError as err:
        raise DataError(str(err)) from None
    return Corpus(raw, scheme, train_labels(raw), repaired)


def train_labels(splits: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The IOB2 label list of the train split (of every split when there is none)."""
    reference = splits.get("train") or [s for sents in splits.values() for s in sents]
    return label_list([s["tags"] for s in reference])


def convert(sentences: list[dict[str, Any]], scheme: str, repaired: list[str] | None = None) -> list[dict[str, Any]]:
    """Validate and convert each sentence's tags to IOB2 (in place); errors name file and line. With a
    `repaired` list, broken continuations open entities and their locations are appended to it."""
    for sentence in sentences:
        lines = sentence["lines"]
        sentence["tags"] = to_iob2(sentence["tags"], scheme, lines.__getitem__, repaired)
    return sentences


def _warn_repaired(source: Any, locations: list[str], scheme: str) -> None:
    shown = ", ".join(locations[:5]) + (", ..." if len(locations) > 5 else "")
    logger.warning("%s: %d %s tag%s continued no entity and now open%s one, as conlleval reads them (%s); "
                   "%s refuses them", source, len(locations), scheme.upper(), "s" if len(locations) != 1 else "",
                   "" if len(locations) != 1 else "s", shown, setting("data.invalid_tags", "error"))


def _locate_malformed(raw: dict, message: str) -> str:
    from .schemes import split_tag

    for sents in raw.values():
        for sentence in sents:
            for i, tag in enumerate(sentence["tags"]):
                try:
                    split_tag(tag)
                except SchemeError:
                    return f"{sentence['lines'][i]}: {message}"
    return message


def warn_unseen_labels(splits: dict[str, list[dict[str, Any]]], labels: list[str]) -> None:
    """Warn about gold labels the model will not have: `labels` are the model's (a continued model keeps the
    types its head knows, so those are not warned about)."""
    known = set(labels)
    for name, sents in splits.items():
        unseen = sorted({t for s in sents for t in s["tags"]} - known)
        if unseen:
            logger.warning("split %r has labels the model will not have (the train split never has them): %s; "
                           "the model cannot predict them and they count as missed entities", name, ", ".join(unseen))
