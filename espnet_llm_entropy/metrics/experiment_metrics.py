"""Final metrics of one experiment from its :class:`ExperimentStatistics`.

Every entry is either the metric library's output (plain floats/ints, JSON
ready) or ``{"skipped": "<reason>"}`` when the metric cannot be computed
(no CTC head to align phones with, no LLM, too few frames, speech that did
not lower the LLM's entropy ...), so that a report always says why a number
is missing.
"""

from __future__ import annotations

from typing import Dict, Optional

from espnet_llm_entropy.metrics.accessible_info import accessible_information
from espnet_llm_entropy.metrics.entropy_allocation import (
    allocation_from_measurements,
    llm_entropy_reduction,
)
from espnet_llm_entropy.metrics.representation_stats import ExperimentStatistics
from espnet_llm_entropy.metrics.spectral import spectral_metrics


def skipped(reason: str) -> Dict[str, str]:
    """The marker of a metric that was not computed."""
    return {"skipped": reason}


def representation_order(name: str):
    """Sort key: encoder layers, encoder output, adaptor, LLM layers (speech, then transcript)."""
    parts = name.split("_")
    if name.startswith("encoder_layer_"):
        return (0, int(parts[2]), "")
    if name == "encoder_output":
        return (1, 0, "")
    if name == "adaptor_output":
        return (2, 0, "")
    if name.startswith("llm_layer_"):
        return (3 if parts[3] == "speech" else 4, int(parts[2]), "")
    return (5, 0, name)


def spectral_report(stats: ExperimentStatistics) -> Dict[str, Dict]:
    """:func:`spectral_metrics` of every representation, in layer order."""
    out = {}
    for name in sorted(stats.covariances, key=representation_order):
        try:
            out[name] = spectral_metrics(stats.covariances[name])
        except ValueError as e:
            out[name] = skipped(str(e))
    return out


def phonetic_report(
    stats: ExperimentStatistics,
    num_classes: Optional[int],
    no_label_reason: Optional[str],
    probe: str = "linear",
    seed: int = 0,
    probe_max_frames: Optional[int] = None,
) -> Dict[str, Dict]:
    """Accessible phone information (bits per frame) of encoder and adaptor frames.

    Args:
        stats: the experiment's statistics (labelled frames).
        num_classes: size of the phone inventory the labels come from.
        no_label_reason: why there are no labels (None when there are).
        probe: probe family (``linear`` or ``mlp``).
        seed: split / training seed.
        probe_max_frames: random subset size for the probe (None: all kept frames).

    Returns:
        dict representation name -> :func:`accessible_information` output or a skip marker.
    """
    out = {}
    for name, frames in stats.probe_frames.items():
        if no_label_reason is not None:
            out[name] = skipped(no_label_reason)
            continue
        data = frames.tensors()
        if data is None:
            has_rep = name in stats.covariances
            out[name] = skipped("no labelled frames" if has_rep else f"the model has no {name.replace('_', ' ')}")
            continue
        features, labels, groups = data
        try:
            out[name] = accessible_information(
                features, labels, int(num_classes), probe=probe, groups=groups,
                max_frames=probe_max_frames, seed=seed,
            )
        except ValueError as e:
            out[name] = skipped(f"probe failed: {e}")
    return out


def llm_report(stats: ExperimentStatistics, has_llm: bool) -> Dict:
    """:func:`llm_entropy_reduction` over all utterances (or a skip marker)."""
    if not has_llm:
        return skipped("the model has no LLM")
    if not stats.scored_tokens:
        return skipped("no transcripts were scored")
    return llm_entropy_reduction(stats.nll_with_speech, stats.nll_without_speech, stats.scored_tokens)


def allocation_report(stats: ExperimentStatistics, phonetic: Dict[str, Dict], llm: Dict) -> Dict[str, Dict]:
    """:func:`allocation_from_measurements` for each probed representation.

    The encoder side uses the phone information of that representation, the
    LLM side the reduction R of :func:`llm_report`; phones and tokens are
    counted over all analysed utterances.
    """
    out = {}
    for name, info in phonetic.items():
        if "skipped" in llm:
            out[name] = skipped(f"no LLM-side measurement: {llm['skipped']}")
        elif "skipped" in info:
            out[name] = skipped(f"no phone information: {info['skipped']}")
        elif stats.num_phones <= 0:
            out[name] = skipped("no phone transcripts")
        else:
            try:
                out[name] = allocation_from_measurements(
                    info["info_bits"], stats.num_phones, int(llm["num_tokens"]), llm["reduction_bits_per_token"]
                )
            except ValueError as e:
                out[name] = skipped(str(e))
    return out
