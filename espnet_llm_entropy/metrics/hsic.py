"""HSIC estimators with linear kernels, computed from feature-space moment sums.

With linear kernels K = X X^T and L = Y Y^T (N x N), the two estimators used
for CKA only need D x D quantities, so no N x N matrix is ever formed:

Biased HSIC (Gretton et al. 2005; Kornblith et al. 2019), with H the centring
matrix and Xc, Yc the centred features::

    HSIC_0(K, L) = tr(K H L H) / (N - 1)^2 = ||Yc^T Xc||_F^2 / (N - 1)^2

Unbiased HSIC (Song et al. 2012, used for minibatch CKA by Nguyen et al.
2021), with K~, L~ the Gram matrices with their diagonals set to zero and 1
the all-ones vector::

    HSIC_1(K, L) = [ tr(K~ L~) + (1^T K~ 1)(1^T L~ 1) / ((N-1)(N-2))
                     - 2/(N-2) * 1^T K~ L~ 1 ] / (N (N-3))

Feature-space form (derived here; ``a_i = ||x_i||^2``, ``b_i = ||y_i||^2``,
``s_x = sum_i x_i``, ``s_y = sum_i y_i``, ``P = Y^T X``):

* ``tr(K~ L~) = sum_{i != j} (x_i.x_j)(y_i.y_j) = ||P||_F^2 - sum_i a_i b_i``
* ``1^T K~ 1 = ||s_x||^2 - sum_i a_i``
* ``K~ 1 = X s_x - a``, so
  ``1^T K~ L~ 1 = (X s_x - a)^T (Y s_y - b)
  = s_x^T P^T s_y - s_x^T (X^T b) - s_y^T (Y^T a) + sum_i a_i b_i``

and for HSIC_1(K, K): ``tr(K~ K~) = ||X^T X||_F^2 - sum_i a_i^2``,
``1^T K~ K~ 1 = s_x^T (X^T X) s_x - 2 s_x^T (X^T a) + sum_i a_i^2``.

Everything is O(N D^2) to accumulate and O(D^2) memory. HSIC_1 with linear
kernels is invariant to shifting either feature stream by a constant vector
(it is a U-statistic of kernel differences), so these formulas may be applied
to the shifted sums kept by :class:`~.cka_moments.FeatureMoments`; callers
re-express the sums about the exact mean first, which minimises cancellation.
"""

from __future__ import annotations

import torch

from espnet_llm_entropy.metrics.cka_moments import CrossMoments, FeatureMoments


def biased_self_hsic(x: FeatureMoments) -> torch.Tensor:
    """HSIC_0(K, K) = ||Xc^T Xc||_F^2 / (N-1)^2 as a 0-dim float64 tensor."""
    n = x.count
    return (x.centered_gram() ** 2).sum() / (n - 1) ** 2


def biased_cross_hsic(x: FeatureMoments, y: FeatureMoments, xy: CrossMoments) -> torch.Tensor:
    """HSIC_0(K, L) = ||Yc^T Xc||_F^2 / (N-1)^2 as a 0-dim float64 tensor.

    Args:
        x: sums of the x stream (any shift).
        y: sums of the y stream (any shift).
        xy: cross sums about the same shifts.
    """
    n = x.count
    centered_cross = xy.cross - torch.outer(y.sum, x.sum) / n
    return (centered_cross**2).sum() / (n - 1) ** 2


def _unbiased_combine(
    n: int, trace_term: torch.Tensor, ones_k: torch.Tensor, ones_l: torch.Tensor, ones_kl: torch.Tensor
) -> torch.Tensor:
    return (trace_term + ones_k * ones_l / ((n - 1) * (n - 2)) - 2.0 * ones_kl / (n - 2)) / (
        n * (n - 3)
    )


def unbiased_self_hsic(x: FeatureMoments) -> torch.Tensor:
    """HSIC_1(K, K) from feature-space sums, 0-dim float64 tensor (N >= 4)."""
    n, s, c = x.count, x.sum, x.gram
    trace_term = (c**2).sum() - x.sq_norm_sq_sum
    ones_k = s @ s - x.sq_norm_sum
    ones_kk = s @ (c @ s) - 2.0 * (s @ x.weighted_sum) + x.sq_norm_sq_sum
    return _unbiased_combine(n, trace_term, ones_k, ones_k, ones_kk)


def unbiased_cross_hsic(x: FeatureMoments, y: FeatureMoments, xy: CrossMoments) -> torch.Tensor:
    """HSIC_1(K, L) from feature-space sums, 0-dim float64 tensor (N >= 4).

    Args:
        x: sums of the x stream (any shift).
        y: sums of the y stream (any shift).
        xy: cross sums about the same shifts.
    """
    n, sx, sy, p = x.count, x.sum, y.sum, xy.cross
    trace_term = (p**2).sum() - xy.ab_sum
    ones_k = sx @ sx - x.sq_norm_sum
    ones_l = sy @ sy - y.sq_norm_sum
    ones_kl = sy @ (p @ sx) - sx @ xy.u_b - sy @ xy.v_a + xy.ab_sum
    return _unbiased_combine(n, trace_term, ones_k, ones_l, ones_kl)


def min_frames(unbiased: bool) -> int:
    """Smallest N for which the chosen estimator is defined (2 biased, 4 unbiased)."""
    return 4 if unbiased else 2


def self_hsic(x: FeatureMoments, unbiased: bool) -> torch.Tensor:
    """HSIC(K, K) with the chosen estimator."""
    return unbiased_self_hsic(x) if unbiased else biased_self_hsic(x)


def cross_hsic(x: FeatureMoments, y: FeatureMoments, xy: CrossMoments, unbiased: bool) -> torch.Tensor:
    """HSIC(K, L) with the chosen estimator."""
    return unbiased_cross_hsic(x, y, xy) if unbiased else biased_cross_hsic(x, y, xy)


def has_zero_variance(x: FeatureMoments) -> bool:
    """Whether the stream is constant up to float64 rounding.

    The total centred variance is compared with the rounding error expected
    for features of the stream's magnitude, so constant features (all frames
    equal) are caught even when centring leaves a ~1e-30 residue.
    """
    n, dim = x.count, x.dim
    total = torch.trace(x.centered_gram())
    scale = x.mean().abs().max()
    tol = n * dim * (64.0 * torch.finfo(torch.float64).eps * scale) ** 2
    return bool(total <= tol)
