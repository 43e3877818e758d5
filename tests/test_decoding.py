"""Constrained Viterbi against brute force over every label sequence, and the CRF's likelihood."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from nerkit.decoding import Decoder, DecodingError, Transitions, allowed, invalid_transitions

LABELS = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]


def path_score(path, emissions, start, transitions, end) -> float:
    total = start[path[0]] + emissions[0, path[0]] + end[path[-1]]
    return float(total + sum(transitions[a, b] + emissions[t + 1, b] for t, (a, b) in enumerate(zip(path, path[1:]))))


def allowed_paths(length):
    ok_start, ok = allowed(LABELS)
    for path in itertools.product(range(len(LABELS)), repeat=length):
        if ok_start[path[0]] and all(ok[a, b] for a, b in zip(path, path[1:])):
            yield path


emission_matrices = st.integers(1, 5).flatmap(lambda n: st.lists(
    st.lists(st.floats(-8, 0, allow_nan=False, width=32), min_size=len(LABELS), max_size=len(LABELS)),
    min_size=n, max_size=n)).map(lambda rows: np.array(rows, dtype=np.float32))


@settings(max_examples=60, deadline=None)
@given(st.lists(emission_matrices, min_size=1, max_size=6), st.booleans(), st.integers(0, 2**31))
def test_viterbi_finds_the_best_allowed_path_of_every_sentence(sentences, learned, seed):
    rng = np.random.default_rng(seed)
    size = len(LABELS)
    crf = Transitions(rng.normal(size=size), rng.normal(size=size), rng.normal(size=(size, size))) if learned else None
    decoder = Decoder(LABELS, crf=crf)
    paths, probs = decoder(sentences)
    scores = crf or Transitions(np.zeros(size), np.zeros(size), np.zeros((size, size)))
    for emissions, path, prob in zip(sentences, paths, probs):
        best = max(path_score(p, emissions, scores.start, scores.transitions, scores.end)
                   for p in allowed_paths(len(emissions)))
        assert tuple(path) in set(allowed_paths(len(emissions)))
        assert path_score(path, emissions, scores.start, scores.transitions, scores.end) == pytest.approx(best, abs=1e-4)
        assert np.allclose(prob, np.exp(emissions[np.arange(len(path)), path]))


@settings(max_examples=60, deadline=None)
@given(st.lists(emission_matrices, min_size=1, max_size=8))
def test_viterbi_output_never_holds_a_forbidden_transition(sentences):
    paths, _ = Decoder(LABELS)(sentences)
    assert [len(p) for p in paths] == [len(s) for s in sentences]
    assert all(invalid_transitions([LABELS[i] for i in path]) == 0 for path in paths)


def test_argmax_keeps_each_words_best_label_even_when_it_breaks_the_scheme():
    emissions = np.log(np.array([[0.1, 0.1, 0.6, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 0.6]], dtype=np.float32))
    (argmax,), _ = Decoder(LABELS, "argmax")([emissions])
    (best,), (probs,) = Decoder(LABELS)([emissions])
    assert [LABELS[i] for i in argmax] == ["I-LOC", "I-PER"]
    assert invalid_transitions([LABELS[i] for i in argmax]) == 2
    assert invalid_transitions([LABELS[i] for i in best]) == 0
    assert np.allclose(probs, np.exp(emissions[[0, 1], best]))


def test_decoder_handles_empty_input_and_sentences_without_words():
    assert Decoder(LABELS)([]) == ([], [])
    paths, probs = Decoder(LABELS)([np.zeros((0, 5), np.float32), np.log(np.full((2, 5), 0.2, np.float32))])
    assert len(paths[0]) == 0 and len(paths[1]) == 2


def test_invalid_transitions_counts_inside_tags_without_their_opening():
    assert invalid_transitions(["O", "I-PER", "I-PER", "B-LOC", "I-PER", "I-LOC"]) == 3
    assert invalid_transitions(["I-LOC"]) == 1
    assert invalid_transitions(["B-LOC", "I-LOC", "O"]) == 0


def test_unknown_decoding_is_named_with_the_choices():
    with pytest.raises(DecodingError, match="must be viterbi or argmax, got 'beam'"):
        Decoder(LABELS, "beam")


# --- the CRF head -------------------------------------------------------------------------------------

def brute_force_nll(emissions, tags, start, transitions, end) -> float:
    """-log p(tags) with the partition function summed over every path that training allows (any start)."""
    _, ok = allowed(LABELS)
    paths = [p for p in itertools.product(range(len(LABELS)), repeat=len(tags))
             if all(ok[a, b] for a, b in zip(p, p[1:]))]
    scores = np.array([path_score(p, emissions, start, transitions, end) for p in paths])
    log_z = np.log(np.exp(scores - scores.max()).sum()) + scores.max()
    return float(log_z - path_score(tags, emissions, start, transitions, end))


def test_crf_nll_equals_brute_force_over_all_label_sequences():
    import torch

    from nerkit.heads import CRF, word_level

    torch.manual_seed(0)
    crf = CRF(LABELS)
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    gold = [[1, 2, 0], [3], [0, 3, 4, 4]]
    logits = torch.randn(len(gold), 9, len(LABELS))
    labels = torch.full((len(gold), 9), -100)
    for row, tags in enumerate(gold):  # words at every other sub-token position
        labels[row, 1:2 * len(tags):2] = torch.tensor(tags)
    emissions, tags, mask = word_level(logits, labels)
    nll = crf(emissions, tags, mask)
    s = crf.scores()
    for row, tags in enumerate(gold):
        words = logits[row, 1:2 * len(tags):2].numpy()
        assert nll[row].item() == pytest.approx(brute_force_nll(words, tags, s.start, s.transitions, s.end), abs=1e-4)
    nll.sum().backward()
    assert crf.transitions.grad[0, 2] == 0 and crf.transitions.grad[1, 2] != 0  # O -> I-LOC is masked


def test_crf_sentence_without_labelled_words_costs_nothing():
    import torch

    from nerkit.heads import CRF, word_level

    labels = torch.tensor([[-100, 1, 2, -100], [-100, -100, -100, -100]])
    emissions, tags, mask = word_level(torch.randn(2, 4, len(LABELS)), labels)
    nll = CRF(LABELS)(emissions, tags, mask)
    assert nll[1].item() == 0 and nll[0].item() > 0
