"""The report of a paradigm comparison: ``comparison.json``, ``comparison.md`` and PNG plots.

:func:`write_comparison_report` reads every run's ``metrics.json``,
aggregates them over seeds (:mod:`espnet_llm_entropy.comparison.aggregate`),
checks the paper's claims and writes

* ``comparison.json``: the aggregated metrics and the claim verdicts
  (strict JSON: NaN is stored as null),
* ``comparison.md``: tables of mean ± std per paradigm and metric, the
  claims with their verdicts, links to the plots,
* the plots of :mod:`espnet_llm_entropy.comparison.comparison_plots`.

Every file is written to a temporary sibling and renamed into place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from espnet_llm_entropy.analysis.report import json_safe
from espnet_llm_entropy.comparison.aggregate import (
    aggregate_runs,
    evaluate_claims,
    format_summary,
    read_run_metrics,
)
from espnet_llm_entropy.comparison.metric_catalog import METRIC_BY_KEY, TRAINED_PRETRAIN_MAX_ERROR
from espnet_llm_entropy.fileio.atomic import write_text_atomic

COMPARISON_JSON = "comparison.json"
COMPARISON_MD = "comparison.md"
DEFAULT_TITLE = "Comparison of training paradigms"

#: The tables of the report: (heading, metric keys). Keys of no group go to "Other metrics".
TABLE_GROUPS: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ("Recognition and hallucination", (
        "mer", "cer_zh", "wer_en", "mer_cs", "hallucination_rate",
        "nonspeech_output_rate", "nonspeech_units_per_min", "nonspeech_output_rate_nogate",
        "nonspeech_units_per_min_nogate",
    )),
    ("Entropy and representation", (
        "pretrained_encoder_nse", "encoder_nse", "encoder_effective_rank", "adaptor_nse",
        "adaptor_effective_rank", "drift_cka", "encoder_info_bits", "adaptor_info_bits",
        "llm_reduction_bits", "encoder_share",
    )),
    ("Training and cost", (
        "pretrain_dev_error", "final_dev_acc", "trainable_params", "total_params", "train_steps", "train_time_s",
    )),
)

VERDICT_RULE = (
    "A claim is *supported* when the difference of the means (paradigm − baseline) has the "
    "claimed sign and is larger than the larger of the two seed standard deviations, with at "
    "least 2 seeds on each side; *not supported* when it is that large with the opposite sign; "
    "*inconclusive* when it is within the seed spread. With a single seed only the direction "
    "is reported. This is a rule of thumb over few seeds, not a significance test."
)


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _header(key: str) -> str:
    spec = METRIC_BY_KEY.get(key)
    if spec is None:
        return key
    arrow = {"lower": " ↓", "higher": " ↑"}.get(spec.better or "", "")
    return spec.label + arrow


def _table(aggregated: dict, keys: Sequence[str]) -> List[str]:
    """Markdown table lines: one row per paradigm, one column per key, then the seed count."""
    lines = [
        "| paradigm | " + " | ".join(_cell(_header(k)) for k in keys) + " | seeds |",
        "|---|" + "---:|" * len(keys) + "---:|",
    ]
    for paradigm in aggregated["paradigms"]:
        entry = aggregated["by_paradigm"][paradigm]
        n_runs = len(entry["seeds"])
        cells = []
        for key in keys:
            summary = entry["metrics"][key]
            text = format_summary(summary, key)
            if 0 < summary["n"] < n_runs:
                text += f" (n={summary['n']})"
            cells.append(_cell(text))
        lines.append(f"| {_cell(paradigm)} | " + " | ".join(cells) + f" | {n_runs} |")
    return lines


def _metric_tables(aggregated: dict) -> List[str]:
    """The grouped tables; columns without any value are dropped and listed instead."""
    keys = list(aggregated["metrics"])
    grouped = {k for _, group in TABLE_GROUPS for k in group}
    groups = [(title, [k for k in group if k in keys]) for title, group in TABLE_GROUPS]
    others = [k for k in keys if k not in grouped]
    if others:
        groups.append(("Other metrics", others))
    by_paradigm = aggregated["by_paradigm"]
    lines: List[str] = []
    for title, group in groups:
        filled = [k for k in group if any(by_paradigm[p]["metrics"][k]["n"] > 0 for p in aggregated["paradigms"])]
        empty = [k for k in group if k not in filled]
        lines += [f"### {title}", ""]
        if filled:
            lines += _table(aggregated, filled)
        else:
            lines.append("No value in any run.")
        if empty and filled:
            lines += ["", "Not measured in any run: " + ", ".join(_header(k) for k in empty) + "."]
        lines.append("")
    return lines


def plateau_warnings(aggregated: dict, limit: float = TRAINED_PRETRAIN_MAX_ERROR) -> List[str]:
    """One line per paradigm with a seed whose pretraining ended above ``limit`` dev PER/CER."""
    lines = []
    for paradigm in aggregated["paradigms"]:
        summary = aggregated["by_paradigm"][paradigm]["metrics"].get("pretrain_dev_error")
        high = [v for v in (summary or {}).get("values", []) if v > limit]
        if high:
            shown = ", ".join(f"{100 * v:.1f}%" for v in high)
            lines.append(
                f"- **`{paradigm}`: pretraining barely trained.** {len(high)} of {summary['n']} seed(s) ended "
                f"pretraining at a dev PER/CER above {100 * limit:.0f}% ({shown}): its encoder has hardly left "
                "the CTC blank plateau, so figures of that encoder (NSE, CKA, phone information) and claims "
                "that involve it describe an encoder that has barely learned; give pretraining more updates."
            )
    return lines


def comparison_markdown(
    aggregated: dict,
    claims_result: List[dict],
    title: str = DEFAULT_TITLE,
    command: Optional[str] = None,
    machine: Optional[str] = None,
    budget_note: Optional[str] = None,
    plot_files: Sequence[str] = (),
    scope_notes: Sequence[str] = (),
) -> str:
    """The comparison as a markdown document.

    Args:
        aggregated: :func:`~espnet_llm_entropy.comparison.aggregate.aggregate_runs` output.
        claims_result: :func:`~espnet_llm_entropy.comparison.aggregate.evaluate_claims` output.
        title: the top heading.
        command: the command that produced the runs (shown verbatim).
        machine: a description of the machine the runs used.
        budget_note: the training budget (e.g. update steps per stage).
        plot_files: file names of the plots, relative to the markdown file.
        scope_notes: what this run can and cannot show (a quick or one-seed run), shown
            under "What this run can show" before the results.

    Returns:
        The document: header, paradigms, metric tables (mean ± sample std
        over seeds, ``–`` where not applicable), the claims with their
        verdicts and the plots.
    """
    lines = [f"# {title}", ""]
    for name, value in (("Command", command), ("Machine", machine), ("Step budget", budget_note)):
        if value:
            shown = f"`{value}`" if name == "Command" else value
            lines.append(f"- {name}: {shown}")
    if command or machine or budget_note:
        lines.append("")

    lines += ["## Paradigms", ""]
    if not aggregated["paradigms"]:
        lines += ["No run was found.", ""]
    for paradigm in aggregated["paradigms"]:
        entry = aggregated["by_paradigm"][paradigm]
        seeds = ", ".join(str(s) for s in entry["seeds"]) or "none"
        lines.append(f"- `{paradigm}`: {entry['label']} (seeds: {seeds})")
    lines.append("")

    if scope_notes:
        lines += ["## What this run can show", ""] + [f"- {note}" for note in scope_notes] + [""]

    lines += [
        "## Results", "",
        "Values are mean ± sample standard deviation over seeds (only the value with one seed); "
        "`–` means not applicable or not measured; `(n=k)` marks a value measured in only k of "
        "the paradigm's runs; ↓/↑: lower/higher is better. The last column is the number of seeds.",
        "",
    ]
    warnings = plateau_warnings(aggregated) if aggregated["paradigms"] else []
    if warnings:
        lines += warnings + [""]
    if aggregated["paradigms"]:
        lines += _metric_tables(aggregated)

    lines += ["## Claims of the paper", "", VERDICT_RULE, ""]
    if not claims_result:
        lines += ["No claim was checked.", ""]
    for i, claim in enumerate(claims_result, start=1):
        lines.append(f"{i}. **{claim['text']}** ({claim['metric']}: `{claim['paradigm']}` "
                     f"{claim['direction']} than `{claim['baseline']}`)")
        lines.append(f"   - Verdict: **{claim['verdict']}**. {claim['explanation']}")
    lines.append("")

    lines += ["## Plots", ""]
    if not plot_files:
        lines.append("No plot was drawn.")
    for name in plot_files:
        lines.append(f"- [{name}]({name})")
        lines.append(f"  ![{Path(name).stem}]({name})")
    lines.append("")
    return "\n".join(lines)


def write_comparison_report(
    out_dir: Path,
    runs_dir: Path,
    paradigm_order: Optional[Sequence[str]] = None,
    plots: bool = True,
    **markdown_kwargs,
) -> dict:
    """Read, aggregate and report every run under ``runs_dir`` into ``out_dir``.

    Args:
        out_dir: where ``comparison.json``, ``comparison.md`` and the PNGs go.
        runs_dir: the ``runs`` folder (``<paradigm>/seed<k>/metrics.json``).
        paradigm_order: paradigms in report order (default: as found).
        plots: draw the PNG plots.
        **markdown_kwargs: passed to :func:`comparison_markdown` (``title``,
            ``command``, ``machine``, ``budget_note``, ``scope_notes``).

    Returns:
        ``{"aggregated", "claims", "outputs"}``; ``outputs`` lists the
        written paths (plots, then the JSON and markdown files).
    """
    out_dir = Path(out_dir)
    runs = read_run_metrics(Path(runs_dir))
    aggregated = aggregate_runs(runs, paradigm_order)
    claims = evaluate_claims(aggregated)
    outputs: List[Path] = []
    if plots:
        from espnet_llm_entropy.comparison.comparison_plots import write_comparison_plots

        outputs += write_comparison_plots(out_dir, aggregated, runs)
    document = {"runs_dir": str(runs_dir), "aggregated": aggregated, "claims": claims}
    json_path = out_dir / COMPARISON_JSON
    write_text_atomic(json_path, json.dumps(json_safe(document), indent=1, allow_nan=False) + "\n")
    md_path = out_dir / COMPARISON_MD
    plot_names = [p.name for p in outputs]
    write_text_atomic(md_path, comparison_markdown(aggregated, claims, plot_files=plot_names, **markdown_kwargs))
    outputs += [json_path, md_path]
    return {"aggregated": aggregated, "claims": claims, "outputs": outputs}
