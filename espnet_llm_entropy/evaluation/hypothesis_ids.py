"""Does a hypothesis file cover the utterance set it is scored against?

A hypothesis file that lacks utterances usually means a decoding job
stopped part-way; scoring it as if the missing utterances had produced no
output would report a plausible but wrong error rate (and, on a
non-speech set, a flattering one). So a missing hypothesis is an error
unless the caller opts in (``--allow_missing`` / ``allow_missing=True``),
and then each missing utterance counts as an empty output, with a warning.
A hypothesis id that is not in the utterance set is always an error.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Collection, List, Sequence, Union

logger = logging.getLogger(__name__)

#: How many ids an error message lists before "...".
SHOWN_IDS = 5


def id_sample(ids: Sequence[str], shown: int = SHOWN_IDS) -> str:
    """``a, b, c`` or ``a, b, c, d, e, ...`` (the first ``shown`` ids)."""
    return ", ".join(ids[:shown]) + (", ..." if len(ids) > shown else "")


def check_hypothesis_ids(
    hyp_ids: Collection[str],
    utt_ids: Sequence[str],
    hyp_path: Union[str, Path],
    source: Union[str, Path],
    allow_missing: bool = False,
    how_to_allow: str = "pass --allow_missing",
) -> List[str]:
    """Check hypothesis ids against the utterance set.

    Args:
        hyp_ids: ids of the hypothesis file.
        utt_ids: the utterance set (reference or duration list), in order.
        hyp_path: the hypothesis file, for messages.
        source: where ``utt_ids`` come from, for messages.
        allow_missing: score missing hypotheses as empty output (a warning)
            instead of failing.
        how_to_allow: how the caller's user opts in, for the error message.

    Returns:
        The missing ids, in the order of ``utt_ids`` (empty unless allowed).

    Raises:
        ValueError: hypothesis ids not in the set, or (unless allowed)
            utterances without a hypothesis; the message gives the count and
            the first ids.
    """
    known = set(utt_ids)
    extra = [uid for uid in hyp_ids if uid not in known]
    if extra:
        raise ValueError(
            f"{hyp_path}: {len(extra)} utterance id(s) not in {source}: {id_sample(extra)}"
        )
    hyp_set = set(hyp_ids)
    missing = [uid for uid in utt_ids if uid not in hyp_set]
    if missing and not allow_missing:
        raise ValueError(
            f"{hyp_path}: {len(missing)} of {len(utt_ids)} utterance(s) of {source} have no "
            f"hypothesis: {id_sample(missing)}. Did decoding stop part-way? To score them as "
            f"empty output, {how_to_allow}."
        )
    if missing:
        logger.warning(
            "%s: %d of %d utterance(s) have no hypothesis and count as empty output: %s",
            hyp_path, len(missing), len(utt_ids), id_sample(missing),
        )
    return missing
