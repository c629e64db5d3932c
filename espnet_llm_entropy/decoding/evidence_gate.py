"""The CTC-evidence gate: no LLM decoding where the phone-CTC head heard no speech.

An LLM decoder writes fluent text for any input, so silence and noise come
out as sentences. The phone-CTC head of the encoder (trained in phoneme-CTC
pretraining, kept in the LLM-ASR model with ``keep_ctc_head``) says per frame
whether a phone was heard. Its greedy decoding gives a phone count ``n`` per
utterance, the *speech evidence*:

* ``n < min_ctc_phones``: the utterance gets an empty hypothesis and the LLM
  is not run for it;
* otherwise the token budget is bounded by the evidence as well as by the
  duration: ``max(min_tokens, ceil(length_slack * ctc_tokens_per_phone * n))``.

Failure modes: an utterance of one very short word (two or three phones)
is gated when ``min_ctc_phones`` is above its phone count; whispered or
far-field speech that the encoder never heard in training can give few
phones; speech-like non-speech (babble, singing) can pass. The threshold is
therefore calibrated on dev data (:func:`calibrate_min_ctc_phones`), never on
the test set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Sequence, Union

import numpy as np
import torch


@dataclass(frozen=True)
class GateCalibration:
    """Outcome of :func:`calibrate_min_ctc_phones` on dev data.

    Attributes:
        min_ctc_phones: the chosen threshold.
        speech_gated: dev speech utterances the threshold would silence.
        nonspeech_passed: dev non-speech clips it would let through.
        num_speech, num_nonspeech: the sizes of the two dev sets.
        speech_min_phones: the fewest phones of any dev speech utterance.
        nonspeech_max_phones: the most phones of any dev non-speech clip.
    """

    min_ctc_phones: int
    speech_gated: int
    nonspeech_passed: int
    num_speech: int
    num_nonspeech: int
    speech_min_phones: int
    nonspeech_max_phones: int

    def as_dict(self) -> Dict[str, int]:
        return dict(self.__dict__)


def gate_keep_mask(phone_counts: torch.Tensor, min_ctc_phones: int) -> torch.Tensor:
    """(B,) bool: which utterances have enough speech evidence to be decoded.

    Args:
        phone_counts: (B,) greedy CTC phone counts.
        min_ctc_phones: least phones for an utterance to be decoded (0 keeps all).
    """
    return torch.as_tensor(phone_counts) >= int(min_ctc_phones)


def evidence_token_budgets(
    phone_counts: torch.Tensor, tokens_per_phone: float, length_slack: float, min_tokens: int
) -> torch.Tensor:
    """(B,) int64 token budgets from CTC phone counts.

    ``max(min_tokens, ceil(length_slack * tokens_per_phone * n))``: with one
    LLM token per phone at most (true of the tokenizers we ship: a token
    spells at least one phone, except punctuation) and the slack, a correct
    transcript always fits.
    """
    counts = torch.as_tensor(phone_counts, dtype=torch.float64)
    budget = torch.ceil(counts * float(tokens_per_phone) * float(length_slack))
    return budget.clamp(min=int(min_tokens)).to(torch.long)


def calibrate_min_ctc_phones(
    speech_counts: Union[Sequence[int], np.ndarray],
    nonspeech_counts: Union[Sequence[int], np.ndarray],
    max_speech_gated: float = 0.0,
) -> GateCalibration:
    """Choose ``min_ctc_phones`` from dev speech and dev non-speech phone counts.

    The rule: the threshold just above every dev non-speech clip
    (``max(nonspeech) + 1``), unless that would silence more than
    ``max_speech_gated`` (a share) of the dev speech; then the largest
    threshold that silences no more than that share. Always at least 1.

    Args:
        speech_counts: CTC phone counts of dev speech utterances (non-empty).
        nonspeech_counts: CTC phone counts of dev non-speech clips (non-empty).
        max_speech_gated: the share of dev speech the gate may silence, in [0, 1).
    """
    speech = np.asarray(speech_counts, dtype=np.int64)
    nonspeech = np.asarray(nonspeech_counts, dtype=np.int64)
    if speech.size == 0 or nonspeech.size == 0:
        raise ValueError(
            f"gate calibration needs dev speech and dev non-speech counts, got "
            f"{speech.size} speech and {nonspeech.size} non-speech"
        )
    if not 0.0 <= max_speech_gated < 1.0:
        raise ValueError(f"max_speech_gated: expected a share in [0, 1), got {max_speech_gated!r}")
    allowed = math.floor(max_speech_gated * speech.size)
    # largest t with #(speech < t) <= allowed: t = the (allowed+1)-th smallest count
    speech_cap = int(np.sort(speech)[allowed])
    threshold = max(1, min(int(nonspeech.max()) + 1, speech_cap))
    return GateCalibration(
        min_ctc_phones=threshold,
        speech_gated=int((speech < threshold).sum()),
        nonspeech_passed=int((nonspeech >= threshold).sum()),
        num_speech=int(speech.size),
        num_nonspeech=int(nonspeech.size),
        speech_min_phones=int(speech.min()),
        nonspeech_max_phones=int(nonspeech.max()),
    )
