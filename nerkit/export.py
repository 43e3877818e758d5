"""`nerkit export`: a trained run -> an ONNX model folder that nerkit loads with ONNX Runtime.

    nerkit export runs/conll03 --output runs/conll03-onnx                  # fp32, fused for ONNX Runtime
    nerkit export runs/conll03 --output runs/conll03-int8 --quantize int8  # dynamic int8, F1 checked

The whole token-classification model is exported (LoRA adapters merged first, the classifier head
included, dynamic batch and sequence axes; a CRF head's start, end and transition scores go into
`nerkit.json`, since Viterbi runs outside the graph), its transformer layers fused into ONNX Runtime's own
operators (Attention, SkipLayerNormalization, BiasGelu), checked against PyTorch on a sample batch,
and written with the tokenizer, `nerkit.json` (`"engine": "onnx"`), the run's recipe and metrics and a
model card, so the folder is a nerkit model like any other. `--quantize int8` is nerkit/quantize.py.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from .heads import find_crf
from .inference.tagger import ONNX_FILE, padded
from .metadata import OnnxExport
from .modeling import load_trained
from .quantize import MAX_DROP, ExportError, check_file, quantize_checked, quiet

logger = logging.getLogger(__name__)
COPIED = ("recipe.yaml", "metrics.json")
SAMPLE = [["George", "Washington", "went", "to", "Washington", "."], ["Anna", "visited", "Paris"],
          ["The", "Acme", "Corp", "team", "won", "the", "prize", "on", "Monday", "in", "Tokyo", "."]]


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
    check = check_file(run, check_data) if quantize else None  # before the fp32 export, not after it
    model, tokenizer, metadata = load_trained(run)
    if metadata.kind == "adapter":
        model = model.merge_and_unload()
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        tokenizer.save_pretrained(str(staging))
        model.config.save_pretrained(str(staging))
        check_tokenizer(tokenizer, staging)
        fused = export_onnx(model, tokenizer, staging / ONNX_FILE, opset)
        meta = metadata.replace(kind="full", engine="onnx", onnx=OnnxExport(ONNX_FILE, opset, str(run), fused))
        crf = find_crf(model)
        if crf is not None:  # the graph gives the emissions; Viterbi reads the CRF's scores from nerkit.json
            meta.crf = crf.scores().to_dict()
        if quantize:
            meta.quantization = quantize_checked(staging, meta, *check, per_channel, max_drop, force)
        meta.write(staging)
        for name in COPIED:
            if Path(run, name).is_file():
                shutil.copyfile(Path(run, name), staging / name)
        from .hub import refresh_card

        refresh_card(staging)  # the run's card (when it has a recipe) and the export's section
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
    with quiet():
        optimized = optimize_model(str(path), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0)
        counts = {op: n for op, n in optimized.get_fused_operator_statistics().items() if n}
        optimized.save_model_to_file(str(path))
    logger.info("fused operators: %s", ", ".join(f"{op} {n}" for op, n in counts.items()) or "none")
    return counts


def _sample_batch(tokenizer, sentences):
    rows = [tokenizer(words, is_split_into_words=True)["input_ids"] for words in sentences]
    return padded(rows, tokenizer.pad_token_id or 0)


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
