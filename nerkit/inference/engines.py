"""Engines: what runs the network. Each takes a padded batch of token ids and returns, per token, the
log-probability of every label, as a numpy array (decoding, nerkit/decoding.py, picks the
labels). The Tagger never knows which engine it holds.

    engine = TorchEngine(model, device="cpu", precision="fp32")   # or OnnxEngine("runs/x-onnx/model.onnx")
    log_probs = engine(input_ids, attention_mask)   # int64 [B, T] each -> float32 [B, T, labels]

torch and onnxruntime are imported inside the engines, so loading one never imports the other.
"""

from __future__ import annotations

import contextlib
import os
from typing import Protocol

import numpy as np

from ..modeling import ModelError


class Engine(Protocol):
    device: str

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray: ...


def pick_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"device {device!r} was asked for but no CUDA GPU is available")
    return device


def native_bf16(device: str) -> bool:
    """bf16 only where the hardware computes it natively (elsewhere it is emulated and slower)."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.is_bf16_supported()
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


class TorchEngine:
    """A transformers (or PEFT) token-classification model on a torch device, fp32 or bf16 autocast."""

    def __init__(self, model, device: str = "auto", precision: str = "auto"):
        if precision not in ("auto", "fp32", "bf16"):
            raise ModelError(f"unknown precision {precision!r}; expected auto, fp32 or bf16")
        self.device = pick_device(device)
        self.model = model.to(self.device).eval()
        self.bf16 = precision == "bf16" or (precision == "auto" and native_bf16(self.device))

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        import torch

        autocast = torch.autocast(self.device.split(":")[0], dtype=torch.bfloat16) if self.bf16 \
            else contextlib.nullcontext()
        with torch.inference_mode(), autocast:
            logits = self.model(input_ids=torch.from_numpy(input_ids).to(self.device),
                                attention_mask=torch.from_numpy(attention_mask).to(self.device)).logits
            log_probs = logits.float().log_softmax(-1)
        return log_probs.cpu().numpy()


class OnnxEngine:
    """An exported model (`nerkit export`) in ONNX Runtime on the CPU: fp32, or int8 if it was quantized.
    Its precision is fixed at export; `auto` and `fp32` run it as exported (fp32 activations), `bf16` is refused."""

    device = "cpu"
    bf16 = False

    def __init__(self, path: str, device: str = "auto", precision: str = "auto", threads: int | None = None,
                 quantized: bool = False):
        try:
            import onnxruntime as ort
        except ImportError:
            raise ModelError(f"{path} is an ONNX model: it needs onnxruntime (pip install 'nerkit[onnx]')") from None
        if device not in ("auto", "cpu"):
            raise ModelError(f"device {device!r}: an ONNX model folder runs on the CPU (ONNX Runtime); "
                             "use the PyTorch run folder for a GPU")
        if precision not in ("auto", "fp32", "int8"):
            raise ModelError(f"precision {precision!r} is not available for an ONNX model folder: it runs "
                             f"{'int8' if quantized else 'fp32'} as exported (bf16 is for PyTorch models)")
        if precision == "int8" and not quantized:
            raise ModelError("precision 'int8' needs a quantized folder: nerkit export RUN --quantize int8")
        self.precision = "int8" if quantized else "fp32"
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads if threads is not None else int(os.environ.get("OMP_NUM_THREADS", 0))
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.session.run(["logits"], {"input_ids": input_ids, "attention_mask": attention_mask})[0]

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        shifted = self.logits(input_ids, attention_mask).astype(np.float32)
        shifted -= shifted.max(-1, keepdims=True)  # log-softmax, stably
        return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
