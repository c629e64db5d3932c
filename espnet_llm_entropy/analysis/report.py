"""Analysis outputs: ``metrics.json``, ``summary.md`` (markdown tables), PNG plots.

:func:`analyze_experiments` (what the CLI and the demo call) runs
:func:`~espnet_llm_entropy.analysis.analysis_run.run_analysis` and writes
its metrics with :func:`write_report`. Every file is written to a temporary sibling and renamed into place, so an
interrupted run never leaves a half-written output. Non-finite floats are
stored as ``null`` in JSON (strict JSON has no NaN).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Dict, List, Sequence, Union

from espnet_llm_entropy.analysis.analysis_run import AnalysisOptions, run_analysis
from espnet_llm_entropy.fileio.atomic import write_text_atomic

METRICS_FILE = "metrics.json"
SUMMARY_FILE = "summary.md"


def json_safe(value):
    """Copy of ``value`` with NaN/inf floats replaced by None (recursively)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}" if math.isfinite(value) else "–"
    if isinstance(value, dict) and "skipped" in value:
        return f"skipped: {value['skipped']}"
    return str(value).replace("|", "\\|")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A GitHub markdown table; cells are formatted with 3 decimals."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _skip_row(name: str, entry: Dict, width: int) -> List:
    return [name, f"skipped: {entry['skipped']}"] + [None] * (width - 2)


def _spectra_section(exp_name: str, spectra: Dict[str, Dict]) -> str:
    header = ["representation", "frames", "dim", "NSE", "effective rank", "RankMe"]
    rows = []
    for rep, m in spectra.items():
        if "skipped" in m:
            rows.append(_skip_row(rep, m, len(header)))
        else:
            rows.append([rep, m["num_frames"], m["dim"], m["normalized_spectral_entropy"], m["effective_rank"], m["rankme"]])
    return f"### {exp_name}\n\n" + markdown_table(header, rows)


def _matrix_table(entry: Dict) -> str:
    header = ["reference \\ experiment"] + list(entry["cols"])
    rows = [[row] + list(values) for row, values in zip(entry["rows"], entry["matrix"])]
    return markdown_table(header, rows)


def summary_markdown(metrics: Dict) -> str:
    """The markdown summary of a metrics dict (see ``analysis_run.run_analysis``)."""
    exps = metrics["experiments"]
    parts = [
        "# Entropy-allocation analysis",
        f"Data: `{metrics['data_dir']}`, {metrics['num_utterances']} utterances. "
        f"Reference for CKA: `{metrics['reference'] or 'none'}`. "
        f"Bits are log2; NSE = normalized spectral entropy of the covariance; "
        "information = held-out V-information of a probe (bits per frame).",
        "## Experiments",
        markdown_table(
            ["experiment", "model", "checkpoint", "role", "utterances"],
            [[n, e["model"], e["checkpoint"], e["role"], e["num_utterances"]] for n, e in exps.items()],
        ),
        "## Spectra per representation",
    ]
    parts += [_spectra_section(n, e["spectra"]) for n, e in exps.items()]

    to_ref = metrics["cka"]["to_reference"]
    if to_ref:
        parts.append("## Linear CKA to the reference")
        rows = []
        for name, entry in to_ref.items():
            if "skipped" in entry:
                rows.append(_skip_row(name, entry, 5))
            else:
                rows.append([name, entry["reference"], entry["encoder_output_cka"],
                             entry["encoder_output_cka_unbiased"], entry["adaptor_output_cka"]])
        parts.append(markdown_table(
            ["experiment", "reference", "encoder output CKA", "unbiased", "adaptor output CKA"], rows))
        for name, entry in to_ref.items():
            if "skipped" not in entry:
                parts += [f"### Layer-by-layer CKA: {entry['reference']} (rows) vs {name} (columns)", _matrix_table(entry)]

    parts.append("## Phonetic accessible information (linear probe on forced-aligned phones)")
    header = ["experiment", "representation", "H prior (bits)", "H given features (bits)", "information (bits)",
              "share", "held-out accuracy", "train / held-out frames"]
    rows = []
    for name, e in exps.items():
        for rep, info in e["phonetic_information"].items():
            if "skipped" in info:
                rows.append([name, rep, f"skipped: {info['skipped']}"] + [None] * 5)
            else:
                rows.append([name, rep, info["h_prior_bits"], info["h_conditional_bits"], info["info_bits"],
                             info["info_share"], info["heldout_accuracy"], f"{info['num_train']} / {info['num_heldout']}"])
    parts.append(markdown_table(header, rows))

    parts.append("## LLM side: transcript bits per token with and without speech")
    header = ["experiment", "without speech", "with speech", "reduction", "reduction share", "tokens"]
    rows = []
    for name, e in exps.items():
        llm = e["llm_entropy"]
        if "skipped" in llm:
            rows.append(_skip_row(name, llm, len(header)))
        else:
            rows.append([name, llm["bits_per_token_without_speech"], llm["bits_per_token_with_speech"],
                         llm["reduction_bits_per_token"], llm["reduction_share"], llm["num_tokens"]])
    parts.append(markdown_table(header, rows))

    parts.append("## Allocation of the entropy reduction (bits per transcript token)")
    header = ["experiment", "encoder side from", "encoder side E", "LLM side L", "encoder share",
              "LLM share", "E before capping", "capped"]
    rows = []
    for name, e in exps.items():
        for rep, a in e["allocation"].items():
            if "skipped" in a:
                rows.append([name, rep, f"skipped: {a['skipped']}"] + [None] * 5)
            else:
                rows.append([name, rep, a["encoder_side_bits"], a["llm_side_bits"], a["encoder_share"],
                             a["llm_share"], a["encoder_accessible_bits_per_token"], a["encoder_capped"]])
    parts.append(markdown_table(header, rows))

    trace_rows = []
    for name, e in exps.items():
        for kind, rows_ in e["training_traces"].items():
            ckas = [r.get("cka", r.get("cka_old_new")) for r in rows_]
            ckas = [c for c in ckas if isinstance(c, (int, float))]
            trace_rows.append([name, kind, len(rows_), min(ckas) if ckas else None, ckas[-1] if ckas else None])
    if trace_rows:
        parts += ["## Trainer traces", markdown_table(["experiment", "trace", "rows", "min CKA", "last CKA"], trace_rows)]
    if metrics.get("plots"):
        parts.append("Plots (next to this file): " + ", ".join(f"`{Path(p).name}`" for p in metrics["plots"]) + ".")
    return "\n\n".join(parts) + "\n"


def write_report(metrics: Dict, out_dir: Path, plots: bool = True) -> Dict:
    """Write plots (optional), ``metrics.json`` and ``summary.md`` into ``out_dir``.

    Args:
        metrics: output of ``run_analysis``.
        out_dir: directory (created).
        plots: also write PNG plots.

    Returns:
        ``metrics`` with ``plots`` (PNG paths) and ``outputs`` (all written files).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_files: List[str] = []
    if plots:
        from espnet_llm_entropy.analysis.plots import write_plots

        plot_files = [str(p) for p in write_plots(metrics, out_dir)]
    metrics = dict(json_safe(metrics))
    metrics["plots"] = plot_files
    metrics["outputs"] = [str(out_dir / METRICS_FILE), str(out_dir / SUMMARY_FILE)] + plot_files
    write_text_atomic(out_dir / SUMMARY_FILE, summary_markdown(metrics))
    write_text_atomic(out_dir / METRICS_FILE, json.dumps(metrics, indent=1, allow_nan=False) + "\n")
    return metrics


def load_metrics(path: Path) -> Dict:
    """Read a ``metrics.json`` back.

    Raises:
        FileNotFoundError / ValueError: missing or malformed file (path named).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no metrics file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from e


def analyze_experiments(
    exp_dirs: Union[str, Path, Sequence[Union[str, Path]]],
    data_dir: Union[str, Path],
    out_dir: Union[str, Path],
    **options,
) -> Dict:
    """Analyse experiments on a data dir and write ``metrics.json``, ``summary.md`` and plots.

    Args:
        exp_dirs: experiment directories (``config.yaml`` + checkpoints), or one.
        data_dir: Kaldi data dir (``wav.scp``, ``text``).
        out_dir: output directory (created).
        **options: fields of :class:`~espnet_llm_entropy.analysis.analysis_run.AnalysisOptions`
            (``reference_exp``, ``phone_exp``, ``max_utts``, ``max_frames`` ...).

    Returns:
        The metrics dict as written to ``metrics.json``, with ``plots`` and
        ``outputs`` (every written file).

    Raises:
        TypeError: for an unknown option.
        FileNotFoundError / ValueError: missing or unusable experiment, checkpoint or data dir.
    """
    opts = AnalysisOptions.from_kwargs(**options)
    if isinstance(exp_dirs, (str, Path)):
        exp_dirs = [exp_dirs]
    metrics = run_analysis([Path(p) for p in exp_dirs], Path(data_dir), opts)
    return write_report(metrics, Path(out_dir), plots=opts.plots)
