"""Reading learning curves back from ESPnet's reporter state (``checkpoint.pth``)."""

from __future__ import annotations

import datetime
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from espnet_llm_entropy.analysis.learning_curves import read_learning_curve, read_training_state, stage_curves


def _write_checkpoint(exp_dir, stats):
    """A checkpoint shaped like ESPnet's: reporter statistics hold numpy scalars and durations."""
    exp_dir.mkdir(parents=True, exist_ok=True)
    state = {"model": {"w": torch.zeros(2)}, "reporter": {"stats": stats, "epoch": max(stats)}}
    torch.save(state, exp_dir / "checkpoint.pth")
    return exp_dir


def _epoch(updates, **valid):
    return {"train": {"total_count": updates, "time": datetime.timedelta(seconds=3)},
            "valid": {k: np.float64(v) for k, v in valid.items()}}


def test_rows_per_epoch_with_the_valid_metrics(tmp_path):
    exp = _write_checkpoint(tmp_path / "pretrain", {1: _epoch(25, per=0.9, loss=40.0), 2: _epoch(50, per=0.3)})
    rows = read_learning_curve(exp)
    assert rows == [{"epoch": 1, "step": 25, "valid_per": 0.9, "valid_loss": 40.0},
                    {"epoch": 2, "step": 50, "valid_per": pytest.approx(0.3)}]


def test_stage_curves_accumulate_llm_steps_apart_from_ctc(tmp_path):
    exps = {
        "pretrain": _write_checkpoint(tmp_path / "p", {1: _epoch(30, per=0.5)}),
        "align": _write_checkpoint(tmp_path / "a", {1: _epoch(10, acc=0.2)}),
        "ia_sft": _write_checkpoint(tmp_path / "i", {1: _epoch(20, acc=0.5), 2: _epoch(40, acc=0.6)}),
        "joint_sft": tmp_path / "not_trained",
    }
    curves = stage_curves(exps)
    assert list(curves) == ["pretrain", "align", "ia_sft"]
    assert [r["cumulative_step"] for r in curves["pretrain"]] == [30]
    assert [r["cumulative_step"] for r in curves["ia_sft"]] == [30, 50]  # after align's 10, not pretraining's 30


def test_concurrent_reads_from_threads(tmp_path):
    # the paradigm comparison reads checkpoints from several worker threads at once; torch's
    # allow-list of globals is process-wide, so unsynchronised loads fail at random
    exps = [_write_checkpoint(tmp_path / f"e{i}", {e: _epoch(e * 5, acc=0.1 * e) for e in range(1, 6)})
            for i in range(4)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda k: read_learning_curve(exps[k % 4])[-1]["valid_acc"], range(200)))
    assert results == [pytest.approx(0.5)] * 200


def test_missing_or_foreign_checkpoint_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="did .* finish an epoch"):
        read_learning_curve(tmp_path)
    torch.save({"model": {}}, tmp_path / "checkpoint.pth")
    with pytest.raises(ValueError, match="no reporter statistics"):
        read_learning_curve(tmp_path)
    assert "model" in read_training_state(tmp_path / "checkpoint.pth")
