"""What the paradigm comparison measures: the per-run metrics and the paper's claims.

Every run (one paradigm, one seed) writes ``metrics.json`` with a flat
``metrics`` dict whose keys are the :data:`METRICS` keys (a value is None
where it does not apply, e.g. drift for a paradigm without a pretrained
encoder). The report aggregates them over seeds and checks :data:`CLAIMS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple


@dataclass(frozen=True)
class MetricSpec:
    """One column of the comparison table.

    Attributes:
        key: key in a run's ``metrics`` dict.
        label: column header.
        scale: multiply by this for display (100 for rates shown in %).
        digits: decimals shown.
        better: ``"lower"``, ``"higher"`` or None (descriptive figure).
        plot: draw a bar chart of it.
    """

    key: str
    label: str
    scale: float = 1.0
    digits: int = 3
    better: Optional[str] = None
    plot: bool = True


METRICS: Tuple[MetricSpec, ...] = (
    MetricSpec("mer", "test MER %", 100.0, 1, "lower"),
    MetricSpec("cer_zh", "zh CER %", 100.0, 1, "lower"),
    MetricSpec("wer_en", "en WER %", 100.0, 1, "lower"),
    MetricSpec("mer_cs", "code-switch MER %", 100.0, 1, "lower"),
    MetricSpec("hallucination_rate", "test hallucination %", 100.0, 1, "lower"),
    MetricSpec("nonspeech_output_rate", "non-speech clips with output %", 100.0, 1, "lower"),
    MetricSpec("nonspeech_units_per_min", "non-speech units/min", 1.0, 1, "lower"),
    MetricSpec("nonspeech_output_rate_nogate", "non-speech clips with output, no gate %", 100.0, 1, "lower"),
    MetricSpec("nonspeech_units_per_min_nogate", "non-speech units/min, no gate", 1.0, 1, "lower"),
    MetricSpec("pretrained_encoder_nse", "pretrained encoder NSE", 1.0, 3, None),
    MetricSpec("encoder_nse", "encoder NSE", 1.0, 3, None),
    MetricSpec("encoder_effective_rank", "encoder eff. rank", 1.0, 1, None),
    MetricSpec("adaptor_nse", "adaptor NSE", 1.0, 3, None),
    MetricSpec("adaptor_effective_rank", "adaptor eff. rank", 1.0, 1, None),
    MetricSpec("drift_cka", "CKA to pretrained encoder", 1.0, 3, "higher"),
    MetricSpec("encoder_info_bits", "encoder accessible phone info (bits/frame)", 1.0, 2, "higher"),
    MetricSpec("adaptor_info_bits", "adaptor accessible phone info (bits/frame)", 1.0, 2, "higher"),
    MetricSpec("llm_reduction_bits", "LLM entropy reduction by speech (bits/token)", 1.0, 2, "higher"),
    MetricSpec("encoder_share", "encoder share of entropy reduction", 1.0, 2, None),
    MetricSpec("pretrain_dev_error", "pretraining dev PER/CER %", 100.0, 1, "lower"),
    MetricSpec("final_dev_acc", "final dev token accuracy %", 100.0, 1, "higher"),
    MetricSpec("trainable_params", "trainable params (final stage)", 1.0, 0, None, plot=False),
    MetricSpec("total_params", "total params", 1.0, 0, None, plot=False),
    MetricSpec("train_steps", "update steps", 1.0, 0, None, plot=False),
    MetricSpec("train_time_s", "training time (s)", 1.0, 0, "lower"),
)

METRIC_BY_KEY = {m.key: m for m in METRICS}

#: A pretraining whose final dev PER/CER is above this has barely left the CTC blank plateau; the
#: report flags it, since figures of its encoder then describe an encoder that has hardly learned.
TRAINED_PRETRAIN_MAX_ERROR = 0.2


@dataclass(frozen=True)
class ClaimSpec:
    """A claim of the paper as a comparison of one metric between two paradigms.

    The claim holds when ``metric`` of ``paradigm`` is ``direction``
    (``"lower"``/``"higher"``) than that of ``baseline``.
    """

    text: str
    metric: str
    paradigm: str
    baseline: str
    direction: str


CLAIMS: Tuple[ClaimSpec, ...] = (
    ClaimSpec(
        "Phoneme pretraining gives lower-entropy encoder outputs than character pretraining",
        "pretrained_encoder_nse", "phoneme_ctc", "char_ctc", "lower",
    ),
    ClaimSpec(
        "IA-SFT keeps the encoder closer to its pretrained representation than direct joint training",
        "drift_cka", "full_method", "phoneme_ctc", "higher",
    ),
    ClaimSpec(
        "The decoupled pipeline produces less output on non-speech than single-stage training "
        "(decoded without the CTC-evidence gate: the models themselves)",
        "nonspeech_output_rate_nogate", "full_method", "single_stage", "lower",
    ),
    ClaimSpec(
        "The decoupled pipeline produces fewer output units per minute of non-speech than single-stage "
        "training (without the gate)",
        "nonspeech_units_per_min_nogate", "full_method", "single_stage", "lower",
    ),
    ClaimSpec(
        "With the CTC-evidence gate that its CTC pretraining makes possible, the decoupled pipeline "
        "produces less output on non-speech than single-stage training (which has no trained CTC head)",
        "nonspeech_output_rate", "full_method", "single_stage", "lower",
    ),
)
