import random

import torch

from nerkit.trainer import ShuffledLengthGroupedSampler


def batches_of(sampler, size):
    order = list(sampler)
    return order, [order[i:i + size] for i in range(0, len(order), size)]


def test_sampler_yields_every_example_once_in_low_padding_batches():
    rng = random.Random(0)
    lengths = [rng.randint(3, 120) for _ in range(3000)]
    order, batches = batches_of(ShuffledLengthGroupedSampler(lengths, 32, torch.Generator().manual_seed(0)), 32)
    assert sorted(order) == list(range(3000))
    def padding(groups):
        return 1 - sum(lengths) / sum(max(lengths[i] for i in b) * len(b) for b in groups)

    shuffled = list(range(3000))
    rng.shuffle(shuffled)
    random_batches = [shuffled[i:i + 32] for i in range(0, 3000, 32)]
    assert padding(random_batches) > 0.4
    assert padding(batches) < 0.15


def test_sampler_keeps_batches_whole_when_the_last_one_is_short():
    from transformers.trainer_pt_utils import get_length_grouped_indices

    lengths = [(i * 7919) % 100 + 1 for i in range(1000)]  # 1000 = 31 batches of 32 and one of 8
    _, batches = batches_of(ShuffledLengthGroupedSampler(lengths, 32, torch.Generator().manual_seed(2)), 32)
    grouped = get_length_grouped_indices(lengths, 32, generator=torch.Generator().manual_seed(2))
    expected = [grouped[i:i + 32] for i in range(0, 1000, 32)]
    assert sorted(map(sorted, batches)) == sorted(map(sorted, expected))  # the same batches, reordered
    assert batches[-1] == expected[-1] and len(batches[-1]) == 8


def test_sampler_does_not_sweep_from_long_to_short():
    """transformers' grouped order decreases in length through each mega-batch; shuffled batches do not."""
    lengths = list(range(1, 3201))
    _, batches = batches_of(ShuffledLengthGroupedSampler(lengths, 32, torch.Generator().manual_seed(1)), 32)
    longest = [max(lengths[i] for i in b) for b in batches]
    decreasing = sum(a > b for a, b in zip(longest, longest[1:]))
    assert 0.3 < decreasing / (len(longest) - 1) < 0.7


def test_sampler_is_reproducible_with_the_same_seed():
    lengths = [5, 9, 2, 7] * 100
    first = list(ShuffledLengthGroupedSampler(lengths, 8, torch.Generator().manual_seed(3)))
    again = list(ShuffledLengthGroupedSampler(lengths, 8, torch.Generator().manual_seed(3)))
    assert first == again
