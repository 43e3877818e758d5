"""The HTTP API and the page, as a FastAPI app around a Tagger.

    POST /predict  {"texts": ["George Washington went to Washington."]}  -> [{"text", "entities"}], as `nerkit predict`
                   {"texts": [...], "threshold": 0.8}  or  {"threshold": {"PER": 0.6}}: this request's thresholds
    GET  /health   {"status": "ok", "queued": 0, "batches": 12}
    GET  /info     labels, entity types, base model, max length, document context, limits, metrics.json
    GET  /         a page that highlights the entities of a pasted text
    /label-studio  Label Studio's ML backend protocol (label_studio.py), through the same batcher

Every bad request gets a 4xx with a JSON body {"error": "..."}: 400 not JSON, 422 not {"texts": [strings]},
413 over a limit (body bytes, texts per request, characters per text). A request whose tagging fails
gets a 500 and the server carries on.
"""

from __future__ import annotations

import html
import json
import logging
from contextlib import asynccontextmanager
from dataclasses import asdict
from functools import partial
from types import SimpleNamespace
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..deprecated import moved_names
from ..formats.html import STYLE, entity_types, label_rules, legend
from ..thresholds import ThresholdError, check, filter_results
from . import Batching, Limits, label_studio
from .batcher import Batcher
from .bodies import json_type, parse_json, read_body

logger = logging.getLogger(__name__)
__getattr__ = moved_names(__name__, {"describe": "nerkit.serve.app:model_summary"})


def create_app(tagger, model: str | None = None, limits: Limits = Limits(), batch_texts: int = Batching.batch_texts,
               max_wait_ms: float = Batching.max_wait_ms) -> FastAPI:
    """The app; `tagger` needs `predict(texts)`, `labels`, `metadata` and `device` (a nerkit Tagger). A Tagger
    with thresholds tags every entity once for all requests in a batch; each request then gets its own
    threshold (its `threshold` field, else the server's: --threshold or the model's tuned ones)."""
    default = getattr(tagger, "thresholds", None)
    batcher = Batcher(tagger.predict if default is None else partial(tagger.predict, threshold=0), batch_texts,
                      max_wait_ms)
    types = entity_types(tagger.labels)
    info = {**model_summary(tagger, model), "limits": {**asdict(limits), "max_body_bytes": limits.body_bytes},
            "batching": {"batch_texts": batch_texts, "max_wait_ms": max_wait_ms,
                         "batch_size": getattr(tagger, "batch_size", None)}}
    page = render_page(info)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await batcher.start()
        yield
        await batcher.stop()  # uvicorn has already let the requests in flight finish

    app = FastAPI(title="nerkit", lifespan=lifespan, docs_url=None, redoc_url=None)  # the docs pages load a CDN
    app.state.batcher = batcher

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": error.detail}, status_code=error.status_code, headers=error.headers)

    @app.post("/predict")
    async def predict(request: Request) -> JSONResponse:
        texts, threshold = parse_request(await read_body(request, limits.body_bytes), limits)
        try:
            chosen = (default or {}) if threshold is None else check(threshold, types)
        except ThresholdError as err:
            raise HTTPException(422, str(err)) from None
        try:
            results = await batcher.submit(texts)
        except Exception as err:  # logged by the batcher; the server carries on
            raise HTTPException(500, f"tagging failed ({type(err).__name__}); see the server log") from None
        return JSONResponse(filter_results(results, chosen))

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "queued": batcher.queued, "batches": batcher.model_calls}

    @app.get("/info")
    async def model_info() -> dict[str, Any]:
        return info

    async def submit_at_default(texts: list[str]) -> list[dict[str, Any]]:  # Label Studio: the server's thresholds
        return filter_results(await batcher.submit(texts), default or {})

    app.include_router(label_studio.router(SimpleNamespace(submit=submit_at_default), info["entity_types"], limits,
                                           label_studio.model_version(model)), prefix="/label-studio")

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    return app


def parse_request(body: bytes, limits: Limits) -> tuple[list[str], Any]:
    """{"texts": [str, ...], "threshold": number or {type: number} (optional)} -> (texts, threshold or None),
    or the HTTP error that says what is wrong with the request."""
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise HTTPException(422, f'expected a JSON object {{"texts": [string, ...]}}, got {json_type(payload)}')
    if "texts" not in payload:
        raise HTTPException(422, f"missing field `texts` (a list of strings); got keys: {', '.join(payload) or 'none'}")
    if set(payload) - {"texts", "threshold"}:
        raise HTTPException(422, f"unknown fields {sorted(set(payload) - {'texts', 'threshold'})}; only \"texts\" "
                                 "and \"threshold\" are accepted")
    threshold = payload.get("threshold")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float, dict))):
        raise HTTPException(422, f'"threshold" must be a number or an object {{"TYPE": number}}, got {json_type(threshold)}')
    texts = payload["texts"]
    if not isinstance(texts, list):
        raise HTTPException(422, f'"texts" must be an array of strings, got {json_type(texts)}')
    if len(texts) > limits.max_texts:
        raise HTTPException(413, f"{len(texts)} texts in one request; the limit is {limits.max_texts}")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise HTTPException(422, f"texts[{i}] must be a string, got {json_type(text)}")
        if len(text) > limits.max_chars:
            raise HTTPException(413, f"texts[{i}] has {len(text)} characters; the limit is {limits.max_chars}")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:
            raise HTTPException(422, f"texts[{i}] is not valid Unicode (a lone surrogate at {err.start})") from None
    return texts, threshold


def model_summary(tagger, model: str | None) -> dict[str, Any]:
    """What /info tells about the model: its labels and encoding settings, and its run's metrics."""
    meta = tagger.metadata
    metrics_file = Path(model, "metrics.json") if model else None
    metrics = json.loads(metrics_file.read_text(encoding="utf-8")) if metrics_file and metrics_file.is_file() else None
    return {"model": model, "base_model": meta.base_model, "labels": list(tagger.labels),
            "entity_types": entity_types(tagger.labels), "max_length": meta.max_length,
            "stride": meta.stride, "context": meta.context,
            "context_size": meta.context_size, "head": meta.head,
            "decoding": meta.decoding, "device": tagger.device, "metrics": metrics,
            "calibrated": getattr(tagger, "calibrator", None) is not None,
            "thresholds": getattr(tagger, "thresholds", None) or {}}


def render_page(info: dict[str, Any]) -> str:
    types = info["entity_types"]
    about = f"model {info['model'] or '(in memory)'}"
    if info["base_model"]:
        about += f" (from {info['base_model']})"
    test = (info["metrics"] or {}).get("test", {}).get("f1")
    if test is not None:
        about += f", test F1 {test:.4f}"
    template = resources.files("nerkit.serve").joinpath("page.html").read_text(encoding="utf-8")
    return (template.replace("/*STYLE*/", STYLE + label_rules(types))
            .replace("<!--LEGEND-->", legend(types))
            .replace("<!--MODEL-->", html.escape(about))
            .replace("/*MAX_CHARS*/", str(info["limits"]["max_chars"])))

