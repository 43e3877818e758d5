"""Label Studio's ML backend protocol, mounted by `nerkit serve` under /label-studio (the routes and
response shapes of label-studio-ml-backend 2.x; Label Studio appends the route names to the URL it is
given, label_studio/ml/api_connector.py):

    GET  /label-studio/health    {"status": "UP", "model_class": "nerkit", "model_version": ...}
    POST /label-studio/setup     {"project", "schema", ...}           -> {"model_version": "RUN-1a2b3c4d"}
    POST /label-studio/predict   {"tasks", "label_config", ...}       -> {"results": [{"result", "score", "model_version"}]}
    POST /label-studio/webhook   {"action": "START_TRAINING", ...}    (also /train): answered; nerkit does not
                                 retrain inside the server (docs/labelling.md: `nerkit train` from an export)

A task's text is `data[KEY]` of the config's `<Text name=... value="$KEY">`; its entities become regions of
the `<Labels>` over that text whose `<Label value>` has the entity's label (by name, then ignoring case).
Entities of labels the project lacks are left out and counted in the log. Offsets are Python character
offsets, which Label Studio 1.x uses (not UTF-16). A request's texts go through the server's batcher in
pieces of at most `--max-texts`: Label Studio sends whole pages of tasks at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import xml.etree.ElementTree as ElementTree
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from ..errors import ServeError
from ..formats.span_writers import label_studio_prediction, label_studio_regions
from . import Limits
from .bodies import json_type, parse_json, read_body

logger = logging.getLogger(__name__)
TRAIN_EVENTS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATION_DELETED", "START_TRAINING")
WEIGHTS = ("model.safetensors", "adapter_model.safetensors", "model.onnx", "pytorch_model.bin")
RETRAIN = ("nerkit serve does not retrain in the server: export the project (JSON) and run `nerkit train` "
           "with data.train=EXPORT and model.name_or_path=THIS_RUN, then serve the new run (docs/labelling.md)")


class LabelConfigError(ServeError):
    """A label config nerkit cannot predict for (a 400 that says what is missing)."""


@dataclass
class Target:
    """One `<Text>` and the `<Labels>` blocks over it: {label value: from_name}."""
    name: str
    key: str  # the task data field the text is read from
    labels: dict[str, str] = field(default_factory=dict)


@lru_cache(maxsize=64)
def parse_label_config(config: str) -> tuple[Target, ...]:
    """The `<Text>` tags that some `<Labels>` block points at, with those blocks' label values."""
    try:
        root = ElementTree.fromstring(config)
    except ElementTree.ParseError as err:
        raise LabelConfigError(f"label_config is not valid XML: {err}") from None
    texts = {e.get("name"): e for e in root.iter() if e.tag.lower() == "text" and e.get("name")}
    targets: dict[str, Target] = {}
    for block in (e for e in root.iter() if e.tag.lower() == "labels"):
        for to_name in (block.get("toName") or "").split(","):
            text = texts.get(to_name.strip())
            if text is None:
                continue
            value = text.get("value") or ""
            if not value.startswith("$") or len(value) < 2:
                raise LabelConfigError(f'<Text name="{to_name}"> reads no task field (value="{value}"; expected "$field")')
            target = targets.setdefault(to_name.strip(), Target(to_name.strip(), value[1:]))
            for label in block:
                if label.tag.lower() == "label" and label.get("value"):
                    target.labels.setdefault(label.get("value"), block.get("name"))
    if not targets:
        raise LabelConfigError('label_config has no <Labels> over a <Text>: nerkit predicts spans of text, so it '
                               'needs <Labels name="label" toName="text"> with <Label value="..."/> inside, over '
                               '<Text name="text" value="$text"/>')
    return tuple(targets.values())


def label_map(target: Target, entity_types: list[str]) -> dict[str, tuple[str, str]]:
    """Model entity type -> (from_name, the project's label value): the same name, else the same ignoring case."""
    folded = {value.lower(): value for value in reversed(list(target.labels))}
    found = {}
    for kind in entity_types:
        value = kind if kind in target.labels else folded.get(kind.lower())
        if value is not None:
            found[kind] = (target.labels[value], value)
    return found


def model_version(model: str | None) -> str:
    """The run's name and a short hash of its weights: a new training is a new version."""
    if not model:
        return "nerkit"
    folder = Path(model)
    digest = hashlib.sha256()
    weights = [folder / name for name in WEIGHTS if (folder / name).is_file()]
    for path in weights:
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    name = folder.resolve().name if folder.is_dir() else model.replace("/", "--")
    return f"{name}-{digest.hexdigest()[:8]}" if weights else name


def router(batcher, entity_types: list[str], limits: Limits, version: str) -> APIRouter:
    routes = APIRouter()
    body_limit = limits.body_bytes * max(1, -(-limits.max_tasks // limits.max_texts))

    @routes.get("/health")
    @routes.get("/")
    async def health() -> dict[str, Any]:
        return {"status": "UP", "model_class": "nerkit", "model_version": version}

    @routes.post("/setup")
    async def setup(request: Request) -> dict[str, Any]:
        payload = _object(await read_body(request, body_limit))
        if payload.get("schema"):
            _targets(payload["schema"])  # a project nerkit cannot serve fails at the connect step, with the reason
        return {"model_version": version}

    @routes.post("/predict")
    async def predict(request: Request) -> JSONResponse:
        payload = _object(await read_body(request, body_limit))
        targets = _targets(payload.get("label_config"))
        tasks = payload.get("tasks")
        if not isinstance(tasks, list):
            raise HTTPException(422, f'"tasks" must be an array of Label Studio tasks, got {json_type(tasks)}')
        if len(tasks) > limits.max_tasks:
            raise HTTPException(413, f"{len(tasks)} tasks in one request; the limit is {limits.max_tasks} (--max-tasks)")
        texts = [task_text(task, i, target, limits.max_chars) for i, task in enumerate(tasks) for target in targets]
        tagged = await _tag(batcher, texts, limits.max_texts)
        maps = [label_map(target, entity_types) for target in targets]
        left_out: Counter = Counter()
        results = []
        for i in range(len(tasks)):
            regions = []
            for k, (target, labels) in enumerate(zip(targets, maps)):
                found = tagged[i * len(targets) + k]["entities"]
                left_out.update(e["label"] for e in found if e["label"] not in labels)
                for label in sorted({e["label"] for e in found} & set(labels)):
                    regions += label_studio_regions([e for e in found if e["label"] == label], labels[label][0],
                                                    target.name, lambda kind: labels[kind][1])
            regions.sort(key=lambda r: (r["value"]["start"], r["to_name"]))
            for number, region in enumerate(regions):
                region["id"] = f"r{number}"
            results.append(label_studio_prediction(regions, version))
        if left_out:
            logger.info("label-studio: left out %d entities of labels the project has no <Label> for: %s",
                        sum(left_out.values()), dict(left_out))
        return JSONResponse({"results": results})

    @routes.post("/webhook")
    @routes.post("/train")
    async def webhook(request: Request) -> JSONResponse:
        payload = _object(await read_body(request, body_limit))
        event = payload.get("action", "START_TRAINING")  # /train (older Label Studio) names no action
        if event not in TRAIN_EVENTS:
            return JSONResponse({"status": "Unknown event"})
        return JSONResponse({"status": "ok", "result": {"trained": False, "message": RETRAIN}}, status_code=201)

    @routes.get("/versions")
    @routes.post("/versions")
    async def versions() -> dict[str, Any]:
        return {"versions": [version]}

    return routes


def task_text(task: Any, number: int, target: Target, max_chars: int) -> str:
    """The text a task holds for a `<Text>`, or the HTTP error that names the task and what is wrong."""
    where = f"tasks[{number}]" + (f" (id {task['id']})" if isinstance(task, dict) and "id" in task else "")
    data = task.get("data") if isinstance(task, dict) else None
    if not isinstance(data, dict):
        raise HTTPException(422, f'{where} has no "data" object')
    if target.key not in data:
        raise HTTPException(422, f'{where}: data has no field {target.key!r} (<Text name="{target.name}" '
                                 f'value="${target.key}">); its fields: {", ".join(data) or "none"}')
    text = data[target.key]
    if not isinstance(text, str):
        raise HTTPException(422, f"{where}: data.{target.key} must be a string, got {json_type(text)} (nerkit "
                                 "tags inline text, not a URL to fetch)")
    if len(text) > max_chars:
        raise HTTPException(413, f"{where}: data.{target.key} has {len(text)} characters; the limit is {max_chars} "
                                 "(--max-chars)")
    return text


async def _tag(batcher, texts: list[str], piece: int) -> list[dict[str, Any]]:
    try:
        parts = await asyncio.gather(*(batcher.submit(texts[i:i + piece]) for i in range(0, len(texts), piece)))
    except Exception as err:  # logged by the batcher; the server carries on
        raise HTTPException(500, f"tagging failed ({type(err).__name__}); see the server log") from None
    return [result for part in parts for result in part]


def _object(body: bytes) -> dict[str, Any]:
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise HTTPException(422, f"expected a JSON object, got {json_type(payload)}")
    return payload


def _targets(config: Any) -> tuple[Target, ...]:
    if not isinstance(config, str) or not config.strip():
        raise HTTPException(400, "missing label_config (the project's labelling XML)")
    try:
        return parse_label_config(config)
    except LabelConfigError as err:
        raise HTTPException(400, str(err)) from None
