"""Aggregate the per-run metrics of a paradigm comparison over seeds and check the claims.

Every run (one paradigm, one seed) wrote ``runs/<paradigm>/seed<k>/metrics.json``
(see :mod:`espnet_llm_entropy.comparison.metric_catalog`). This module

* reads them (:func:`read_run_metrics`),
* computes per paradigm and metric the mean and sample standard deviation
  over the seeds that have a value (:func:`aggregate_runs`), and
* compares each claim of the paper between two paradigms against the seed
  spread (:func:`evaluate_claims`).

The verdict rule is a plain heuristic, not a significance test: a claim is
``"supported"`` when the difference of the means has the claimed sign and is
larger than the larger of the two standard deviations, with at least two
seeds on each side.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np

from espnet_llm_entropy.comparison.metric_catalog import CLAIMS, METRIC_BY_KEY, METRICS, ClaimSpec

RUN_METRICS_FILE = "metrics.json"
REQUIRED_KEYS = ("paradigm", "seed", "metrics")

SUPPORTED = "supported"
NOT_SUPPORTED = "not supported"
INCONCLUSIVE = "inconclusive"
NOT_EVALUATED = "not evaluated"
AGREES_ONE_SEED = "direction agrees (1 seed, no spread)"
DISAGREES_ONE_SEED = "direction disagrees (1 seed, no spread)"


def _seed_dir_key(path: Path):
    """Sort key of a ``seed<k>`` folder: numeric seed first, then the name."""
    match = re.fullmatch(r"seed(\d+)", path.name)
    return (0, int(match.group(1)), "") if match else (1, 0, path.name)


def read_run_metrics(runs_dir: Path) -> List[dict]:
    """Read every ``<runs_dir>/<paradigm>/seed*/metrics.json``.

    Args:
        runs_dir: the comparison's ``runs`` folder.

    Returns:
        The parsed files, sorted by paradigm folder name, then by seed.

    Raises:
        FileNotFoundError: ``runs_dir`` does not exist.
        ValueError: a file is not valid JSON, not an object, lacks one of
            ``paradigm``/``seed``/``metrics``, or its ``metrics`` is not an
            object; the message names the file.
    """
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise FileNotFoundError(f"runs folder not found: {runs_dir}")
    runs = []
    for paradigm_dir in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
        seed_dirs = sorted((p for p in paradigm_dir.glob("seed*") if p.is_dir()), key=_seed_dir_key)
        for seed_dir in seed_dirs:
            path = seed_dir / RUN_METRICS_FILE
            if path.is_file():
                runs.append(_read_one(path))
    return runs


def _read_one(path: Path) -> dict:
    """Parse and check one run's ``metrics.json``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"invalid JSON in run metrics file {path}: {e}") from e
    if not isinstance(data, dict):
        raise ValueError(f"run metrics file {path} does not hold a JSON object")
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise ValueError(f"run metrics file {path} lacks the key(s) {', '.join(missing)}")
    if not isinstance(data["metrics"], dict):
        raise ValueError(f"run metrics file {path}: 'metrics' is not a JSON object")
    return data


def _number(value, where: str) -> Optional[float]:
    """``value`` as a finite float, or None for null/NaN; rejects non-numbers."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: expected a number or null, got {value!r}")
    value = float(value)
    return value if math.isfinite(value) else None


def summarize_values(values: Iterable[Optional[float]]) -> dict:
    """Mean, sample std (ddof=1; 0.0 for one value), count and list of the non-null values."""
    kept = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not kept:
        return {"mean": None, "std": None, "n": 0, "values": []}
    array = np.asarray(kept, dtype=float)
    std = float(np.std(array, ddof=1)) if len(kept) > 1 else 0.0
    return {"mean": float(np.mean(array)), "std": std, "n": len(kept), "values": kept}


def aggregate_runs(runs: List[dict], paradigm_order: Optional[Sequence[str]] = None) -> dict:
    """Per paradigm, summarize every metric over its seeds.

    Args:
        runs: the dicts of :func:`read_run_metrics`.
        paradigm_order: paradigms to report, in this order; paradigms
            without runs still get an entry (with no seeds). Default: the
            order in which paradigms first appear in ``runs``.

    Returns:
        ``{"paradigms": [names], "metrics": [keys], "by_paradigm": {name: {
        "label", "seeds", "metrics": {key: summary}, "nse_per_layer":
        {representation: summary}}}}`` where a summary is ``{"mean", "std",
        "n", "values"}`` over the non-null values (see
        :func:`summarize_values`). Metric keys are those of
        :data:`~espnet_llm_entropy.comparison.metric_catalog.METRICS`,
        followed by any other key found in the runs.

    Raises:
        ValueError: two runs share paradigm and seed, or a value is not a number.
    """
    order: List[str] = list(paradigm_order) if paradigm_order is not None else []
    if paradigm_order is None:
        for run in runs:
            if run["paradigm"] not in order:
                order.append(run["paradigm"])
    catalog_keys = [m.key for m in METRICS]
    extra_keys = sorted({k for run in runs for k in run["metrics"] if k not in METRIC_BY_KEY})
    metric_keys = catalog_keys + extra_keys

    by_paradigm: Dict[str, dict] = {}
    for paradigm in order:
        own = [run for run in runs if run["paradigm"] == paradigm]
        seeds = [run["seed"] for run in own]
        if len(set(map(str, seeds))) != len(seeds):
            raise ValueError(f"paradigm {paradigm!r} has several runs with the same seed: {seeds}")
        label = next((run.get("label") for run in own if run.get("label")), paradigm)
        metrics = {
            key: summarize_values(
                _number(run["metrics"].get(key), f"paradigm {paradigm} seed {run['seed']} metric {key}")
                for run in own
            )
            for key in metric_keys
        }
        representations: List[str] = []
        for run in own:
            for name in run.get("nse_per_layer") or {}:
                if name not in representations:
                    representations.append(name)
        nse = {
            name: summarize_values(
                _number((run.get("nse_per_layer") or {}).get(name), f"paradigm {paradigm} seed {run['seed']} NSE {name}")
                for run in own
            )
            for name in representations
        }
        by_paradigm[paradigm] = {"label": label, "seeds": seeds, "metrics": metrics, "nse_per_layer": nse}
    return {"paradigms": order, "metrics": metric_keys, "by_paradigm": by_paradigm}


def format_value(value: float, key: str) -> str:
    """``value`` scaled and rounded as the catalog says for ``key`` (3 decimals if unknown)."""
    spec = METRIC_BY_KEY.get(key)
    scale, digits = (spec.scale, spec.digits) if spec else (1.0, 3)
    return f"{value * scale:.{digits}f}"


def format_summary(summary: dict, key: str) -> str:
    """``mean ± std`` of a summary in display units; only the mean for one value; ``–`` for none."""
    if summary.get("mean") is None:
        return "–"
    if summary.get("n", 0) <= 1:
        return format_value(summary["mean"], key)
    return f"{format_value(summary['mean'], key)} ± {format_value(summary['std'], key)}"


def _side_text(paradigm: str, summary: dict, key: str) -> str:
    n = summary["n"]
    return f"{paradigm} {format_summary(summary, key)} ({n} seed{'s' if n != 1 else ''})"


def _not_evaluated(claim: ClaimSpec, aggregated: dict) -> Optional[str]:
    """Why ``claim`` cannot be evaluated, or None when it can."""
    by_paradigm = aggregated.get("by_paradigm", {})
    absent = [p for p in (claim.paradigm, claim.baseline) if p not in by_paradigm]
    if absent:
        return f"Not evaluated: paradigm {' and '.join(absent)} was not run."
    if claim.metric not in aggregated.get("metrics", []):
        return f"Not evaluated: metric {claim.metric} is not measured."
    empty = [p for p in (claim.paradigm, claim.baseline) if by_paradigm[p]["metrics"][claim.metric]["n"] == 0]
    if empty:
        return f"Not evaluated: {claim.metric} has no value for {' and '.join(empty)}."
    return None


def evaluate_claims(aggregated: dict, claims: Sequence[ClaimSpec] = CLAIMS) -> List[dict]:
    """Check each claim against the aggregated metrics.

    Verdicts (``difference`` = paradigm mean - baseline mean, ``spread`` =
    the larger of the two stds, ``n_seeds`` = the smaller number of values):

    * ``"not evaluated"``: a paradigm is absent or has no value;
    * ``"inconclusive"``: ``|difference| <= spread`` (including a
      difference of exactly 0);
    * with ``n_seeds >= 2``: ``"supported"`` when the difference has the
      claimed sign, else ``"not supported"``;
    * with ``n_seeds == 1``: ``"direction agrees (1 seed, no spread)"`` or
      ``"direction disagrees (1 seed, no spread)"``.

    Returns:
        One dict per claim with ``text``, ``metric``, ``paradigm``,
        ``baseline``, ``direction``, ``paradigm_mean``, ``baseline_mean``,
        ``difference``, ``spread``, ``n_seeds``, ``verdict`` and a one
        sentence ``explanation``.
    """
    results = []
    for claim in claims:
        if claim.direction not in ("lower", "higher"):
            raise ValueError(f"claim {claim.text!r}: direction must be 'lower' or 'higher', not {claim.direction!r}")
        result = {
            "text": claim.text, "metric": claim.metric, "paradigm": claim.paradigm,
            "baseline": claim.baseline, "direction": claim.direction,
            "paradigm_mean": None, "baseline_mean": None, "difference": None,
            "spread": None, "n_seeds": 0,
        }
        reason = _not_evaluated(claim, aggregated)
        if reason is not None:
            result.update(verdict=NOT_EVALUATED, explanation=reason)
            results.append(result)
            continue
        ours = aggregated["by_paradigm"][claim.paradigm]["metrics"][claim.metric]
        base = aggregated["by_paradigm"][claim.baseline]["metrics"][claim.metric]
        difference = ours["mean"] - base["mean"]
        spread = max(ours["std"], base["std"])
        n_seeds = min(ours["n"], base["n"])
        claimed_sign = -1.0 if claim.direction == "lower" else 1.0
        agrees = difference * claimed_sign > 0
        if difference == 0 or abs(difference) <= spread:
            verdict = INCONCLUSIVE
        elif n_seeds == 1:
            verdict = AGREES_ONE_SEED if agrees else DISAGREES_ONE_SEED
        else:
            verdict = SUPPORTED if agrees else NOT_SUPPORTED
        result.update(
            paradigm_mean=ours["mean"], baseline_mean=base["mean"], difference=difference,
            spread=spread, n_seeds=n_seeds, verdict=verdict,
            explanation=_explain(claim, ours, base, difference, spread, verdict),
        )
        results.append(result)
    return results


def _explain(claim: ClaimSpec, ours: dict, base: dict, difference: float, spread: float, verdict: str) -> str:
    """One sentence with both sides' mean ± std, the difference and the verdict's reason."""
    spec = METRIC_BY_KEY.get(claim.metric)
    name = spec.label if spec else claim.metric
    sides = f"{name}: {_side_text(claim.paradigm, ours, claim.metric)} vs {_side_text(claim.baseline, base, claim.metric)}"
    diff_text = ("+" if difference > 0 else "") + format_value(difference, claim.metric)
    spread_text = format_value(spread, claim.metric)
    if verdict == INCONCLUSIVE and difference == 0:
        reason = "the two means are equal"
    elif verdict == INCONCLUSIVE:
        reason = f"the difference {diff_text} is within the seed spread {spread_text}"
    elif verdict in (SUPPORTED, AGREES_ONE_SEED):
        reason = f"the difference {diff_text} is {claim.direction} as claimed"
    else:
        reason = f"the difference {diff_text} is the opposite of the claimed {claim.direction}"
    if verdict in (SUPPORTED, NOT_SUPPORTED):
        reason += f" and larger than the seed spread {spread_text}"
    elif verdict in (AGREES_ONE_SEED, DISAGREES_ONE_SEED):
        reason += ", but one side has a single seed, so its spread is unknown"
    return f"{sides}; {reason}."
