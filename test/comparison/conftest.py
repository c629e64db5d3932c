"""Fixtures of the comparison tests: synthetic ``runs/`` folders with known numbers."""

import json
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from espnet_llm_entropy.comparison.metric_catalog import METRICS

# paradigm -> metric -> one value per seed (seeds 0, 1, 2); metrics not listed are null.
KNOWN_VALUES: Dict[str, Dict[str, List[Optional[float]]]] = {
    "char_ctc": {
        "mer": [0.40, 0.44, 0.47],
        "pretrained_encoder_nse": [0.70, 0.71, 0.75],
        "drift_cka": [0.95, 0.96, 0.97],
        "nonspeech_output_rate_nogate": [0.30, 0.32, 0.34],
        "train_steps": [300, 300, 300],
    },
    "phoneme_ctc": {
        "mer": [0.35, None, 0.39],
        "pretrained_encoder_nse": [0.50, 0.52, 0.54],
        "drift_cka": [0.95, 0.96, 0.97],
        "nonspeech_output_rate_nogate": [0.25, 0.15, 0.35],
        "train_steps": [300, 300, 300],
    },
    "full_method": {
        "mer": [0.30, 0.31, 0.35],
        "drift_cka": [0.80, 0.82, 0.81],
        "nonspeech_output_rate_nogate": [0.10, 0.30, 0.20],
        "train_steps": [400, 400, 400],
    },
    "single_stage": {
        "mer": [0.60, 0.62, 0.61],
        "nonspeech_output_rate_nogate": [0.25, 0.15, 0.35],
        "train_steps": [200, 200, 200],
    },
}


def make_run(paradigm: str, seed: int, values: Dict[str, Optional[float]], **extra) -> dict:
    """A run's metrics.json content with every catalog key (null unless given)."""
    metrics = {m.key: None for m in METRICS}
    metrics.update(values)
    run = {
        "paradigm": paradigm,
        "label": f"label of {paradigm}",
        "seed": seed,
        "metrics": metrics,
        "nse_per_layer": {},
        "drift_trace": [],
        "pretrain_trace": [],
    }
    run.update(extra)
    return run


def known_runs() -> List[dict]:
    """Runs of :data:`KNOWN_VALUES`, with NSE per layer and traces for some of them."""
    runs = []
    for paradigm, table in KNOWN_VALUES.items():
        for seed in range(3):
            values = {key: seq[seed] for key, seq in table.items()}
            extra = {}
            if paradigm in ("phoneme_ctc", "full_method"):
                extra["nse_per_layer"] = {
                    "encoder_layer_1": 0.5 + 0.01 * seed,
                    "encoder_layer_2": 0.6 + 0.02 * seed,
                    "encoder_output": 0.65,
                    "adaptor_output": 0.55 - 0.01 * seed,
                }
                extra["pretrain_trace"] = [{"step": 100, "cka": 0.5 + 0.01 * seed}, {"step": 200, "cka": 0.7}]
            if paradigm == "full_method":
                extra["drift_trace"] = [{"step": 25, "cka": 0.99}, {"step": 50, "cka": 0.9 - 0.01 * seed}]
            runs.append(make_run(paradigm, seed, values, **extra))
    return runs


def write_run_files(runs_dir: Path, runs: List[dict]) -> Path:
    """Write each run to ``runs_dir/<paradigm>/seed<k>/metrics.json``; returns ``runs_dir``."""
    for run in runs:
        path = runs_dir / run["paradigm"] / f"seed{run['seed']}" / "metrics.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(run), encoding="utf-8")
    return runs_dir


@pytest.fixture
def known_values() -> Dict[str, Dict[str, List[Optional[float]]]]:
    """The per-seed input numbers of the synthetic runs."""
    return KNOWN_VALUES


@pytest.fixture
def runs_factory():
    """``make_run`` for tests that build their own runs."""
    return make_run


@pytest.fixture
def known_runs_dir(tmp_path) -> Path:
    """A ``runs`` folder with 4 paradigms x 3 seeds of :data:`KNOWN_VALUES`."""
    return write_run_files(tmp_path / "runs", known_runs())


@pytest.fixture
def write_runs():
    """``write_run_files(runs_dir, runs)``."""
    return write_run_files
