"""Output-length budget derived from the input audio duration.

A transcript cannot be much longer than the speech allows: even fast speech
stays below about 5 words or 8 Chinese characters per second, i.e. a few LLM
tokens per second. Capping ``max_new_tokens`` by duration bounds the damage
of a loop and of text invented over silence; an empty output stays valid.

    max_new_tokens = max(min_tokens, ceil(duration_s * tokens_per_second * slack))

optionally clipped to ``max_tokens``.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import torch

DEFAULT_TOKENS_PER_SECOND = 6.0
DEFAULT_MIN_TOKENS = 8
DEFAULT_SLACK = 1.5


def _check_positive(name: str, value, allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(
            f"{name}: expected a number {'>=' if allow_zero else '>'} 0, got {value!r}"
        )


def max_new_tokens_for_duration(
    duration_s: float,
    tokens_per_second: float = DEFAULT_TOKENS_PER_SECOND,
    min_tokens: int = DEFAULT_MIN_TOKENS,
    slack: float = DEFAULT_SLACK,
    max_tokens: Optional[int] = None,
) -> int:
    """Token budget for an utterance of ``duration_s`` seconds.

    Args:
        duration_s: audio duration in seconds (>= 0).
        tokens_per_second: expected output tokens per second of speech (> 0).
        min_tokens: floor of the budget (>= 1), so short clips can still be
            transcribed.
        slack: multiplier over the expected rate (> 0).
        max_tokens: optional ceiling (e.g. the model's context budget).

    Returns:
        the budget as an int.
    """
    _check_positive("duration_s", duration_s, allow_zero=True)
    _check_positive("tokens_per_second", tokens_per_second)
    _check_positive("slack", slack)
    if isinstance(min_tokens, bool) or not isinstance(min_tokens, int) or min_tokens < 1:
        raise ValueError(f"min_tokens: expected an integer >= 1, got {min_tokens!r}")
    budget = max(min_tokens, math.ceil(duration_s * tokens_per_second * slack - 1e-9))
    if max_tokens is not None:
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise ValueError(f"max_tokens: expected an integer >= 1, got {max_tokens!r}")
        budget = min(budget, max_tokens)
    return budget


def max_new_tokens_for_durations(
    durations_s: Union[Sequence[float], torch.Tensor],
    tokens_per_second: float = DEFAULT_TOKENS_PER_SECOND,
    min_tokens: int = DEFAULT_MIN_TOKENS,
    slack: float = DEFAULT_SLACK,
    max_tokens: Optional[int] = None,
) -> torch.Tensor:
    """Per-utterance budgets for a batch, shape (B,) int64.

    Use with :class:`~espnet_llm_entropy.decoding.stopping.MaxNewTokensPerSequenceCriteria`
    (each sequence stops at its own budget) and pass ``max(budgets)`` as
    ``max_new_tokens`` to ``generate``.

    Args:
        durations_s: (B,) durations in seconds.
        others: see :func:`max_new_tokens_for_duration`.
    """
    if isinstance(durations_s, torch.Tensor):
        durations_s = durations_s.detach().cpu().tolist()
    return torch.tensor(
        [
            max_new_tokens_for_duration(float(d), tokens_per_second, min_tokens, slack, max_tokens)
            for d in durations_s
        ],
        dtype=torch.long,
    )
