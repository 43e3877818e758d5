"""`nerkit export`: a trained run -> an ONNX model folder that nerkit loads with ONNX Runtime.

    nerkit export runs/conll03 --output runs/conll03-onnx                  # fp32, graph-optimised at load
    nerkit export runs/conll03 --output runs/conll03-int8 --quantize int8  # dynamic int8, F1 checked

The whole token-classification model is exported (LoRA adapters merged first, the classifier head
included, dynamic batch and sequence axes), its transformer layers fused into ONNX Runtime's own
operators (Attention, SkipLayerNormalization, BiasGelu), checked against PyTorch on a sample batch, and written with
the tokenizer, `nerkit.json` (`"engine": "onnx"`), the run's recipe and metrics and a model card, so the
folder is a nerkit model like any other. Dynamic int8 (the encoder's matrix products; embeddings and the
classifier stay fp32) is scored against the fp32 export on the run's validation file (or `--check-data`);
a drop in entity F1 above `max_drop` refuses the export.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from .inference.tagger import ONNX_FILE
from .modeling import load_trained, save_metadata

logger = logging.getLogger(__name__)
MAX_DROP = 0.005
COPIED = ("recipe.yaml", "metrics.json")
SAMPLE = [["George", "Washington", "went", "to", "Washington", "."], ["Anna", "visited", "Paris"],
          ["The", "Acme", "Corp", "team", "won", "the", "prize", "on", "Monday", "in", "Tokyo", "."]]


class ExportError(RuntimeError):
    """An export that cannot be written, or a quantized model that fails its accuracy check."""


def export(run: str | Path, output: str | Path, quantize: str | None = None, check_data: str | None = None,
           force: bool = False, opset: int = 17, per_channel: bool = True, max_drop: float = MAX_DROP) -> dict[str, Any]:
    """Write the ONNX folder `output` for the saved run `run`; returns its nerkit.json metadata."""
    if quantize not in (None, "int8"):
        raise ExportError(f"unknown quantization {quantize!r}; expected int8")
    try:
        import onnx  # noqa: F401  (quantization and the exporter's graph checks use it)
        import onnxruntime  # noqa: F401
    except ImportError as err:
        raise ExportError(f"export needs {err.name}: pip install 'nerkit[onnx]'") from None
    output = Path(output)
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise ExportError(f"{output} already exists; remove it or choose another --output")
    model, tokenizer, metadata = load_trained(run)
    if metadata.get("kind") == "adapter":
        model = model.merge_and_unload()
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        tokenizer.save_pretrained(str(staging))
        model.config.save_pretrained(str(staging))
        check_tokenizer(tokenizer, staging)
        fused = export_onnx(model, tokenizer, staging / ONNX_FILE, opset)
        meta = {**metadata, "kind": "full", "engine": "onnx",
                "onnx": {"file": ONNX_FILE, "opset": opset, "exported_from": str(run), "fused": fused}}
        if quantize:
            meta["quantization"] = quantize_checked(staging, meta, run, check_data, per_channel, max_drop, force)
        save_metadata(staging, meta)
        for name in COPIED:
            if Path(run, name).is_file():
                shutil.copyfile(Path(run, name), staging / name)
        write_card(staging, meta)
        if output.exists():
            output.rmdir()
        staging.rename(output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("exported %s to %s%s", run, output, " (int8)" if quantize else "")
    return meta


def export_onnx(model, tokenizer, path: Path, opset: int = 17) -> dict[str, int]:
    """torch.onnx.export of the model's logits, fused for ONNX Runtime, then checked against PyTorch on a
    batch of another shape. Returns how many of each fused operator the graph holds."""
    import numpy as np
    import torch

    class Logits(torch.nn.Module):  # the head's output only: no loss, no hidden states
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).logits

    wrapper = Logits(model.float().cpu()).eval()  # the exporter restores the wrapper's mode: eval, no dropout
    _trace(wrapper, model, tokenizer, path, opset)
    fused = fuse(path, model.config)
    from .inference.engines import OnnxEngine

    ids, mask = _sample_batch(tokenizer, SAMPLE)
    with torch.inference_mode():
        expected = wrapper(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    got = OnnxEngine(path).logits(ids, mask)
    if got.shape != expected.shape:
        raise ExportError(f"the exported model gives logits of shape {got.shape}, PyTorch {expected.shape}")
    difference = float(np.abs(got - expected).max())
    if difference > 1e-3:
        raise ExportError(f"the exported model's logits differ from PyTorch's by up to {difference:.2g}")
    return fused


def _trace(wrapper, model, tokenizer, path: Path, opset: int) -> None:
    """Traced with eager attention: its MatMul-Softmax-MatMul pattern is what ONNX Runtime's fusion
    recognises (transformers' SDPA path traces into mask arithmetic that it does not)."""
    import torch

    ids, mask = _sample_batch(tokenizer, SAMPLE[:2])
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
            "logits": {0: "batch", 1: "sequence"}}
    attention = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        with warnings.catch_warnings():  # tracer warnings about Python values: the check after is what counts
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", message="Exporting aten::index operator")
            torch.onnx.export(wrapper, (torch.from_numpy(ids), torch.from_numpy(mask)), str(path), dynamo=False,
                              input_names=["input_ids", "attention_mask"], output_names=["logits"],
                              dynamic_axes=axes, opset_version=opset, do_constant_folding=True)
    finally:
        model.set_attn_implementation(attention)


def fuse(path: Path, config) -> dict[str, int]:
    """ONNX Runtime's transformer optimizer, in place: attention, layer norms and GELU become single
    operators. Its portable level only (no hardware-specific rewrites); an encoder it does not recognise
    keeps its plain graph, which the check against PyTorch covers either way."""
    from onnxruntime.transformers.optimizer import optimize_model

    heads, hidden = getattr(config, "num_attention_heads", 0), getattr(config, "hidden_size", 0)
    with _quiet():
        optimized = optimize_model(str(path), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0)
        counts = {op: n for op, n in optimized.get_fused_operator_statistics().items() if n}
        optimized.save_model_to_file(str(path))
    logger.info("fused operators: %s", ", ".join(f"{op} {n}" for op, n in counts.items()) or "none")
    return counts


@contextlib.contextmanager
def _quiet():
    """ONNX Runtime's optimizer and quantizer log every step on loggers of their own (or the root logger)
    that inherit the root's level; nerkit reports what matters itself."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _sample_batch(tokenizer, sentences):
    import numpy as np

    rows = [tokenizer(words, is_split_into_words=True)["input_ids"] for words in sentences]
    width = max(map(len, rows))
    ids = np.full((len(rows), width), tokenizer.pad_token_id or 0, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, :len(row)], mask[i, :len(row)] = row, 1
    return ids, mask


def check_tokenizer(tokenizer, folder: Path) -> None:
    """The transformers-free tokenizer an ONNX folder loads must give the very same ids and words."""
    from .features import special_tokens, word_pieces
    from .inference.tokenizer import WordTokenizer

    light = WordTokenizer.from_folder(folder)
    sample = SAMPLE + [["naïve", "café", "ÄÖÜ", "O'Neill", "U.S.", "1,000.50", "e-mail", "\u200b", "日本"]]
    same = (special_tokens(light) == special_tokens(tokenizer) and light.pad_token_id == tokenizer.pad_token_id
            and word_pieces(light, sample) == word_pieces(tokenizer, sample))
    if not same:
        raise ExportError("the saved tokenizer.json does not reproduce the model's tokenizer without transformers; "
                          "this tokenizer cannot be exported")


def quantize_checked(folder: Path, meta: dict[str, Any], run, check_data, per_channel: bool, max_drop: float,
                     force: bool) -> dict[str, Any]:
    """Dynamic int8 weights (per output channel by default), scored against the fp32 export."""
    data, data_config = check_file(run, check_data)
    fp32 = folder / "model.fp32.onnx"
    (folder / ONNX_FILE).rename(fp32)
    kept = quantize_int8(fp32, folder / ONNX_FILE, per_channel)
    f1 = {name: entity_f1(folder, path, meta, data, data_config, name == "int8")
          for name, path in (("fp32", fp32), ("int8", folder / ONNX_FILE))}
    fp32.unlink()
    drop = f1["fp32"] - f1["int8"]
    figures = {"method": "onnxruntime dynamic int8", "per_channel": per_channel, "kept_fp32": kept,
               "check_data": str(data),
               "f1_fp32": round(f1["fp32"], 4), "f1_int8": round(f1["int8"], 4), "f1_drop": round(drop, 4),
               "max_drop": max_drop, "forced": False}
    message = (f"int8 entity F1 {f1['int8']:.4f} against fp32 {f1['fp32']:.4f} on {data}: "
               f"a drop of {drop:.4f}, more than the {max_drop} allowed")
    if drop > max_drop:
        if not force:
            raise ExportError(message + "; nothing was written (--force writes it anyway)")
        logger.warning("%s; written anyway (--force)", message)
        figures["forced"] = True
    else:
        logger.info("int8 entity F1 %.4f, fp32 %.4f on %s (drop %.4f)", f1["int8"], f1["fp32"], data, drop)
    return figures


def quantize_int8(source: Path, target: Path, per_channel: bool) -> list[str]:
    """int8 for the encoder's matrix products (MatMul, fused Attention). Embedding lookups and the
    classifier stay fp32: quantizing them costs F1 (measured in docs/benchmarks.md) and saves little time.
    Returns the names of the MatMul nodes kept in fp32."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    kept = [classifier_node(onnx.load(str(source)))]
    with _quiet():  # "please run pre-processing" hints among them: the graph is already optimised
        quantize_dynamic(str(source), str(target), per_channel=per_channel, weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul", "Attention"], nodes_to_exclude=kept,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})  # types of fused outputs
    return kept


def classifier_node(graph_model) -> str:
    """The MatMul nearest the logits output: the classification head's weights."""
    producers = {out: node for node in graph_model.graph.node for out in node.output}
    pending = [graph_model.graph.output[0].name]
    while pending:
        node = producers.get(pending.pop(0))
        if node is None:
            continue
        if node.op_type in ("MatMul", "Gemm"):
            return node.name
        pending.extend(node.input)
    raise ExportError("no matrix product feeds the model's logits; cannot tell the classifier apart")


def check_file(run, check_data: str | None):
    """The labelled file to score int8 on, and how to read it: --check-data, else the run's validation file."""
    from .config import DataConfig

    if check_data:
        if not Path(check_data).is_file():
            raise ExportError(f"--check-data {check_data}: no such file")
        return check_data, DataConfig()
    recipe_path = Path(run, "recipe.yaml")
    data = _read_yaml(recipe_path).get("data", {}) if recipe_path.is_file() else {}
    validation = data.get("validation")
    if not validation or not Path(validation).is_file():
        raise ExportError(f"{run}: no validation file in recipe.yaml to check the int8 model on "
                          f"({validation or 'none given'}); pass --check-data FILE")
    fields = {k: v for k, v in data.items() if k in DataConfig.__dataclass_fields__}
    return validation, DataConfig(**fields)


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def entity_f1(folder: Path, model_path: Path, meta, data: str, data_config, quantized: bool) -> float:
    from .evaluate import evaluate
    from .inference.engines import OnnxEngine
    from .inference.tagger import Tagger
    from .inference.tokenizer import WordTokenizer

    tagger = Tagger(OnnxEngine(model_path, quantized=quantized), WordTokenizer.from_folder(folder), meta)
    return evaluate(tagger, data, split="validation", data_config=data_config)["f1"]


def write_card(folder: Path, meta: dict[str, Any]) -> None:
    """The run's model card (when it has a recipe) with a section on the export and its int8 check."""
    recipe = _read_yaml(folder / "recipe.yaml") if (folder / "recipe.yaml").is_file() else None
    text = ""
    if recipe:
        from .hub import card_text

        results = json.loads((folder / "metrics.json").read_text()) if (folder / "metrics.json").is_file() else {}
        text = card_text(recipe, results, meta)
    (folder / "README.md").write_text(text + "\n".join(card_section(meta)) + "\n", encoding="utf-8")


def card_section(meta: dict[str, Any]) -> list[str]:
    fused = ", ".join(sorted(meta["onnx"].get("fused", {}))) or "none"
    lines = ["## ONNX export", "",
             f"`{ONNX_FILE}` is this model exported with `nerkit export` (opset {meta['onnx']['opset']}, classifier "
             "head included, dynamic batch and sequence axes), its layers fused into ONNX Runtime's own operators "
             f"({fused}): it runs in ONNX Runtime on the CPU, with the same tokenizer, windows and offsets as the "
             "PyTorch model, and not in other ONNX runtimes.", ""]
    q = meta.get("quantization")
    if q:
        lines += [f"Weights are quantized to int8 ({q['method']}, {'per channel' if q['per_channel'] else 'per tensor'}). "
                  f"Entity F1 on `{q['check_data']}`: int8 {q['f1_int8']:.4f}, fp32 {q['f1_fp32']:.4f} "
                  f"(drop {q['f1_drop']:.4f}; allowed {q['max_drop']})"
                  + (", **written anyway with --force**." if q["forced"] else "."), ""]
    return lines
