"""Tagger.predict results -> the files annotation tools import as pre-annotations: spaCy / Prodigy spans
JSON Lines, doccano's sequence labelling, Label Studio tasks (a JSON list), and the one JSON-list writer.
Their readers are spans.py.
"""

from __future__ import annotations

import json
from typing import IO, Any, Iterable


def write_spans(results: Iterable[dict[str, Any]], out: IO[str]) -> None:
    """spaCy / Prodigy style: {"text", "spans": [{"start", "end", "label", "text", "score"}]} per line."""
    for result in results:
        out.write(json.dumps(spans_record(result), ensure_ascii=False) + "\n")


def spans_record(result: dict[str, Any]) -> dict[str, Any]:
    spans = [{k: e[k] for k in ("start", "end", "label", "text", "score") if k in e} for e in result["entities"]]
    return {"text": result["text"], "spans": spans}


def write_doccano(results: Iterable[dict[str, Any]], out: IO[str]) -> None:
    """doccano's sequence-labelling import: {"text", "label": [[start, end, label], ...]} per line."""
    for result in results:
        out.write(json.dumps(doccano_record(result), ensure_ascii=False) + "\n")


def doccano_record(result: dict[str, Any]) -> dict[str, Any]:
    return {"text": result["text"], "label": [[e["start"], e["end"], e["label"]] for e in result["entities"]]}


def label_studio_task(result: dict[str, Any], model_version: str = "nerkit") -> dict[str, Any]:
    """One Label Studio task with pre-annotations for the NER template (`<Labels name="label" toName="text">`
    over `<Text name="text" value="$text">`)."""
    return {"data": {"text": result["text"]},
            "predictions": [label_studio_prediction(label_studio_regions(result["entities"]), model_version)]}


def label_studio_regions(entities: Iterable[dict[str, Any]], from_name: str = "label", to_name: str = "text",
                         label_of=None) -> list[dict[str, Any]]:
    """Entities -> Label Studio `labels` regions (character offsets, a score per span); `label_of` maps a
    model label to the project's label value (default: the same name)."""
    return [{"id": f"r{k}", "from_name": from_name, "to_name": to_name, "type": "labels",
             "value": {"start": e["start"], "end": e["end"], "text": e["text"],
                       "labels": [label_of(e["label"]) if label_of else e["label"]]},
             **({"score": e["score"]} if "score" in e else {})}
            for k, e in enumerate(entities)]


def label_studio_prediction(regions: list[dict[str, Any]], model_version: str) -> dict[str, Any]:
    """One prediction: its regions, and its score the lowest span score (Label Studio sorts tasks by it)."""
    prediction: dict[str, Any] = {"model_version": model_version, "result": regions}
    scores = [r["score"] for r in regions if "score" in r]
    if scores:
        prediction["score"] = min(scores)
    return prediction


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
