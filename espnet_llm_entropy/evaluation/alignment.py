"""Edit-distance alignment with substitution / insertion / deletion counts,
longest common subsequence, and a small error-rate scorer (CER/WER/mixed).

The ``editdistance`` package gives only the total; scoring tables need S, I
and D separately, so the Levenshtein DP is computed here (vectorised per
row with numpy) and traced back. Among alignments of minimal cost the
traceback prefers match/substitution, then deletion, then insertion (the
totals are the same for every minimal alignment; the S/I/D split of ties
may differ from sclite's).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Dict, Hashable, Iterable, Optional, Sequence, Tuple

import numpy as np

from espnet_llm_entropy.evaluation.text_units import text_to_units


@dataclass
class EditCounts:
    """Counts of an alignment of a hypothesis against a reference.

    Attributes:
        cor: reference units matched by an identical hypothesis unit.
        sub: substitutions.
        ins: insertions (hypothesis units with no reference unit).
        dele: deletions (reference units with no hypothesis unit).
    """

    cor: int = 0
    sub: int = 0
    ins: int = 0
    dele: int = 0

    @property
    def errors(self) -> int:
        """sub + ins + dele (the Levenshtein distance)."""
        return self.sub + self.ins + self.dele

    @property
    def ref_len(self) -> int:
        """Reference length: cor + sub + dele."""
        return self.cor + self.sub + self.dele

    def __add__(self, other: "EditCounts") -> "EditCounts":
        return EditCounts(
            self.cor + other.cor,
            self.sub + other.sub,
            self.ins + other.ins,
            self.dele + other.dele,
        )


def _as_ids(ref: Sequence[Hashable], hyp: Sequence[Hashable]) -> Tuple[np.ndarray, np.ndarray]:
    """Map the items of both sequences to shared integer ids."""
    vocab: Dict[Hashable, int] = {}
    ref_ids = np.array([vocab.setdefault(u, len(vocab)) for u in ref], dtype=np.int64)
    hyp_ids = np.array([vocab.setdefault(u, len(vocab)) for u in hyp], dtype=np.int64)
    return ref_ids, hyp_ids


def edit_distance_matrix(ref: Sequence[Hashable], hyp: Sequence[Hashable]) -> np.ndarray:
    """Levenshtein DP matrix (unit costs).

    Args:
        ref: N reference units.
        hyp: M hypothesis units.

    Returns:
        (N + 1, M + 1) int array; ``D[i, j]`` is the distance between
        ``ref[:i]`` and ``hyp[:j]``.
    """
    ref_ids, hyp_ids = _as_ids(ref, hyp)
    n, m = len(ref_ids), len(hyp_ids)
    dist = np.empty((n + 1, m + 1), dtype=np.int64)
    cols = np.arange(m + 1)
    dist[0] = cols
    for i in range(1, n + 1):
        prev = dist[i - 1]
        step = np.empty(m + 1, dtype=np.int64)
        step[0] = i
        step[1:] = np.minimum(prev[1:] + 1, prev[:-1] + (hyp_ids != ref_ids[i - 1]))
        # insertions chain along the row: D[i, j] = min_k (step[k] + j - k)
        dist[i] = np.minimum.accumulate(step - cols) + cols
    return dist


def align_counts(ref: Sequence[Hashable], hyp: Sequence[Hashable]) -> EditCounts:
    """Correct / substitution / insertion / deletion counts of a minimal alignment.

    Args:
        ref: N reference units.
        hyp: M hypothesis units.
    """
    dist = edit_distance_matrix(ref, hyp)
    counts = EditCounts()
    i, j = len(ref), len(hyp)
    while i > 0 or j > 0:
        if i > 0 and j > 0:
            same = ref[i - 1] == hyp[j - 1]
            if dist[i, j] == dist[i - 1, j - 1] + (0 if same else 1):
                if same:
                    counts.cor += 1
                else:
                    counts.sub += 1
                i, j = i - 1, j - 1
                continue
        if i > 0 and dist[i, j] == dist[i - 1, j] + 1:
            counts.dele += 1
            i -= 1
        else:
            counts.ins += 1
            j -= 1
    return counts


def lcs_length(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Length of the longest common subsequence of ``a`` and ``b`` (in order, gaps allowed)."""
    a_ids, b_ids = _as_ids(a, b)
    if len(a_ids) == 0 or len(b_ids) == 0:
        return 0
    row = np.zeros(len(b_ids) + 1, dtype=np.int64)
    for item in a_ids:
        step = np.zeros_like(row)
        step[1:] = np.maximum(row[1:], row[:-1] + (b_ids == item))
        row = np.maximum.accumulate(step)
    return int(row[-1])


def error_rate(
    refs: Iterable[str], hyps: Iterable[str], unit: str = "mixed", normalize: bool = True
) -> Dict[str, Optional[float]]:
    """Corpus error rate over pairs of transcripts.

    Args:
        refs: reference transcripts.
        hyps: hypothesis transcripts, same count and order as ``refs``.
        unit: ``"mixed"`` (CJK characters + words), ``"char"`` or ``"word"``;
            see :mod:`espnet_llm_entropy.evaluation.text_units`.
        normalize: normalise texts before splitting.

    Returns:
        dict with ``n_utts``, ``ref_len``, ``cor``, ``sub``, ``ins``, ``del``,
        ``errors``, ``rate`` (errors / ref_len as a fraction; None when the
        references are all empty) and ``sentence_errors`` (utterances with at
        least one error).
    """
    refs, hyps = list(refs), list(hyps)
    if len(refs) != len(hyps):
        raise ValueError(f"error_rate: {len(refs)} references but {len(hyps)} hypotheses")
    total = EditCounts()
    sentence_errors = 0
    for ref, hyp in zip(refs, hyps):
        counts = align_counts(
            text_to_units(ref, unit, normalize), text_to_units(hyp, unit, normalize)
        )
        total = total + counts
        sentence_errors += counts.errors > 0
    result = asdict(total)
    result["del"] = result.pop("dele")
    result.update(
        n_utts=len(refs),
        ref_len=total.ref_len,
        errors=total.errors,
        rate=(total.errors / total.ref_len) if total.ref_len else None,
        sentence_errors=sentence_errors,
        unit=unit,
    )
    return result
