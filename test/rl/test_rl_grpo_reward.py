"""The GRPO reward on hand-made hypotheses (NIM4-ASR's exp(-2 ER) + 0.5 R_hallu)."""

import math

import pytest

from espnet_llm_entropy.rl.grpo_reward import RewardConfig, is_length_hallucination, transcript_reward


def test_exact_hypothesis_gets_the_full_reward():
    terms = transcript_reward("open the door", "Open the door.")
    assert terms.error_rate == 0 and terms.hallucination_term == 0
    assert terms.reward == pytest.approx(1.0)


def test_one_error_in_three_words():
    terms = transcript_reward("open the door", "open a door")
    assert terms.error_rate == pytest.approx(1 / 3)
    assert terms.reward == pytest.approx(math.exp(-2 / 3))


def test_mandarin_is_scored_by_character_and_english_by_word():
    terms = transcript_reward("我喜欢 deep learning", "我喜欢 deep")
    assert (terms.ref_units, terms.hyp_units) == (5, 4)
    assert terms.error_rate == pytest.approx(1 / 5)


def test_more_than_twice_the_reference_is_a_hallucination():
    terms = transcript_reward("hello", "hello hello hello")
    assert terms.hallucination_term == -1
    assert terms.reward == pytest.approx(math.exp(-2 * 2) - 0.5)
    # exactly twice is allowed
    assert transcript_reward("hello world", "hello world good morning").hallucination_term == 0


def test_less_than_half_the_reference_is_penalised():
    assert transcript_reward("one two three four five", "one two").hallucination_term == -1
    assert transcript_reward("one two three four", "one two").hallucination_term == 0


def test_any_output_for_non_speech_is_a_hallucination_and_silence_is_rewarded():
    silent = transcript_reward("", "")
    assert silent.reward == pytest.approx(1.0)
    talk = transcript_reward("", "thank you")
    assert talk.hallucination_term == -1
    assert talk.error_rate == 2
    assert talk.reward == pytest.approx(math.exp(-4) - 0.5)
    assert talk.reward < silent.reward


def test_weights_and_length_term_are_options():
    conf = RewardConfig(error_weight=0.0, hallucination_weight=0.0, length_weight=1.0)
    assert transcript_reward("a b c d", "a b", conf).reward == pytest.approx(-0.5)
    assert not is_length_hallucination(3, 2, RewardConfig(max_length_ratio=1.5))
    assert is_length_hallucination(4, 2, RewardConfig(max_length_ratio=1.5))


@pytest.mark.parametrize("conf, message", [
    ({"error_scale": 0}, "error_scale"),
    ({"hallucination_weight": -1}, "hallucination_weight"),
    ({"min_length_ratio": 3.0}, "min_length_ratio"),
    ({"unit": "syllable"}, "unit"),
    ({"bonus": 1}, "unknown option"),
])
def test_bad_options_are_named(conf, message):
    with pytest.raises(ValueError, match=message):
        RewardConfig.from_dict(conf)
