"""The CRF head (`model.head: crf`): a linear-chain CRF over the encoder's word-level emissions.

The token-classification model is unchanged: its logits are the emissions, and the CRF's start, end and
transition scores are one more module, `model.crf`, attached to it. Its parameters are model weights like
any other: saved in `model.safetensors` (or, with LoRA, in the adapter as a module to save, and in the
merged model), restored by `attach_crf` + `load_crf`. Training minimises the negative log-likelihood of
the gold tags of each sentence's words (their first sub-tokens, the positions whose label is not -100),
in log space, batched and masked; decoding is nerkit/decoding.py's Viterbi with these scores.

Forbidden IOB2 transitions (`O I-X`, `B-X I-Y`) score minus infinity. Opening a sentence with `I-X` is
forbidden at decoding; in training it is left to the learned start score, because a window of a long
sentence can open in the middle of an entity.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .decoding import Transitions, allowed
from .errors import ModelError

IGNORE = -100
CRF_LR_SCALE = 100.0  # the CRF's scores start at 0; at the encoder's learning rate an epoch would barely move them


class CRF(torch.nn.Module):
    def __init__(self, labels: list[str]):
        super().__init__()
        size = len(labels)
        self.start = torch.nn.Parameter(torch.zeros(size))
        self.end = torch.nn.Parameter(torch.zeros(size))
        self.transitions = torch.nn.Parameter(torch.zeros(size, size))  # [from, to]
        self.register_buffer("allowed", torch.from_numpy(allowed(labels)[1]), persistent=False)

    def forward(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of each sentence: emissions [B, W, L], tags [B, W], mask [B, W] (words
        first, padding after) -> [B]; a sentence without words scores 0."""
        transitions = self.transitions.masked_fill(~self.allowed, float("-inf"))
        tags = tags.masked_fill(~mask, 0)
        lengths = mask.sum(1)
        alpha = self.start + emissions[:, 0]
        gold = self.start[tags[:, 0]] + emissions[:, 0].gather(1, tags[:, :1])[:, 0]
        for t in range(1, emissions.size(1)):
            live = mask[:, t]
            step = torch.logsumexp(alpha[:, :, None] + transitions, dim=1) + emissions[:, t]
            alpha = torch.where(live[:, None], step, alpha)
            gain = transitions[tags[:, t - 1], tags[:, t]] + emissions[:, t].gather(1, tags[:, t:t + 1])[:, 0]
            gold = gold + torch.where(live, gain, torch.zeros_like(gain))
        last = tags.gather(1, (lengths - 1).clamp(min=0)[:, None])[:, 0]
        log_partition = torch.logsumexp(alpha + self.end, dim=1)
        nll = log_partition - gold - self.end[last]
        return torch.where(lengths > 0, nll, torch.zeros_like(nll))

    def scores(self) -> Transitions:
        """The learned scores as numpy (decoding masks the forbidden ones itself)."""
        return Transitions(*(p.detach().float().cpu().numpy() for p in (self.start, self.end, self.transitions)))


def word_level(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sub-token logits [B, T, L] and labels [B, T] -> the labelled positions' emissions [B, W, L], tags
    [B, W] and mask [B, W], in order, words first (a stable sort moves the other positions after them)."""
    labelled = labels != IGNORE
    order = torch.sort((~labelled).to(torch.int32), dim=1, stable=True).indices
    width = max(int(labelled.sum(1).max()), 1) if labels.numel() else 1
    order = order[:, :width]
    emissions = logits.gather(1, order[:, :, None].expand(-1, -1, logits.size(-1)))
    return emissions, labels.gather(1, order), labelled.gather(1, order)


def attach_crf(model) -> CRF:
    """A CRF sized to the model's labels (config.id2label), as `model.crf`; returns it."""
    labels = [model.config.id2label[i] for i in sorted(model.config.id2label)]
    model.crf = CRF(labels).to(model.device)
    return model.crf


def find_crf(model) -> CRF | None:
    """The CRF that is trained (with LoRA: PEFT's copy to save, not the original it wraps), or None."""
    found = [(name, m) for name, m in model.named_modules() if isinstance(m, CRF)]
    trained = [m for name, m in found if ".modules_to_save." in f".{name}."]
    return (trained or [m for _, m in found] or [None])[0]


def load_crf(model, folder: str | Path) -> None:
    """`crf.*` weights from the folder's safetensors files into `model.crf` (transformers' loader skips
    keys its model class does not know)."""
    from safetensors import safe_open

    state = {}
    for path in sorted(Path(folder).glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as weights:
            state.update({k[len("crf."):]: weights.get_tensor(k) for k in weights.keys() if k.startswith("crf.")})
    missing = {"start", "end", "transitions"} - set(state)
    if missing:
        raise ModelError(f"{folder}: nerkit.json names a CRF head but the weights hold no crf.{sorted(missing)[0]}")
    model.crf.load_state_dict(state)
