"""Repetition loops at the end of a token sequence: detection and trimming.

A *loop* is a tail of the sequence that is periodic with a short period n
(1 <= n <= ``max_ngram``): ``ids[i] == ids[i + n]`` for every i in the tail.
It counts when the tail holds at least ``required_repeats(n)`` full copies of
the n-gram, where::

    required_repeats(n) = max(min_repeats, ceil(min_span / n))

``min_repeats`` is the number of copies of the n-gram; ``min_span`` is the
least number of tokens the whole run must cover, so that single tokens need
more copies than phrases ("ha ha ha" is speech, sixteen of them is a loop).
The smallest such period is reported. Only the tail is examined: a loop that
the model broke out of is not a loop of the final output.

These functions work on any sequence of hashable items (token ids, or the
text units of :mod:`espnet_llm_entropy.evaluation`); the batched torch check
used while generating lives in :mod:`espnet_llm_entropy.decoding.stopping`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Hashable, List, Optional, Sequence

DEFAULT_MAX_NGRAM = 10
DEFAULT_MIN_REPEATS = 4
DEFAULT_MIN_SPAN = 8


@dataclass(frozen=True)
class RepetitionLoop:
    """A detected loop at the end of a sequence.

    Attributes:
        ngram: the period n (length of the repeated n-gram).
        start: index where the periodic tail begins.
        length: number of items in the periodic tail (``len(seq) - start``).
    """

    ngram: int
    start: int
    length: int

    @property
    def repeats(self) -> float:
        """How many copies of the n-gram the tail holds (may be fractional)."""
        return self.length / self.ngram


def check_loop_options(max_ngram: int, min_repeats: int, min_span: int) -> None:
    """Raise ValueError naming the bad option when the loop options are invalid."""
    if isinstance(max_ngram, bool) or not isinstance(max_ngram, int) or max_ngram < 1:
        raise ValueError(f"max_ngram: expected an integer >= 1, got {max_ngram!r}")
    if (
        isinstance(min_repeats, bool)
        or not isinstance(min_repeats, int)
        or min_repeats < 2
    ):
        raise ValueError(f"min_repeats: expected an integer >= 2, got {min_repeats!r}")
    if isinstance(min_span, bool) or not isinstance(min_span, int) or min_span < 0:
        raise ValueError(f"min_span: expected an integer >= 0, got {min_span!r}")


def required_repeats(ngram: int, min_repeats: int, min_span: int) -> int:
    """Copies of an n-gram needed for a loop: ``max(min_repeats, ceil(min_span / n))``."""
    return max(min_repeats, math.ceil(min_span / ngram))


def periodic_tail_start(seq: Sequence[Hashable], ngram: int) -> int:
    """Start of the longest tail of ``seq`` that is periodic with period ``ngram``.

    Returns ``len(seq) - ngram`` (one copy) when not even two items match,
    and 0 when ``seq`` is shorter than ``ngram``.
    """
    start = len(seq) - ngram
    if start <= 0:
        return 0
    while start > 0 and seq[start - 1] == seq[start - 1 + ngram]:
        start -= 1
    return start


def find_repetition_loop(
    seq: Sequence[Hashable],
    max_ngram: int = DEFAULT_MAX_NGRAM,
    min_repeats: int = DEFAULT_MIN_REPEATS,
    min_span: int = DEFAULT_MIN_SPAN,
) -> Optional[RepetitionLoop]:
    """Find a repetition loop at the end of ``seq`` (see the module docstring).

    Args:
        seq: token ids or text units, length L.
        max_ngram: longest period considered.
        min_repeats: least number of copies of the n-gram (>= 2).
        min_span: least number of items the run must cover.

    Returns:
        the loop with the smallest period, or None.
    """
    check_loop_options(max_ngram, min_repeats, min_span)
    seq = list(seq)
    for ngram in range(1, max_ngram + 1):
        needed = ngram * required_repeats(ngram, min_repeats, min_span)
        if len(seq) < needed:
            continue
        start = periodic_tail_start(seq, ngram)
        length = len(seq) - start
        if length >= needed:
            return RepetitionLoop(ngram=ngram, start=start, length=length)
    return None


def detect_repetition_loop(
    seq: Sequence[Hashable],
    max_ngram: int = DEFAULT_MAX_NGRAM,
    min_repeats: int = DEFAULT_MIN_REPEATS,
    min_span: int = DEFAULT_MIN_SPAN,
) -> int:
    """Period of the repetition loop at the end of ``seq``, 0 when there is none.

    The result is truthy exactly when a loop is present, so it can be used as
    a bool. Arguments as in :func:`find_repetition_loop`.
    """
    loop = find_repetition_loop(seq, max_ngram, min_repeats, min_span)
    return 0 if loop is None else loop.ngram


def trim_repetition_loop(
    seq: Sequence[Hashable],
    keep_repeats: int = 1,
    max_ngram: int = DEFAULT_MAX_NGRAM,
    min_repeats: int = DEFAULT_MIN_REPEATS,
    min_span: int = DEFAULT_MIN_SPAN,
) -> List[Hashable]:
    """Cut a looping tail down to ``keep_repeats`` copies of its n-gram.

    Strip padding / EOS tokens before calling: they would hide the loop (a run
    of pad tokens is itself periodic). A sequence without a loop is returned
    unchanged (as a list).

    Args:
        seq: token ids or text units.
        keep_repeats: copies of the n-gram to keep (>= 0; 0 drops the loop).
        max_ngram, min_repeats, min_span: see :func:`find_repetition_loop`.

    Returns:
        the trimmed sequence.
    """
    if isinstance(keep_repeats, bool) or not isinstance(keep_repeats, int) or keep_repeats < 0:
        raise ValueError(f"keep_repeats: expected an integer >= 0, got {keep_repeats!r}")
    seq = list(seq)
    loop = find_repetition_loop(seq, max_ngram, min_repeats, min_span)
    if loop is None:
        return seq
    return seq[: loop.start + min(loop.length, loop.ngram * keep_repeats)]
