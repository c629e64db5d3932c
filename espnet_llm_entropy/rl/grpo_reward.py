"""The GRPO stage's reward of one hypothesis against its reference transcript.

NIM4-ASR's reward after joint SFT, with every weight an option::

    reward = error_weight         * exp(-error_scale * ER)
           + hallucination_weight * R_hallu
           + length_weight        * R_len

* ``ER`` is the unit error rate: edits / reference units, counted in
  :func:`~espnet_llm_entropy.evaluation.text_units.text_to_units` units
  (``mixed`` by default: CJK characters and other-script words, i.e. CER
  for Mandarin, WER for English, MER for code-switching). With an empty
  reference it is the number of hypothesis units, so any output costs.
* ``R_hallu`` is -1 when the hypothesis is more than ``max_length_ratio``
  (2) or less than ``min_length_ratio`` (0.5) times the reference length,
  else 0. For an empty reference (a non-speech clip) any output is a
  hallucination: -1 as soon as one unit is produced.
* ``R_len`` (off by default) is ``-|hyp - ref| / max(ref, 1)``, a smooth
  length penalty.

NIM4-ASR's defaults: ``exp(-2 ER) + 0.5 R_hallu``. Its context term
``R_ctx`` needs contextual prompts, which this task does not have.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Optional

from espnet_llm_entropy.config_options import check_positive_number, dataclass_from_mapping, is_number
from espnet_llm_entropy.evaluation.alignment import edit_distance_matrix
from espnet_llm_entropy.evaluation.text_units import UNIT_TYPES, text_to_units


@dataclass(frozen=True)
class RewardConfig:
    """``grpo_conf.reward``: weights and bounds of the reward (see the module docstring)."""

    error_weight: float = 1.0
    error_scale: float = 2.0
    hallucination_weight: float = 0.5
    min_length_ratio: float = 0.5
    max_length_ratio: float = 2.0
    length_weight: float = 0.0
    unit: str = "mixed"

    def __post_init__(self):
        for name in ("error_weight", "hallucination_weight", "length_weight"):
            value = getattr(self, name)
            if not is_number(value) or value < 0:
                raise ValueError(f"grpo_conf.reward.{name}: expected a number >= 0, got {value!r}")
        check_positive_number("grpo_conf.reward.error_scale", self.error_scale)
        check_positive_number("grpo_conf.reward.max_length_ratio", self.max_length_ratio)
        low = self.min_length_ratio
        if not is_number(low) or not 0 <= low <= self.max_length_ratio:
            raise ValueError(
                f"grpo_conf.reward.min_length_ratio: expected a number in [0, max_length_ratio="
                f"{self.max_length_ratio}], got {low!r}"
            )
        if self.unit not in UNIT_TYPES:
            raise ValueError(f"grpo_conf.reward.unit: expected one of {UNIT_TYPES}, got {self.unit!r}")

    @classmethod
    def from_dict(cls, conf: Optional[Mapping]) -> "RewardConfig":
        return dataclass_from_mapping(cls, conf, "grpo_conf.reward")


@dataclass(frozen=True)
class RewardTerms:
    """One hypothesis' reward and its parts.

    Attributes:
        reward: the weighted sum.
        error_rate: edits / max(reference units, 1).
        accuracy_term: exp(-error_scale * error_rate), in (0, 1].
        hallucination_term: -1 or 0.
        length_term: -|hyp - ref| / max(ref, 1), <= 0.
        hyp_units, ref_units: lengths in units.
    """

    reward: float
    error_rate: float
    accuracy_term: float
    hallucination_term: float
    length_term: float
    hyp_units: int
    ref_units: int


def is_length_hallucination(hyp_units: int, ref_units: int, conf: RewardConfig) -> bool:
    """NIM4-ASR's R_hallu condition: length ratio outside [min, max]; any output for an empty reference."""
    if ref_units == 0:
        return hyp_units > 0
    ratio = hyp_units / ref_units
    return ratio > conf.max_length_ratio or ratio < conf.min_length_ratio


def transcript_reward(ref: str, hyp: str, conf: RewardConfig = RewardConfig()) -> RewardTerms:
    """The reward of hypothesis ``hyp`` for reference ``ref`` (both plain text, normalised here)."""
    ref_units = text_to_units(ref, conf.unit)
    hyp_units = text_to_units(hyp, conf.unit)
    edits = int(edit_distance_matrix(ref_units, hyp_units)[-1, -1])  # the distance only, no traceback
    error_rate = edits / max(len(ref_units), 1)
    accuracy = math.exp(-conf.error_scale * error_rate)
    hallucination = -1.0 if is_length_hallucination(len(hyp_units), len(ref_units), conf) else 0.0
    length = -abs(len(hyp_units) - len(ref_units)) / max(len(ref_units), 1)
    reward = (
        conf.error_weight * accuracy
        + conf.hallucination_weight * hallucination
        + conf.length_weight * length
    )
    return RewardTerms(reward, error_rate, accuracy, hallucination, length, len(hyp_units), len(ref_units))
