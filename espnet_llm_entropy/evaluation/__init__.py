"""Scoring: error rates on mixed units and hallucination metrics.

See :mod:`espnet_llm_entropy.evaluation.hallucination` for the definitions.
"""

from espnet_llm_entropy.evaluation.alignment import (
    EditCounts,
    align_counts,
    edit_distance_matrix,
    error_rate,
    lcs_length,
)
from espnet_llm_entropy.evaluation.hallucination import (
    HallucinationConfig,
    UtteranceHallucination,
    analyze_utterance,
    hallucination_report,
    is_hallucination,
    nonspeech_report,
)
from espnet_llm_entropy.evaluation.kaldi_files import durations_from_wav_scp, read_utt2dur
from espnet_llm_entropy.fileio.kaldi_map import read_kaldi_text
from espnet_llm_entropy.evaluation.length_ratio import summarize_length_ratios
from espnet_llm_entropy.evaluation.report_table import (
    hallucination_markdown,
    markdown_from_results,
    tables_markdown,
)
from espnet_llm_entropy.evaluation.text_units import normalize_text, text_to_units

__all__ = [
    "EditCounts",
    "align_counts",
    "edit_distance_matrix",
    "error_rate",
    "lcs_length",
    "HallucinationConfig",
    "UtteranceHallucination",
    "analyze_utterance",
    "hallucination_report",
    "is_hallucination",
    "nonspeech_report",
    "durations_from_wav_scp",
    "read_kaldi_text",
    "read_utt2dur",
    "summarize_length_ratios",
    "hallucination_markdown",
    "markdown_from_results",
    "tables_markdown",
    "normalize_text",
    "text_to_units",
]
