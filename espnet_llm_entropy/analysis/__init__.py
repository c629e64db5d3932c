"""The entropy-allocation analysis of trained ESPnet experiments.

This is the ESPnet-aware runner: it loads experiments through ESPnet's task
(:mod:`.experiment_loading`), reads Kaldi data dirs (:mod:`.data_dir_batches`),
captures representations with forward hooks (:mod:`.extract`), and writes the
report (:mod:`.report`, :mod:`.plots`), the error diagnosis
(:mod:`.error_diagnosis`) and learning curves (:mod:`.learning_curves`).

The metrics themselves (CKA, spectra, probes, allocation) are the pure layer
:mod:`espnet_llm_entropy.metrics`; for convenience its public names are also
reachable here, lazily (``espnet_llm_entropy.analysis.linear_cka`` is
``espnet_llm_entropy.metrics.linear_cka``), so importing this package imports
neither torch nor ESPnet until something is used.
"""

from __future__ import annotations

from typing import Any, List

from espnet_llm_entropy import metrics as _metrics

__all__ = list(_metrics.__all__)


def __getattr__(name: str) -> Any:
    if name not in _metrics.__all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_metrics, name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(__all__))
