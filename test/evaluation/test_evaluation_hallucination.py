"""The NIM4-ASR hallucination rule and the set-level reports."""

import pytest

from espnet_llm_entropy.evaluation import (
    HallucinationConfig,
    analyze_utterance,
    hallucination_report,
    is_hallucination,
    nonspeech_report,
    summarize_length_ratios,
)


@pytest.mark.parametrize(
    "ref, hyp, expected",
    [
        # long unrelated output
        ("今天天气很好", "欢迎收看本期节目请大家订阅点赞转发", True),
        ("turn left at the light", "thanks for watching please subscribe to my channel and like the video", True),
        ("我喜欢 deep learning", "please subscribe 欢迎 订阅 本 频道 and share with your friends", True),
        # long but correct output (long reference)
        ("欢迎收看本期节目请大家订阅点赞转发", "欢迎收看本期节目请大家订阅点赞转发", False),
        ("thanks for watching please subscribe to my channel", "Thanks for watching, please subscribe to my channel!", False),
        # long and partly correct: repeated transcript keeps half of its units in the LCS
        ("今天天气很好", "今天天气很好今天天气很好", False),
        # short unrelated output: wrong, but not a hallucination by this rule
        ("今天天气很好", "谢谢", False),
        ("turn left at the light", "okay", False),
        # empty hypothesis never; empty reference with output always
        ("今天天气很好", "", False),
        ("", "thank you", True),
        ("", "", False),
    ],
)
def test_rule_on_hand_made_cases(ref, hyp, expected):
    assert is_hallucination(ref, hyp) is expected


def test_length_condition_is_strictly_more_than_50_percent():
    assert not is_hallucination("aa bb", "xx yy zz")  # 3 units = 1.5 x 2
    assert is_hallucination("aa bb", "xx yy zz ww")  # 4 units > 1.5 x 2


def test_overlap_is_lcs_over_hypothesis_length():
    utt = analyze_utterance("a b c", "a x b y z w v u t s")
    assert (utt.ref_len, utt.hyp_len, utt.lcs) == (3, 10, 2)
    assert utt.overlap == pytest.approx(0.2) and utt.length_ratio == pytest.approx(10 / 3)
    assert not utt.hallucinated  # 0.2 >= 0.1
    assert is_hallucination("a b c", "a x b y z w v u t s", overlap_threshold=0.25)
    assert not is_hallucination("a b c", "p q r s t u", length_ratio_threshold=2.5)
    # out of order shared units do not count as overlap
    assert analyze_utterance("a b c d", "d c b a x y z w v u s t").lcs == 1


def test_config_validation():
    with pytest.raises(ValueError, match="overlap_threshold"):
        HallucinationConfig(overlap_threshold=1.5)
    with pytest.raises(ValueError, match="length_ratio_threshold"):
        HallucinationConfig(length_ratio_threshold=0.5)
    with pytest.raises(ValueError, match="unit"):
        HallucinationConfig(unit="bpe")


def test_report_counts_and_missing_hypotheses():
    refs = {"u1": "今天天气很好", "u2": "turn left", "u3": "a b c d", "u4": "你好"}
    hyps = {
        "u1": "今天天气很好",
        "u2": "subscribe subscribe subscribe subscribe subscribe subscribe subscribe subscribe",
        "u3": "a b c d",
    }
    report = hallucination_report(refs, hyps)
    assert report["n_utts"] == 4
    assert report["hallucination"] == {"count": 1, "rate": 0.25, "ids": ["u2"]}
    assert report["repetition_loop"]["ids"] == ["u2"]
    assert report["empty_output"] == {"count": 1, "rate": 0.25}  # u4 missing -> empty
    assert report["length_ratio"]["count"] == 4
    assert report["length_ratio"]["median"] == pytest.approx(1.0)
    # u2: 2 substitutions + 6 insertions; u4 (no hypothesis): 2 deletions
    err = report["error_rate"]
    assert (err["sub"], err["ins"], err["del"], err["ref_len"]) == (2, 6, 2, 14)
    with pytest.raises(ValueError, match="no reference"):
        hallucination_report(refs, {"zz": "x"})


def test_loop_rate_is_on_units():
    report = hallucination_report({"a": "好"}, {"a": "好" * 9})
    assert report["repetition_loop"]["count"] == 1
    report = hallucination_report({"a": "好"}, {"a": "好" * 5})
    assert report["repetition_loop"]["count"] == 0


def test_nonspeech_report():
    hyps = {"a": "", "b": "thank you", "c": "谢谢观看"}
    durations = {"a": 30.0, "b": 30.0, "c": 30.0}
    report = nonspeech_report(hyps, durations)
    assert report["with_output"] == {"count": 2, "rate": pytest.approx(2 / 3), "ids": ["b", "c"]}
    assert report["output_units"] == 6
    assert report["units_per_minute"] == pytest.approx(6 / 1.5)
    assert report["total_duration_s"] == 90.0
    with pytest.raises(ValueError, match="no duration"):
        nonspeech_report(hyps, durations, utt_ids=["a", "d"])


def test_length_ratio_summary():
    stats = summarize_length_ratios([0.5, 1.0, 1.0, 2.0, 4.0], bin_edges=(0.0, 1.0, 2.0))
    assert stats["count"] == 5
    assert stats["mean"] == pytest.approx(1.7) and stats["median"] == 1.0
    assert stats["min"] == 0.5 and stats["max"] == 4.0
    assert [b["count"] for b in stats["histogram"]] == [1, 2, 2]
    assert stats["histogram"][-1]["hi"] is None
    empty = summarize_length_ratios([])
    assert empty["count"] == 0 and empty["mean"] is None
    assert sum(b["count"] for b in empty["histogram"]) == 0
    with pytest.raises(ValueError, match="bin_edges"):
        summarize_length_ratios([1.0], bin_edges=(1.0, 0.5))
