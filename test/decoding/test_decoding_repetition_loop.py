"""Repetition-loop detection and trimming (pure functions and batched mask)."""

import random

import pytest
import torch

from espnet_llm_entropy.decoding import (
    detect_repetition_loop,
    find_repetition_loop,
    tail_loop_mask,
    trim_repetition_loop,
)


@pytest.mark.parametrize(
    "seq, expected",
    [
        ([5] * 8, 1),  # one token, 8 copies >= min_span 8
        ([9, 9] + [1, 2] * 4, 2),  # bigram, 4 copies
        ([7, 8, 9] + [1, 2, 3] * 4, 3),
        (list("the cat ") + list("abcdefghij") * 4, 10),  # longest period allowed
        (list("我爱北京天安门") + ["哈"] * 12, 1),
    ],
)
def test_loops_are_found(seq, expected):
    assert detect_repetition_loop(seq) == expected


@pytest.mark.parametrize(
    "seq",
    [
        [],
        list(range(20)),
        [5] * 7,  # 7 copies of a unigram: under min_span 8
        [1, 2] * 3,  # 3 copies: under min_repeats 4
        [1, 2] * 6 + [3, 4, 5],  # the model broke out of the loop
        list("abcdefghijk") * 4,  # period 11 > max_ngram 10
        "ha ha ha".split(),
    ],
)
def test_non_loops_are_not_found(seq):
    assert detect_repetition_loop(seq) == 0


def test_options_change_the_rule():
    assert detect_repetition_loop([1, 2] * 3, min_repeats=3, min_span=6) == 2
    assert detect_repetition_loop([5] * 3, min_repeats=3, min_span=0) == 1
    assert detect_repetition_loop(list("abcdefghijk") * 4, max_ngram=11) == 11


def test_smallest_period_is_reported_and_run_extent():
    loop = find_repetition_loop([0, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2])
    assert loop.ngram == 2
    assert loop.start == 1 and loop.length == 10 and loop.repeats == 5.0
    # a partial copy before full copies belongs to the run (rotation)
    loop = find_repetition_loop([9, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3])
    assert loop.ngram == 3 and loop.start == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_ngram": 0}, "max_ngram"),
        ({"min_repeats": 1}, "min_repeats"),
        ({"min_span": -1}, "min_span"),
    ],
)
def test_invalid_options_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        detect_repetition_loop([1, 2, 3], **kwargs)


def test_trim_keeps_one_copy():
    assert trim_repetition_loop([7, 8] + [1, 2, 3] * 5) == [7, 8, 1, 2, 3]
    assert trim_repetition_loop([7, 8] + [1, 2, 3] * 5, keep_repeats=2) == [7, 8] + [1, 2, 3] * 2
    assert trim_repetition_loop([7, 8] + [1, 2, 3] * 5, keep_repeats=0) == [7, 8]
    assert trim_repetition_loop(["好"] * 20) == ["好"]
    unchanged = [1, 2, 3, 4, 1, 2]
    assert trim_repetition_loop(unchanged) == unchanged
    with pytest.raises(ValueError, match="keep_repeats"):
        trim_repetition_loop([1], keep_repeats=-1)


def test_batched_mask_agrees_with_pure_detector():
    rng = random.Random(0)
    rows = []
    for _ in range(400):
        length = 24
        alphabet = rng.choice([2, 3, 5])
        prefix = [rng.randrange(alphabet) for _ in range(rng.randrange(length + 1))]
        period = [rng.randrange(alphabet) for _ in range(rng.randint(1, 4))]
        tail = (period * length)[: length - len(prefix)]
        rows.append(prefix + tail)
    ids = torch.tensor(rows)
    for opts in [dict(max_ngram=4, min_repeats=3, min_span=6), dict(max_ngram=2, min_repeats=4, min_span=0)]:
        mask = tail_loop_mask(ids, **opts)
        expected = [bool(detect_repetition_loop(r, **opts)) for r in rows]
        assert mask.tolist() == expected
    assert 0 < sum(expected) < len(rows)  # both outcomes exercised


def test_batched_mask_ignores_prompt():
    ids = torch.tensor([[4] * 8 + [1, 2, 3]])
    assert tail_loop_mask(ids, start_length=0, max_ngram=3, min_repeats=4, min_span=4).tolist() == [False]
    ids = torch.tensor([[4] * 8])
    assert tail_loop_mask(ids, start_length=0, min_repeats=4, min_span=8).tolist() == [True]
    assert tail_loop_mask(ids, start_length=1, min_repeats=4, min_span=8).tolist() == [False]
