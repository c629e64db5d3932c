"""Accessible information: V-information of frame labels given features, in bits.

Predictive V-information (Xu et al. 2020, ICLR) measures how much of the
uncertainty about a label Y a *restricted* family of predictors V can remove
when it sees features X::

    I_V(X -> Y) = H_V(Y | empty) - H_V(Y | X)

For a softmax probe with a bias term, the best predictor that sees no
features is the label marginal, so ``H_V(Y | empty)`` is the cross-entropy of
the label-marginal ("null") predictor and ``H_V(Y | X)`` that of the trained
probe. Both are estimated on a **held-out** split with predictors fitted on
the train split:

* ``h_prior_bits``: held-out cross-entropy of the train-split label
  frequencies, add-``prior_smoothing`` smoothed (0.5 = Krichevsky-Trofimov)
  so that a class absent from the train split keeps a finite cost;
* ``h_conditional_bits``: held-out cross-entropy of the probe;
* ``info_bits = h_prior_bits - h_conditional_bits`` and
  ``info_share = info_bits / h_prior_bits`` (fraction of the label entropy
  the probe removes).

Held-out estimates are honest but not clipped: an overfitting probe on
uninformative features gives ``info_bits`` slightly below 0, which is
reported as is. Frames of one utterance are strongly correlated; pass
``groups`` (e.g. utterance indices) to split by group so that no utterance
contributes to both sides.
"""

from __future__ import annotations

import math
from typing import Dict, Optional, Tuple, Union

import torch

from espnet_llm_entropy.metrics.input_checks import check_features
from espnet_llm_entropy.metrics.probe import (
    ProbeConfig,
    check_labels,
    probe_cross_entropy_bits,
    train_probe,
)

LN2 = math.log(2.0)


def prior_cross_entropy_bits(
    train_labels: torch.Tensor,
    heldout_labels: torch.Tensor,
    num_classes: int,
    smoothing: float = 0.5,
) -> float:
    """Held-out cross-entropy (bits) of the smoothed train label marginal.

    Args:
        train_labels: (N_train,) integer labels in [0, num_classes).
        heldout_labels: (N_heldout,) integer labels in [0, num_classes).
        num_classes: C.
        smoothing: pseudo-count added to every class (> 0 keeps unseen
            classes finite; 0 allowed when every held-out class occurs in train).

    Returns:
        Mean of ``-log2 p(y)`` over the held-out labels.

    Raises:
        ValueError: for negative smoothing, or an infinite cost (a held-out
            class with zero probability).
    """
    if smoothing < 0:
        raise ValueError(f"prior_smoothing must be >= 0, got {smoothing}")
    counts = torch.bincount(train_labels.long().cpu(), minlength=num_classes).double() + smoothing
    probs = counts / counts.sum()
    cost = -torch.log2(probs[heldout_labels.long().cpu()])
    if not bool(torch.isfinite(cost).all()):
        raise ValueError(
            "prior_smoothing=0 gives an infinite held-out cost: a held-out label never occurs "
            "in the train split; use prior_smoothing > 0"
        )
    return float(cost.mean())


def split_train_heldout(
    num_frames: int,
    heldout_fraction: float,
    generator: torch.Generator,
    groups: Optional[torch.Tensor] = None,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Random train/held-out split of frame indices, optionally by group.

    Args:
        num_frames: N.
        heldout_fraction: share of frames (or of groups) held out, in (0, 1).
        generator: seeded RNG.
        groups: optional (N,) integer group ids (e.g. utterance index); whole
            groups go to one side.

    Returns:
        ``(train_idx, heldout_idx)`` long tensors, both non-empty.

    Raises:
        ValueError: if either side would be empty.
    """
    if not 0.0 < heldout_fraction < 1.0:
        raise ValueError(f"heldout_fraction must be in (0, 1), got {heldout_fraction}")
    if groups is None:
        order = torch.randperm(num_frames, generator=generator)
        n_heldout = int(round(heldout_fraction * num_frames))
        if n_heldout < 1 or n_heldout >= num_frames:
            raise ValueError(
                f"heldout_fraction={heldout_fraction} of N={num_frames} frames leaves an empty "
                "train or held-out split; use more frames"
            )
        return order[n_heldout:].sort().values, order[:n_heldout].sort().values
    groups = groups.cpu()
    unique = torch.unique(groups)
    n_heldout_groups = int(round(heldout_fraction * unique.numel()))
    if n_heldout_groups < 1 or n_heldout_groups >= unique.numel():
        raise ValueError(
            f"heldout_fraction={heldout_fraction} of {unique.numel()} groups leaves an empty "
            "train or held-out split; use more groups (utterances)"
        )
    chosen = unique[torch.randperm(unique.numel(), generator=generator)[:n_heldout_groups]]
    is_heldout = torch.isin(groups, chosen)
    return torch.nonzero(~is_heldout).squeeze(1), torch.nonzero(is_heldout).squeeze(1)


def accessible_information(
    features: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    probe: Union[str, ProbeConfig] = "linear",
    heldout_fraction: float = 0.2,
    groups: Optional[torch.Tensor] = None,
    max_frames: Optional[int] = None,
    seed: int = 0,
    prior_smoothing: float = 0.5,
    ignore_index: Optional[int] = -100,
) -> Dict:
    """V-information (bits per frame) of integer labels accessible from features.

    Args:
        features: (N, D) frozen features, one row per frame.
        labels: (N,) integer labels in [0, num_classes); frames whose label is
            ``ignore_index`` are dropped first.
        num_classes: C (>= 2).
        probe: probe family name (a key of ``probe.PROBE_BUILDERS``: ``linear``
            or ``mlp``, trained with the default recipe) or a full ProbeConfig.
        heldout_fraction: share of frames (of groups when ``groups`` is given)
            used for evaluation.
        groups: optional (N,) integer group ids (utterances) for a grouped split.
        max_frames: if set and N is larger, a random subset of this many frames
            (drawn with ``seed``) is used, for big N.
        seed: seed of subsampling, split and probe training (the probe uses
            ``seed`` unless a ProbeConfig with its own seed is passed).
        prior_smoothing: pseudo-count of the label-marginal predictor.
        ignore_index: label value marking frames to drop (None: drop nothing).

    Returns:
        dict with ``h_prior_bits``, ``h_conditional_bits``, ``info_bits``,
        ``info_share`` (None when h_prior is 0), ``heldout_accuracy``,
        ``train_cross_entropy_bits``, ``num_train``, ``num_heldout``,
        ``num_classes``, ``probe`` (the ProbeConfig as a dict), ``seed``.

    Raises:
        TypeError / ValueError: for bad shapes, labels, options or too few frames.
    """
    config = ProbeConfig(kind=probe, seed=seed) if isinstance(probe, str) else probe
    if not isinstance(config, ProbeConfig):
        raise TypeError(f"probe: expected a probe name or a ProbeConfig, got {type(probe).__name__}")
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes!r}")
    check_features(features, "features", min_rows=2)
    if not isinstance(labels, torch.Tensor) or labels.dim() != 1 or labels.shape[0] != features.shape[0]:
        got = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"labels: expected shape ({features.shape[0]},), got {got}")
    if groups is not None and (
        not isinstance(groups, torch.Tensor) or groups.shape != labels.shape
    ):
        raise ValueError(f"groups: expected shape ({features.shape[0]},) like labels")
    if max_frames is not None and max_frames < 2:
        raise ValueError(f"max_frames must be >= 2 or None, got {max_frames}")

    keep = torch.ones_like(labels, dtype=torch.bool)
    if ignore_index is not None:
        keep = labels != ignore_index
    features, labels = features[keep], labels[keep]
    groups = None if groups is None else groups[keep]
    check_labels(labels, labels.shape[0], num_classes)

    generator = torch.Generator().manual_seed(seed)
    if max_frames is not None and labels.shape[0] > max_frames:
        subset = torch.randperm(labels.shape[0], generator=generator)[:max_frames].sort().values
        features, labels = features[subset], labels[subset]
        groups = None if groups is None else groups[subset]
    train_idx, heldout_idx = split_train_heldout(labels.shape[0], heldout_fraction, generator, groups)

    h_prior = prior_cross_entropy_bits(labels[train_idx], labels[heldout_idx], num_classes, prior_smoothing)
    model = train_probe(features[train_idx], labels[train_idx], num_classes, config)
    heldout = probe_cross_entropy_bits(model, features[heldout_idx], labels[heldout_idx])
    train = probe_cross_entropy_bits(model, features[train_idx], labels[train_idx])
    info = h_prior - heldout["cross_entropy_bits"]
    return {
        "h_prior_bits": h_prior,
        "h_conditional_bits": heldout["cross_entropy_bits"],
        "info_bits": info,
        "info_share": info / h_prior if h_prior > 0 else None,
        "heldout_accuracy": heldout["accuracy"],
        "train_cross_entropy_bits": train["cross_entropy_bits"],
        "num_train": int(train_idx.numel()),
        "num_heldout": int(heldout_idx.numel()),
        "num_classes": int(num_classes),
        "probe": config.to_dict(),
        "seed": int(seed),
    }
