"""The comparison report: markdown tables and claims, comparison.json, PNG plots."""

import json
import math

import numpy as np

from espnet_llm_entropy.analysis.report import json_safe
from espnet_llm_entropy.comparison.aggregate import aggregate_runs, evaluate_claims
from espnet_llm_entropy.comparison.comparison_plots import (
    plot_drift_traces,
    plot_metric_bars,
    plot_nse_per_layer,
)
from espnet_llm_entropy.comparison.comparison_report import (
    comparison_markdown,
    plateau_warnings,
    write_comparison_report,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _mean_std(values, scale, digits):
    kept = [v for v in values if v is not None]
    mean = np.mean(kept) * scale
    if len(kept) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {np.std(kept, ddof=1) * scale:.{digits}f}"


def _row(markdown, paradigm, header_fragment):
    """Cells of ``paradigm``'s row in the table whose header contains ``header_fragment``."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| paradigm") and header_fragment in line)
    header = [c.strip() for c in lines[start].strip("|").split("|")]
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] == paradigm:
            return dict(zip(header, cells))
    raise AssertionError(f"no row for {paradigm}")


def test_report_writes_all_files(tmp_path, known_runs_dir, known_values):
    out_dir = tmp_path / "report"
    result = write_comparison_report(
        out_dir, known_runs_dir, paradigm_order=["single_stage", "char_ctc", "phoneme_ctc", "full_method"],
        command="python -m espnet_llm_entropy.bin.compare_paradigms --seeds 3", machine="2 CPU cores",
        budget_note="300 update steps per stage",
    )
    names = sorted(p.name for p in result["outputs"])
    assert names == sorted(["comparison.json", "comparison.md", "metric_bars.png",
                            "drift_traces.png", "nse_per_layer.png"])
    for path in result["outputs"]:
        assert path.parent == out_dir and path.is_file()
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 1000
    assert not [p for p in out_dir.iterdir() if p.name.startswith(".tmp-")]

    markdown = (out_dir / "comparison.md").read_text(encoding="utf-8")
    assert "python -m espnet_llm_entropy.bin.compare_paradigms --seeds 3" in markdown
    assert "2 CPU cores" in markdown and "300 update steps per stage" in markdown
    for name in ("metric_bars.png", "drift_traces.png", "nse_per_layer.png"):
        assert f"({name})" in markdown

    # table cells: mean ± std computed here from the inputs, in display units
    for paradigm, table in known_values.items():
        row = _row(markdown, paradigm, "test MER %")
        assert row["test MER % ↓"].startswith(_mean_std(table["mer"], 100.0, 1))
        assert row["seeds"] == "3"
    assert _row(markdown, "phoneme_ctc", "test MER %")["test MER % ↓"] == _mean_std(
        known_values["phoneme_ctc"]["mer"], 100.0, 1) + " (n=2)"
    nse_row = _row(markdown, "char_ctc", "pretrained encoder NSE")
    assert nse_row["pretrained encoder NSE"] == _mean_std(known_values["char_ctc"]["pretrained_encoder_nse"], 1.0, 3)
    assert _row(markdown, "full_method", "pretrained encoder NSE")["pretrained encoder NSE"] == "–"
    # equal values: std 0 shown
    assert _row(markdown, "full_method", "update steps")["update steps"] == "400 ± 0"
    # columns with no value at all are not in the tables
    assert "| en WER %" not in markdown and "en WER %" in markdown.split("Not measured in any run:")[1]

    # row order follows paradigm_order
    positions = [markdown.index(f"| {p} |") for p in ["single_stage", "char_ctc", "phoneme_ctc", "full_method"]]
    assert positions == sorted(positions)

    claims_section = markdown.split("## Claims of the paper")[1].split("## Plots")[0]
    for claim in result["claims"]:
        assert claim["text"] in claims_section
        assert f"Verdict: **{claim['verdict']}**. {claim['explanation']}" in claims_section
    assert [c["verdict"] for c in result["claims"]] == [
        "supported", "not supported", "inconclusive", "not evaluated", "not evaluated"]


def test_comparison_json_round_trips(tmp_path, known_runs_dir, write_runs, runs_factory):
    # a NaN in a run's file is stored as null, and the JSON is strict
    write_runs(known_runs_dir, [runs_factory("extra", 0, {"mer": float("nan"), "cer_zh": 0.5})])
    result = write_comparison_report(tmp_path / "out", known_runs_dir, plots=False)
    assert [p.name for p in result["outputs"]] == ["comparison.json", "comparison.md"]

    def reject(constant):
        raise AssertionError(f"non-strict JSON constant {constant}")

    loaded = json.loads((tmp_path / "out" / "comparison.json").read_text(), parse_constant=reject)
    assert loaded["aggregated"] == json_safe(result["aggregated"])
    assert loaded["claims"] == json_safe(result["claims"])
    assert loaded["aggregated"]["by_paradigm"]["extra"]["metrics"]["mer"]["mean"] is None
    assert loaded["aggregated"]["by_paradigm"]["extra"]["metrics"]["cer_zh"]["mean"] == 0.5


def test_markdown_one_seed_and_not_evaluated(runs_factory):
    runs = [runs_factory("phoneme_ctc", 0, {"pretrained_encoder_nse": 0.4321, "mer": 0.25})]
    aggregated = aggregate_runs(runs)
    claims = evaluate_claims(aggregated)
    markdown = comparison_markdown(aggregated, claims, title="Tiny")
    assert markdown.startswith("# Tiny")
    assert _row(markdown, "phoneme_ctc", "test MER %")["test MER % ↓"] == "25.0"
    assert "±" not in _row(markdown, "phoneme_ctc", "test MER %")["test MER % ↓"]
    assert all(c["verdict"] == "not evaluated" for c in claims)
    assert markdown.count("Verdict: **not evaluated**") == len(claims)
    assert "char_ctc was not run" in markdown
    assert "No plot was drawn." in markdown
    assert "Command" not in markdown
    assert "What this run can show" not in markdown
    noted = comparison_markdown(aggregated, claims, scope_notes=["One seed: no verdicts."])
    assert "## What this run can show\n\n- One seed: no verdicts.\n" in noted
    assert noted.index("What this run can show") < noted.index("## Results")


def test_plateau_warning_names_only_the_undertrained_paradigm_and_seeds(runs_factory):
    runs = [
        runs_factory("char_ctc", 0, {"pretrain_dev_error": 0.35}),
        runs_factory("char_ctc", 1, {"pretrain_dev_error": 0.15}),
        runs_factory("phoneme_ctc", 0, {"pretrain_dev_error": 0.12}),
        runs_factory("phoneme_ctc", 1, {"pretrain_dev_error": 0.2}),  # at the limit: trained
        runs_factory("single_stage", 0, {"pretrain_dev_error": None}),
    ]
    aggregated = aggregate_runs(runs)
    warnings = plateau_warnings(aggregated)
    assert len(warnings) == 1
    assert "`char_ctc`" in warnings[0] and "1 of 2 seed(s)" in warnings[0] and "35.0%" in warnings[0]
    markdown = comparison_markdown(aggregated, evaluate_claims(aggregated))
    assert warnings[0] in markdown
    assert markdown.index(warnings[0]) < markdown.index("### Recognition and hallucination")
    assert _row(markdown, "char_ctc", "pretraining dev PER/CER %")["pretraining dev PER/CER % ↓"] == "25.0 ± 14.1"
    assert plateau_warnings(aggregated, limit=0.5) == []


def test_plots_skip_when_nothing_to_draw(tmp_path, runs_factory):
    runs = [runs_factory("a", 0, {"trainable_params": 10}), runs_factory("b", 0, {})]
    aggregated = aggregate_runs(runs)
    assert plot_metric_bars(aggregated, tmp_path / "bars.png") is None  # only a plot=False metric
    assert plot_drift_traces(runs, tmp_path / "drift.png") is None
    assert plot_nse_per_layer(aggregated, tmp_path / "nse.png") is None
    assert list(tmp_path.iterdir()) == []


def test_plots_with_partial_data(tmp_path, runs_factory):
    runs = [
        runs_factory("a", 0, {"mer": 0.3}, drift_trace=[{"step": 10, "cka": 0.9}, {"step": 20, "cka": None}]),
        runs_factory("b", 0, {}, nse_per_layer={"encoder_output": 0.5}),
    ]
    aggregated = aggregate_runs(runs)
    for path in (
        plot_metric_bars(aggregated, tmp_path / "bars.png"),
        plot_drift_traces(runs, tmp_path / "drift.png"),  # right panel has no data
        plot_nse_per_layer(aggregated, tmp_path / "nse.png"),
    ):
        assert path is not None and path.read_bytes()[:8] == PNG_MAGIC
    assert not math.isnan(aggregated["by_paradigm"]["b"]["nse_per_layer"]["encoder_output"]["mean"])
