"""Validation of feature matrices passed to the analysis metrics.

Every public metric in :mod:`espnet_llm_entropy.analysis` checks its inputs
through these helpers, so that bad input fails early with a message naming the
argument and what was expected, instead of producing NaN or a silently wrong
number.
"""

from __future__ import annotations

import torch


def check_features(x: torch.Tensor, name: str, min_rows: int = 1) -> None:
    """Check that ``x`` is a finite real 2-D feature matrix.

    Args:
        x: (N, D) features, one row per frame.
        name: argument name used in error messages (e.g. ``"x"``).
        min_rows: smallest allowed N.

    Raises:
        TypeError: if ``x`` is not a torch.Tensor or not a real floating/integer
            tensor.
        ValueError: if ``x`` is not 2-D, has fewer than ``min_rows`` rows, no
            columns, or contains NaN/inf.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor of shape (N, D), got {type(x).__name__}")
    if x.is_complex() or x.dtype == torch.bool:
        raise TypeError(f"{name}: expected a real-valued tensor, got dtype {x.dtype}")
    if x.dim() != 2:
        raise ValueError(
            f"{name}: expected a 2-D tensor (N frames, D features), got shape {tuple(x.shape)}"
        )
    if x.shape[0] < min_rows:
        raise ValueError(f"{name}: needs at least {min_rows} rows (frames), got N={x.shape[0]}")
    if x.shape[1] < 1:
        raise ValueError(f"{name}: needs at least one feature column, got shape {tuple(x.shape)}")
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name}: contains {bad} non-finite values (NaN or inf)")


def check_same_rows(x: torch.Tensor, y: torch.Tensor, x_name: str, y_name: str) -> None:
    """Check that two feature matrices describe the same frames (same N).

    Args:
        x: (N, D1) features.
        y: (M, D2) features.
        x_name: name of ``x`` for error messages.
        y_name: name of ``y`` for error messages.

    Raises:
        ValueError: if N != M.
    """
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{x_name} and {y_name} must have the same number of rows (frames): "
            f"got {x.shape[0]} and {y.shape[0]}"
        )


def check_width(x: torch.Tensor, expected: int, name: str) -> None:
    """Check the feature dimension of a chunk against an accumulator's dimension.

    Args:
        x: (N, D) features.
        expected: required D.
        name: argument name for error messages.

    Raises:
        ValueError: if D differs from ``expected``.
    """
    if x.shape[1] != expected:
        raise ValueError(f"{name}: expected {expected} feature columns, got {x.shape[1]}")


def as_float64(x: torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """Detached float64 copy (or view) of ``x`` on ``device``, for accumulation.

    Args:
        x: any real tensor.
        device: where the accumulator keeps its sums.

    Returns:
        ``x`` as float64 on ``device``, detached from autograd.
    """
    return x.detach().to(device=device, dtype=torch.float64)
