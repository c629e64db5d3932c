"""Streaming float64 covariance of frame features, chunk by chunk.

:class:`CovarianceAccumulator` keeps O(D^2) float64 sums (about a fixed
shift near the mean, for accuracy; see
:mod:`espnet_llm_entropy.metrics.cka_moments`) so that the spectral metrics
of :mod:`espnet_llm_entropy.metrics.spectral` can be computed over millions
of frames without holding them, and accumulators from several processes can
be merged.
"""

from __future__ import annotations

from typing import Dict

import torch

from espnet_llm_entropy.metrics.cka_moments import FeatureMoments
from espnet_llm_entropy.metrics.input_checks import check_features, check_width


class CovarianceAccumulator:
    """Mean, covariance and raw second moment of features seen in chunks.

    Args:
        dim: feature dimension D.
        device: where the float64 sums live.

    Example:
        >>> acc = CovarianceAccumulator(512)
        >>> for chunk in chunks:        # (C, 512) each
        ...     acc.update(chunk)
        >>> spectral_entropy(acc)       # see metrics.spectral
    """

    def __init__(self, dim: int, device: torch.device | str = "cpu") -> None:
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive int, got {dim!r}")
        self.dim = dim
        self.device = torch.device(device)
        self._moments = FeatureMoments(dim, self.device)

    @property
    def count(self) -> int:
        """Number of frames accumulated so far."""
        return self._moments.count

    def update(self, chunk: torch.Tensor) -> None:
        """Add a chunk of frames (empty chunks are ignored).

        Args:
            chunk: (C, D) features.

        Raises:
            ValueError: for non-2-D or non-finite input or a width other than D.
        """
        check_features(chunk, "chunk", min_rows=0)
        check_width(chunk, self.dim, "chunk")
        if chunk.shape[0] == 0:
            return
        self._moments.update(chunk, "chunk")

    def _require(self, min_count: int, what: str) -> None:
        if self.count < min_count:
            raise ValueError(
                f"CovarianceAccumulator: {what} needs at least {min_count} frames, got {self.count}"
            )

    def mean(self) -> torch.Tensor:
        """Mean feature vector, (D,) float64."""
        self._require(1, "the mean")
        return self._moments.mean()

    def covariance(self, ddof: int = 1) -> torch.Tensor:
        """Covariance matrix sum_i (x_i - m)(x_i - m)^T / (N - ddof), (D, D) float64."""
        self._require(ddof + 1, "the covariance")
        cov = self._moments.centered_gram() / (self.count - ddof)
        return (cov + cov.T) / 2

    def second_moment_sum(self) -> torch.Tensor:
        """Uncentred Gram sum sum_i x_i x_i^T = Z^T Z, (D, D) float64."""
        self._require(1, "the second moment")
        gram = self._moments.uncentered_gram()
        return (gram + gram.T) / 2

    def merge(self, other: "CovarianceAccumulator") -> "CovarianceAccumulator":
        """Add another accumulator's frames (same D) into this one, in place.

        Returns:
            self.

        Raises:
            TypeError: if ``other`` is not a CovarianceAccumulator.
            ValueError: if the dimensions differ.
        """
        if not isinstance(other, CovarianceAccumulator):
            raise TypeError(f"merge() expects a CovarianceAccumulator, got {type(other).__name__}")
        if other.dim != self.dim:
            raise ValueError(f"cannot merge dim {other.dim} into a CovarianceAccumulator of dim {self.dim}")
        theirs = other._moments
        if other.device != self.device:
            theirs = FeatureMoments(self.dim, self.device)
            theirs.load_state_dict(other._moments.state_dict())
        if theirs.count == 0:
            return self
        if self.count == 0:
            self._moments.load_state_dict(theirs.state_dict())
            return self
        self._moments.add_(theirs.reshifted(self._moments.shift))
        return self

    def state_dict(self) -> Dict:
        """Plain dict of tensors and ints describing the accumulated sums."""
        return {"dim": self.dim, "moments": self._moments.state_dict()}

    def load_state_dict(self, state: Dict) -> None:
        """Restore sums saved by :meth:`state_dict`.

        Raises:
            KeyError: if a key is missing.
            ValueError: if the saved dimension differs.
        """
        for key in ("dim", "moments"):
            if key not in state:
                raise KeyError(f"CovarianceAccumulator state_dict is missing key {key!r}")
        if int(state["dim"]) != self.dim:
            raise ValueError(f"CovarianceAccumulator state has dim {state['dim']}, expected {self.dim}")
        self._moments.load_state_dict(state["moments"], prefix="moments.")
