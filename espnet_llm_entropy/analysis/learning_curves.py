"""Learning curves of a multi-stage run from ESPnet's own reporter state.

ESPnet keeps every epoch's aggregated statistics in ``checkpoint.pth``
(``reporter.stats[epoch][train|valid]``), with ``total_count``: the number
of updates (train) or batches (valid) so far. :func:`read_learning_curve`
turns one experiment into rows ``(epoch, step, valid metrics)``;
:func:`plot_learning_curves` draws dev PER against the update step for
pretraining and dev token accuracy against the cumulative update step for
the LLM stages (alignment, IA-SFT, joint SFT continue each other's count).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

#: torch.serialization.safe_globals edits one process-wide list: one load at a time
_SAFE_GLOBALS_LOCK = threading.Lock()
#: valid metrics kept per stage kind (the first one present is plotted)
CURVE_METRICS = ("per", "acc", "loss")


def _reporter_types() -> list:
    """The plain types ESPnet's reporter stores beside tensors (durations, numpy scalars)."""
    import datetime

    import numpy as np

    multiarray = (getattr(np, "_core", None) or np.core).multiarray
    dtypes = {type(np.dtype(name)) for name in ("float64", "float32", "int64", "int32", "bool")}
    return [datetime.timedelta, multiarray.scalar, np.dtype, *dtypes]


def read_training_state(path: Path) -> Dict:
    """An ESPnet ``checkpoint.pth`` (model, optimizers, reporter ...) loaded with
    ``weights_only=True``: tensors and the reporter's plain types only, no code from the file.

    Safe to call from several threads (the paradigm comparison evaluates runs in
    parallel): torch's allow-list of globals is process-wide, so the loads take turns.
    """
    import torch

    with _SAFE_GLOBALS_LOCK, torch.serialization.safe_globals(_reporter_types()):
        return torch.load(path, map_location="cpu", weights_only=True)


def read_learning_curve(exp_dir: Path) -> List[Dict]:
    """One row per finished epoch of ``exp_dir``: epoch, update step and the valid metrics.

    Raises:
        FileNotFoundError: no ``checkpoint.pth`` (the training never finished an epoch).
        ValueError: a checkpoint without ESPnet reporter statistics.
    """
    path = Path(exp_dir) / "checkpoint.pth"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint (did {exp_dir}'s training finish an epoch?)")
    state = read_training_state(path)
    stats = (state.get("reporter") or {}).get("stats")
    if not isinstance(stats, dict):
        raise ValueError(f"{path}: no reporter statistics (not an ESPnet training checkpoint)")
    rows = []
    for epoch in sorted(stats):
        train, valid = stats[epoch].get("train", {}), stats[epoch].get("valid", {})
        row = {"epoch": int(epoch), "step": int(train.get("total_count", 0))}
        for key in CURVE_METRICS:
            if key in valid:
                row[f"valid_{key}"] = float(valid[key])
        rows.append(row)
    return rows


def stage_curves(stage_exps: Mapping[str, Path]) -> Dict[str, List[Dict]]:
    """:func:`read_learning_curve` of each stage, steps made cumulative in the given order.

    Steps accumulate separately for CTC stages (a ``per`` metric: encoder
    pretraining, which runs alongside the LLM stages) and LLM stages (the
    rest). Stages whose experiment has no checkpoint are left out.
    """
    curves: Dict[str, List[Dict]] = {}
    offsets = {"ctc": 0, "llm": 0}
    for stage, exp_dir in stage_exps.items():
        if not (Path(exp_dir) / "checkpoint.pth").is_file():
            continue
        rows = read_learning_curve(Path(exp_dir))
        kind = "ctc" if any("valid_per" in r for r in rows) else "llm"
        for row in rows:
            row["cumulative_step"] = row["step"] + offsets[kind]
        if rows:
            offsets[kind] = rows[-1]["cumulative_step"]
        curves[stage] = rows
    return curves


def _plot_metric(ax, curves: Dict[str, List[Dict]], stages: Sequence[str], key: str, ylabel: str) -> bool:
    drawn = False
    for stage in stages:
        rows = [r for r in curves.get(stage, []) if key in r]
        if rows:
            ax.plot([r["cumulative_step"] for r in rows], [r[key] for r in rows], marker="o", ms=3, label=stage)
            drawn = True
    ax.set_xlabel("update step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend()
    return drawn


def plot_learning_curves(curves: Dict[str, List[Dict]], path: Path) -> Optional[Path]:
    """Dev PER of pretraining and dev token accuracy of the LLM stages, side by side.

    Returns:
        The PNG path, or None when there is nothing to draw.
    """
    from espnet_llm_entropy.analysis.plots import _pyplot, save_figure

    if not curves:
        return None
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    pre = [s for s in curves if any("valid_per" in r for r in curves[s])]
    llm = [s for s in curves if any("valid_acc" in r for r in curves[s])]
    _plot_metric(left, curves, pre, "valid_per", "dev phone error rate")
    left.set_title("encoder pretraining (greedy CTC)")
    _plot_metric(right, curves, llm, "valid_acc", "dev token accuracy (teacher forced)")
    right.set_title("LLM stages")
    fig.tight_layout()
    return save_figure(fig, Path(path))


def write_learning_curves(stage_exps: Mapping[str, Path], out_dir: Path) -> Dict[str, Optional[str]]:
    """``learning_curves.json`` and ``learning_curves.png`` into ``out_dir``; returns their paths."""
    from espnet_llm_entropy.fileio.atomic import write_text_atomic

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    curves = stage_curves(stage_exps)
    json_path = out_dir / "learning_curves.json"
    write_text_atomic(json_path, json.dumps(curves, indent=1) + "\n")
    png = plot_learning_curves(curves, out_dir / "learning_curves.png")
    return {"json": str(json_path), "png": str(png) if png else None}
