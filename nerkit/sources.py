"""Where a model's files come from: a local run or model folder, or a Hub id (a nerkit repo or a plain
transformers one), with the Hub's cache, HF_HUB_OFFLINE, token and revision honoured. A nerkit repo is
downloaded by its push allow-list (nerkit/run.py), and an unfinished or mixed folder is refused here, once,
for every loader (PyTorch, ONNX, export, serve); `loading(name)` turns transformers' failures to load what
was found into one-line ModelErrors.

    source = resolve("my-org/ner", revision="v1")   # source.path: a local folder; source.metadata: nerkit.json
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelError
from .metadata import FILE as METADATA, RunMetadata
from .run import allowed_files, check_complete
from .summary import best_run


@dataclass
class Source:
    """Where a model's files are: `path` is a local folder, or (plain Hub models) the Hub id for transformers."""
    name: str
    path: str
    metadata: RunMetadata | None  # nerkit.json; None for a plain transformers model
    revision: str | None = None
    token: str | None = None

    @property
    def local(self) -> bool:
        return Path(self.path).is_dir()


def resolve(name: str | Path, revision: str | None = None, token: str | None = None) -> Source:
    """A local run or model folder (a seeded parent folder: its best-dev seed's run), or a Hub id (cache,
    HF_HUB_OFFLINE, token and revision honoured)."""
    name = str(name)
    path = Path(name)
    if path.is_dir():
        path = best_run(path)
        name = str(path)
        if revision:
            raise ModelError(f"{name} is a local directory; a revision is only for Hub model ids")
        check_complete(path, name)
        metadata = RunMetadata.from_file(path / METADATA, name) if (path / METADATA).is_file() else None
        _check_not_mixed(path, name, metadata)
        return Source(name, str(path), metadata)
    if path.exists():
        raise ModelError(f"{name} is a file; expected a model directory or a Hub model id")
    return _from_hub(name, revision, token)


def _check_not_mixed(folder: Path, name: str, metadata: RunMetadata | None) -> None:
    """transformers applies an adapter_config.json found beside a full model; refuse instead of mixing."""
    if (metadata is None or metadata.kind != "adapter") and (folder / "adapter_config.json").is_file() \
            and (folder / "config.json").is_file():
        raise ModelError(f"{name} holds a full model and a LoRA adapter (adapter_config.json) side by side: files of "
                         "two runs are mixed; retrain into an empty directory")


def _from_hub(name: str, revision: str | None, token: str | None) -> Source:
    from huggingface_hub import hf_hub_download, snapshot_download
    from huggingface_hub.errors import (EntryNotFoundError, HFValidationError, LocalEntryNotFoundError,
                                        RepositoryNotFoundError, RevisionNotFoundError)

    where = f"{name}" + (f" (revision {revision})" if revision else "")
    missing = f"{where}: not a saved nerkit run or model directory (no such directory)"
    folder = None
    try:
        metadata_file = hf_hub_download(name, METADATA, revision=revision, token=token)
    except HFValidationError:
        raise ModelError(f"{missing}, nor a valid Hub model id") from None
    except RevisionNotFoundError:
        raise ModelError(f"{name}: revision {revision!r} not found on the Hub") from None
    except RepositoryNotFoundError:
        raise ModelError(f"{missing}, nor a Hub model (a private one needs HF_TOKEN or `hf auth login`)") from None
    except LocalEntryNotFoundError:  # offline or unreachable: whatever the cache holds
        try:
            folder = snapshot_download(name, revision=revision, token=token, local_files_only=True)
        except (OSError, ValueError):
            raise ModelError(f"{missing}; the Hub cannot be reached (or HF_HUB_OFFLINE is set) and the cache "
                             "holds no copy of it") from None
        if not Path(folder, METADATA).is_file():
            return Source(name, name, None, revision, token)
        metadata_file = str(Path(folder, METADATA))
    except EntryNotFoundError:
        return Source(name, name, None, revision, token)  # a plain transformers model: transformers fetches it
    except OSError as err:
        raise ModelError(f"{where}: the Hub cannot be reached ({str(err).splitlines()[0]})") from None
    metadata = RunMetadata.from_file(Path(metadata_file), name)
    if folder is None:
        try:
            folder = snapshot_download(name, revision=revision, token=token,
                                       allow_patterns=allowed_files(metadata))
        except OSError as err:
            raise ModelError(f"{where}: the model's files cannot be fetched ({str(err).splitlines()[0]})") from None
    check_complete(folder, name)
    _check_not_mixed(Path(folder), name, metadata)
    return Source(name, str(folder), metadata)


@contextlib.contextmanager
def loading(name: str):
    """transformers' errors for a model that cannot be loaded, as one-line ModelErrors naming it."""
    try:
        yield
    except OSError as err:  # a missing path, an unreachable Hub id (offline), a folder without weights
        raise ModelError(f"model {name!r} cannot be loaded: {str(err).splitlines()[0]}") from err
    except ValueError as err:
        if "trust_remote_code" not in str(err):
            raise
        raise ModelError(f"model {name!r} needs to run Python code from its own files (auto_map in its "
                         "config.json); nerkit never runs a model's code: use a model that transformers supports "
                         "natively") from None
