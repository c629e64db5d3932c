"""Token budget from audio duration and the guard config."""

import pytest
import torch

from espnet_llm_entropy.decoding import (
    DecodingGuardConfig,
    MaxNewTokensPerSequenceCriteria,
    RepetitionLoopStoppingCriteria,
    build_logits_processors,
    build_stopping_criteria,
    max_new_tokens_for_duration,
    max_new_tokens_for_durations,
)


def test_budget_formula():
    # 10 s * 6 tokens/s * slack 1.5 = 90
    assert max_new_tokens_for_duration(10.0, tokens_per_second=6.0, min_tokens=8, slack=1.5) == 90
    # 1.1 s * 5 * 1 = 5.5 -> ceil 6, above the floor 2
    assert max_new_tokens_for_duration(1.1, tokens_per_second=5.0, min_tokens=2, slack=1.0) == 6
    # exact products are not rounded up by float noise: 0.3 * 10 = 3
    assert max_new_tokens_for_duration(0.3, tokens_per_second=10.0, min_tokens=1, slack=1.0) == 3


def test_budget_floor_and_ceiling():
    assert max_new_tokens_for_duration(0.0, min_tokens=8) == 8
    assert max_new_tokens_for_duration(0.2, tokens_per_second=6.0, min_tokens=8) == 8
    assert max_new_tokens_for_duration(600.0, max_tokens=256) == 256


def test_budget_longer_audio_never_gets_fewer_tokens():
    budgets = [max_new_tokens_for_duration(d / 10) for d in range(0, 400)]
    assert budgets == sorted(budgets)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"duration_s": -1.0}, "duration_s"),
        ({"duration_s": 1.0, "tokens_per_second": 0.0}, "tokens_per_second"),
        ({"duration_s": 1.0, "slack": -2.0}, "slack"),
        ({"duration_s": 1.0, "min_tokens": 0}, "min_tokens"),
        ({"duration_s": 1.0, "max_tokens": 0}, "max_tokens"),
        ({"duration_s": float("nan")}, "duration_s"),
    ],
)
def test_budget_rejects_bad_values(kwargs, name):
    with pytest.raises(ValueError, match=name):
        max_new_tokens_for_duration(**kwargs)


def test_batch_budgets():
    budgets = max_new_tokens_for_durations(torch.tensor([0.0, 2.0, 10.0]), 6.0, 8, 1.5)
    assert budgets.dtype == torch.long
    assert budgets.tolist() == [8, 18, 90]


def test_per_sequence_criteria_expand_over_beams():
    crit = MaxNewTokensPerSequenceCriteria([2, 4], start_length=1)
    ids = torch.zeros(4, 1 + 3, dtype=torch.long)  # 2 entries x 2 beams, 3 new tokens
    assert crit(ids, None).tolist() == [True, True, False, False]
    with pytest.raises(ValueError, match="rows"):
        crit(torch.zeros(3, 4, dtype=torch.long), None)
    with pytest.raises(ValueError, match="max_new_tokens"):
        MaxNewTokensPerSequenceCriteria([3, -1])


def test_config_from_dict_and_builders():
    conf = DecodingGuardConfig.from_dict(
        {"no_repeat_ngram_size": 3, "repetition_penalty": 1.2, "tokens_per_second": 4.0}
    )
    assert conf.max_new_tokens(10.0) == 60
    procs = build_logits_processors(conf)
    names = sorted(type(p).__name__ for p in procs)
    assert names == ["NoRepeatNGramLogitsProcessor", "RepetitionPenaltyLogitsProcessor"]
    assert len(build_logits_processors(DecodingGuardConfig())) == 0
    crits = build_stopping_criteria(conf, budgets=[3, 5])
    assert [type(c) for c in crits] == [RepetitionLoopStoppingCriteria, MaxNewTokensPerSequenceCriteria]
    assert len(build_stopping_criteria(DecodingGuardConfig(stop_on_loop=False))) == 0


def test_repetition_penalty_processor_lowers_seen_tokens():
    procs = build_logits_processors(DecodingGuardConfig(repetition_penalty=2.0))
    scores = torch.tensor([[1.0, 1.0, 1.0, -1.0]])
    out = procs(torch.tensor([[0, 3]]), scores.clone())
    assert out.tolist() == [[0.5, 1.0, 1.0, -2.0]]


@pytest.mark.parametrize(
    "conf, name",
    [
        ({"bogus": 1}, "bogus"),
        ({"repetition_penalty": 0.0}, "repetition_penalty"),
        ({"no_repeat_ngram_size": -1}, "no_repeat_ngram_size"),
        ({"loop_min_repeats": 1}, "min_repeats"),
        ({"stop_on_loop": "yes"}, "stop_on_loop"),
        ({"tokens_per_second": -1}, "tokens_per_second"),
    ],
)
def test_config_errors_name_the_option(conf, name):
    with pytest.raises(ValueError, match=name) as err:
        DecodingGuardConfig.from_dict(conf)
    assert "decoding_guard_conf" in str(err.value)


def test_postprocess_keeps_empty_and_trims_loops():
    conf = DecodingGuardConfig()
    assert conf.postprocess([]) == []
    assert conf.postprocess([4, 5] + [6] * 30) == [4, 5, 6]
    assert DecodingGuardConfig(trim_loop=False).postprocess([6] * 30) == [6] * 30
