"""Streaming float64 moment sums from which linear CKA is computed exactly.

Linear CKA needs, for features ``x`` (N, Dx) and ``y`` (N, Dy), only sums over
frames: sum of x, sum of y, X^T X, Y^T Y, Y^T X (biased form) and, for the
unbiased HSIC estimator, a few fourth-order sums of the squared row norms
``a_i = ||x_i||^2``, ``b_i = ||y_i||^2``: sum a, sum a^2, sum x_i a_i and
their cross-stream counterparts sum a_i b_i, sum x_i b_i, sum y_i a_i
(see :mod:`espnet_llm_entropy.metrics.hsic` for how they enter).
All of these are O(D^2) memory and can be updated chunk by chunk.

Numerical care: raw (uncentred) sums lose precision by cancellation when the
features have a large mean (LLM hidden states have dimensions with huge
constant offsets). Every sum is therefore kept about a fixed *shift* vector
(the mean of the first chunk seen): with ``u = x - shift`` the stored sums
are sum u, U^T U, ... HSIC, and hence CKA, is invariant to shifting either
feature stream, so any shift gives the same value; a shift near the mean
keeps the sums small. To merge accumulators with different shifts the sums
of one are re-expressed about the other's shift (:meth:`FeatureMoments.reshifted`,
:meth:`CrossMoments.reshifted`), which is exact polynomial algebra.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch

from espnet_llm_entropy.metrics.input_checks import as_float64, check_width


class FeatureMoments:
    """Float64 sums of one feature stream about a fixed shift vector.

    With ``u_i = x_i - shift`` and ``a_i = ||u_i||^2`` it holds
    ``count`` = N, ``sum`` = sum_i u_i (D,), ``gram`` = sum_i u_i u_i^T (D, D),
    ``sq_norm_sum`` = sum_i a_i, ``sq_norm_sq_sum`` = sum_i a_i^2 and
    ``weighted_sum`` = sum_i u_i a_i (D,). Memory is O(D^2) whatever N.

    Args:
        dim: feature dimension D.
        device: device where the sums live (chunks are moved there).
    """

    def __init__(self, dim: int, device: torch.device | str = "cpu") -> None:
        if int(dim) < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        self.dim = int(dim)
        self.device = torch.device(device)
        self.count = 0
        self.shift: Optional[torch.Tensor] = None
        kw = dict(dtype=torch.float64, device=self.device)
        self.sum = torch.zeros(self.dim, **kw)
        self.gram = torch.zeros(self.dim, self.dim, **kw)
        self.sq_norm_sum = torch.zeros((), **kw)
        self.sq_norm_sq_sum = torch.zeros((), **kw)
        self.weighted_sum = torch.zeros(self.dim, **kw)

    def update(self, x: torch.Tensor, name: str = "x") -> Tuple[torch.Tensor, torch.Tensor]:
        """Add a chunk of frames.

        Args:
            x: (C, D) chunk (already validated as finite and 2-D), C >= 1.
            name: argument name for error messages.

        Returns:
            ``(u, a)``: the shifted float64 chunk (C, D) and its squared row
            norms (C,), for updating cross-stream sums.
        """
        check_width(x, self.dim, name)
        x = x.detach().to(self.device)
        if self.shift is None:
            self.shift = as_float64(x, self.device).mean(dim=0)
        # one float64 copy per chunk: type promotion against the float64 shift
        u = torch.sub(x, self.shift)
        a = torch.linalg.vector_norm(u, dim=1).square_()
        self.count += u.shape[0]
        self.sum += u.sum(dim=0)
        self.gram.addmm_(u.T, u)
        self.sq_norm_sum += a.sum()
        self.sq_norm_sq_sum += a @ a
        self.weighted_sum.addmv_(u.T, a)
        return u, a

    def mean(self) -> torch.Tensor:
        """Mean feature vector (D,) of all frames seen (requires count >= 1)."""
        self._require_data()
        return self.shift + self.sum / self.count

    def centered_gram(self) -> torch.Tensor:
        """Centred scatter matrix sum_i (x_i - mean)(x_i - mean)^T, (D, D)."""
        self._require_data()
        return self.gram - torch.outer(self.sum, self.sum) / self.count

    def uncentered_gram(self) -> torch.Tensor:
        """Raw second-moment sum sum_i x_i x_i^T about the origin, (D, D)."""
        self._require_data()
        s = self.shift
        return (
            self.gram
            + torch.outer(self.sum, s)
            + torch.outer(s, self.sum)
            + self.count * torch.outer(s, s)
        )

    def reshifted(self, new_shift: torch.Tensor) -> "FeatureMoments":
        """Return a copy whose sums are taken about ``new_shift`` (exact).

        Args:
            new_shift: (D,) float64 vector.

        Returns:
            A new FeatureMoments describing the same frames.
        """
        self._require_data()
        d = new_shift.to(self.shift) - self.shift
        n = self.count
        s, c, a1, a2, w = self.sum, self.gram, self.sq_norm_sum, self.sq_norm_sq_sum, self.weighted_sum
        dd = d @ d
        ds = d @ s
        cd = c @ d
        out = FeatureMoments(self.dim, self.device)
        out.count = n
        out.shift = new_shift.to(self.shift).clone()
        out.sum = s - n * d
        out.gram = c - torch.outer(s, d) - torch.outer(d, s) + n * torch.outer(d, d)
        out.sq_norm_sum = a1 - 2 * ds + n * dd
        out.sq_norm_sq_sum = (
            a2 + 4 * (d @ cd) + n * dd * dd - 4 * (d @ w) + 2 * dd * a1 - 4 * dd * ds
        )
        out.weighted_sum = w - 2 * cd + dd * s - d * a1 + 2 * d * ds - n * dd * d
        return out

    def add_(self, other: "FeatureMoments") -> None:
        """Add another FeatureMoments that uses the *same* shift, in place."""
        self.count += other.count
        self.sum += other.sum
        self.gram += other.gram
        self.sq_norm_sum += other.sq_norm_sum
        self.sq_norm_sq_sum += other.sq_norm_sq_sum
        self.weighted_sum += other.weighted_sum

    def state_dict(self) -> Dict[str, torch.Tensor | int]:
        """Tensors and counts needed to restore this object."""
        return {
            "dim": self.dim,
            "count": self.count,
            "shift": None if self.shift is None else self.shift.clone(),
            "sum": self.sum.clone(),
            "gram": self.gram.clone(),
            "sq_norm_sum": self.sq_norm_sum.clone(),
            "sq_norm_sq_sum": self.sq_norm_sq_sum.clone(),
            "weighted_sum": self.weighted_sum.clone(),
        }

    def load_state_dict(self, state: Dict, prefix: str = "") -> None:
        """Restore from :meth:`state_dict` output.

        Args:
            state: the dict.
            prefix: key path used in error messages.

        Raises:
            KeyError: if a key is missing.
            ValueError: if the stored dimension differs from this object's.
        """
        keys = (
            "dim", "count", "shift", "sum", "gram", "sq_norm_sum", "sq_norm_sq_sum", "weighted_sum"
        )
        missing = [k for k in keys if k not in state]
        if missing:
            raise KeyError(f"{prefix}state_dict is missing keys {missing}")
        if int(state["dim"]) != self.dim:
            raise ValueError(
                f"{prefix}dim: state has dim {state['dim']}, this accumulator has {self.dim}"
            )
        kw = dict(dtype=torch.float64, device=self.device)
        self.count = int(state["count"])
        self.shift = None if state["shift"] is None else state["shift"].to(**kw).clone()
        for key in ("sum", "gram", "sq_norm_sum", "sq_norm_sq_sum", "weighted_sum"):
            setattr(self, key, state[key].to(**kw).clone())

    def _require_data(self) -> None:
        if self.count == 0 or self.shift is None:
            raise RuntimeError("no frames have been added yet (call update() first)")


class CrossMoments:
    """Float64 cross-stream sums between two shifted feature streams.

    With ``u_i = x_i - shift_x``, ``v_i = y_i - shift_y``, ``a_i = ||u_i||^2``,
    ``b_i = ||v_i||^2``: ``cross`` = sum_i v_i u_i^T (Dy, Dx),
    ``ab_sum`` = sum_i a_i b_i, ``u_b`` = sum_i u_i b_i (Dx,),
    ``v_a`` = sum_i v_i a_i (Dy,).

    Args:
        dim_x: Dx.
        dim_y: Dy.
        device: device of the sums.
    """

    def __init__(self, dim_x: int, dim_y: int, device: torch.device | str = "cpu") -> None:
        self.dim_x = int(dim_x)
        self.dim_y = int(dim_y)
        self.device = torch.device(device)
        kw = dict(dtype=torch.float64, device=self.device)
        self.cross = torch.zeros(self.dim_y, self.dim_x, **kw)
        self.ab_sum = torch.zeros((), **kw)
        self.u_b = torch.zeros(self.dim_x, **kw)
        self.v_a = torch.zeros(self.dim_y, **kw)

    def update(self, u: torch.Tensor, a: torch.Tensor, v: torch.Tensor, b: torch.Tensor) -> None:
        """Add a chunk given the shifted chunks and their squared row norms.

        Args:
            u: (C, Dx) shifted x chunk.
            a: (C,) squared row norms of ``u``.
            v: (C, Dy) shifted y chunk.
            b: (C,) squared row norms of ``v``.
        """
        self.cross.addmm_(v.T, u)
        self.ab_sum += a @ b
        self.u_b.addmv_(u.T, b)
        self.v_a.addmv_(v.T, a)

    def reshifted(
        self,
        x_old: FeatureMoments,
        y_old: FeatureMoments,
        new_shift_x: torch.Tensor,
        new_shift_y: torch.Tensor,
    ) -> "CrossMoments":
        """Copy of these sums about new shifts (exact).

        Args:
            x_old: the x-stream sums about the *current* x shift.
            y_old: the y-stream sums about the *current* y shift.
            new_shift_x: (Dx,) new x shift.
            new_shift_y: (Dy,) new y shift.

        Returns:
            New CrossMoments for the same frames.
        """
        d = new_shift_x.to(x_old.shift) - x_old.shift
        e = new_shift_y.to(y_old.shift) - y_old.shift
        n = x_old.count
        sx, sy = x_old.sum, y_old.sum
        a1, b1 = x_old.sq_norm_sum, y_old.sq_norm_sum
        p = self.cross
        dd, ee = d @ d, e @ e
        dsx, esy = d @ sx, e @ sy
        pd = p @ d
        pte = p.T @ e
        out = CrossMoments(self.dim_x, self.dim_y, self.device)
        out.cross = p - torch.outer(sy, d) - torch.outer(e, sx) + n * torch.outer(e, d)
        out.ab_sum = (
            self.ab_sum
            - 2 * (e @ self.v_a)
            + ee * a1
            - 2 * (d @ self.u_b)
            + 4 * (e @ pd)
            - 2 * ee * dsx
            + dd * b1
            - 2 * dd * esy
            + n * dd * ee
        )
        out.u_b = self.u_b - 2 * pte + ee * sx - d * b1 + 2 * d * esy - n * ee * d
        out.v_a = self.v_a - 2 * pd + dd * sy - e * a1 + 2 * e * dsx - n * dd * e
        return out

    def add_(self, other: "CrossMoments") -> None:
        """Add sums taken about the same shifts, in place."""
        self.cross += other.cross
        self.ab_sum += other.ab_sum
        self.u_b += other.u_b
        self.v_a += other.v_a

    def state_dict(self) -> Dict[str, torch.Tensor | int]:
        """Tensors needed to restore this object."""
        return {
            "dim_x": self.dim_x,
            "dim_y": self.dim_y,
            "cross": self.cross.clone(),
            "ab_sum": self.ab_sum.clone(),
            "u_b": self.u_b.clone(),
            "v_a": self.v_a.clone(),
        }

    def load_state_dict(self, state: Dict, prefix: str = "") -> None:
        """Restore from :meth:`state_dict` output.

        Raises:
            KeyError: if a key is missing.
            ValueError: if the stored dimensions differ.
        """
        missing = [k for k in ("dim_x", "dim_y", "cross", "ab_sum", "u_b", "v_a") if k not in state]
        if missing:
            raise KeyError(f"{prefix}state_dict is missing keys {missing}")
        if (int(state["dim_x"]), int(state["dim_y"])) != (self.dim_x, self.dim_y):
            raise ValueError(
                f"{prefix}dims: state has ({state['dim_x']}, {state['dim_y']}), "
                f"this accumulator has ({self.dim_x}, {self.dim_y})"
            )
        kw = dict(dtype=torch.float64, device=self.device)
        for key in ("cross", "ab_sum", "u_b", "v_a"):
            setattr(self, key, state[key].to(**kw).clone())


def merge_pair(
    x_self: FeatureMoments,
    y_self: FeatureMoments,
    xy_self: Optional[CrossMoments],
    x_other: FeatureMoments,
    y_other: FeatureMoments,
    xy_other: Optional[CrossMoments],
) -> None:
    """Add the (x, y, cross) sums of ``other`` into ``self`` in place.

    The other's sums are re-expressed about self's shifts first. Pass
    ``xy_* = None`` to merge only the per-stream sums. When ``self`` is
    empty it adopts the other's shifts.

    Args:
        x_self, y_self, xy_self: receiving sums.
        x_other, y_other, xy_other: sums to add (left unchanged).
    """
    if x_other.count == 0:
        return
    if x_self.count == 0:
        x_self.load_state_dict(x_other.state_dict())
        y_self.load_state_dict(y_other.state_dict())
        if xy_self is not None and xy_other is not None:
            xy_self.load_state_dict(xy_other.state_dict())
        return
    if xy_self is not None and xy_other is not None:
        xy_self.add_(xy_other.reshifted(x_other, y_other, x_self.shift, y_self.shift))
    x_self.add_(x_other.reshifted(x_self.shift))
    y_self.add_(y_other.reshifted(y_self.shift))
