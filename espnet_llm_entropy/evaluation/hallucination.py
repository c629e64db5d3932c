"""Hallucination metrics for ASR output (NIM4-ASR rule, loops, length ratios).

The rule (NIM4-ASR): a hypothesis is *hallucinated* when

1. it is more than 50% longer than its reference:
   ``hyp_len > length_ratio_threshold * ref_len`` (threshold 1.5), AND
2. its lexical overlap with the reference is negligible:
   ``overlap < overlap_threshold`` (threshold 0.1).

Lengths are counted in mixed-granularity units after normalisation (each
CJK character is one unit, each run of letters/digits is one word unit; see
:mod:`espnet_llm_entropy.evaluation.text_units`).

Overlap measure: the fraction of hypothesis units that take part in a
longest common subsequence (LCS) with the reference,
``overlap = LCS(ref, hyp) / hyp_len``. Why this one:

- it is a precision (per hypothesis unit), so text invented on top of a
  correct transcript dilutes it, which is what the rule is after: a correct
  transcript followed by a long invented tail or a loop counts, a correct
  but long transcript (hyp == ref) has overlap 1;
- an LCS needs the shared units in order; a bag-of-units precision would
  credit an unrelated sentence for reusing frequent characters such as
  ``的`` or ``the`` in any order;
- unlike the "correct" count of a minimum-edit alignment, the LCS is the
  largest number of in-order matches and does not depend on how ties of the
  edit alignment are broken.

Under condition 1 the overlap is at most ``ref_len / hyp_len < 2/3``; with
the default threshold 0.1, fewer than one in ten hypothesis units may come
from the reference. An empty reference with a non-empty hypothesis counts as
hallucinated (text where none was spoken); an empty hypothesis never does.

Also reported: the repetition-loop rate (the decoder's loop rule of
:mod:`espnet_llm_entropy.decoding.repetition_loop` applied to the units), the
share of empty outputs, the length-ratio distribution and the error rate on
the same units.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

from espnet_llm_entropy.decoding.repetition_loop import (
    DEFAULT_MAX_NGRAM,
    DEFAULT_MIN_REPEATS,
    DEFAULT_MIN_SPAN,
    check_loop_options,
    detect_repetition_loop,
)
from espnet_llm_entropy.evaluation.alignment import error_rate, lcs_length
from espnet_llm_entropy.evaluation.length_ratio import summarize_length_ratios
from espnet_llm_entropy.evaluation.text_units import UNIT_TYPES, text_to_units


@dataclass
class HallucinationConfig:
    """Options of the hallucination metrics.

    Attributes:
        length_ratio_threshold: hypothesis must be longer than this times the
            reference (1.5 = "more than 50% longer").
        overlap_threshold: overlap below this is negligible (fraction, 0-1).
        unit: counting unit, ``"mixed"`` (default), ``"char"`` or ``"word"``.
        loop_max_ngram, loop_min_repeats, loop_min_span: repetition-loop rule
            on units (see ``decoding.repetition_loop``).
    """

    length_ratio_threshold: float = 1.5
    overlap_threshold: float = 0.1
    unit: str = "mixed"
    loop_max_ngram: int = DEFAULT_MAX_NGRAM
    loop_min_repeats: int = DEFAULT_MIN_REPEATS
    loop_min_span: int = DEFAULT_MIN_SPAN

    def __post_init__(self):
        ratio = self.length_ratio_threshold
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not ratio >= 1.0:
            raise ValueError(f"length_ratio_threshold: expected a number >= 1, got {ratio!r}")
        overlap = self.overlap_threshold
        if (
            isinstance(overlap, bool)
            or not isinstance(overlap, (int, float))
            or not 0.0 <= overlap <= 1.0
        ):
            raise ValueError(f"overlap_threshold: expected a fraction in [0, 1], got {overlap!r}")
        if self.unit not in UNIT_TYPES:
            raise ValueError(f"unit: expected one of {UNIT_TYPES}, got {self.unit!r}")
        check_loop_options(self.loop_max_ngram, self.loop_min_repeats, self.loop_min_span)


@dataclass
class UtteranceHallucination:
    """Per-utterance figures.

    Attributes:
        ref_len: reference units.
        hyp_len: hypothesis units.
        lcs: longest common subsequence length.
        overlap: lcs / hyp_len (None for an empty hypothesis).
        length_ratio: hyp_len / ref_len (None for an empty reference).
        hallucinated: the NIM4-ASR rule holds.
        loop_ngram: period of a repetition loop at the end (0: none).
    """

    ref_len: int
    hyp_len: int
    lcs: int
    overlap: Optional[float]
    length_ratio: Optional[float]
    hallucinated: bool
    loop_ngram: int


def is_hallucination(
    ref: str,
    hyp: str,
    length_ratio_threshold: float = 1.5,
    overlap_threshold: float = 0.1,
    unit: str = "mixed",
) -> bool:
    """The NIM4-ASR rule on one pair of transcripts (see the module docstring)."""
    conf = HallucinationConfig(length_ratio_threshold, overlap_threshold, unit)
    return analyze_utterance(ref, hyp, conf).hallucinated


def analyze_utterance(
    ref: str, hyp: str, conf: Optional[HallucinationConfig] = None
) -> UtteranceHallucination:
    """Lengths, overlap, hallucination flag and loop of one utterance."""
    conf = conf or HallucinationConfig()
    ref_units = text_to_units(ref, conf.unit)
    hyp_units = text_to_units(hyp, conf.unit)
    ref_len, hyp_len = len(ref_units), len(hyp_units)
    lcs = lcs_length(ref_units, hyp_units)
    overlap = lcs / hyp_len if hyp_len else None
    too_long = hyp_len > conf.length_ratio_threshold * ref_len
    hallucinated = bool(hyp_len > 0 and too_long and overlap < conf.overlap_threshold)
    loop = detect_repetition_loop(
        hyp_units, conf.loop_max_ngram, conf.loop_min_repeats, conf.loop_min_span
    )
    return UtteranceHallucination(
        ref_len=ref_len,
        hyp_len=hyp_len,
        lcs=lcs,
        overlap=overlap,
        length_ratio=hyp_len / ref_len if ref_len else None,
        hallucinated=hallucinated,
        loop_ngram=loop,
    )


def _share(count: int, total: int) -> Dict[str, Any]:
    return {"count": count, "rate": count / total if total else None}


def hallucination_report(
    refs: Mapping[str, str],
    hyps: Mapping[str, str],
    conf: Optional[HallucinationConfig] = None,
) -> Dict[str, Any]:
    """All hallucination figures of a test set.

    Args:
        refs: utterance id -> reference transcript (defines the utterance set).
        hyps: utterance id -> hypothesis; a missing id counts as an empty
            hypothesis. Extra ids are an error.
        conf: thresholds and units.

    Returns:
        JSON-ready dict: ``n_utts``, ``config``, ``hallucination`` /
        ``repetition_loop`` / ``empty_output`` (``count``, ``rate`` as a
        fraction, ``ids`` for the first two), ``length_ratio`` (see
        :func:`summarize_length_ratios`, plus ``n_empty_ref``, left out of the
        ratios), ``error_rate`` (see :func:`error_rate`).
    """
    conf = conf or HallucinationConfig()
    extra = sorted(set(hyps) - set(refs))
    if extra:
        raise ValueError(f"{len(extra)} hypothesis id(s) have no reference, e.g. {extra[:5]}")
    ids = list(refs)
    per_utt = {uid: analyze_utterance(refs[uid], hyps.get(uid, ""), conf) for uid in ids}
    halluc_ids = [uid for uid in ids if per_utt[uid].hallucinated]
    loop_ids = [uid for uid in ids if per_utt[uid].loop_ngram]
    empty = sum(per_utt[uid].hyp_len == 0 for uid in ids)
    ratios = [u.length_ratio for u in per_utt.values() if u.length_ratio is not None]
    lengths = summarize_length_ratios(ratios)
    lengths["n_empty_ref"] = len(ids) - len(ratios)
    n = len(ids)
    return {
        "n_utts": n,
        "config": dataclasses.asdict(conf),
        "ref_units": sum(u.ref_len for u in per_utt.values()),
        "hyp_units": sum(u.hyp_len for u in per_utt.values()),
        "hallucination": dict(_share(len(halluc_ids), n), ids=halluc_ids),
        "repetition_loop": dict(_share(len(loop_ids), n), ids=loop_ids),
        "empty_output": _share(empty, n),
        "length_ratio": lengths,
        "error_rate": error_rate(
            [refs[uid] for uid in ids], [hyps.get(uid, "") for uid in ids], conf.unit
        ),
    }


def nonspeech_report(
    hyps: Mapping[str, str],
    durations_s: Mapping[str, float],
    conf: Optional[HallucinationConfig] = None,
    utt_ids: Optional[List[str]] = None,
) -> Dict[str, Any]:
    """Output on a set without speech (silence, noise): any output is spurious.

    Args:
        hyps: utterance id -> hypothesis; missing ids count as empty output.
        durations_s: utterance id -> input duration in seconds.
        conf: units and loop rule.
        utt_ids: the utterance set (default: the ids of ``durations_s``).

    Returns:
        JSON-ready dict: ``n_utts``, ``total_duration_s``, ``with_output``
        (``count``, ``rate`` fraction, ``ids``), ``output_units``,
        ``units_per_minute`` (output units per minute of input audio),
        ``mean_units_per_utt``, ``repetition_loop`` (``count``, ``rate``).
    """
    conf = conf or HallucinationConfig()
    ids = list(durations_s) if utt_ids is None else list(utt_ids)
    missing = [uid for uid in ids if uid not in durations_s]
    if missing:
        raise ValueError(f"no duration for {len(missing)} utterance(s), e.g. {missing[:5]}")
    total_s = float(sum(durations_s[uid] for uid in ids))
    units = {uid: text_to_units(hyps.get(uid, ""), conf.unit) for uid in ids}
    with_output = [uid for uid in ids if units[uid]]
    loops = sum(
        bool(
            detect_repetition_loop(
                units[uid], conf.loop_max_ngram, conf.loop_min_repeats, conf.loop_min_span
            )
        )
        for uid in ids
    )
    total_units = sum(len(u) for u in units.values())
    n = len(ids)
    return {
        "n_utts": n,
        "unit": conf.unit,
        "total_duration_s": total_s,
        "with_output": dict(_share(len(with_output), n), ids=with_output),
        "output_units": total_units,
        "units_per_minute": total_units / (total_s / 60.0) if total_s > 0 else None,
        "mean_units_per_utt": total_units / n if n else None,
        "repetition_loop": _share(loops, n),
    }

