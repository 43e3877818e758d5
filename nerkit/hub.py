"""Model card (huggingface_hub.ModelCard with model-index results) and pushing a run to the Hub.

    nerkit push runs/conll03 --model-id my-org/bert-base-cased-conll03 --private [--merged]
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)
IGNORE = ["checkpoint-*", "checkpoint-*/**", "merged", "merged/**", "runs/**", "*.png"]


class HubError(RuntimeError):
    """No token, or an upload that failed; the local run is left as it was."""


def card_data(recipe: dict[str, Any], results: dict[str, dict[str, Any]], metadata: dict[str, Any]):
    from huggingface_hub import EvalResult, ModelCardData

    data = recipe["data"]
    dataset = data.get("dataset") or Path(data.get("train") or "local").stem
    eval_results = [
        EvalResult(task_type="token-classification", task_name="Named Entity Recognition",
                   dataset_type=dataset, dataset_name=dataset, dataset_split=split,
                   metric_type=name, metric_name=name.capitalize(), metric_value=round(metrics[name], 4))
        for split, metrics in results.items() for name in ("precision", "recall", "f1", "accuracy")
    ]
    tags = ["token-classification", "ner", "nerkit"] + (["peft", "lora"] if metadata.get("kind") == "adapter" else [])
    hub = recipe.get("hub") or {}
    return ModelCardData(
        base_model=_hub_name(recipe["model"]["name_or_path"]), datasets=[dataset] if data.get("dataset") else None,
        license=hub.get("license"), library_name="peft" if metadata.get("kind") == "adapter" else "transformers",
        pipeline_tag="token-classification", tags=tags, metrics=["precision", "recall", "f1", "accuracy"],
        model_name=hub.get("model_id") or "nerkit NER model", eval_results=eval_results or None,
    )


def _hub_name(name: str) -> str:
    return "sentence-transformers/all-MiniLM-L6-v2" if name.lower() in ("minilm", "all-minilm-l6-v2") else name


def card_text(recipe, results, metadata, model_id: str | None = None) -> str:
    from huggingface_hub import ModelCard

    data = card_data(recipe, results, metadata)
    model_id = model_id or (recipe.get("hub") or {}).get("model_id") or "path/to/this/model"
    body = [f"# {data.model_name}", "",
            f"A named-entity recognition model fine-tuned from `{data.base_model}` with "
            f"[nerkit](https://github.com/nerkit/nerkit){' as a LoRA adapter' if metadata.get('kind') == 'adapter' else ''}. "
            f"Labels: {', '.join(metadata['labels'])}.", "", "## Results", "",
            "Entity-level micro scores (seqeval, conlleval-compatible), one prediction per word.", "",
            "| split | precision | recall | F1 | token accuracy |", "|---|---|---|---|---|"]
    body += [f"| {s} | {m['precision']:.4f} | {m['recall']:.4f} | {m['f1']:.4f} | {m['accuracy']:.4f} |"
             for s, m in results.items()]
    body += _agreement(metadata)
    for split, metrics in results.items():
        body += ["", f"Per type, {split}:", "", "| type | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        body += [f"| {t} | {v['precision']:.4f} | {v['recall']:.4f} | {v['f1']:.4f} | {v['support']} |"
                 for t, v in metrics["per_type"].items()]
    body += ["", "## Training", "", "```yaml", _yaml({k: recipe[k] for k in ("model", "data", "training", "lora")
                                                    if recipe.get(k) is not None}), "```", ""]
    body += _usage(model_id, metadata) + _limitations(recipe, metadata)
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n" + "\n".join(body) + "\n"))


def _agreement(metadata) -> list[str]:
    """Raw text: how many gold words of each split nerkit's word splitter reproduces (nerkit/agreement.py)."""
    lines = []
    for split, a in (metadata.get("raw_text_agreement") or {}).items():
        lines += ["", f"Raw text: nerkit's word splitter reproduces {100 * a['share']:.2f}% of the {split} words "
                      f"written as natural text ({a['reproduced']:,} of {a['words']:,})."]
        if a["share"] < 0.99:
            lines[-1] += (" **Warning:** below 99%, predictions on raw text will differ from these word-level "
                          f"scores; most frequent differences: {'; '.join(a['mismatches'])}.")
    return lines


def _yaml(value) -> str:
    import yaml

    return yaml.safe_dump(value, sort_keys=False).rstrip()


def _usage(model_id: str, metadata) -> list[str]:
    lines = ["## Usage", "", "```bash", f'nerkit predict {model_id} "George Washington went to Washington."', "```", ""]
    if metadata.get("kind") == "adapter":
        return lines + ["This repository holds a LoRA adapter (the classifier head is saved with it). With PEFT:", "",
                        "```python", "from peft import AutoPeftModelForTokenClassification",
                        f'model = AutoPeftModelForTokenClassification.from_pretrained("{model_id}", '
                        f'num_labels={len(metadata["labels"])})', "```", ""]
    return lines + ["With plain transformers:", "", "```python", "from transformers import pipeline",
                    f'ner = pipeline("token-classification", model="{model_id}", aggregation_strategy="first")',
                    'ner("George Washington went to Washington.")', "```", ""]


def _limitations(recipe, metadata) -> list[str]:
    data = recipe["data"]
    source = data.get("dataset") or ", ".join(str(data[s]) for s in ("train", "validation", "test") if data.get(s))
    return ["## Limitations", "",
            f"- Trained on {source}; expect lower scores on text from other domains, periods or languages.",
            f"- It only knows the entity types {', '.join(sorted({l[2:] for l in metadata['labels'] if l != 'O'}))}.",
            "- Whether it is cased follows the base model: an uncased base model ignores capitalisation, "
            "which is a strong NER cue.",
            f"- Text is split into windows of {metadata.get('max_length')} sub-tokens; no word is truncated.", ""]


def write_model_card(directory: str | Path, recipe, results, metadata) -> Path:
    """README.md in the run directory, written whether or not anything is pushed."""
    if not isinstance(recipe, dict):
        recipe = recipe.to_dict()
    path = Path(directory, "README.md")
    path.write_text(card_text(recipe, results, metadata), encoding="utf-8")
    return path


def push(directory: str | Path, model_id: str | None, private: bool = False, revision: str | None = None,
         merged: bool = False, token: str | None = None, api=None) -> str | None:
    """Upload a run (model or adapter, tokenizer, nerkit.json, recipe, metrics, card). Main process only."""
    if int(os.environ.get("RANK", "0")) != 0:
        return None
    if not model_id:
        raise HubError("no Hub repository: set hub.model_id or pass --model-id")
    from huggingface_hub import HfApi, get_token

    token = token or get_token()
    if not token:
        raise HubError("no Hugging Face token: set HF_TOKEN or run `hf auth login`; nothing was uploaded")
    folder = Path(directory)
    if merged:
        folder = merged_folder(folder)
    api = api or HfApi()
    try:
        api.create_repo(model_id, token=token, private=private, exist_ok=True)
        if revision:
            api.create_branch(model_id, branch=revision, token=token, exist_ok=True)
        api.upload_folder(repo_id=model_id, folder_path=str(folder), token=token, revision=revision,
                          ignore_patterns=IGNORE, commit_message="Upload NER model trained with nerkit")
    except Exception as err:  # network, auth, quota: all leave the local run untouched
        raise HubError(f"upload of {folder} to {model_id} failed: {err}; the local files are unchanged") from err
    logger.info("pushed %s to https://huggingface.co/%s", folder, model_id)
    return model_id


def merged_folder(directory: Path) -> Path:
    """`<run>/merged`: written at training time with lora.merge, or merged now from the adapter."""
    import json

    from .modeling import load_trained, read_metadata, save_merged

    target = directory / "merged"
    metadata = read_metadata(directory)
    if metadata.get("kind") != "adapter":
        raise HubError(f"{directory} holds a full model; --merged is for LoRA adapter runs")
    if not (target / "config.json").is_file():
        model, tokenizer, _ = load_trained(directory)
        save_merged(model, tokenizer, directory, metadata)
    for name in ("recipe.yaml", "metrics.json"):
        if (directory / name).is_file():
            (target / name).write_bytes((directory / name).read_bytes())
    recipe = _read_recipe(directory)
    results = json.loads((directory / "metrics.json").read_text()) if (directory / "metrics.json").is_file() else {}
    if recipe:
        write_model_card(target, recipe, results, {**metadata, "kind": "full"})
    return target


def _read_recipe(directory: Path) -> dict[str, Any] | None:
    import yaml

    path = directory / "recipe.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
