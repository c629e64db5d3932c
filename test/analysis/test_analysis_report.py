"""metrics.json / summary.md / PNG plots from a metrics dict, and the trainer trace reader."""

import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from espnet_llm_entropy.analysis import allocation_from_measurements, llm_entropy_reduction, spectral_metrics
from espnet_llm_entropy.analysis.plots import plot_training_traces, write_plots
from espnet_llm_entropy.analysis.report import json_safe, markdown_table, summary_markdown, write_report
from espnet_llm_entropy.analysis.trainer_traces import read_training_traces

LAYERS = ["encoder_layer_1", "encoder_layer_2", "encoder_output"]


def _spectra(seed, with_adaptor):
    g = torch.Generator().manual_seed(seed)
    out = {name: spectral_metrics(torch.randn(200, 8, generator=g) * torch.arange(1, 9)) for name in LAYERS}
    if with_adaptor:
        out["adaptor_output"] = spectral_metrics(torch.randn(60, 4, generator=g))
        out["llm_layer_1_speech"] = spectral_metrics(torch.randn(60, 4, generator=g))
        out["llm_layer_1_transcript"] = {"skipped": "too few frames"}
    return out


def _metrics(with_traces=True):
    info = {"h_prior_bits": 4.0, "h_conditional_bits": 2.5, "info_bits": 1.5, "info_share": 0.375,
            "heldout_accuracy": 0.4, "num_train": 160, "num_heldout": 40}
    llm = llm_entropy_reduction([30.0, 20.0], [60.0, 50.0], [10, 8])
    matrix = [[1.0, 0.8, 0.7], [0.8, 1.0, 0.9], [0.7, 0.9, 1.0]]
    pre, sft = "pre/valid.per.best.pth", "sft/valid.acc.best.pth"
    traces = {}
    if with_traces:
        traces = {"swap_history": [{"step": 0, "version": 1, "cka_old_new": None},
                                   {"step": 40, "version": 2, "cka_old_new": 0.93}],
                  "drift_trace": [{"epoch": 1, "step": 10, "cka": 0.99}, {"epoch": 2, "step": 20, "cka": 0.95}]}
    return {
        "data_dir": "data/test", "num_utterances": 2, "reference": pre, "options": {"seed": 0},
        "experiments": {
            pre: {"exp_dir": "pre", "checkpoint": "pre/valid.per.best.pth", "model": "PhonemeCTCModel",
                  "role": "reference", "num_utterances": 2, "spectra": _spectra(0, False),
                  "phonetic_information": {"encoder_output": info,
                                           "adaptor_output": {"skipped": "the model has no adaptor output"}},
                  "llm_entropy": {"skipped": "the model has no LLM"},
                  "allocation": {"encoder_output": {"skipped": "no LLM-side measurement"}},
                  "training_traces": {"cka_trace": [{"step": 10, "cka": None, "event": "reference"},
                                                    {"step": 20, "cka": 0.97, "published_version": 1}]}
                  if with_traces else {}},
            sft: {"exp_dir": "sft", "checkpoint": "sft/valid.acc.best.pth", "model": "LLMASRModel",
                  "role": "experiment", "num_utterances": 2, "spectra": _spectra(1, True),
                  "phonetic_information": {"encoder_output": info, "adaptor_output": info},
                  "llm_entropy": llm,
                  "allocation": {"encoder_output": allocation_from_measurements(1.5, 30, 18, llm["reduction_bits_per_token"]),
                                 "adaptor_output": {"skipped": "a | pipe in a reason"}},
                  "training_traces": traces},
        },
        "cka": {
            "within_experiment": {pre: {"rows": LAYERS, "cols": LAYERS, "matrix": matrix},
                                  sft: {"skipped": "no frames"}},
            "to_reference": {sft: {"reference": pre, "rows": LAYERS, "cols": LAYERS, "matrix": matrix,
                                   "encoder_output_cka": 1.0, "encoder_output_cka_unbiased": float("nan"),
                                   "adaptor_output_cka": None}},
        },
    }


def _table_widths(markdown):
    """Cell count of every table line (escaped pipes do not count)."""
    widths = []
    for line in markdown.splitlines():
        if line.startswith("|"):
            widths.append(len(re.split(r"(?<!\\)\|", line)) - 2)
    return widths


def _check_png(path):
    image = np.asarray(Image.open(path).convert("RGB"))
    assert image.shape[0] > 150 and image.shape[1] > 150
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 20  # not a blank canvas


def test_write_report_writes_every_output(tmp_path):
    metrics = write_report(_metrics(), tmp_path / "out")
    out = tmp_path / "out"
    names = {p.name for p in out.iterdir()}
    assert names == {"metrics.json", "summary.md", "cka_layers.png", "nse_per_layer.png",
                     "allocation.png", "training_traces.png"}
    loaded = json.loads((out / "metrics.json").read_text())  # strict JSON: NaN became null
    assert loaded["cka"]["to_reference"]["sft/valid.acc.best.pth"]["encoder_output_cka_unbiased"] is None
    assert loaded["experiments"]["sft/valid.acc.best.pth"]["llm_entropy"]["reduction_bits_per_token"] == \
        pytest.approx((110 - 50) / 18 / np.log(2))
    assert sorted(loaded["outputs"]) == sorted(str(out / n) for n in names)
    assert metrics["plots"] == loaded["plots"]
    for name in names - {"metrics.json", "summary.md"}:
        _check_png(out / name)


def test_summary_tables_are_well_formed_and_hold_the_numbers(tmp_path):
    metrics = _metrics()
    text = summary_markdown(json_safe(metrics))
    sft = metrics["experiments"]["sft/valid.acc.best.pth"]
    assert f"{sft['llm_entropy']['bits_per_token_without_speech']:.3f}" in text
    assert f"{sft['allocation']['encoder_output']['encoder_share']:.3f}" in text
    assert f"{sft['spectra']['adaptor_output']['normalized_spectral_entropy']:.3f}" in text
    assert "skipped: too few frames" in text and "a \\| pipe in a reason" in text
    # every table's lines have the same number of cells as its header
    for block in text.split("\n\n"):
        if block.startswith("|"):
            widths = _table_widths(block)
            assert len(set(widths)) == 1, block


def test_markdown_table_formats_and_escapes():
    table = markdown_table(["a", "b"], [[0.12345, None], ["x|y", True]])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| 0.123 | – |", "| x\\|y | yes |"]


def test_plots_without_data_are_left_out(tmp_path):
    metrics = json_safe(_metrics(with_traces=False))
    for exp in metrics["experiments"].values():
        exp["llm_entropy"] = {"skipped": "no LLM"}
    written = {p.name for p in write_plots(metrics, tmp_path)}
    assert written == {"cka_layers.png", "nse_per_layer.png"}
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temporary files left


def test_training_traces_are_read_and_plotted(tmp_path):
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "cka_trace.jsonl").write_text(
        '{"step": 10, "cka": null, "event": "reference"}\n{"step": 20, "cka": 0.96, "published_version": 1}\n')
    (exp / "swap_history.jsonl").write_text('{"step": 5, "version": 1, "cka_old_new": null}\n')
    traces = read_training_traces(exp)
    assert set(traces) == {"cka_trace", "swap_history"} and traces["cka_trace"][1]["cka"] == 0.96
    metrics = {"experiments": {"e": {"training_traces": traces}}}
    _check_png(plot_training_traces(metrics, tmp_path / "traces.png"))
    (exp / "drift_trace.jsonl").write_text('{"epoch": 1, "cka": 0.9}\nnot json\n')
    with pytest.raises(ValueError, match=r"drift_trace.jsonl:2"):
        read_training_traces(exp)
