"""What a run folder is: the one place training, pushing and loading ask.

A finished run folder holds the model (full weights, or a LoRA adapter whose classifier head is saved
with it), its tokenizer, `nerkit.json` (labels, kind, base model, encoding settings: nerkit/metadata.py),
`recipe.yaml`, `metrics.json`, `train_results.json` and `README.md` (the model card), plus the Trainer's
`checkpoint-*` folders and, with LoRA merging, `merged/`. `INCOMPLETE` is written when a run starts and
removed last, so an interrupted run is recognisable and never loaded or pushed as if it were finished. A
push uploads the allow-list below and nothing else found in the folder (no pickles, checkpoints or reports).
Where a model's files come from (a local folder or a Hub id) is nerkit/sources.py's business.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from .aliases import hub_name
from .deprecated import moved_names
from .errors import ModelError, RunError  # noqa: F401  (ModelError: its old home)
from .metadata import FILE as METADATA, RunMetadata
from .writing import atomic_write, redact, write_json

logger = logging.getLogger(__name__)

INCOMPLETE = "INCOMPLETE"  # written first, removed last
MERGED = "merged"
MERGED_FROM = "adapter.sha256"  # inside merged/: the hash of the adapter files it was merged from
RECIPE = "recipe.yaml"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
                   "vocab.txt", "vocab.json", "merges.txt", "spiece.model", "sentencepiece.bpe.model", "spm.model",
                   "tokenizer.model")
WEIGHT_FILES = {"full": ("config.json", "model.safetensors", "model-*-of-*.safetensors", "model.safetensors.index.json"),
                "adapter": ("adapter_config.json", "adapter_model.safetensors")}
ONNX_FILES = ("model.onnx", "config.json")
LOCAL = "local.json"  # this machine's paths: the data files and the folder training ran in; never pushed or copied
RUN_FILES = (METADATA, RECIPE, "metrics.json", "train_results.json", "README.md")
RUN_MARKS = (METADATA, INCOMPLETE, RECIPE)  # any of these: the folder is (or was) a nerkit run
SPLITS = ("train", "validation", "test")

__getattr__ = moved_names(__name__, {  # before 0.2 this module also named models, wrote files and found them
    **dict.fromkeys(("ALIASES", "SHIPPED", "local_path"), "nerkit.aliases"),
    **dict.fromkeys(("SECRET", "HF_TOKEN", "REDACTED"), "nerkit.writing"),
    "write_atomically": "nerkit.writing:atomic_write", "read_json": "nerkit.metadata:RunMetadata.from_file",
    **dict.fromkeys(("Source", "resolve"), "nerkit.sources")})


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


def checkpoint_to_resume(output_dir: str | Path, resume: Any) -> Any:
    """What Trainer.train resumes from: `resume` as given, or None when it asks for this folder's last
    checkpoint and there is none yet (a run killed before its first checkpoint: nothing to resume, so it
    starts from the beginning, as the log says)."""
    if not asks_last_checkpoint(resume):
        return resume
    if any(p.name.startswith("checkpoint-") and p.is_dir() for p in Path(output_dir).iterdir()):
        return True
    logger.warning("%s has no checkpoint yet: nothing to resume, so this run starts from the beginning", output_dir)
    return None


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


def finish(output_dir: str | Path, metadata: RunMetadata) -> None:
    """nerkit.json, then the removal of INCOMPLETE: the last two steps of a run."""
    metadata.write(output_dir)
    Path(output_dir, INCOMPLETE).unlink(missing_ok=True)


def check_complete(folder: str | Path, name: str | None = None) -> None:
    if Path(folder, INCOMPLETE).is_file():
        raise RunError(f"{name or folder}: this run has not finished (training was interrupted or is still going; "
                       f"see {INCOMPLETE}); resume it with training.resume_from_checkpoint=true or train again")


def asks_last_checkpoint(resume: Any) -> bool:
    """`training.resume_from_checkpoint` true (not a checkpoint path): the output folder's last checkpoint."""
    return resume is True or (isinstance(resume, str) and resume.lower() == "true")


def _resumes_here(out: Path, resume: Any) -> bool:
    if asks_last_checkpoint(resume):
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


def allowed_files(metadata: RunMetadata) -> list[str]:
    """File-name patterns of what a user needs to use a model (its nerkit.json given): what is pushed and
    downloaded. An ONNX export (`nerkit export`) is a full model whose weights are `model.onnx`."""
    weights = ONNX_FILES if metadata.engine == "onnx" else WEIGHT_FILES[metadata.kind]
    return [*weights, *TOKENIZER_FILES, *RUN_FILES]


def files_to_push(folder: str | Path) -> list[str]:
    """The files of a finished run folder that a push uploads, by name; refuses an unfinished run."""
    folder = Path(folder)
    check_complete(folder)
    patterns = allowed_files(RunMetadata.from_file(folder / METADATA, folder))
    return sorted(p.name for p in folder.iterdir() if p.is_file() and _matches(p.name, patterns))


def adapter_hash(folder: str | Path) -> str:
    """sha256 over the adapter's weights and configuration: what a merged model was built from."""
    digest = hashlib.sha256()
    for name in WEIGHT_FILES["adapter"]:
        digest.update(name.encode())
        digest.update(Path(folder, name).read_bytes())
    return digest.hexdigest()
