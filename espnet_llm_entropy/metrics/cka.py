"""Linear centred kernel alignment (CKA) between two sets of frame features.

Linear CKA (Kornblith et al. 2019) compares representations ``x`` (N, D1) and
``y`` (N, D2) of the same N frames::

    CKA(x, y) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)),  K = X X^T, L = Y Y^T

With the biased HSIC estimator this is the feature-space expression
``||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` on centred features; it
lies in [0, 1], equals 1 for x == y, and is invariant to orthogonal
transforms and isotropic scaling of either side. With ``unbiased=True`` the
unbiased HSIC estimator of Song et al. (2012) is used (minibatch CKA, Nguyen
et al. 2021): it removes the positive bias that makes biased CKA of unrelated
features grow as D/N, and can be slightly negative.

Both forms are computed from O(D^2) float64 sums (see
:mod:`espnet_llm_entropy.metrics.hsic` for the derivation of the unbiased
feature-space form): cost O(N (D1 + D2)^2), memory O((D1 + D2)^2), never an
N x N Gram matrix. :class:`CKAAccumulator` collects the same sums chunk by
chunk, so CKA over millions of frames fits in memory, and accumulators from
several processes can be merged.
"""

from __future__ import annotations

from typing import Dict, Optional

import torch

from espnet_llm_entropy.metrics.cka_moments import CrossMoments, FeatureMoments, merge_pair
from espnet_llm_entropy.metrics.hsic import cross_hsic, has_zero_variance, min_frames, self_hsic
from espnet_llm_entropy.metrics.input_checks import (
    check_features,
    check_same_rows,
    check_width,
)

# Rows per internal chunk in the one-shot functions: bounds the float64 copy
# of the input (65536 x 1024 x 8 bytes = 512 MiB at most).
ONE_SHOT_CHUNK_ROWS = 65536


def _estimator_name(unbiased: bool) -> str:
    return "unbiased" if unbiased else "biased"


def check_enough_frames(n: int, unbiased: bool, what: str) -> None:
    """Raise a ValueError if ``n`` frames are too few for the estimator.

    Args:
        n: number of frames.
        unbiased: estimator choice.
        what: description used in the message (e.g. ``"x"``).
    """
    need = min_frames(unbiased)
    if n < need:
        raise ValueError(
            f"{what}: {_estimator_name(unbiased)} linear CKA needs at least {need} frames, got N={n}"
        )


def centre_moments(x: FeatureMoments) -> FeatureMoments:
    """Re-express one stream's sums about its exact mean (no cancellation)."""
    return x.reshifted(x.mean())


def checked_self_hsic(x_centred: FeatureMoments, unbiased: bool, name: str) -> torch.Tensor:
    """HSIC(K, K) of one stream, with a clear error where CKA is undefined.

    Args:
        x_centred: sums about the stream's mean (see :func:`centre_moments`).
        unbiased: estimator choice.
        name: stream name for messages.

    Raises:
        ValueError: if the stream is constant, or the unbiased estimate of
            HSIC(K, K) is not positive (too few frames for the dimension).
    """
    if has_zero_variance(x_centred):
        raise ValueError(
            f"{name} has zero variance (every frame is the same vector): CKA is undefined"
        )
    value = self_hsic(x_centred, unbiased)
    if not bool(value > 0):
        raise ValueError(
            f"{name}: the {_estimator_name(unbiased)} estimate of HSIC({name}, {name}) is "
            f"{float(value):.3g}, not positive, with N={x_centred.count} frames; CKA is undefined "
            "(use more frames or unbiased=False)"
        )
    return value


def cka_from_moments(
    x: FeatureMoments,
    y: FeatureMoments,
    xy: CrossMoments,
    unbiased: bool,
    x_name: str = "x",
    y_name: str = "y",
) -> torch.Tensor:
    """Linear CKA from accumulated sums.

    Args:
        x: sums of the x stream.
        y: sums of the y stream (same frames).
        xy: cross sums about the same shifts as ``x`` and ``y``.
        unbiased: use the unbiased HSIC estimator.
        x_name: name of x for messages.
        y_name: name of y for messages.

    Returns:
        0-dim float64 tensor.
    """
    check_enough_frames(x.count, unbiased, f"{x_name}/{y_name}")
    mean_x, mean_y = x.mean(), y.mean()
    xc, yc = x.reshifted(mean_x), y.reshifted(mean_y)
    xyc = xy.reshifted(x, y, mean_x, mean_y)
    hxx = checked_self_hsic(xc, unbiased, x_name)
    hyy = checked_self_hsic(yc, unbiased, y_name)
    return cross_hsic(xc, yc, xyc, unbiased) / torch.sqrt(hxx * hyy)


def linear_cka(x: torch.Tensor, y: torch.Tensor, unbiased: bool = False) -> torch.Tensor:
    """Linear CKA between two representations of the same frames.

    Computed in float64 in feature space (O(N D^2), no N x N matrix); large
    inputs are processed in chunks so the float64 copy stays bounded.

    Args:
        x: (N, D1) features.
        y: (N, D2) features of the same N frames.
        unbiased: use the unbiased HSIC estimator (Song et al. 2012).

    Returns:
        0-dim float64 tensor: in [0, 1] for the biased estimator; the unbiased
        one is centred on 0 for independent features and may be negative.

    Raises:
        TypeError: if an input is not a real tensor.
        ValueError: for non-2-D input, mismatched N, N < 2 (N < 4 unbiased),
            non-finite values, or a constant (zero-variance) input.
    """
    check_features(x, "x")
    check_features(y, "y")
    check_same_rows(x, y, "x", "y")
    check_enough_frames(x.shape[0], unbiased, "x/y")
    acc = CKAAccumulator(x.shape[1], y.shape[1], unbiased=unbiased)
    for start in range(0, x.shape[0], ONE_SHOT_CHUNK_ROWS):
        stop = start + ONE_SHOT_CHUNK_ROWS
        acc.update(x[start:stop], y[start:stop])
    return acc.compute()


class CKAAccumulator:
    """Streaming linear CKA over chunks of frames with O(D^2) memory.

    Feed chunks of the same frames from both representations with
    :meth:`update`; :meth:`compute` returns what :func:`linear_cka` would give
    on all frames concatenated (to float64 rounding). Accumulators filled on
    different processes/ranks combine with :meth:`merge`; their state
    round-trips through :meth:`state_dict` / :meth:`load_state_dict` (e.g.
    for ``torch.distributed.all_gather_object`` or a checkpoint).

    Memory: (D1 + D2)^2 + D1 * D2 float64 values plus O(D) vectors.

    Args:
        dim_x: D1, feature dimension of x.
        dim_y: D2, feature dimension of y.
        unbiased: default estimator for :meth:`compute` (the sums support both).
        device: where the float64 sums live (``"cuda"`` to accumulate on GPU).

    Example:
        >>> acc = CKAAccumulator(256, 512)
        >>> for x_chunk, y_chunk in chunks:   # (C, 256), (C, 512)
        ...     acc.update(x_chunk, y_chunk)
        >>> value = acc.compute()
    """

    def __init__(
        self,
        dim_x: int,
        dim_y: int,
        unbiased: bool = False,
        device: torch.device | str = "cpu",
    ) -> None:
        for name, dim in (("dim_x", dim_x), ("dim_y", dim_y)):
            if not isinstance(dim, int) or dim < 1:
                raise ValueError(f"{name} must be a positive int, got {dim!r}")
        self.dim_x = dim_x
        self.dim_y = dim_y
        self.unbiased = bool(unbiased)
        self.device = torch.device(device)
        self._x = FeatureMoments(dim_x, self.device)
        self._y = FeatureMoments(dim_y, self.device)
        self._xy = CrossMoments(dim_x, dim_y, self.device)

    @property
    def count(self) -> int:
        """Number of frames accumulated so far."""
        return self._x.count

    def update(self, x_chunk: torch.Tensor, y_chunk: torch.Tensor) -> None:
        """Add a chunk of frames (any number of rows; empty chunks are ignored).

        Args:
            x_chunk: (C, D1) features.
            y_chunk: (C, D2) features of the same C frames.

        Raises:
            ValueError: for non-2-D or non-finite chunks, mismatched C, or
                feature widths other than (D1, D2).
        """
        check_features(x_chunk, "x_chunk", min_rows=0)
        check_features(y_chunk, "y_chunk", min_rows=0)
        check_same_rows(x_chunk, y_chunk, "x_chunk", "y_chunk")
        check_width(x_chunk, self.dim_x, "x_chunk")
        check_width(y_chunk, self.dim_y, "y_chunk")
        if x_chunk.shape[0] == 0:
            return
        u, a = self._x.update(x_chunk, "x_chunk")
        v, b = self._y.update(y_chunk, "y_chunk")
        self._xy.update(u, a, v, b)

    def compute(self, unbiased: Optional[bool] = None) -> torch.Tensor:
        """Linear CKA of all frames seen.

        Args:
            unbiased: estimator; defaults to the constructor's choice.

        Returns:
            0-dim float64 tensor.

        Raises:
            ValueError: if too few frames were seen or a side is constant.
        """
        use_unbiased = self.unbiased if unbiased is None else bool(unbiased)
        check_enough_frames(self.count, use_unbiased, "CKAAccumulator")
        return cka_from_moments(self._x, self._y, self._xy, use_unbiased)

    def merge(self, other: "CKAAccumulator") -> "CKAAccumulator":
        """Add another accumulator's frames into this one (in place).

        Args:
            other: accumulator with the same (dim_x, dim_y); left unchanged.

        Returns:
            self, for chaining.

        Raises:
            TypeError: if ``other`` is not a CKAAccumulator.
            ValueError: if the dimensions differ.
        """
        if not isinstance(other, CKAAccumulator):
            raise TypeError(f"merge() expects a CKAAccumulator, got {type(other).__name__}")
        if (other.dim_x, other.dim_y) != (self.dim_x, self.dim_y):
            raise ValueError(
                f"cannot merge CKAAccumulator with dims ({other.dim_x}, {other.dim_y}) "
                f"into one with dims ({self.dim_x}, {self.dim_y})"
            )
        if other.device != self.device:
            moved = CKAAccumulator(self.dim_x, self.dim_y, self.unbiased, self.device)
            moved.load_state_dict(other.state_dict())
            other = moved
        merge_pair(self._x, self._y, self._xy, other._x, other._y, other._xy)
        return self

    def state_dict(self) -> Dict:
        """Plain dict of tensors and ints describing the accumulated sums."""
        return {
            "dim_x": self.dim_x,
            "dim_y": self.dim_y,
            "unbiased": self.unbiased,
            "x": self._x.state_dict(),
            "y": self._y.state_dict(),
            "xy": self._xy.state_dict(),
        }

    def load_state_dict(self, state: Dict) -> None:
        """Restore sums saved by :meth:`state_dict` (onto this object's device).

        Raises:
            KeyError: if a key is missing.
            ValueError: if the saved dimensions differ from this accumulator's.
        """
        for key in ("dim_x", "dim_y", "x", "y", "xy"):
            if key not in state:
                raise KeyError(f"CKAAccumulator state_dict is missing key {key!r}")
        if (int(state["dim_x"]), int(state["dim_y"])) != (self.dim_x, self.dim_y):
            raise ValueError(
                f"CKAAccumulator state has dims ({state['dim_x']}, {state['dim_y']}), "
                f"expected ({self.dim_x}, {self.dim_y})"
            )
        self.unbiased = bool(state.get("unbiased", self.unbiased))
        self._x.load_state_dict(state["x"], prefix="x.")
        self._y.load_state_dict(state["y"], prefix="y.")
        self._xy.load_state_dict(state["xy"], prefix="xy.")

