"""`nerkit serve`: a saved model behind an HTTP API with dynamic batching, and a page that highlights entities.

    nerkit serve runs/conll03 --host 127.0.0.1 --port 8080
    curl -s localhost:8080/predict -d '{"texts": ["George Washington went to Washington."]}'

app.py holds the routes, batcher.py gathers concurrent requests into one model call, page.html is the page.
FastAPI and uvicorn come with `pip install 'nerkit[serve]'`.
"""

from __future__ import annotations

import logging
import socket

from ..errors import ServeError

logger = logging.getLogger(__name__)


def serve(model: str, host: str = "127.0.0.1", port: int = 8080, max_texts: int = 32, max_chars: int = 10_000,
          max_body_bytes: int | None = None, batch_texts: int = 64, max_wait_ms: float = 5.0,
          batch_size: int = 8, device: str = "auto", precision: str = "auto", newlines: str | None = None) -> int:
    """Load the model, then serve it until interrupted (SIGINT/SIGTERM finish the requests in flight)."""
    try:
        import uvicorn

        from .app import Limits, create_app
    except ImportError as err:
        raise ServeError(f"nerkit serve needs FastAPI and uvicorn ({err.name} is missing): "
                         "pip install 'nerkit[serve]'") from None
    if min(max_texts, max_chars, batch_texts, batch_size, max_body_bytes or 1) < 1 or max_wait_ms < 0:
        raise ServeError("--max-texts, --max-chars, --max-body-bytes, --batch-texts and --batch-size must be "
                         "positive, --max-wait-ms at least 0")
    from ..inference.tagger import load

    listener = bind(host, port)  # before loading the model: a port in use fails at once
    tagger = load(model, device=device, batch_size=batch_size, precision=precision, newlines=newlines)
    app = create_app(tagger, model, Limits(max_texts, max_chars, max_body_bytes), batch_texts, max_wait_ms)
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
