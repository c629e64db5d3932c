"""Entropy-allocation metrics: linear CKA, spectral entropy, accessible information.

The pure layer of the analysis: functions of tensors, torch (and numpy)
only. Nothing here imports ESPnet, transformers, or another part of this
package besides :mod:`espnet_llm_entropy.metrics` itself, so ``train/`` (the
CKA monitor, hot swap, drift) and the ESPnet-aware runner in
:mod:`espnet_llm_entropy.analysis` both build on it; ``test/test_layering.py``
checks this.

Public API:

* CKA: :func:`linear_cka`, :class:`CKAAccumulator`, :func:`cka_matrix`,
  :class:`CKAMatrixAccumulator`
* spectra: :func:`spectral_entropy`, :func:`effective_rank`, :func:`rankme`,
  :func:`spectral_metrics`, :class:`CovarianceAccumulator`
* accessible information: :func:`accessible_information`,
  :class:`ProbeConfig`, :func:`train_probe`, :func:`probe_cross_entropy_bits`
* alignment: :func:`ctc_forced_align`, :func:`ctc_viterbi_path`,
  :func:`collapse_ctc_labels`
* allocation: :func:`llm_entropy_reduction`, :func:`allocation_summary`,
  :func:`allocation_from_measurements`

Names are resolved lazily (PEP 562), so ``import espnet_llm_entropy.metrics``
does not even import torch until a metric is used.
"""

from __future__ import annotations

import importlib
from typing import Any, Dict, List

# public name -> submodule that defines it
_EXPORTS: Dict[str, str] = {
    "linear_cka": "cka",
    "CKAAccumulator": "cka",
    "cka_matrix": "layer_cka",
    "CKAMatrixAccumulator": "layer_cka",
    "spectral_entropy": "spectral",
    "effective_rank": "spectral",
    "rankme": "spectral",
    "spectral_metrics": "spectral",
    "covariance_eigenvalues": "spectral",
    "CovarianceAccumulator": "covariance",
    "accessible_information": "accessible_info",
    "prior_cross_entropy_bits": "accessible_info",
    "ProbeConfig": "probe",
    "train_probe": "probe",
    "probe_cross_entropy_bits": "probe",
    "ctc_forced_align": "forced_align",
    "ctc_viterbi_path": "forced_align",
    "collapse_ctc_labels": "forced_align",
    "label_segments": "forced_align",
    "llm_entropy_reduction": "entropy_allocation",
    "allocation_summary": "entropy_allocation",
    "allocation_from_measurements": "entropy_allocation",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module_name}"), name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(__all__))
