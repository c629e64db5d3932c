"""Spectral entropy, effective rank and RankMe of frame representations.

Definitions (all computed in float64):

* **Spectral entropy** of features ``x`` (N, D): with ``lambda_1..lambda_D``
  the eigenvalues of the covariance of the *centred* features and
  ``p_i = lambda_i / sum_j lambda_j``, ``H = -sum_i p_i log p_i`` (nats,
  0 log 0 = 0). Normalized spectral entropy (NSE) is ``H / log D`` in
  [0, 1]: 1 when the variance is spread evenly over all D directions
  (isotropic), 0 when it lies on a single direction (rank 1). Note that with
  N <= D frames at most N - 1 eigenvalues are non-zero, so NSE cannot reach 1.
* **Effective rank** (Roy & Vetterli 2007) is ``exp(H)``: the effective rank
  of the covariance matrix (whose singular values are its eigenvalues); it
  equals k when the variance is spread evenly over k directions. (Roy &
  Vetterli's formula applied to the *data* matrix would use singular values
  sigma_i, not sigma_i^2, and gives a different number.)
* **RankMe** (Garrido et al. 2023, ICML, eq. 1): ``exp(-sum_k p_k log p_k)``
  with ``p_k = sigma_k(Z) / ||sigma(Z)||_1 + eps`` over the min(N, D) singular
  values of the embedding matrix Z itself, *not centred* (as in the paper;
  eps = 1e-7 there). The singular values are obtained as square roots of the
  eigenvalues of Z^T Z, so RankMe also streams.

Edge cases (decided here): eigenvalues are computed with ``eigvalsh``; those
below ``D * float64_eps * lambda_max`` (rounding noise, including slightly
negative ones) are set to 0, so exact rank-deficient data give exactly the
entropy of their non-zero spectrum (rank-1 data: NSE 0, effective rank 1).
Input with no variance at all (every frame identical, e.g. all zeros) has no
spectrum to normalise and raises ``ValueError`` rather than returning a
number that would look like a perfectly collapsed representation; RankMe
raises for an all-zero matrix. Normalized entropy needs D >= 2.

Every function takes either an (N, D) tensor or a
:class:`~espnet_llm_entropy.metrics.covariance.CovarianceAccumulator`
filled chunk by chunk, which gives the same value without holding the frames.
"""

from __future__ import annotations

import math
from typing import Dict, Union

import torch

from espnet_llm_entropy.metrics.covariance import CovarianceAccumulator
from espnet_llm_entropy.metrics.input_checks import check_features

FeatureSource = Union[torch.Tensor, CovarianceAccumulator]

# Rows per chunk when a full tensor is reduced to an accumulator.
_CHUNK_ROWS = 65536


def _as_accumulator(source: FeatureSource, name: str = "x") -> CovarianceAccumulator:
    """Wrap an (N, D) tensor into an accumulator (or return the accumulator)."""
    if isinstance(source, CovarianceAccumulator):
        return source
    if not isinstance(source, torch.Tensor):
        raise TypeError(
            f"{name}: expected an (N, D) tensor or a CovarianceAccumulator, "
            f"got {type(source).__name__}"
        )
    check_features(source, name, min_rows=1)
    acc = CovarianceAccumulator(source.shape[1])
    for start in range(0, source.shape[0], _CHUNK_ROWS):
        acc.update(source[start : start + _CHUNK_ROWS])
    return acc


def _clean_spectrum(eigenvalues: torch.Tensor, what: str) -> torch.Tensor:
    """Zero rounding-level eigenvalues; raise if nothing is left."""
    eigenvalues = eigenvalues.to(torch.float64)
    top = eigenvalues.max() if eigenvalues.numel() else torch.tensor(0.0, dtype=torch.float64)
    if not bool(top > 0):
        raise ValueError(
            f"{what}: the features have no variance (all eigenvalues are zero, e.g. every "
            "frame is the same vector); the spectrum is undefined"
        )
    tol = eigenvalues.numel() * torch.finfo(torch.float64).eps * top
    return torch.where(eigenvalues > tol, eigenvalues, torch.zeros_like(eigenvalues))


def covariance_eigenvalues(x: FeatureSource) -> torch.Tensor:
    """Eigenvalues of the (centred) covariance, descending, rounding noise zeroed.

    Args:
        x: (N, D) features with N >= 2, or a CovarianceAccumulator.

    Returns:
        (D,) float64 tensor, non-negative, sorted in descending order.

    Raises:
        ValueError: for fewer than 2 frames or zero variance.
    """
    acc = _as_accumulator(x)
    eig = torch.linalg.eigvalsh(acc.covariance(ddof=1)).flip(0)
    return _clean_spectrum(eig, "covariance_eigenvalues")


def entropy_of_spectrum(values: torch.Tensor) -> torch.Tensor:
    """Shannon entropy (nats) of a non-negative spectrum normalised to sum 1.

    Args:
        values: (K,) non-negative values with a positive sum.

    Returns:
        0-dim float64 tensor, ``-sum p log p`` with 0 log 0 = 0.
    """
    p = values.to(torch.float64) / values.sum()
    safe = torch.where(p > 0, p, torch.ones_like(p))
    return -(p * torch.log(safe)).sum()


def spectral_entropy(x: FeatureSource, normalized: bool = True) -> torch.Tensor:
    """Spectral entropy of the feature covariance.

    Args:
        x: (N, D) features (N >= 2) or a CovarianceAccumulator.
        normalized: divide by log D to get NSE in [0, 1] (needs D >= 2);
            otherwise return the entropy in nats.

    Returns:
        0-dim float64 tensor.

    Raises:
        ValueError: for N < 2, zero variance, non-finite input, or
            ``normalized`` with D = 1.
    """
    eig = covariance_eigenvalues(x)
    entropy = entropy_of_spectrum(eig)
    if not normalized:
        return entropy
    dim = eig.numel()
    if dim < 2:
        raise ValueError("spectral_entropy: normalized entropy needs D >= 2 features (log 1 = 0)")
    return entropy / math.log(dim)


def effective_rank(x: FeatureSource) -> torch.Tensor:
    """Effective rank exp(H) of the feature covariance (Roy & Vetterli 2007).

    Args:
        x: (N, D) features (N >= 2) or a CovarianceAccumulator.

    Returns:
        0-dim float64 tensor in [1, D].
    """
    return torch.exp(spectral_entropy(x, normalized=False))


def rankme(x: FeatureSource, eps: float = 1e-7) -> torch.Tensor:
    """RankMe (Garrido et al. 2023) of the *uncentred* embedding matrix.

    Args:
        x: (N, D) embeddings or a CovarianceAccumulator that saw them.
        eps: the paper's epsilon added to each normalised singular value.

    Returns:
        0-dim float64 tensor.

    Raises:
        ValueError: for an all-zero matrix or a negative eps.
    """
    if eps < 0:
        raise ValueError(f"rankme: eps must be >= 0, got {eps}")
    acc = _as_accumulator(x)
    eig = torch.linalg.eigvalsh(acc.second_moment_sum()).flip(0)
    eig = _clean_spectrum(eig, "rankme")[: min(acc.count, acc.dim)]
    sigma = torch.sqrt(eig)
    p = sigma / sigma.sum() + eps
    return torch.exp(-(p * torch.log(p)).sum())


def spectral_metrics(x: FeatureSource) -> Dict[str, float]:
    """NSE, spectral entropy (nats), effective rank and RankMe in one pass.

    Args:
        x: (N, D) features or a CovarianceAccumulator.

    Returns:
        dict with ``normalized_spectral_entropy`` (None when D = 1),
        ``spectral_entropy_nats``, ``effective_rank``, ``rankme``,
        ``num_frames`` and ``dim``.
    """
    acc = _as_accumulator(x)
    entropy = float(spectral_entropy(acc, normalized=False))
    return {
        "normalized_spectral_entropy": entropy / math.log(acc.dim) if acc.dim >= 2 else None,
        "spectral_entropy_nats": entropy,
        "effective_rank": math.exp(entropy),
        "rankme": float(rankme(acc)),
        "num_frames": acc.count,
        "dim": acc.dim,
    }
