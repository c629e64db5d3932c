"""Markdown tables of hallucination figures, in the style of ESPnet's RESULTS.md.

ESPnet's scoring tables look like ``|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|``
with one row per decoded set; these tables keep that shape so they can sit
next to the CER/WER tables:

- speech sets: ``|dataset|Snt|Unit|Halluc.%|Loop%|Empty%|LenRatio(mean)|
  LenRatio(median)|LenRatio(p95)|Err%|``
- non-speech sets: ``|dataset|Snt|Minutes|Output%|Units/min|Loop%|``

Percentages have one decimal, ratios two; a missing value prints as ``-``.
"""

from __future__ import annotations

import json
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

SPEECH_COLUMNS = (
    "dataset",
    "Snt",
    "Unit",
    "Halluc.%",
    "Loop%",
    "Empty%",
    "LenRatio(mean)",
    "LenRatio(median)",
    "LenRatio(p95)",
    "Err%",
)
NONSPEECH_COLUMNS = ("dataset", "Snt", "Minutes", "Output%", "Units/min", "Loop%")


def _num(value: Optional[float], scale: float = 1.0, digits: int = 1) -> str:
    if value is None or isinstance(value, bool) or not math.isfinite(value):
        return "-"
    return f"{value * scale:.{digits}f}"


def _table(columns: Sequence[str], rows: List[List[str]]) -> str:
    lines = ["|" + "|".join(columns) + "|", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["|" + "|".join(row) + "|" for row in rows]
    return "\n".join(lines) + "\n"


def speech_row(dataset: str, report: Dict[str, Any]) -> List[str]:
    """One table row from a ``hallucination_report`` result."""
    lengths = report["length_ratio"]
    return [
        dataset,
        str(report["n_utts"]),
        report["config"]["unit"],
        _num(report["hallucination"]["rate"], 100),
        _num(report["repetition_loop"]["rate"], 100),
        _num(report["empty_output"]["rate"], 100),
        _num(lengths["mean"], digits=2),
        _num(lengths["median"], digits=2),
        _num(lengths["percentiles"].get("p95"), digits=2),
        _num(report["error_rate"]["rate"], 100),
    ]


def nonspeech_row(dataset: str, report: Dict[str, Any]) -> List[str]:
    """One table row from a ``nonspeech_report`` result."""
    return [
        dataset,
        str(report["n_utts"]),
        _num(report["total_duration_s"], 1 / 60.0, 2),
        _num(report["with_output"]["rate"], 100),
        _num(report["units_per_minute"], digits=1),
        _num(report["repetition_loop"]["rate"], 100),
    ]


def hallucination_markdown(
    dataset: str,
    speech: Optional[Dict[str, Any]] = None,
    nonspeech: Optional[Dict[str, Any]] = None,
) -> str:
    """Markdown section(s) for one decoded set.

    Args:
        dataset: row label, e.g. ``decode_asr/test``.
        speech: a ``hallucination_report`` result, or None.
        nonspeech: a ``nonspeech_report`` result, or None.
    """
    return tables_markdown(
        [(dataset, speech)] if speech is not None else [],
        [(dataset, nonspeech)] if nonspeech is not None else [],
    )


def tables_markdown(
    speech_rows: Sequence[Tuple[str, Dict[str, Any]]] = (),
    nonspeech_rows: Sequence[Tuple[str, Dict[str, Any]]] = (),
) -> str:
    """Markdown tables with one row per decoded set (e.g. for a recipe's RESULTS.md).

    Args:
        speech_rows: (dataset, ``hallucination_report`` result) pairs; all
            must use the same unit and thresholds (one table, one legend).
        nonspeech_rows: (dataset, ``nonspeech_report`` result) pairs.
    """
    parts = []
    if speech_rows:
        configs = {json.dumps(report["config"], sort_keys=True) for _, report in speech_rows}
        if len(configs) > 1:
            raise ValueError(
                "speech reports use different units/thresholds; put them in separate tables"
            )
        conf = speech_rows[0][1]["config"]
        parts.append(
            f"### Hallucination ({conf['unit']} units)\n\n"
            f"Halluc.: hyp longer than {conf['length_ratio_threshold']:g} x ref and "
            f"LCS overlap < {conf['overlap_threshold']:g} of hyp units; "
            "Loop: output ends in a repeated n-gram; Err: edit errors / ref units.\n\n"
            + _table(SPEECH_COLUMNS, [speech_row(name, rep) for name, rep in speech_rows])
        )
    if nonspeech_rows:
        units = sorted({report["unit"] for _, report in nonspeech_rows})
        parts.append(
            f"### Output on non-speech input ({'/'.join(units)} units)\n\n"
            "Output: utterances with any output; Units/min: output units per minute "
            "of input audio.\n\n"
            + _table(NONSPEECH_COLUMNS, [nonspeech_row(name, rep) for name, rep in nonspeech_rows])
        )
    if not parts:
        raise ValueError("no speech or non-speech report to put in a table")
    return "\n".join(parts)


def markdown_from_results(results: Sequence[Dict[str, Any]]) -> str:
    """Tables from several ``hallucination.json`` contents (as written by the CLI).

    A result of a ``--nonspeech`` run goes into the non-speech table, any
    other into the speech table.
    """
    speech = [(r["dataset"], r["speech"]) for r in results if "speech" in r]
    nonspeech = [(r["dataset"], r["nonspeech"]) for r in results if "speech" not in r]
    return tables_markdown(speech, nonspeech)
