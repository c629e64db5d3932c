"""Tests of the LLM-side entropy reduction and the encoder/LLM allocation summary."""

import math

import pytest
import torch

from espnet_llm_entropy.metrics.entropy_allocation import (
    allocation_from_measurements,
    allocation_summary,
    llm_entropy_reduction,
)

LN2 = math.log(2.0)


def test_llm_entropy_reduction_in_bits_per_token():
    # 5 tokens: 3 bits/token without speech, 1 bit/token with speech (NLL given in nats)
    result = llm_entropy_reduction(5 * 1 * LN2, 5 * 3 * LN2, 5)
    assert result["bits_per_token_without_speech"] == pytest.approx(3.0)
    assert result["bits_per_token_with_speech"] == pytest.approx(1.0)
    assert result["reduction_bits_per_token"] == pytest.approx(2.0)
    assert result["reduction_share"] == pytest.approx(2.0 / 3.0)
    assert result["num_tokens"] == 5 and result["num_utterances"] == 1


def test_per_utterance_values_are_pooled_token_weighted():
    # utterance 1: 2 tokens, 4 -> 0 bits/token; utterance 2: 6 tokens, 2 -> 1 bits/token
    with_speech = torch.tensor([0.0, 6 * 1 * LN2])
    without = torch.tensor([2 * 4 * LN2, 6 * 2 * LN2])
    result = llm_entropy_reduction(with_speech, without, torch.tensor([2, 6]))
    assert result["bits_per_token_without_speech"] == pytest.approx((8 + 12) / 8)
    assert result["bits_per_token_with_speech"] == pytest.approx(6 / 8)
    assert result["num_tokens"] == 8 and result["num_utterances"] == 2


def test_allocation_summary_shares():
    summary = allocation_summary(1.5, 0.5)
    assert summary["total_reduction_bits"] == pytest.approx(2.0)
    assert summary["encoder_share"] == pytest.approx(0.75)
    assert summary["llm_share"] == pytest.approx(0.25)
    zero = allocation_summary(0.0, 0.0)
    assert zero["encoder_share"] is None and zero["llm_share"] is None


def test_allocation_from_measurements_converts_and_caps():
    # 0.5 bits/frame of phone info, 3 phones per token -> 1.5 bits/token of a 2-bit reduction
    result = allocation_from_measurements(0.5, num_phones=300, num_tokens=100, reduction_bits_per_token=2.0)
    assert result["phones_per_token"] == pytest.approx(3.0)
    assert result["encoder_accessible_bits_per_token"] == pytest.approx(1.5)
    assert result["encoder_side_bits"] == pytest.approx(1.5)
    assert result["llm_side_bits"] == pytest.approx(0.5)
    assert result["encoder_share"] + result["llm_share"] == pytest.approx(1.0)
    assert result["encoder_capped"] is False
    capped = allocation_from_measurements(2.0, 300, 100, 2.0)
    assert capped["encoder_accessible_bits_per_token"] == pytest.approx(6.0)
    assert capped["encoder_side_bits"] == pytest.approx(2.0) and capped["llm_share"] == 0.0
    assert capped["encoder_capped"] is True
    negative = allocation_from_measurements(-0.01, 300, 100, 2.0)
    assert negative["encoder_side_bits"] == 0.0 and negative["encoder_capped"] is True


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: llm_entropy_reduction([1.0, 2.0], [1.0], [1, 1]), "same length"),
        (lambda: llm_entropy_reduction(-1.0, 1.0, 1), "nll_with_speech: negative"),
        (lambda: llm_entropy_reduction(1.0, float("nan"), 1), "nll_without_speech: contains NaN"),
        (lambda: llm_entropy_reduction(1.0, 1.0, 0), "at least one scored token"),
        (lambda: allocation_summary(-0.1, 1.0), "encoder_side_bits: expected a finite number >= 0"),
        (lambda: allocation_summary(1.0, float("inf")), "llm_side_bits"),
        (lambda: allocation_from_measurements(0.5, 10, 10, 0.0), "no reduction to allocate"),
        (lambda: allocation_from_measurements(0.5, 0, 10, 1.0), "must be > 0"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
