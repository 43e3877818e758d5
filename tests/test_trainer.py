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


def test_token_weighted_loss_weights_every_token_alike():
    from types import SimpleNamespace

    from nerkit.trainer import TokenWeightedLoss, token_weighted_loss

    logits = torch.randn(2, 5, 3)
    labels = torch.tensor([[0, 1, -100, 2, -100], [1, -100, -100, -100, -100]])
    summed = torch.nn.functional.cross_entropy(logits.view(-1, 3), labels.view(-1), ignore_index=-100, reduction="sum")
    assert torch.allclose(TokenWeightedLoss(4.0)({"logits": logits}, labels), summed / 4)
    assert torch.allclose(TokenWeightedLoss(4.0, accumulation_steps=2)({"logits": logits}, labels), summed / 8)
    # a batch with half the labelled tokens contributes half the loss, not the same mean
    one = TokenWeightedLoss(4.0)({"logits": logits[:1]}, labels[:1])
    assert one < TokenWeightedLoss(4.0)({"logits": logits}, labels)
    args = SimpleNamespace(per_device_train_batch_size=8, gradient_accumulation_steps=1)
    assert token_weighted_loss({"labels": labels.tolist()}, args).denominator == 2.0 * 8


def test_token_weighted_loss_reports_the_plain_mean_in_evaluation():
    from nerkit.trainer import TokenWeightedLoss

    logits = torch.randn(2, 5, 3)
    labels = torch.tensor([[0, 1, -100, 2, -100], [1, -100, -100, -100, -100]])
    mean = torch.nn.functional.cross_entropy(logits.view(-1, 3), labels.view(-1), ignore_index=-100)
    with torch.no_grad():
        assert torch.allclose(TokenWeightedLoss(40.0)({"logits": logits}, labels), mean)
