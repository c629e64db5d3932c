"""Summary of the distribution of hypothesis/reference length ratios."""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence

import numpy as np

DEFAULT_RATIO_BIN_EDGES = (0.0, 0.5, 0.8, 0.95, 1.05, 1.2, 1.5, 2.0, 3.0)
DEFAULT_PERCENTILES = (5, 25, 50, 75, 90, 95, 99)


def summarize_length_ratios(
    ratios: Sequence[float],
    bin_edges: Sequence[float] = DEFAULT_RATIO_BIN_EDGES,
    percentiles: Sequence[float] = DEFAULT_PERCENTILES,
) -> Dict[str, object]:
    """Mean, median, percentiles and a histogram of length ratios.

    Args:
        ratios: (K,) values of hyp_len / ref_len (utterances with an empty
            reference have no ratio and are left out by the caller).
        bin_edges: increasing lower edges of the histogram bins; bin k is
            ``[edge_k, edge_{k+1})`` and the last bin is open-ended.
        percentiles: which percentiles to report (0-100).

    Returns:
        dict with ``count``, ``mean``, ``median``, ``min``, ``max``,
        ``percentiles`` ({"p50": ...}) and ``histogram`` (a list of
        ``{"lo", "hi", "count"}``, ``hi`` None for the last bin). Statistics
        are None when ``ratios`` is empty.
    """
    edges = [float(e) for e in bin_edges]
    if not edges or any(b <= a for a, b in zip(edges, edges[1:])):
        raise ValueError(f"bin_edges: expected increasing numbers, got {list(bin_edges)}")
    values = np.asarray(list(ratios), dtype=np.float64)
    if values.size and not np.all(np.isfinite(values)):
        raise ValueError("length ratios must be finite (leave out empty references)")
    stats: Dict[str, object] = {"count": int(values.size)}
    if values.size:
        stats.update(
            mean=float(values.mean()),
            median=float(np.median(values)),
            min=float(values.min()),
            max=float(values.max()),
            percentiles={
                f"p{_fmt(p)}": float(np.percentile(values, p)) for p in percentiles
            },
        )
    else:
        stats.update(
            mean=None,
            median=None,
            min=None,
            max=None,
            percentiles={f"p{_fmt(p)}": None for p in percentiles},
        )
    his: List[Dict[str, Optional[float]]] = []
    uppers = edges[1:] + [math.inf]
    for lo, hi in zip(edges, uppers):
        count = int(np.count_nonzero((values >= lo) & (values < hi)))
        his.append({"lo": lo, "hi": None if math.isinf(hi) else hi, "count": count})
    stats["below_first_edge"] = int(np.count_nonzero(values < edges[0]))
    stats["histogram"] = his
    return stats


def _fmt(p: float) -> str:
    return str(int(p)) if float(p).is_integer() else str(p)
