"""``transformers`` stopping criteria that guard LLM-ASR decoding.

Both criteria follow the transformers 5.x contract: ``__call__(input_ids,
scores, **kwargs)`` returns a bool tensor of shape (B,) telling which rows are
done. ``generate`` ANDs the negation into its ``unfinished_sequences``, so a
row that is done stays done and later receives ``pad_token_id`` (only when the
generation config has an EOS token, which every chat LLM has), while the other
rows go on. In beam search the rows are the flattened (batch x beams)
candidates; the loop check is per row, and the per-sequence budget is repeated
over the beams of each batch entry.

They also work in a hand-written greedy or beam loop: call them with the
(B, L) ids generated so far.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
from transformers import StoppingCriteria

from espnet_llm_entropy.decoding.repetition_loop import (
    DEFAULT_MAX_NGRAM,
    DEFAULT_MIN_REPEATS,
    DEFAULT_MIN_SPAN,
    check_loop_options,
    required_repeats,
)


def _check_start_length(start_length: int) -> None:
    if isinstance(start_length, bool) or not isinstance(start_length, int) or start_length < 0:
        raise ValueError(f"start_length: expected an integer >= 0, got {start_length!r}")


def tail_loop_mask(
    input_ids: torch.Tensor,
    max_ngram: int = DEFAULT_MAX_NGRAM,
    min_repeats: int = DEFAULT_MIN_REPEATS,
    min_span: int = DEFAULT_MIN_SPAN,
    start_length: int = 0,
) -> torch.Tensor:
    """Which rows end in a repetition loop (same rule as ``detect_repetition_loop``).

    Only the last ``n * required_repeats(n)`` tokens are compared for each
    period n, so the cost per call does not grow with the sequence length.

    Args:
        input_ids: (B, L) token ids.
        max_ngram, min_repeats, min_span: loop definition, see
            :mod:`espnet_llm_entropy.decoding.repetition_loop`.
        start_length: tokens at the start of each row that are prompt, not
            output, and never count towards a loop.

    Returns:
        (B,) bool tensor.
    """
    if input_ids.dim() != 2:
        raise ValueError(f"input_ids: expected shape (B, L), got {tuple(input_ids.shape)}")
    batch, length = input_ids.shape
    generated = length - start_length
    looping = torch.zeros(batch, dtype=torch.bool, device=input_ids.device)
    for ngram in range(1, max_ngram + 1):
        span = ngram * required_repeats(ngram, min_repeats, min_span)
        if generated < span:
            continue
        tail = input_ids[:, length - span :]
        looping |= (tail[:, :-ngram] == tail[:, ngram:]).all(dim=1)
    return looping


class RepetitionLoopStoppingCriteria(StoppingCriteria):
    """Stop the rows whose output ends in a repetition loop.

    The looping tokens stay in the output (at least ``min_repeats`` copies of
    the n-gram); remove them with
    :func:`~espnet_llm_entropy.decoding.repetition_loop.trim_repetition_loop`
    after stripping padding.

    Args:
        max_ngram: longest period considered (>= 1).
        min_repeats: least number of copies of the n-gram (>= 2).
        min_span: least number of tokens the looping run covers.
        start_length: prompt tokens at the start of ``input_ids`` to ignore
            (0 when generating from ``inputs_embeds``, where ``input_ids``
            holds only the new tokens).
    """

    def __init__(
        self,
        max_ngram: int = DEFAULT_MAX_NGRAM,
        min_repeats: int = DEFAULT_MIN_REPEATS,
        min_span: int = DEFAULT_MIN_SPAN,
        start_length: int = 0,
    ):
        check_loop_options(max_ngram, min_repeats, min_span)
        _check_start_length(start_length)
        self.max_ngram = max_ngram
        self.min_repeats = min_repeats
        self.min_span = min_span
        self.start_length = start_length

    def __call__(
        self, input_ids: torch.LongTensor, scores: Optional[torch.Tensor] = None, **kwargs
    ) -> torch.BoolTensor:
        """Return (B,) bool: True for rows that end in a loop."""
        return tail_loop_mask(
            input_ids, self.max_ngram, self.min_repeats, self.min_span, self.start_length
        )


class MaxNewTokensPerSequenceCriteria(StoppingCriteria):
    """Stop each row once it has generated its own token budget.

    ``generate``'s ``max_new_tokens`` is one number per batch; with budgets
    from :func:`~espnet_llm_entropy.decoding.length_guard.max_new_tokens_for_durations`
    a short clip in a batch of long ones stops early. Pass
    ``max_new_tokens=int(budgets.max())`` to ``generate`` as well.

    Args:
        max_new_tokens: (B,) budgets, one per batch entry.
        start_length: length of ``input_ids`` before generation started.
    """

    def __init__(
        self, max_new_tokens: Union[Sequence[int], torch.Tensor], start_length: int = 0
    ):
        budgets = torch.as_tensor(max_new_tokens, dtype=torch.long).flatten()
        if budgets.numel() == 0 or bool((budgets < 0).any()):
            raise ValueError(
                f"max_new_tokens: expected one budget >= 0 per sequence, got {budgets.tolist()}"
            )
        _check_start_length(start_length)
        self.max_new_tokens = budgets
        self.start_length = start_length

    def __call__(
        self, input_ids: torch.LongTensor, scores: Optional[torch.Tensor] = None, **kwargs
    ) -> torch.BoolTensor:
        """Return (B,) bool: True for rows that reached their budget."""
        rows = input_ids.shape[0]
        budgets = self.max_new_tokens.to(input_ids.device)
        if rows != budgets.numel():
            if rows % budgets.numel() != 0:
                raise ValueError(
                    f"MaxNewTokensPerSequenceCriteria has {budgets.numel()} budgets but "
                    f"input_ids has {rows} rows (not a multiple)"
                )
            budgets = budgets.repeat_interleave(rows // budgets.numel())
        return (input_ids.shape[1] - self.start_length) >= budgets
