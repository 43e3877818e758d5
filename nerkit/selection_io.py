"""What `nerkit select` reads and writes besides the pool: the texts already labelled (--exclude), the
checkpoint a resumed run starts from (OUT.partial), and the picks in the format an annotation tool imports."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from .errors import CorpusError, DataError, UsageError
from .formats import suffix_format

FORMATS = ("label-studio", "doccano", "spans", "jsonl")
COUNTS = ("read", "excluded", "empty", "invalid")


def output_format(output: str, fmt: str | None) -> str:
    """As asked, else from the name: .jsonl is JSON Lines records, anything else Label Studio tasks."""
    if os.path.isdir(output):
        raise UsageError(f"--output {output} is a directory; give a file name")
    if fmt is not None:
        if fmt not in FORMATS:
            raise UsageError(f"unknown --format {fmt!r}; expected one of {', '.join(FORMATS)}")
        return fmt
    return "jsonl" if suffix_format(output) == "jsonl" else "label-studio"


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class Exclusions:
    """Texts already labelled: their ids (--id-field) and the hashes of their texts."""
    id_field: str | None = None
    ids: set[str] = field(default_factory=set)
    texts: set[str] = field(default_factory=set)

    @classmethod
    def read(cls, path: str | None, text_field: str | None, id_field: str | None) -> "Exclusions":
        """A JSON list or JSON Lines file of records; a Label Studio task's fields are under `data`."""
        from .data import read_json_records

        found = cls(id_field)
        if path is None:
            return found
        if not os.path.isfile(path):
            raise DataError(f"--exclude {path}: no such file")
        key = text_field or "text"
        for where, record in read_json_records(path):
            if not isinstance(record, dict):
                raise DataError(f"{where}: expected a JSON object, got {type(record).__name__}")
            places = [record["data"], record] if isinstance(record.get("data"), dict) else [record]
            text = next((p[k] for p in places for k in (key, "text") if isinstance(p.get(k), str)), None)
            ident = next((p[id_field] for p in places if id_field and p.get(id_field) is not None), None)
            if text is None and ident is None:
                raise DataError(f"{where}: no text field {key!r}" + (f" and no {id_field!r}" if id_field else "")
                                + " to match pool records by")
            if text is not None:
                found.texts.add(text_key(text))
            if ident is not None:
                found.ids.add(str(ident))
        return found

    def holds(self, fields: dict[str, Any], text: str) -> bool:
        if self.id_field and fields.get(self.id_field) is not None and str(fields[self.id_field]) in self.ids:
            return True
        return bool(self.texts) and text_key(text) in self.texts


class Checkpoint:
    """OUT.partial: the run's settings, the chunks done, the counts and the held picks, rewritten whole after
    every chunk; a run killed at any moment resumes from its last whole chunk."""

    def __init__(self, output: str, settings: dict[str, Any], resume: bool):
        from .inference.corpus import check_same_settings

        self.path, self.settings, self.chunks, self.saved = output + ".partial", settings, 0, None
        if os.path.exists(self.path):
            if not resume:
                raise CorpusError(f"{self.path} holds an interrupted run: pass --resume to continue it, or delete it "
                                  "to start over")
            with open(self.path, encoding="utf-8") as handle:
                self.saved = json.load(handle)
            check_same_settings(self.path, self.saved["settings"], json.loads(json.dumps(settings)))

    def restore(self, best) -> dict[str, int]:
        if self.saved is None:
            return dict.fromkeys(COUNTS, 0)
        best.restore(self.saved["picks"], self.saved["offers"])
        self.chunks = self.saved["chunks"]
        return self.saved["counts"]

    def save(self, best, chunks: int, counts: dict[str, int]) -> None:
        from .writing import atomic_write

        atomic_write(self.path, json.dumps({"settings": self.settings, "chunks": chunks, "offers": best.offers,
                                            "counts": counts, "picks": best.state()}, ensure_ascii=False))

    def remove(self) -> None:
        if os.path.exists(self.path):
            os.remove(self.path)


def pick_record(score: float, rank: int, pick: dict[str, Any], fmt: str, strategy: str, text_field: str,
                model_version: str) -> dict[str, Any]:
    """One pick in the output format: the pool record's fields passed through, the score in `meta`."""
    from .formats.span_writers import doccano_record, label_studio_task, spans_record

    meta = {"informativeness": score, "strategy": strategy, "rank": rank}
    result = {"text": pick["text"], "entities": pick["entities"]}
    others = {k: v for k, v in pick["fields"].items() if k != text_field}
    if fmt == "label-studio":  # the text as data.text: what the Named Entity Recognition template reads
        return {**label_studio_task(result, model_version), "data": {**others, "text": pick["text"]}, "meta": meta}
    if fmt == "doccano":
        return {**others, **doccano_record(result), "meta": meta}
    if fmt == "spans":
        return {**others, **spans_record(result), "meta": meta}
    return {**pick["fields"], "entities": pick["entities"], "meta": meta}


def write_picks(picks: list[tuple[float, dict[str, Any]]], output: str, fmt: str, strategy: str, text_field: str,
                model_version: str) -> None:
    """The picks, most informative first, written whole or not at all (a JSON list for Label Studio)."""
    import io

    from .formats.span_writers import json_array
    from .writing import atomic_write

    lines = (json.dumps(pick_record(score, rank, pick, fmt, strategy, text_field, model_version), ensure_ascii=False)
             for rank, (score, pick) in enumerate(picks, start=1))
    text = io.StringIO()
    if fmt == "label-studio":
        json_array(lines, text)
    else:
        text.writelines(line + "\n" for line in lines)
    atomic_write(output, text.getvalue())
