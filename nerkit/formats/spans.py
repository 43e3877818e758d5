"""Text with character spans <-> words with IOB2 tags; Label Studio, doccano and spans JSON(L), read and written.

Every reader turns its records into `Document`s (text + (start, end, label) spans, checked), and
`to_sentences` turns a document into nerkit's sentence records with the same splitter `nerkit predict`
uses (nerkit/text.py). A span boundary inside a word splits the word there, so no span is lost or
moved; a sentence break inside a span is not taken. The writers take `Tagger.predict` results.
"""

from __future__ import annotations

import bisect
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, Any, Iterable

from ..config import setting
from ..text import Word, split_sentences, split_words
from ..errors import SpanError

logger = logging.getLogger(__name__)
SPAN_FORMATS = ("label-studio", "doccano", "spans")
ANNOTATIONS = ("first-completed", "last-completed", "predictions")
OVERLAPS = ("error", "longest")


@dataclass
class Document:
    text: str
    spans: list[tuple[int, int, str]]  # (start, end, label), character offsets into text
    where: str  # file and record, for messages


@dataclass
class SpanStats:
    """What reading changed or left out, reported once per file."""
    documents: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> records
    split_words: int = 0  # words split at a span boundary
    dropped_overlaps: int = 0  # spans dropped by `overlaps: longest`
    utf16_offsets: int = 0  # Label Studio spans whose offsets counted UTF-16 code units

    def log(self, source: Any) -> None:
        logger.info("%s: %d documents, %d words split at span boundaries", source, self.documents, self.split_words)
        for reason, count in sorted(self.skipped.items()):
            logger.warning("%s: %d records skipped: %s", source, count, reason)
        if self.dropped_overlaps:
            logger.warning("%s: %d overlapping spans dropped (%s keeps the longest)", source, self.dropped_overlaps,
                           setting("data.overlaps", "longest"))
        if self.utf16_offsets:
            logger.info("%s: %d spans had UTF-16 offsets (older Label Studio); converted", source, self.utf16_offsets)


# ---- spans <-> words and tags --------------------------------------------------------------------

def words_and_tags(text: str, spans: list[tuple[int, int, str]]) -> tuple[list[Word], list[str], int]:
    """nerkit's words of `text`, cut at every span boundary that falls inside a word, with IOB2 tags.
    Returns (words, tags, number of words that were cut). Spans must not overlap."""
    cuts = sorted({b for start, end, _ in spans for b in (start, end)})
    words, split = [], 0
    for word in split_words(text):
        k = bisect.bisect_right(cuts, word.start)
        inside = cuts[k:bisect.bisect_left(cuts, word.end, k)]
        split += bool(inside)
        for start, end in zip([word.start] + inside, inside + [word.end]):
            words.append(Word(text[start:end], start, end))
    tags = ["O"] * len(words)
    starts, ends = {w.start: i for i, w in enumerate(words)}, {w.end: i for i, w in enumerate(words)}
    for start, end, label in spans:
        first, last = starts.get(start), ends.get(end)
        if first is None or last is None or last < first:  # an edge on a character no word covers
            raise SpanError(f"span {start}-{end} ({label}) does not start and end on words of the splitter")
        tags[first:last + 1] = ["B-" + label] + ["I-" + label] * (last - first)
    return words, tags, split


def spans_from_tags(words: list[Word], tags: list[str]) -> list[tuple[int, int, str]]:
    """IOB2 word tags -> (start, end, label) character spans, decoded as evaluation decodes them."""
    from ..schemes import spans

    return [(words[first].start, words[last - 1].end, kind) for kind, first, last in spans(tags)]


def to_sentences(document: Document, number: int, newlines: str = "auto") -> tuple[list[dict[str, Any]], int]:
    """One document -> nerkit sentence records (document id `number`), its sentences split as `nerkit predict`
    splits them with the same `newlines` rule; also the count of words cut."""
    try:
        words, tags, split = words_and_tags(document.text, document.spans)
    except SpanError as err:
        raise SpanError(f"{document.where}: {err}") from None
    sentences = _merge_inside_spans(split_sentences(words, document.text, newlines) if words else [], tags)
    records, k = [], 0
    for sentence in sentences:
        records.append({"tokens": [w.text for w in sentence], "tags": tags[k:k + len(sentence)], "document": number,
                        "lines": [document.where] * len(sentence)})
        k += len(sentence)
    return records, split


def _merge_inside_spans(sentences: list[list[Word]], tags: list[str]) -> list[list[Word]]:
    """Undo a sentence break that falls inside an entity ("Acme Inc. Ltd" can look like a sentence end)."""
    merged: list[list[Word]] = []
    k = 0
    for sentence in map(list, sentences):
        if merged and tags[k].startswith("I-"):
            merged[-1].extend(sentence)
        else:
            merged.append(sentence)
        k += len(sentence)
    return merged


# ---- checks shared by the readers ----------------------------------------------------------------

def checked_document(text: Any, raw_spans: list[tuple[Any, Any, Any, Any]], where: str, overlaps: str,
                     stats: SpanStats) -> Document:
    """Check (start, end, label, text-or-None) spans against the text; trim whitespace at their edges;
    resolve overlaps."""
    if not isinstance(text, str):
        raise SpanError(f"{where}: the text must be a string, got {type(text).__name__}")
    spans = []
    for start, end, label, quoted in raw_spans:
        if not isinstance(label, str) or not label.strip():
            raise SpanError(f"{where}: span label must be a non-empty string, got {label!r}")
        if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
            raise SpanError(f"{where}: span offsets must be integers, got start={start!r} end={end!r} ({label})")
        if not 0 <= start < end <= len(text):
            raise SpanError(f"{where}: span {start}-{end} ({label}) lies outside the text of {len(text)} characters")
        if quoted is not None and text[start:end] != quoted:
            start, end = _from_utf16(text, start, end, quoted, where, label)
            stats.utf16_offsets += 1
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start == end:
            raise SpanError(f"{where}: span ({label}) covers only whitespace")
        spans.append((start, end, label))
    return Document(text, _resolve_overlaps(spans, where, overlaps, stats), where)


def _from_utf16(text: str, start: int, end: int, quoted: str, where: str, label: str) -> tuple[int, int]:
    """Offsets counted in UTF-16 code units (JavaScript string indices) -> Python string indices."""
    units = text.encode("utf-16-le")
    try:
        prefix, body = units[:2 * start].decode("utf-16-le"), units[2 * start:2 * end].decode("utf-16-le")
    except UnicodeDecodeError:
        body = None
    if body != quoted:
        raise SpanError(f"{where}: span {start}-{end} ({label}) is {text[start:end]!r} in the text but its "
                        f"text field says {quoted!r}")
    return len(prefix), len(prefix) + len(body)


def _resolve_overlaps(spans: list[tuple[int, int, str]], where: str, overlaps: str,
                      stats: SpanStats) -> list[tuple[int, int, str]]:
    if overlaps == "longest":
        spans = sorted(set(spans), key=lambda s: (s[0] - s[1], s[0]))  # longest first, then leftmost
    kept: list[tuple[int, int, str]] = []
    for span in spans:
        clash = next((k for k in kept if k[0] < span[1] and span[0] < k[1]), None)
        if clash is None:
            kept.append(span)
        elif overlaps == "longest":
            stats.dropped_overlaps += 1
        elif clash != span:
            raise SpanError(f"{where}: spans {clash[0]}-{clash[1]} ({clash[2]}) and {span[0]}-{span[1]} ({span[2]}) "
                            f"overlap; nerkit tags one entity per word (set {setting('data.overlaps', 'longest')} to keep the "
                            f"longest and drop the rest)")
    return sorted(kept)


# ---- readers: (location, record) pairs -> documents ----------------------------------------------

def detect_format(record: Any) -> str | None:
    """The span format a record is in, from its keys; None when it is none of them."""
    if not isinstance(record, dict):
        return None
    if isinstance(record.get("data"), dict) and ("annotations" in record or "predictions" in record):
        return "label-studio"
    if "text" in record and "spans" in record:
        return "spans"
    entities = record.get("entities")
    if "text" in record and isinstance(entities, list):
        first = entities[0] if entities else {}
        return "doccano" if isinstance(first, dict) and "start_offset" in first else "spans"
    if "text" in record and ("label" in record or "labels" in record):
        return "doccano"
    return None


def read_documents(records: Iterable[tuple[str, Any]], fmt: str, text_field: str = "text",
                   annotation: str = "first-completed", overlaps: str = "error",
                   stats: SpanStats | None = None) -> list[Document]:
    """Records of a span format -> checked documents (records without annotations are skipped and counted)."""
    if fmt not in SPAN_FORMATS:
        raise SpanError(f"unknown span format {fmt!r}; expected one of {', '.join(SPAN_FORMATS)}")
    if annotation not in ANNOTATIONS:
        raise SpanError(f"unknown {setting('data.annotation')} {annotation!r}; expected one of {', '.join(ANNOTATIONS)}")
    if overlaps not in OVERLAPS:
        raise SpanError(f"unknown {setting('data.overlaps')} {overlaps!r}; expected one of {', '.join(OVERLAPS)}")
    stats = stats if stats is not None else SpanStats()
    read = {"label-studio": _label_studio, "doccano": _doccano, "spans": _spans}[fmt]
    documents = []
    for where, record in records:
        if not isinstance(record, dict):
            raise SpanError(f"{where}: expected a JSON object, got {type(record).__name__}")
        found = read(record, where, text_field, annotation, stats)
        if found is not None:
            documents.append(checked_document(*found, where, overlaps, stats))
    stats.documents = len(documents)
    return documents


def _text(container: dict, key: str, where: str, what: str) -> Any:
    if key not in container:
        raise SpanError(f"{where}: no {what}{key!r} (fields: {', '.join(map(str, container))}); set {setting('data.text_field')}")
    return container[key]


def _label_studio(task: dict, where: str, text_field: str, annotation: str, stats: SpanStats):
    if not isinstance(task.get("data"), dict):
        raise SpanError(f"{where}: a Label Studio task needs a \"data\" object")
    text = _text(task["data"], text_field, where, "data field ")
    if annotation == "predictions":
        chosen = (task.get("predictions") or [None])[0]
    else:
        done = [a for a in task.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
        chosen = (done or [None])[0 if annotation == "first-completed" else -1]
    if chosen is not None and not isinstance(chosen, dict):
        raise SpanError(f"{where}: annotations and predictions must be objects with a \"result\" list")
    if chosen is None:
        stats.skipped["no prediction" if annotation == "predictions" else "no completed annotation"] += 1
        return None
    spans = []
    for item in chosen.get("result") or []:
        if not isinstance(item, dict) or item.get("type") != "labels":
            continue  # relations, choices, text areas: not spans
        value = item.get("value") or {}
        labels = value.get("labels") or []
        if len(labels) != 1:
            raise SpanError(f"{where}: region {item.get('id', '')!r} has {len(labels)} labels {labels}; "
                            f"nerkit needs exactly one label per span")
        spans.append((value.get("start"), value.get("end"), labels[0], value.get("text")))
    return text, spans


def _doccano(record: dict, where: str, text_field: str, annotation: str, stats: SpanStats):
    text = _text(record, text_field, where, "field ")
    if isinstance(record.get("entities"), list):
        items = record["entities"]
        if not all(isinstance(e, dict) for e in items):
            raise SpanError(f"{where}: \"entities\" must be objects with start_offset, end_offset and label")
        return text, [(e.get("start_offset"), e.get("end_offset"), e.get("label"), None) for e in items]
    items = record.get("label", record.get("labels"))
    if not isinstance(items, list) or not all(isinstance(e, list) and len(e) == 3 for e in items):
        raise SpanError(f"{where}: doccano \"label\" must be a list of [start, end, label] triples, got {items!r}")
    return text, [(s, e, label, None) for s, e, label in items]


def _spans(record: dict, where: str, text_field: str, annotation: str, stats: SpanStats):
    if record.get("answer", "accept") != "accept":  # Prodigy: rejected or ignored examples
        stats.skipped[f"Prodigy answer {record['answer']!r}"] += 1
        return None
    text = _text(record, text_field, where, "field ")
    items = record.get("spans", record.get("entities"))
    if not isinstance(items, list) or not all(isinstance(e, dict) for e in items):
        raise SpanError(f"{where}: \"spans\" must be a list of objects with start, end and label")
    return text, [(e.get("start"), e.get("end"), e.get("label"), e.get("text")) for e in items]


# ---- writers: Tagger.predict results -> what each tool imports -----------------------------------

def write_spans(results: Iterable[dict[str, Any]], out: IO[str]) -> None:
    """spaCy / Prodigy style: {"text", "spans": [{"start", "end", "label", "text", "score"}]} per line."""
    for result in results:
        spans = [{k: e[k] for k in ("start", "end", "label", "text", "score") if k in e} for e in result["entities"]]
        out.write(json.dumps({"text": result["text"], "spans": spans}, ensure_ascii=False) + "\n")


def write_doccano(results: Iterable[dict[str, Any]], out: IO[str]) -> None:
    """doccano's sequence-labelling import: {"text", "label": [[start, end, label], ...]} per line."""
    for result in results:
        labels = [[e["start"], e["end"], e["label"]] for e in result["entities"]]
        out.write(json.dumps({"text": result["text"], "label": labels}, ensure_ascii=False) + "\n")


def label_studio_task(result: dict[str, Any], model_version: str = "nerkit") -> dict[str, Any]:
    """One Label Studio task with pre-annotations for the NER template (`<Labels name="label" toName="text">`
    over `<Text name="text" value="$text">`): one prediction, a score per span, the task's score the
    lowest span score (Label Studio sorts tasks by it)."""
    regions = [{"id": f"r{k}", "from_name": "label", "to_name": "text", "type": "labels",
                "value": {"start": e["start"], "end": e["end"], "text": e["text"], "labels": [e["label"]]},
                **({"score": e["score"]} if "score" in e else {})}
               for k, e in enumerate(result["entities"])]
    prediction: dict[str, Any] = {"model_version": model_version, "result": regions}
    scores = [r["score"] for r in regions if "score" in r]
    if scores:
        prediction["score"] = min(scores)
    return {"data": {"text": result["text"]}, "predictions": [prediction]}


def write_label_studio_tasks(results: Iterable[dict[str, Any]], out: IO[str], model_version: str = "nerkit") -> None:
    """One task per line: what a chunked run spools before `json_array` turns the lines into Label Studio's list."""
    for result in results:
        out.write(json.dumps(label_studio_task(result, model_version), ensure_ascii=False) + "\n")


def write_label_studio(results: Iterable[dict[str, Any]], out: IO[str], model_version: str = "nerkit") -> None:
    """A JSON list of Label Studio tasks (Label Studio imports a JSON list, not JSON Lines)."""
    json_array((json.dumps(label_studio_task(r, model_version), ensure_ascii=False) for r in results), out)


def json_array(items: Iterable[str], out: IO[str]) -> None:
    """JSON values, one per item, written as one JSON list."""
    out.write("[")
    for number, item in enumerate(items):
        out.write(("," if number else "") + "\n" + item)
    out.write("\n]\n")
