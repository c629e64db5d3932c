"""Joint CTC/LLM decoding: CTC likelihoods of candidate phones, the ranking, the text -> phone ids map."""

import itertools
import math

import pytest
import torch

from espnet_llm_entropy.decoding.ctc_rescoring import (
    TranscriptPhones,
    check_ctc_weight,
    ctc_log_likelihoods,
    rank_candidates,
)


def _collapse(path):
    """A CTC path (frame labels) -> its label sequence: merge repeats, drop blanks (0)."""
    out = []
    for k, label in enumerate(path):
        if label != 0 and (k == 0 or path[k - 1] != label):
            out.append(label)
    return out


def _brute_force(log_probs, target):
    """log of the summed probability of every frame labelling that collapses to ``target``."""
    frames, vocab = log_probs.shape
    total = -math.inf
    for path in itertools.product(range(vocab), repeat=frames):
        if _collapse(path) == list(target):
            score = sum(float(log_probs[t, s]) for t, s in enumerate(path))
            total = score if total == -math.inf else max(total, score) + math.log1p(math.exp(-abs(total - score)))
    return total


def test_likelihoods_equal_the_sum_over_all_alignments():
    g = torch.Generator().manual_seed(0)
    log_probs = torch.randn(5, 4, generator=g).log_softmax(-1)
    targets = [[1], [1, 2], [2, 2], [1, 3, 1], []]
    got = ctc_log_likelihoods(log_probs, targets)
    assert got.shape == (5,)
    for value, target in zip(got.tolist(), targets):
        assert value == pytest.approx(_brute_force(log_probs, target), abs=1e-9)
    assert got[-1].item() == pytest.approx(float(log_probs[:, 0].double().sum()), abs=1e-9)  # all blanks


def test_a_sequence_that_cannot_fit_the_frames_is_impossible():
    log_probs = torch.randn(3, 4).log_softmax(-1)
    # 4 labels in 3 frames, and a repeat that needs a blank between (3 frames for [1, 1] is fine)
    got = ctc_log_likelihoods(log_probs, [[1, 2, 3, 1], [1, 1, 1], [1, 1]])
    assert got[0].item() == -math.inf and got[1].item() == -math.inf
    assert math.isfinite(got[2].item())
    assert ctc_log_likelihoods(log_probs, []).numel() == 0


def test_ranking_weighs_the_two_scores():
    llm = [-1.0, -2.0, -3.0]
    ctc = [-9.0, -1.0, -2.0]
    assert [c.index for c in rank_candidates(llm, ctc, 0.0)] == [0, 1, 2]  # the LLM alone
    assert [c.index for c in rank_candidates(llm, ctc, 1.0)] == [1, 2, 0]  # CTC alone
    best = rank_candidates(llm, ctc, 0.5)[0]
    assert best.index == 1 and best.score == pytest.approx(-1.5)
    assert (best.llm_score, best.ctc_score) == (-2.0, -1.0)


def test_candidates_ctc_cannot_align_come_last_and_all_impossible_leaves_the_llm_order():
    inf = -math.inf
    assert [c.index for c in rank_candidates([-1.0, -5.0], [inf, -1.0], 0.3)] == [1, 0]
    assert [c.index for c in rank_candidates([-4.0, -1.0, -2.0], [inf, inf, inf], 0.3)] == [1, 2, 0]
    assert [c.index for c in rank_candidates([-1.0, -1.0], [-2.0, -2.0], 0.3)] == [0, 1]  # a tie keeps the order


@pytest.mark.parametrize("weight", [-0.1, 1.5, float("nan")])
def test_a_weight_outside_0_1_is_refused(weight):
    with pytest.raises(ValueError, match="ctc_weight must be in"):
        check_ctc_weight(weight)
    with pytest.raises(ValueError, match="ctc_weight"):
        rank_candidates([0.0], [0.0], weight)


def test_ranking_needs_one_ctc_score_per_candidate():
    with pytest.raises(ValueError, match="2 LLM scores but 1 CTC"):
        rank_candidates([0.0, 1.0], [0.0], 0.3)


def test_transcripts_become_the_inventory_ids_of_their_phones():
    phones = TranscriptPhones(["<blank>", "<unk>", "a1", "b", "c", "AY1"])
    assert phones("八") == [3, 2]  # b a1
    assert phones("擦 八") == [4, 2, 3, 2]
    assert phones("I") == [5]  # ARPAbet AY1
    assert phones("妈") == [1, 2]  # m a1: m is not in the inventory -> <unk>


def test_phones_outside_an_inventory_without_unk_are_left_out():
    phones = TranscriptPhones(["<blank>", "a1", "b"])
    assert phones("八") == [2, 1]
    assert phones("妈") == [1]  # m has no id and no <unk> to stand for it
    assert phones("") == [] and phones("  ") == [] and phones("。") == []
