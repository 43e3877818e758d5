"""int8 for an exported ONNX model (`nerkit export --quantize int8`), and the check that comes with it.

Dynamic quantization (int8 weights per output channel, activations quantized per pass) of the encoder's
matrix products only: each fused `Attention` and dense `MatMul`; the embeddings and the classifier stay
fp32. The int8 model is scored against the fp32 export on the run's validation file (or `--check-data`)
exactly as `nerkit evaluate` scores, and refused when entity F1 drops by more than `max_drop`.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

from .inference.tagger import ONNX_FILE
from .errors import ExportError

logger = logging.getLogger(__name__)
MAX_DROP = 0.005


@contextlib.contextmanager
def quiet():
    """ONNX Runtime's optimizer and quantizer log every step on loggers of their own (or the root logger)
    that inherit the root's level; nerkit reports what matters itself."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def quantize_checked(folder: Path, meta: dict[str, Any], data: str, data_config, per_channel: bool, max_drop: float,
                     force: bool) -> dict[str, Any]:
    """Dynamic int8 weights (per output channel by default), scored against the fp32 export on `data`
    (from `check_file`)."""
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
    with quiet():  # "please run pre-processing" hints among them: the graph is already optimised
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
    """The labelled file to score int8 on, and how to read it: --check-data, else the run's validation file
    (found from any folder). Asked before anything is exported."""
    from .config import DataConfig
    from .data import DataError
    from .evaluation import run_data

    if check_data:
        if not Path(check_data).is_file():
            raise ExportError(f"--check-data {check_data}: no such file")
        return check_data, DataConfig()
    try:
        return run_data(run, "validation")
    except DataError as err:
        raise ExportError(f"{err}; pass --check-data FILE to check the int8 model on") from None


def entity_f1(folder: Path, model_path: Path, meta, data: str, data_config, quantized: bool) -> float:
    from .evaluation import evaluate
    from .inference.engines import OnnxEngine
    from .inference.tagger import Tagger
    from .inference.tokenizer import WordTokenizer

    tagger = Tagger(OnnxEngine(model_path, quantized=quantized), WordTokenizer.from_folder(folder), meta)
    return evaluate(tagger, data, split="validation", data_config=data_config)["f1"]
