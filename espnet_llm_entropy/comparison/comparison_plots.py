"""PNG plots of a paradigm comparison (matplotlib Agg, written atomically).

* ``metric_bars.png``: one small bar chart per plotted metric: mean over
  seeds per paradigm, sample std as error bar, every seed's value as a dot;
* ``drift_traces.png``: CKA of the encoder to the one it started the final
  joint SFT stage with (left) and CKA to the reference during pretraining
  (right), one line per seed, one colour per paradigm;
* ``nse_per_layer.png``: mean normalized spectral entropy per
  representation with std error bars, one line per paradigm.

Every function returns the written path, or None when there is nothing to draw.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from espnet_llm_entropy.analysis.plots import _pyplot, save_figure, short_label
from espnet_llm_entropy.comparison.metric_catalog import METRIC_BY_KEY
from espnet_llm_entropy.metrics.experiment_metrics import representation_order

METRIC_BARS_FILE = "metric_bars.png"
DRIFT_TRACES_FILE = "drift_traces.png"
NSE_PER_LAYER_FILE = "nse_per_layer.png"


def paradigm_colors(paradigms: Sequence[str]) -> Dict[str, tuple]:
    """A fixed colour per paradigm (tab10, in the given order)."""
    plt = _pyplot()
    cmap = plt.get_cmap("tab10")
    return {name: cmap(i % 10) for i, name in enumerate(paradigms)}


def _title(key: str) -> str:
    spec = METRIC_BY_KEY.get(key)
    if spec is None:
        return key
    if spec.better:
        return f"{spec.label}\n({spec.better} is better)"
    return spec.label


def plot_metric_bars(aggregated: dict, path: Path) -> Optional[Path]:
    """Grid of bar charts, one per metric with ``plot=True`` and at least one value."""
    paradigms = aggregated["paradigms"]
    by_paradigm = aggregated["by_paradigm"]
    keys = [
        key for key in aggregated["metrics"]
        if (METRIC_BY_KEY[key].plot if key in METRIC_BY_KEY else True)
        and any(by_paradigm[p]["metrics"][key]["n"] > 0 for p in paradigms)
    ]
    if not keys:
        return None
    plt = _pyplot()
    colors = paradigm_colors(paradigms)
    ncols = min(4, len(keys))
    nrows = math.ceil(len(keys) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 3.2 * nrows), squeeze=False)
    for ax in axes.flat[len(keys):]:
        ax.set_visible(False)
    for ax, key in zip(axes.flat, keys):
        scale = METRIC_BY_KEY[key].scale if key in METRIC_BY_KEY else 1.0
        for x, paradigm in enumerate(paradigms):
            summary = by_paradigm[paradigm]["metrics"][key]
            if summary["n"] == 0:
                ax.text(x, 0.0, "n/a", ha="center", va="bottom", fontsize=7, color="grey")
                continue
            ax.bar(x, summary["mean"] * scale, color=colors[paradigm], alpha=0.6, width=0.7,
                   yerr=summary["std"] * scale if summary["n"] > 1 else None, capsize=3)
            n = len(summary["values"])
            offsets = [0.0] if n == 1 else [-0.2 + 0.4 * i / (n - 1) for i in range(n)]
            ax.scatter([x + o for o in offsets], [v * scale for v in summary["values"]],
                       color="black", s=10, zorder=3)
        ax.set_xticks(range(len(paradigms)), paradigms, rotation=35, ha="right", fontsize=7)
        ax.set_title(_title(key), fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Per-paradigm metrics: mean ± std over seeds, dots = seeds", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))  # room for the title above the top row
    return save_figure(fig, path)


def _trace_points(trace) -> List[tuple]:
    """``(step, cka)`` pairs of a trace, skipping malformed or null entries."""
    points = []
    for entry in trace or []:
        if not isinstance(entry, dict):
            continue
        step, cka = entry.get("step"), entry.get("cka")
        if isinstance(step, (int, float)) and isinstance(cka, (int, float)) and math.isfinite(cka):
            points.append((float(step), float(cka)))
    return sorted(points)


def _draw_traces(ax, runs: List[dict], paradigms: Sequence[str], colors, field: str, title: str, xlabel: str) -> bool:
    """One line per run's ``field`` trace; returns whether anything was drawn."""
    drawn = False
    for paradigm in paradigms:
        labelled = False
        for run in runs:
            if run.get("paradigm") != paradigm:
                continue
            points = _trace_points(run.get(field))
            if not points:
                continue
            ax.plot([p[0] for p in points], [p[1] for p in points], marker=".", color=colors[paradigm],
                    alpha=0.8, label=None if labelled else paradigm)
            labelled = drawn = True
    ax.set_title(title, fontsize=9)
    if drawn:
        ax.set_xlabel(xlabel)
        ax.set_ylabel("linear CKA")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="grey")
        ax.set_xticks([])
        ax.set_yticks([])
    return drawn


def plot_drift_traces(runs: List[dict], path: Path, paradigm_order: Optional[Sequence[str]] = None) -> Optional[Path]:
    """Drift (left) and pretraining (right) CKA traces, one line per seed, one colour per paradigm."""
    if paradigm_order is not None:
        paradigms = list(paradigm_order)
    else:
        paradigms = []
        for run in runs:
            if run.get("paradigm") not in paradigms:
                paradigms.append(run.get("paradigm"))
    has_data = any(
        _trace_points(run.get(field)) for run in runs if run.get("paradigm") in paradigms
        for field in ("drift_trace", "pretrain_trace")
    )
    if not has_data:
        return None
    plt = _pyplot()
    colors = paradigm_colors(paradigms)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.0, 4.0))
    _draw_traces(left, runs, paradigms, colors, "drift_trace",
                 "encoder CKA to its state at the start of joint SFT", "step within the joint SFT stage")
    _draw_traces(right, runs, paradigms, colors, "pretrain_trace",
                 "pretraining: encoder CKA to the reference", "pretraining step")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_nse_per_layer(aggregated: dict, path: Path) -> Optional[Path]:
    """Mean NSE per representation (std error bars), one line per paradigm."""
    series = {
        paradigm: {rep: s for rep, s in aggregated["by_paradigm"][paradigm].get("nse_per_layer", {}).items()
                   if s["n"] > 0}
        for paradigm in aggregated["paradigms"]
    }
    series = {p: values for p, values in series.items() if values}
    if not series:
        return None
    names = sorted({rep for values in series.values() for rep in values}, key=representation_order)
    position = {rep: i for i, rep in enumerate(names)}
    plt = _pyplot()
    colors = paradigm_colors(aggregated["paradigms"])
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(names) + 2), 4.0))
    for i, (paradigm, values) in enumerate(series.items()):
        reps = [r for r in names if r in values]
        dodge = 0.06 * (i - (len(series) - 1) / 2)  # keep coinciding lines apart
        ax.errorbar([position[r] + dodge for r in reps], [values[r]["mean"] for r in reps],
                    yerr=[values[r]["std"] for r in reps], marker="o", capsize=3,
                    color=colors[paradigm], label=paradigm)
    ax.set_xticks(range(len(names)), [short_label(n) for n in names], rotation=45, ha="right")
    ax.set_ylim(0.0, 1.02)
    ax.set_ylabel("normalized spectral entropy")
    ax.set_title("NSE per representation: mean ± std over seeds", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def write_comparison_plots(out_dir: Path, aggregated: dict, runs: List[dict]) -> List[Path]:
    """Every comparison plot that has data, into ``out_dir``; returns the written paths."""
    out_dir = Path(out_dir)
    candidates = [
        plot_metric_bars(aggregated, out_dir / METRIC_BARS_FILE),
        plot_drift_traces(runs, out_dir / DRIFT_TRACES_FILE, aggregated["paradigms"]),
        plot_nse_per_layer(aggregated, out_dir / NSE_PER_LAYER_FILE),
    ]
    return [path for path in candidates if path is not None]
