"""Model card (huggingface_hub.ModelCard with model-index results) and pushing a run to the Hub.

    nerkit push runs/conll03 --model-id my-org/bert-base-cased-conll03 --private [--merged]

A push uploads the run's allow-list (nerkit/run.py: weights or adapter, tokenizer, nerkit.json, recipe,
metrics, card) in one commit, with the card rewritten for the repository it goes to. The card never holds a
secret or a path of the training machine.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from .aliases import hub_name
from .label_mapping import card_line
from .errors import HubError
from .metadata import RunMetadata
from .run import MERGED, MERGED_FROM, METADATA, RECIPE, adapter_hash, check_complete, files_to_push, read_recipe
from .summary import best_run, read_summary
from .writing import atomic_write, redact

logger = logging.getLogger(__name__)


def card_data(recipe: dict[str, Any], results: dict[str, dict[str, Any]], metadata: RunMetadata):
    from huggingface_hub import EvalResult, ModelCardData

    data = recipe["data"]
    dataset = data.get("name") or data.get("dataset")  # never a file's name: `eng.train` says nothing
    base = hub_name(recipe["model"]["name_or_path"])
    eval_results = [
        EvalResult(task_type="token-classification", task_name="Named Entity Recognition",
                   dataset_type=data.get("dataset") or dataset, dataset_name=dataset, dataset_split=split,
                   metric_type=name, metric_name=name.capitalize(), metric_value=round(metrics[name], 4))
        for split, metrics in results.items() for name in ("precision", "recall", "f1", "accuracy")
    ] if dataset else []
    tags = ["token-classification", "ner", "nerkit"] + (["peft", "lora"] if metadata.kind == "adapter" else [])
    hub = recipe.get("hub") or {}
    return ModelCardData(
        base_model=None if _is_local(base) else base, datasets=[data["dataset"]] if data.get("dataset") else None,
        license=hub.get("license"), library_name="peft" if metadata.kind == "adapter" else "transformers",
        pipeline_tag="token-classification", tags=tags, metrics=["precision", "recall", "f1", "accuracy"],
        model_name=hub.get("model_id") or "nerkit NER model", eval_results=eval_results or None,
    )


def _is_local(name: str) -> bool:
    return os.path.isabs(name) or name.startswith(".") or os.path.isdir(name)


def card_recipe(recipe: dict[str, Any]) -> dict[str, Any]:
    """The recipe as the card shows it: secrets redacted, local absolute paths cut to their file names."""
    def portable(value):
        if isinstance(value, dict):
            return {k: portable(v) for k, v in value.items()}
        if isinstance(value, list):
            return [portable(v) for v in value]
        if isinstance(value, str) and (os.path.isabs(value) or value.startswith("~")):
            return Path(value).name
        return value

    recipe = portable(redact(recipe))
    recipe["model"] = {**recipe["model"], "name_or_path": hub_name(recipe["model"]["name_or_path"])}
    return recipe


def card_text(recipe, results, metadata, model_id: str | None = None, seeds: dict[str, Any] | None = None) -> str:
    from huggingface_hub import ModelCard

    recipe = card_recipe(recipe)
    metadata = metadata if isinstance(metadata, RunMetadata) else RunMetadata.from_dict(metadata)  # older callers
    data = card_data(recipe, results, metadata)
    if model_id:
        data.model_name = model_id
    model_id = model_id or (recipe.get("hub") or {}).get("model_id") or "path/to/this/model"
    body = [f"# {data.model_name}", "",
            f"A named-entity recognition model fine-tuned from `{data.base_model or recipe['model']['name_or_path']}` with "
            f"{_nerkit_link()}{' as a LoRA adapter' if metadata.kind == 'adapter' else ''}. "
            f"Labels: {', '.join(metadata.labels)}.", "", "## Results", "",
            "Entity-level micro scores (seqeval, conlleval-compatible), one prediction per word, "
            f"{_decoding(metadata)}.", "",
            "| split | precision | recall | F1 | token accuracy |", "|---|---|---|---|---|"]
    body += [f"| {s} | {m['precision']:.4f} | {m['recall']:.4f} | {m['f1']:.4f} | {m['accuracy']:.4f} |"
             for s, m in results.items()]
    body += _over_seeds(seeds) + _agreement(metadata) + _repairs(metadata) + card_line(metadata.continued_from, metadata.rehearsal)
    body += ["", score_kind(metadata)]
    for split, metrics in results.items():
        body += ["", f"Per type, {split}:", "", "| type | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        body += [f"| {t} | {v['precision']:.4f} | {v['recall']:.4f} | {v['f1']:.4f} | {v['support']} |"
                 for t, v in metrics["per_type"].items()]
    body += ["", "## Training", "", "```yaml", _yaml({k: recipe[k] for k in ("model", "data", "training", "lora")
                                                    if recipe.get(k) is not None}), "```", ""]
    body += _usage(model_id, metadata) + _limitations(recipe, metadata)
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n" + "\n".join(body) + "\n"))


def _over_seeds(summary: dict[str, Any] | None) -> list[str]:
    """A seeded run's card: the spread over its seeds beside the chosen (best-dev) model's figures."""
    if not summary:
        return []
    rows = ["", f"This model is seed {summary['best_seed']}, the best on {summary['best_by'].split('.')[0]} of "
                f"{len(summary['seeds'])} runs of the same recipe (seeds {', '.join(map(str, summary['seeds']))}). "
                "Over those seeds (mean ± sample sd, 95% t-interval of the mean):", "",
            "| split | F1 mean ± sd | 95% interval | min | max |", "|---|---|---|---|---|"]
    for split, values in summary["splits"].items():
        f1 = values["f1"]
        rows.append(f"| {split} | {f1['mean']:.4f} ± {f1['sd']:.4f} | {f1['ci95'][0]:.4f} to {f1['ci95'][1]:.4f} | "
                    f"{f1['min']:.4f} | {f1['max']:.4f} |" if f1["sd"] is not None else
                    f"| {split} | {f1['mean']:.4f} | | {f1['min']:.4f} | {f1['max']:.4f} |")
    return rows


def _decoding(metadata) -> str:
    head = "a CRF head" if metadata.head == "crf" else "a softmax head"
    if metadata.decoding == "argmax":
        return f"{head}, each word's best label (argmax)"
    return f"{head}, decoded with Viterbi over the tag sequences IOB2 allows (as `nerkit predict` does)"


def score_kind(metadata) -> str:
    """What an entity's `score` means for this model, and the thresholds it applies by default."""
    c, t = metadata.calibrator, metadata.thresholds
    if c is None:
        text = ("Entity scores are raw (not calibrated): the mean probability of the labels chosen for the entity's "
                "words. `nerkit evaluate RUN valid.txt --calibrate` calibrates them.")
    else:
        types = f"one curve per type for {', '.join(c.per_type)}, " if c.per_type else ""
        how = {"isotonic": "isotonic regression", "platt": "Platt scaling"}.get(c.method, c.method)
        if c.cross_validated_ece:
            how += " (the lower held-out ECE over 5 folds)"
        text = (f"Entity scores are calibrated ({how}, {types}fitted on {c.entities:,} entities of "
                f"{c.fitted_on or 'the validation split'}): the probability that the entity is exactly right.")
    if t is not None and any(v > 0 for v in t.per_type.values()):
        values = ", ".join(f"{k} {v:g}" for k, v in t.per_type.items() if v > 0)
        text += (f" Entities below these thresholds are dropped by default ({t.objective}, tuned on "
                 f"{t.tuned_on or 'dev'}): {values}; `--threshold 0` keeps them.")
    return text


def _nerkit_link() -> str:
    """nerkit, linked to the home page its package metadata declares (pyproject.toml's [project.urls]), if any."""
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        urls = metadata("nerkit").get_all("Project-URL") or []
    except PackageNotFoundError:
        urls = []
    url = next((u.split(",", 1)[1].strip() for u in urls if "," in u), None)
    return f"[nerkit]({url})" if url else "nerkit"


def _agreement(metadata) -> list[str]:
    """Raw text: how many gold words of each split nerkit's word splitter reproduces (nerkit/agreement.py)."""
    lines = []
    for split, a in metadata.raw_text_agreement.items():
        lines += ["", f"Raw text: nerkit's word splitter reproduces {100 * a['share']:.2f}% of the {split} words "
                      f"written as natural text ({a['reproduced']:,} of {a['words']:,})."]
        if a["share"] < 0.99:
            lines[-1] += (" **Warning:** below 99%, predictions on raw text will differ from these word-level "
                          f"scores; most frequent differences: {'; '.join(a['mismatches'])}.")
    return lines


def _repairs(metadata) -> list[str]:
    repaired = metadata.repaired_tags
    if not repaired:
        return []
    counts = ", ".join(f"{n:,} in {split}" for split, n in repaired.items())
    return ["", f"Broken tag sequences: {counts} ({(metadata.source_scheme or '').upper()} continuation tags that "
                "continued no entity), read as conlleval reads them: each opens an entity."]


def _yaml(value) -> str:
    import yaml

    return yaml.safe_dump(value, sort_keys=False).rstrip()


def _usage(model_id: str, metadata) -> list[str]:
    lines = ["## Usage", "", "```bash", f'nerkit predict {model_id} "George Washington went to Washington."', "```", ""]
    if metadata.kind == "adapter":
        # PEFT builds the base model from its own config, which knows nothing of this head's labels
        id2label = ", ".join(f"{i}: {label!r}" for i, label in enumerate(metadata.labels))
        return lines + ["This repository holds a LoRA adapter (the classifier head is saved with it). With PEFT:", "",
                        "```python", "from peft import AutoPeftModelForTokenClassification", "",
                        f'model = AutoPeftModelForTokenClassification.from_pretrained("{model_id}", '
                        f"id2label={{{id2label}}})", "```", "",
                        "PEFT downloads the base model named in `adapter_config.json` from the Hub (or finds it in "
                        "the Hub cache); offline, load the base from a local copy with "
                        "`AutoModelForTokenClassification` and this label map, then `PeftModel.from_pretrained`.", ""]
    if metadata.engine == "onnx":  # no PyTorch weights here: transformers cannot load it
        return lines + ["In Python (`pip install 'nerkit[onnx]'`; ONNX Runtime only, no torch needed):", "",
                        "```python", "import nerkit", "",
                        f'nerkit.load("{model_id}").predict(["George Washington went to Washington."])', "```", ""]
    return lines + ["With plain transformers:", "", "```python", "from transformers import pipeline", "",
                    f'ner = pipeline("token-classification", model="{model_id}", aggregation_strategy="first")',
                    'ner("George Washington went to Washington.")', "```", ""]


def _limitations(recipe, metadata) -> list[str]:
    data = recipe["data"]
    source = data.get("name") or data.get("dataset") or ", ".join(str(data[s]) for s in ("train", "validation", "test") if data.get(s))
    return ["## Limitations", "",
            f"- Trained on {source}; expect lower scores on text from other domains, periods or languages.",
            f"- It only knows the entity types {', '.join(metadata.entity_types)}.",
            "- Whether it is cased follows the base model: an uncased base model ignores capitalisation, "
            "which is a strong NER cue.",
            f"- Text is split into windows of {metadata.max_length} sub-tokens; no word is truncated.", ""]


def write_model_card(directory: str | Path, recipe, results, metadata, model_id: str | None = None) -> Path:
    """README.md in the run directory, written whether or not anything is pushed."""
    if not isinstance(recipe, dict):
        recipe = recipe.to_dict()
    return atomic_write(Path(directory, "README.md"), card_text(recipe, results, metadata, model_id))


def check_push(model_id: str | None, token: str | None = None) -> str:
    """The token a push will use (huggingface_hub's lookup: HF_TOKEN, then `hf auth login`'s file); checked
    before training, so a run never ends in a push that cannot happen."""
    if not model_id:
        raise HubError("no Hub repository: set hub.model_id or pass --model-id")
    from huggingface_hub import get_token

    token = token or get_token()
    if not token:
        raise HubError("no Hugging Face token: set HF_TOKEN or run `hf auth login` (checked before anything is "
                       "trained or uploaded)")
    return token


def push(directory: str | Path, model_id: str | None, private: bool = False, revision: str | None = None,
         merged: bool = False, token: str | None = None, api=None) -> str | None:
    """Upload a finished run's allow-list in one commit, the card naming `model_id`. Main process only."""
    if int(os.environ.get("RANK", "0")) != 0:
        return None
    token = check_push(model_id, token)
    from huggingface_hub import CommitOperationAdd, HfApi
    seeds = read_summary(directory)
    folder = best_run(directory)  # a seeded parent folder: its best-dev seed
    if not (folder / METADATA).is_file():
        raise HubError(f"{folder} is not a finished nerkit run (no {METADATA}); nothing was uploaded")
    check_complete(folder)
    if merged:
        folder = merged_folder(folder)
    names = files_to_push(folder)
    operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(folder / name))
                  for name in names if name != "README.md"]
    card = _card_for(folder, model_id, seeds)
    if card is not None:
        operations.append(CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=card.encode("utf-8")))
        names = sorted({*names, "README.md"})
    api = api or HfApi()
    try:
        api.create_repo(model_id, token=token, private=private, exist_ok=True)
        if revision:
            api.create_branch(model_id, branch=revision, token=token, exist_ok=True)
        api.create_commit(model_id, operations, commit_message="Upload NER model trained with nerkit",
                          token=token, revision=revision)
    except Exception as err:  # network, auth, quota: all leave the local run untouched
        raise HubError(f"upload of {folder} to {model_id} failed: {err}; the local files are unchanged") from err
    logger.info("pushed %s to https://huggingface.co/%s: %s", folder, model_id, ", ".join(names))
    return model_id


def refresh_card(folder: str | Path) -> Path | None:
    """Write a run's README.md from its files (after a training, an export, or a change of nerkit.json: a
    calibrator, thresholds); None when there is nothing to say (no recipe, no export)."""
    card = _card_for(Path(folder), None)
    return atomic_write(Path(folder, "README.md"), card) if card is not None else None


def _card_for(folder: Path, model_id: str | None, seeds: dict[str, Any] | None = None) -> str | None:
    """The run's card, its usage snippets naming the repository it is pushed to; an ONNX export's with a
    section on the export."""
    recipe, meta = read_recipe(folder), RunMetadata.from_file(folder / METADATA, folder)
    card = None
    if recipe is not None:
        results = json.loads((folder / "metrics.json").read_text(encoding="utf-8")) if (folder / "metrics.json").is_file() else {}
        card = card_text(recipe, results, meta, model_id, seeds)
    if meta.onnx is not None:
        card = (card or "") + "\n".join(onnx_section(meta)) + "\n"
    return card


def onnx_section(meta: RunMetadata) -> list[str]:
    """What `nerkit export` made of the model, and its int8 check."""
    fused = ", ".join(sorted(meta.onnx.fused)) or "none"
    lines = ["## ONNX export", "",
             f"`{meta.onnx.file}` is this model exported with `nerkit export` (opset {meta.onnx.opset}, classifier "
             "head included, dynamic batch and sequence axes), its layers fused into ONNX Runtime's own operators "
             f"({fused}): it runs in ONNX Runtime on the CPU, with the same tokenizer, windows and offsets as the "
             "PyTorch model, and not in other ONNX runtimes.", ""]
    q = meta.quantization
    if q:
        lines += [f"Weights are quantized to int8 ({q['method']}, {'per channel' if q['per_channel'] else 'per tensor'}). "
                  f"Entity F1 on `{q['check_data']}`: int8 {q['f1_int8']:.4f}, fp32 {q['f1_fp32']:.4f} "
                  f"(drop {q['f1_drop']:.4f}; allowed {q['max_drop']})"
                  + (", **written anyway with --force**." if q["forced"] else "."), ""]
    return lines


def merged_folder(directory: Path, metadata: RunMetadata | None = None) -> Path:
    """`<run>/merged`, rebuilt from the adapter unless it was built from exactly the current adapter files
    (their hash is stored beside it); built in a temporary folder renamed at the end."""
    from .modeling import load_source, save_merged
    from .sources import Source

    directory = Path(directory)
    target = directory / MERGED
    metadata = metadata or RunMetadata.from_file(directory / METADATA, directory)
    if metadata.kind != "adapter":
        raise HubError(f"{directory} holds a full model; --merged is for LoRA adapter runs")
    current = adapter_hash(directory)
    if (target / MERGED_FROM).is_file() and (target / MERGED_FROM).read_text().strip() == current:
        return target
    logger.info("merging the LoRA adapter of %s into its base model", directory)
    building = directory / f".{MERGED}.partial"
    shutil.rmtree(building, ignore_errors=True)
    model, tokenizer, _ = load_source(Source(str(directory), str(directory), metadata))
    save_merged(model, tokenizer, building, metadata)
    for name in (RECIPE, "metrics.json", "train_results.json"):
        if (directory / name).is_file():
            shutil.copyfile(directory / name, building / name)
    recipe = read_recipe(directory)
    if recipe:
        results = json.loads((building / "metrics.json").read_text()) if (building / "metrics.json").is_file() else {}
        write_model_card(building, recipe, results, metadata.replace(kind="full"))
    atomic_write(building / MERGED_FROM, current + "\n")
    if target.exists():
        shutil.rmtree(target)
    os.replace(building, target)
    return target

