"""The CTC-evidence gate's decision, token budget and dev calibration."""

import pytest
import torch

from espnet_llm_entropy.decoding import DecodingGuardConfig
from espnet_llm_entropy.decoding.evidence_gate import (
    calibrate_min_ctc_phones,
    evidence_token_budgets,
    gate_keep_mask,
)


def test_keep_mask_is_a_phone_count_threshold():
    counts = torch.tensor([0, 1, 2, 5])
    assert gate_keep_mask(counts, 2).tolist() == [False, False, True, True]
    assert gate_keep_mask(counts, 0).tolist() == [True] * 4


def test_evidence_budget_grows_with_phones_and_keeps_the_floor():
    budgets = evidence_token_budgets(torch.tensor([0, 4, 10]), tokens_per_phone=1.0,
                                     length_slack=1.5, min_tokens=8)
    assert budgets.tolist() == [8, 8, 15]
    conf = DecodingGuardConfig(ctc_tokens_per_phone=None)
    assert conf.evidence_budgets(torch.tensor([3])) is None


def test_calibration_sits_just_above_the_non_speech():
    result = calibrate_min_ctc_phones([9, 12, 30, 7], [0, 0, 3, 1])
    assert result.min_ctc_phones == 4
    assert (result.speech_gated, result.nonspeech_passed) == (0, 0)
    assert (result.speech_min_phones, result.nonspeech_max_phones) == (7, 3)


def test_calibration_never_silences_more_dev_speech_than_allowed():
    speech, nonspeech = [2, 9, 12, 30, 7], [0, 15, 3]
    strict = calibrate_min_ctc_phones(speech, nonspeech)  # no speech may be gated
    assert strict.min_ctc_phones == 2 and strict.speech_gated == 0 and strict.nonspeech_passed == 2
    lenient = calibrate_min_ctc_phones(speech, nonspeech, max_speech_gated=0.2)  # 1 of 5 may go
    assert lenient.min_ctc_phones == 7 and lenient.speech_gated == 1 and lenient.nonspeech_passed == 1


def test_calibration_threshold_is_at_least_one_and_inputs_are_checked():
    assert calibrate_min_ctc_phones([0, 4], [0]).min_ctc_phones == 1
    with pytest.raises(ValueError, match="dev speech and dev non-speech"):
        calibrate_min_ctc_phones([], [1])
    with pytest.raises(ValueError, match="max_speech_gated"):
        calibrate_min_ctc_phones([3], [1], max_speech_gated=1.0)


@pytest.mark.parametrize("option, value", [("min_ctc_phones", -1), ("min_ctc_phones", 1.5),
                                           ("ctc_tokens_per_phone", 0), ("ctc_gate", "yes")])
def test_bad_gate_options_name_themselves(option, value):
    with pytest.raises(ValueError, match=f"decoding_guard_conf.{option}"):
        DecodingGuardConfig.from_dict({option: value})
