"""Every file nerkit writes is whole or absent, and holds no secret.

A file is written to a temporary name beside it, flushed to disk and renamed over the target, so a crash
leaves the old file or the whole new one, never a cut-off one (run folders, reports, corpus indexes, pages).
A recipe is written with the values of secret-looking keys and anything like a Hugging Face token redacted.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Callable

SECRET = re.compile(r"(^|_)(token|password|passwd|secret|api_key|apikey)(_|$)", re.IGNORECASE)
HF_TOKEN = re.compile(r"hf_[A-Za-z0-9]{20,}")
REDACTED = "<redacted>"


def atomic_write(path: str | Path, data: str | bytes | Callable[[Path], Any]) -> Path:
    """Write `data` (text, bytes, or `data(temporary path)` for writers that take a path) to a temporary
    file beside `path`, then rename it over `path`: `path` is the old file or the whole new one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix or ".tmp")
    os.close(fd)
    try:
        if callable(data):
            data(Path(tmp))
        else:
            Path(tmp).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        with open(tmp, "rb+") as handle:  # on disk before the rename, so a crash cannot leave an empty file
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; these are as readable as any other
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_json(path: str | Path, value: Any) -> Path:
    return atomic_write(path, json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def redact(value: Any, key: str = "") -> Any:
    """Secrets out of a recipe: values of keys naming a token/password/secret, and anything like an HF token."""
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    if not isinstance(value, str):
        return value  # secrets are strings; numbers and flags such as data.token_column stay
    if value and SECRET.search(key):
        return REDACTED
    return HF_TOKEN.sub(REDACTED, value)
