"""One config for all decoding guards, and builders for ``generate``.

YAML (e.g. the inference config's ``decoding_guard_conf``)::

    decoding_guard_conf:
      tokens_per_second: 6.0     # length budget from the audio duration
      min_tokens: 8
      length_slack: 1.5
      stop_on_loop: true         # RepetitionLoopStoppingCriteria
      loop_max_ngram: 10
      loop_min_repeats: 4
      loop_min_span: 8
      trim_loop: true            # cut the looping tail from the final text
      no_repeat_ngram_size: 0    # 0 = off (transformers NoRepeatNGramLogitsProcessor)
      repetition_penalty: 1.0    # 1.0 = off (transformers RepetitionPenaltyLogitsProcessor)
      ctc_gate: true             # CTC-evidence gate (decoding/evidence_gate.py); needs a
      min_ctc_phones: 1          #   trained phone-CTC head in the model, else it is off
      ctc_tokens_per_phone: 1.0  # token budget also <= slack * this * CTC phones (null: off)

Typical use with a Hugging Face model::

    conf = DecodingGuardConfig.from_dict(yaml_conf)
    budgets = conf.max_new_tokens_for_durations(durations)          # (B,)
    out = llm.generate(
        inputs_embeds=embeds, attention_mask=mask,
        max_new_tokens=int(budgets.max()),
        logits_processor=build_logits_processors(conf),
        stopping_criteria=build_stopping_criteria(conf, budgets=budgets),
    )
    texts = [conf.postprocess(row_without_pad_and_eos) for row in out]

An empty transcript (the model emits EOS first) is a valid result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, List, Mapping, Optional, Sequence, Union

import torch
from transformers import (
    LogitsProcessorList,
    NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
    StoppingCriteriaList,
)

from espnet_llm_entropy.config_options import (
    check_int_at_least,
    check_positive_number,
    dataclass_from_mapping,
)
from espnet_llm_entropy.decoding.length_guard import (
    max_new_tokens_for_duration,
    max_new_tokens_for_durations,
)
from espnet_llm_entropy.decoding.repetition_loop import (
    check_loop_options,
    trim_repetition_loop,
)
from espnet_llm_entropy.decoding.stopping import (
    MaxNewTokensPerSequenceCriteria,
    RepetitionLoopStoppingCriteria,
)

OPTION_PREFIX = "decoding_guard_conf"


@dataclass
class DecodingGuardConfig:
    """Options of the decoding guards.

    Attributes:
        tokens_per_second: expected output tokens per second of audio.
        min_tokens: least token budget of any utterance.
        length_slack: multiplier on the expected length.
        max_tokens: optional ceiling of the budget (None: no ceiling).
        stop_on_loop: stop a sequence when its tail is a repetition loop.
        loop_max_ngram: longest loop period checked.
        loop_min_repeats: copies of the n-gram that make a loop (>= 2).
        loop_min_span: tokens the looping run must cover at least.
        trim_loop: :meth:`postprocess` cuts a final loop to one copy.
        no_repeat_ngram_size: forbid repeating any n-gram of this size
            (0 = off).
        repetition_penalty: CTRL-style penalty on tokens already present
            (1.0 = off; > 1 discourages repetition). It also sees prompt
            tokens that are in ``input_ids`` (not ``inputs_embeds``).
        ctc_gate: skip the LLM (empty hypothesis) for utterances whose greedy
            CTC phone count is below ``min_ctc_phones``. Engages only when the
            model has a trained phone-CTC head (``keep_ctc_head`` or
            ``ctc_weight > 0``); calibrate the threshold on dev data.
        min_ctc_phones: least CTC phones for an utterance to be decoded.
        ctc_tokens_per_phone: with a trained CTC head, the token budget is
            also at most ``max(min_tokens, ceil(length_slack *
            ctc_tokens_per_phone * phones))`` (None: duration budget only).
    """

    tokens_per_second: float = 6.0
    min_tokens: int = 8
    length_slack: float = 1.5
    max_tokens: Optional[int] = None
    stop_on_loop: bool = True
    loop_max_ngram: int = 10
    loop_min_repeats: int = 4
    loop_min_span: int = 8
    trim_loop: bool = True
    no_repeat_ngram_size: int = 0
    repetition_penalty: float = 1.0
    ctc_gate: bool = True
    min_ctc_phones: int = 1
    ctc_tokens_per_phone: Optional[float] = 1.0

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Check every option; raise ValueError naming the bad one."""
        try:
            max_new_tokens_for_duration(
                1.0, self.tokens_per_second, self.min_tokens, self.length_slack, self.max_tokens
            )
            check_loop_options(self.loop_max_ngram, self.loop_min_repeats, self.loop_min_span)
        except ValueError as exc:
            raise ValueError(f"{OPTION_PREFIX}: {exc}") from None
        for name in ("stop_on_loop", "trim_loop", "ctc_gate"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(
                    f"{OPTION_PREFIX}.{name}: expected true/false, got {getattr(self, name)!r}"
                )
        check_int_at_least(f"{OPTION_PREFIX}.no_repeat_ngram_size", self.no_repeat_ngram_size, 0,
                           "(0 = off)")
        check_int_at_least(f"{OPTION_PREFIX}.min_ctc_phones", self.min_ctc_phones, 0)
        check_positive_number(f"{OPTION_PREFIX}.ctc_tokens_per_phone", self.ctc_tokens_per_phone,
                              allow_none=True)
        check_positive_number(f"{OPTION_PREFIX}.repetition_penalty", self.repetition_penalty,
                              "(1.0 = off)")

    @classmethod
    def from_dict(cls, conf: Optional[Mapping[str, Any]]) -> "DecodingGuardConfig":
        """Build from a YAML mapping; unknown keys are an error naming them."""
        return dataclass_from_mapping(cls, conf, OPTION_PREFIX)

    def max_new_tokens(self, duration_s: float) -> int:
        """Token budget of one utterance of ``duration_s`` seconds."""
        return max_new_tokens_for_duration(
            duration_s, self.tokens_per_second, self.min_tokens, self.length_slack, self.max_tokens
        )

    def max_new_tokens_for_durations(
        self, durations_s: Union[Sequence[float], torch.Tensor]
    ) -> torch.Tensor:
        """Token budgets of a batch, (B,) int64."""
        return max_new_tokens_for_durations(
            durations_s, self.tokens_per_second, self.min_tokens, self.length_slack, self.max_tokens
        )

    def evidence_budgets(self, phone_counts: torch.Tensor) -> Optional[torch.Tensor]:
        """(B,) token budgets from CTC phone counts, or None when that bound is off."""
        if self.ctc_tokens_per_phone is None:
            return None
        from espnet_llm_entropy.decoding.evidence_gate import evidence_token_budgets

        return evidence_token_budgets(
            phone_counts, self.ctc_tokens_per_phone, self.length_slack, self.min_tokens
        )

    def token_budgets(self, durations_s: Union[Sequence[float], torch.Tensor],
                      phone_counts: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B,) token budgets: the duration's, and at most the phones' when ``phone_counts``
        (B,) is given and that bound is on."""
        budgets = self.max_new_tokens_for_durations(durations_s)
        evidence = None if phone_counts is None else self.evidence_budgets(phone_counts)
        return budgets if evidence is None else torch.minimum(budgets, evidence)

    def postprocess(self, token_ids: Sequence[Hashable]) -> List[Hashable]:
        """Final clean-up of one output (pad/EOS already removed): trim a loop."""
        if not self.trim_loop:
            return list(token_ids)
        return trim_repetition_loop(
            token_ids,
            keep_repeats=1,
            max_ngram=self.loop_max_ngram,
            min_repeats=self.loop_min_repeats,
            min_span=self.loop_min_span,
        )


def build_logits_processors(conf: DecodingGuardConfig) -> LogitsProcessorList:
    """transformers' no-repeat n-gram and repetition-penalty processors, as configured.

    Returns an empty list when both are off. Pass it as ``logits_processor=``
    to ``generate`` (and do not also set ``no_repeat_ngram_size`` /
    ``repetition_penalty`` in the generation config), or apply it in your own
    loop: ``scores = processors(input_ids, scores)`` with (B, L) ids and (B, V)
    scores.
    """
    processors = LogitsProcessorList()
    if conf.repetition_penalty != 1.0:
        processors.append(RepetitionPenaltyLogitsProcessor(penalty=float(conf.repetition_penalty)))
    if conf.no_repeat_ngram_size > 0:
        processors.append(NoRepeatNGramLogitsProcessor(conf.no_repeat_ngram_size))
    return processors


def build_stopping_criteria(
    conf: DecodingGuardConfig,
    start_length: int = 0,
    budgets: Optional[Union[Sequence[int], torch.Tensor]] = None,
) -> StoppingCriteriaList:
    """Stopping criteria for ``generate``: loop stop and per-sequence budgets.

    Args:
        conf: the guard options.
        start_length: prompt tokens at the start of ``input_ids`` (0 when
            generating from ``inputs_embeds``).
        budgets: optional (B,) per-sequence token budgets, e.g. from
            :meth:`DecodingGuardConfig.max_new_tokens_for_durations`.
    """
    criteria = StoppingCriteriaList()
    if conf.stop_on_loop:
        criteria.append(
            RepetitionLoopStoppingCriteria(
                max_ngram=conf.loop_max_ngram,
                min_repeats=conf.loop_min_repeats,
                min_span=conf.loop_min_span,
                start_length=start_length,
            )
        )
    if budgets is not None:
        criteria.append(MaxNewTokensPerSequenceCriteria(budgets, start_length=start_length))
    return criteria
