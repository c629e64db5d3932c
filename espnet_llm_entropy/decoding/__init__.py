"""Decoding guards against hallucination for LLM-based ASR.

Length budget from the audio duration, repetition-loop detection (a
``transformers`` stopping criterion and a trimming helper), and the
no-repeat n-gram / repetition penalty processors of ``transformers``
assembled from one config.

The pure-Python loop functions import nothing heavy; the names that need
``transformers`` (config builders, stopping criteria) are imported on first
access, so that scoring tools can use the loop detector without loading it.
"""

import importlib

from espnet_llm_entropy.decoding.repetition_loop import (
    RepetitionLoop,
    detect_repetition_loop,
    find_repetition_loop,
    trim_repetition_loop,
)

_LAZY = {
    "DecodingGuardConfig": "guard_config",
    "build_logits_processors": "guard_config",
    "build_stopping_criteria": "guard_config",
    "max_new_tokens_for_duration": "length_guard",
    "max_new_tokens_for_durations": "length_guard",
    "MaxNewTokensPerSequenceCriteria": "stopping",
    "RepetitionLoopStoppingCriteria": "stopping",
    "tail_loop_mask": "stopping",
}

__all__ = [
    "RepetitionLoop",
    "detect_repetition_loop",
    "find_repetition_loop",
    "trim_repetition_loop",
    *_LAZY,
]


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
