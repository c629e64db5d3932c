"""PNG plots of an analysis run (matplotlib, Agg backend, written atomically).

* ``cka_layers.png``: layer-by-layer linear CKA heatmaps, within each
  experiment's encoder and between each experiment and the reference;
* ``nse_per_layer.png``: normalized spectral entropy along the model
  (encoder layers, encoder output, adaptor, LLM layers);
* ``allocation.png``: transcript bits per token with/without speech, the
  phone information accessible at the encoder, and the encoder/LLM shares;
* ``training_traces.png``: CKA over training from the trainer's
  ``cka_trace`` / ``swap_history`` / ``drift_trace`` files (when present).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Dict, List, Optional

from espnet_llm_entropy.fileio.atomic import write_bytes_atomic
from espnet_llm_entropy.metrics.experiment_metrics import representation_order


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> Path:
    """Render ``fig`` to PNG bytes and write them atomically; closes the figure."""
    plt = _pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    write_bytes_atomic(Path(path), buf.getvalue())
    return Path(path)


def short_label(name: str) -> str:
    """Axis label of a representation name (``encoder_layer_3`` -> ``enc L3``)."""
    parts = name.split("_")
    if name.startswith("encoder_layer_"):
        return f"enc L{parts[2]}"
    if name == "encoder_output":
        return "enc out"
    if name == "adaptor_output":
        return "adaptor"
    if name.startswith("llm_layer_"):
        return f"LLM L{parts[2]} {'sp' if parts[3] == 'speech' else 'txt'}"
    return name


def _heatmap(ax, entry: Dict, title: str, xlabel: str, ylabel: str):
    """Draw one CKA matrix on ``ax``; returns the image (for the colorbar)."""
    import numpy as np

    matrix = np.array(entry["matrix"], dtype=float)
    image = ax.imshow(matrix, vmin=0.0, vmax=1.0, cmap="viridis", origin="lower")
    ax.set_xticks(range(matrix.shape[1]), [short_label(c) for c in entry["cols"]], rotation=45, ha="right")
    ax.set_yticks(range(matrix.shape[0]), [short_label(r) for r in entry["rows"]])
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    if matrix.size <= 256:
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="black" if value > 0.6 else "white")
    return image


def plot_cka_layers(metrics: Dict, path: Path) -> Optional[Path]:
    """Heatmaps of every CKA matrix in ``metrics['cka']`` (None when there is none)."""
    panels = []
    for name, entry in metrics["cka"]["within_experiment"].items():
        if "skipped" not in entry:
            panels.append((entry, f"within {name}", name, name))
    for name, entry in metrics["cka"]["to_reference"].items():
        if "skipped" not in entry:
            panels.append((entry, f"{name} vs reference", name, entry["reference"]))
    if not panels:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels) + 1.0, 4.6), squeeze=False,
                             layout="constrained")
    image = None
    for ax, (entry, title, xlabel, ylabel) in zip(axes[0], panels):
        image = _heatmap(ax, entry, title, xlabel, ylabel)
    fig.colorbar(image, ax=list(axes[0]), shrink=0.7, label="linear CKA")
    fig.suptitle("Layer-by-layer linear CKA", fontsize=11)
    return save_figure(fig, path)


def plot_nse_per_layer(metrics: Dict, path: Path) -> Optional[Path]:
    """NSE of every representation of every experiment, in model order."""
    series = {}
    for name, exp in metrics["experiments"].items():
        values = {rep: m["normalized_spectral_entropy"] for rep, m in exp["spectra"].items()
                  if "skipped" not in m and m.get("normalized_spectral_entropy") is not None}
        if values:
            series[name] = values
    if not series:
        return None
    names = sorted({rep for values in series.values() for rep in values}, key=representation_order)
    position = {rep: i for i, rep in enumerate(names)}
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * len(names) + 2), 4.0))
    for name, values in series.items():
        reps = [r for r in names if r in values]
        ax.plot([position[r] for r in reps], [values[r] for r in reps], marker="o", label=name)
    ax.set_xticks(range(len(names)), [short_label(n) for n in names], rotation=45, ha="right")
    ax.set_ylim(0.0, 1.02)
    ax.set_ylabel("normalized spectral entropy")
    ax.set_title("NSE per layer (1 = isotropic, 0 = rank one)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_allocation(metrics: Dict, path: Path, representation: str = "encoder_output") -> Optional[Path]:
    """Bits per token with/without speech, encoder-accessible bits, and the shares."""
    import numpy as np

    rows = []
    for name, exp in metrics["experiments"].items():
        llm = exp["llm_entropy"]
        if "skipped" in llm:
            continue
        alloc = exp["allocation"].get(representation, {"skipped": "not measured"})
        rows.append((name, llm, alloc))
    if not rows:
        return None
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    x = np.arange(len(rows))
    width = 0.27
    prior = [r[1]["bits_per_token_without_speech"] for r in rows]
    speech = [r[1]["bits_per_token_with_speech"] for r in rows]
    encoder = [r[2].get("encoder_accessible_bits_per_token", 0.0) if "skipped" not in r[2] else 0.0 for r in rows]
    left.bar(x - width, prior, width, label="LLM, text only (H prior)")
    left.bar(x, speech, width, label="LLM with speech (H speech)")
    left.bar(x + width, encoder, width, label=f"phone info at {representation.replace('_', ' ')} (E before capping)")
    left.set_xticks(x, [r[0] for r in rows], rotation=20, ha="right", fontsize=8)
    left.set_ylabel("bits per transcript token")
    left.set_title("Transcript entropy and encoder-side information", fontsize=10)
    left.legend(fontsize=7)
    for i, (_, _, alloc) in enumerate(rows):
        if "skipped" in alloc:
            right.text(i, 0.5, "allocation\nnot available:\n" + _wrap(alloc["skipped"]), ha="center",
                       va="center", fontsize=6)
            continue
        enc = alloc["encoder_share"] or 0.0
        right.bar(i, enc, 0.5, color="tab:blue", label="encoder + adaptor" if i == 0 else None)
        right.bar(i, 1.0 - enc, 0.5, bottom=enc, color="tab:orange", label="LLM" if i == 0 else None)
        right.text(i, enc / 2, f"{enc:.0%}", ha="center", va="center", fontsize=8, color="white")
    right.set_xticks(x, [r[0] for r in rows], rotation=20, ha="right", fontsize=8)
    right.set_xlim(-0.6, len(rows) - 0.4)
    right.set_ylim(0, 1)
    right.set_ylabel("share of the entropy reduction")
    right.set_title("Where the entropy reduction happens", fontsize=10)
    handles, labels = right.get_legend_handles_labels()
    if handles:
        right.legend(fontsize=7)
    return save_figure(fig, path)


def _wrap(text: str, width: int = 28) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)[:6])


def _numeric(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def plot_training_traces(metrics: Dict, path: Path) -> Optional[Path]:
    """CKA over training from the trainer's trace files of every experiment."""
    kinds = {"cka_trace": ("pretraining: CKA to the reference encoder", "cka"),
             "swap_history": ("hot swaps: CKA old vs new encoder", "cka_old_new"),
             "drift_trace": ("joint SFT: CKA to the starting encoder (drift)", "cka")}
    present = [k for k in kinds if any(k in e["training_traces"] for e in metrics["experiments"].values())]
    if not present:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(present), figsize=(5.2 * len(present), 3.8), squeeze=False)
    for ax, kind in zip(axes[0], present):
        title, key = kinds[kind]
        for name, exp in metrics["experiments"].items():
            rows = exp["training_traces"].get(kind, [])
            points = [(r["step"], r[key]) for r in rows if _numeric(r.get(key)) and _numeric(r.get("step"))]
            if points:
                ax.plot(*zip(*points), marker="o", label=name)
            for r in rows:
                version = r.get("published_version") if kind == "cka_trace" else r.get("version")
                if version and _numeric(r.get("step")):
                    ax.axvline(r["step"], color="grey", linestyle=":", linewidth=1)
                    ax.text(r["step"], 1.0, f" v{version}", fontsize=7, va="top")
        ax.set_ylim(0.0, 1.02)
        ax.set_xlabel("training step")
        ax.set_ylabel("linear CKA")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "no CKA values recorded\n(events only, shown as lines)", transform=ax.transAxes,
                    ha="center", va="center", fontsize=8)
    return save_figure(fig, path)


#: file name -> plotting function
PLOTS = {
    "cka_layers.png": plot_cka_layers,
    "nse_per_layer.png": plot_nse_per_layer,
    "allocation.png": plot_allocation,
    "training_traces.png": plot_training_traces,
}


def write_plots(metrics: Dict, out_dir: Path) -> List[Path]:
    """Every plot that has data, into ``out_dir``; returns the written paths."""
    written = []
    for file_name, plot in PLOTS.items():
        result = plot(metrics, Path(out_dir) / file_name)
        if result is not None:
            written.append(result)
    return written
