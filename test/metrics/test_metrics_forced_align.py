"""Tests of pure-torch CTC forced alignment (Viterbi)."""

import itertools

import pytest
import torch

from espnet_llm_entropy.metrics.forced_align import (
    collapse_ctc_labels,
    ctc_forced_align,
    ctc_viterbi_path,
    label_segments,
)

BLANK = 0
# A known segmentation with a repeated phone (3, 3) and blank runs of several lengths.
DESIGNED_PATH = [0, 0, 2, 2, 0, 0, 0, 0, 3, 3, 0, 3, 0, 1, 1, 0, 0]
TARGETS = torch.tensor([2, 3, 3, 1])


def posteriorgram(path, vocab=5, peak=0.8):
    """Log-probabilities with `peak` on the designed label of every frame."""
    probs = torch.full((len(path), vocab), (1.0 - peak) / (vocab - 1))
    probs[torch.arange(len(path)), torch.tensor(path)] = peak
    return probs.log()


def test_recovers_known_segmentation_and_collapses_to_target():
    log_probs = posteriorgram(DESIGNED_PATH)
    labels = ctc_forced_align(log_probs, TARGETS, blank=BLANK, blank_handling="keep")
    assert labels.tolist() == DESIGNED_PATH
    assert collapse_ctc_labels(labels, BLANK).tolist() == TARGETS.tolist()


def test_blank_filling_modes():
    log_probs = posteriorgram(DESIGNED_PATH)
    previous = ctc_forced_align(log_probs, TARGETS, blank_handling="previous")
    nearest = ctc_forced_align(log_probs, TARGETS, blank_handling="nearest")
    # worked out by hand from DESIGNED_PATH (see the module docstring for the rules)
    assert previous.tolist() == [2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 1, 1, 1, 1]
    assert nearest.tolist() == [2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 1, 1, 1, 1]
    assert label_segments(nearest) == [(2, 0, 6), (3, 6, 13), (1, 13, 17)]


def all_ctc_paths(targets, num_frames, vocab):
    for path in itertools.product(range(vocab), repeat=num_frames):
        if collapse_ctc_labels(torch.tensor(path), BLANK).tolist() == targets:
            yield path


@pytest.mark.parametrize("seed,targets", [(0, [1, 2]), (1, [2, 2]), (2, [3, 1, 3]), (3, [1])])
def test_viterbi_is_the_best_valid_ctc_path(seed, targets):
    num_frames, vocab = 6, 4
    g = torch.Generator().manual_seed(seed)
    log_probs = torch.log_softmax(torch.randn(num_frames, vocab, generator=g, dtype=torch.float64) * 2, dim=1)
    states, labels, score = ctc_viterbi_path(log_probs, torch.tensor(targets), blank=BLANK)
    # the path is a valid CTC path for the target and its score is its log-probability
    assert collapse_ctc_labels(labels, BLANK).tolist() == targets
    steps = (states[1:] - states[:-1]).tolist()
    assert all(step in (0, 1, 2) for step in steps)
    assert int(states[0]) in (0, 1) and int(states[-1]) in (2 * len(targets), 2 * len(targets) - 1)
    path_score = log_probs[torch.arange(num_frames), labels].sum()
    assert float(score) == pytest.approx(float(path_score), abs=1e-9)
    # brute force over every label sequence of length T
    frames = torch.arange(num_frames)
    paths = all_ctc_paths(targets, num_frames, vocab)
    best = max(float(log_probs[frames, torch.tensor(p)].sum()) for p in paths)
    assert float(score) == pytest.approx(best, abs=1e-9)


def test_longer_random_alignment_is_valid():
    g = torch.Generator().manual_seed(5)
    targets = torch.tensor([4, 4, 1, 7, 7, 7, 2, 9, 3, 3])
    log_probs = torch.log_softmax(torch.randn(80, 10, generator=g), dim=1)
    for mode in ("keep", "previous", "nearest"):
        labels = ctc_forced_align(log_probs, targets, blank_handling=mode)
        assert labels.shape == (80,)
        if mode == "keep":
            assert collapse_ctc_labels(labels).tolist() == targets.tolist()
        else:
            assert BLANK not in labels.tolist()
            # with blanks filled, the phone order is preserved (repeats merge)
            assert [s[0] for s in label_segments(labels)] == [4, 1, 7, 2, 9, 3]


def test_minimum_length_with_repeats_and_empty_target():
    # targets [1, 1] need 3 frames: 1, blank, 1
    log_probs = torch.log_softmax(torch.randn(3, 3), dim=1)
    assert ctc_forced_align(log_probs, torch.tensor([1, 1])).tolist() == [1, 0, 1]
    empty = ctc_forced_align(log_probs, torch.tensor([], dtype=torch.long), blank_handling="nearest")
    assert empty.tolist() == [0, 0, 0]


@pytest.mark.parametrize(
    "log_probs,targets,kwargs,match",
    [
        (torch.zeros(2, 3), torch.tensor([1, 1]), {}, "needs at least 3"),
        (torch.zeros(5, 3), torch.tensor([1, 0]), {}, "contains the blank id"),
        (torch.zeros(5, 3), torch.tensor([1, 3]), {}, r"ids must lie in \[0, 3\)"),
        (torch.zeros(5), torch.tensor([1]), {}, r"expected a \(T, V\) tensor"),
        (torch.full((5, 3), float("nan")), torch.tensor([1]), {}, "NaN"),
        (torch.zeros(5, 3), torch.tensor([[1]]), {}, r"expected a \(L,\) integer tensor"),
        (torch.zeros(5, 3), torch.tensor([1]), {"blank": 3}, "outside the vocabulary"),
        (torch.zeros(5, 3), torch.tensor([1]), {"blank_handling": "middle"}, "unknown mode 'middle'"),
        (torch.tensor([[0.0, float("-inf"), 0.0]] * 4), torch.tensor([1]), {}, "no CTC path"),
    ],
)
def test_bad_input(log_probs, targets, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ctc_forced_align(log_probs, targets, **kwargs)


def test_float_targets_rejected():
    with pytest.raises(TypeError, match="integer tensor"):
        ctc_forced_align(torch.zeros(4, 3), torch.tensor([1.0]))
