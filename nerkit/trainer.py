"""nerkit's Trainer: transformers' Trainer with two changes to how batches are drawn.

1. Training batches group sentences of similar length (far less padding), as transformers'
   `group_by_length` does, but the batches are then shuffled. transformers' sampler sorts each random
   mega-batch of 50 batches by length and yields it in that order, so training sweeps from the longest
   to the shortest sentences every 50 steps; on CoNLL-2003 the short end is headlines and sports-results
   rows, and the sweep cost dev F1 (docs/benchmarks.md).
2. Evaluation keeps dataset order. With `group_by_length` transformers also shuffles evaluation batches
   by length, which scrambles the feature -> word mapping that scoring relies on; nerkit's evaluation
   sets are already sorted by length, so keeping their order costs nothing.
"""

from __future__ import annotations

import torch
from torch.utils.data import Sampler, SequentialSampler
from transformers import Trainer
from transformers.trainer_pt_utils import get_length_grouped_indices


class ShuffledLengthGroupedSampler(Sampler):
    """Batches of similar length, yielded in random order."""

    def __init__(self, lengths: list[int], batch_size: int, generator: torch.Generator | None = None):
        self.lengths, self.batch_size, self.generator = list(lengths), batch_size, generator

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        indices = get_length_grouped_indices(self.lengths, self.batch_size, generator=self.generator)
        batches = [indices[i:i + self.batch_size] for i in range(0, len(indices), self.batch_size)]
        last = batches.pop() if len(batches[-1]) < self.batch_size else []  # a short batch stays last, or
        for b in torch.randperm(len(batches), generator=self.generator).tolist():  # it would shift the rest
            yield from batches[b]
        yield from last


class NerTrainer(Trainer):
    def _get_train_sampler(self, train_dataset=None):
        dataset = self.train_dataset
        if self.args.train_sampling_strategy != "group_by_length" or "length" not in dataset.column_names:
            return super()._get_train_sampler(train_dataset)
        batch = self.args.train_batch_size * self.args.gradient_accumulation_steps
        return ShuffledLengthGroupedSampler(dataset["length"], batch)

    def _get_eval_sampler(self, eval_dataset):
        return SequentialSampler(eval_dataset) if self.args.world_size <= 1 else None
