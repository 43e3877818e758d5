"""`nerkit serve`: a saved model behind an HTTP API with dynamic batching, and a page that highlights entities.

    nerkit serve runs/conll03 --host 127.0.0.1 --port 8080
    curl -s localhost:8080/predict -d '{"texts": ["George Washington went to Washington."]}'
    # Label Studio: Settings > Model > Connect model, URL http://HOST:8080/label-studio (label_studio.py)

app.py holds the routes, batcher.py gathers concurrent requests into one model call, page.html is the page.
FastAPI and uvicorn come with `pip install 'nerkit[serve]'`.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass

from ..config import option
from ..errors import ServeError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """What one request may hold: the server's defaults, `nerkit serve`'s options and /info's `limits`."""
    max_texts: int = option(32, "--max-texts", "texts per request")
    max_chars: int = option(10_000, "--max-chars", "characters per text")
    max_tasks: int = option(1000, "--max-tasks", "Label Studio tasks per /label-studio/predict request (tagged in "
                                                  "pieces of --max-texts)")
    max_body_bytes: int | None = option(None, "--max-body-bytes",
                                         "request body size (default: room for the two limits above)")

    @property
    def body_bytes(self) -> int:
        return self.max_body_bytes or 6 * self.max_texts * self.max_chars + 4096


@dataclass(frozen=True)
class Batching:
    """How concurrent requests share model calls."""
    batch_texts: int = option(64, "--batch-texts", "texts of concurrent requests tagged in one call")
    max_wait_ms: float = option(5.0, "--max-wait-ms", "how long a call waits for more requests")
    batch_size: int = option(8, "--batch-size", "sentences per forward pass (small length-sorted passes pad "
                                                 "least on a CPU)")


def serve(model: str, host: str = "127.0.0.1", port: int = 8080, max_texts: int = Limits.max_texts,
          max_chars: int = Limits.max_chars, max_tasks: int = Limits.max_tasks, max_body_bytes: int | None = None,
          batch_texts: int = Batching.batch_texts, max_wait_ms: float = Batching.max_wait_ms,
          batch_size: int = Batching.batch_size, device: str = "auto", precision: str = "auto",
          newlines: str | None = None, threshold=None) -> int:
    """Load the model, then serve it until interrupted (SIGINT/SIGTERM finish the requests in flight).
    `threshold` is the default of requests that give none (else the model's tuned thresholds)."""
    try:
        import uvicorn

        from .app import create_app
    except ImportError as err:
        raise ServeError(f"nerkit serve needs FastAPI and uvicorn ({err.name} is missing): "
                         "pip install 'nerkit[serve]'") from None
    if min(max_texts, max_chars, max_tasks, batch_texts, batch_size, max_body_bytes or 1) < 1 or max_wait_ms < 0:
        raise ServeError("--max-texts, --max-chars, --max-tasks, --max-body-bytes, --batch-texts and --batch-size must be "
                         "positive, --max-wait-ms at least 0")
    from ..inference.tagger import load

    listener = bind(host, port)  # before loading the model: a port in use fails at once
    tagger = load(model, device=device, batch_size=batch_size, precision=precision, newlines=newlines,
                  threshold=threshold)
    app = create_app(tagger, model, Limits(max_texts, max_chars, max_tasks, max_body_bytes), batch_texts, max_wait_ms)
    if host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning("listening on %s: the API has no authentication; put a reverse proxy with TLS and auth "
                       "in front of it (docs/serve.md)", host)
    logger.info("serving %s on http://%s:%d/ (device %s)", model, host, listener.getsockname()[1], tagger.device)
    config = uvicorn.Config(app, host=host, port=port, log_level="info", access_log=False)
    try:
        uvicorn.Server(config).run(sockets=[listener])
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl+C once it has shut down gracefully
        pass
    return 0


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: any free port)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        listener = socket.socket(family, kind, proto)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(2048)
    except OSError as err:
        raise ServeError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    return listener
