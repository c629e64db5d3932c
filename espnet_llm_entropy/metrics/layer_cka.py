"""Layer-by-layer linear CKA matrices between two models or two checkpoints.

Entry (i, j) of the matrix is ``linear_cka(feats_a[i], feats_b[j])`` where
every list entry holds the features of the *same* N frames at one layer,
e.g. the encoder layers of two checkpoints run on one evaluation set, or the
encoder layers against the LLM layers (after aligning their frame rates).

:func:`cka_matrix` keeps one D_a x D_b cross matrix in memory at a time.
:class:`CKAMatrixAccumulator` is the streaming form: it must keep all
La * Lb cross matrices (memory ``8 * sum_ij D_a,i * D_b,j`` bytes, e.g.
12 x 12 layers at D = 512 is 302 MB) plus one D x D matrix per layer.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import torch

from espnet_llm_entropy.metrics.cka import (
    ONE_SHOT_CHUNK_ROWS,
    centre_moments,
    check_enough_frames,
    checked_self_hsic,
)
from espnet_llm_entropy.metrics.cka_moments import CrossMoments, FeatureMoments
from espnet_llm_entropy.metrics.hsic import cross_hsic
from espnet_llm_entropy.metrics.input_checks import (
    as_float64,
    check_features,
    check_width,
)


def _check_layer_list(feats: Sequence[torch.Tensor], name: str, min_rows: int) -> int:
    """Validate a list of per-layer (N, D_l) features and return N."""
    if isinstance(feats, torch.Tensor) or not isinstance(feats, Sequence):
        raise TypeError(
            f"{name}: expected a list/tuple of (N, D_l) tensors, one per layer, "
            f"got {type(feats).__name__}"
        )
    if len(feats) == 0:
        raise ValueError(f"{name}: expected at least one layer, got an empty list")
    n_rows = None
    for index, feat in enumerate(feats):
        check_features(feat, f"{name}[{index}]", min_rows=min_rows)
        if n_rows is None:
            n_rows = feat.shape[0]
        elif feat.shape[0] != n_rows:
            raise ValueError(
                f"{name}[{index}] has {feat.shape[0]} rows (frames) but {name}[0] has "
                f"{n_rows}: every layer must describe the same frames"
            )
    return int(n_rows)


def _shifted(x: torch.Tensor, side: FeatureMoments) -> Tuple[torch.Tensor, torch.Tensor]:
    """Shifted float64 chunk (C, D) and its squared row norms (C,)."""
    u = as_float64(x, side.device) - side.shift
    return u, (u * u).sum(dim=1)


def _layer_moments(x: torch.Tensor) -> FeatureMoments:
    side = FeatureMoments(x.shape[1])
    for start in range(0, x.shape[0], ONE_SHOT_CHUNK_ROWS):
        side.update(x[start : start + ONE_SHOT_CHUNK_ROWS])
    return side


def cka_matrix(
    feats_a: Sequence[torch.Tensor],
    feats_b: Optional[Sequence[torch.Tensor]] = None,
    unbiased: bool = False,
) -> torch.Tensor:
    """Linear CKA between every layer of ``feats_a`` and every layer of ``feats_b``.

    Args:
        feats_a: La tensors, entry i of shape (N, D_a,i).
        feats_b: Lb tensors, entry j of shape (N, D_b,j), the same N frames;
            ``None`` compares ``feats_a`` with itself (the symmetric matrix is
            filled from its upper triangle).
        unbiased: use the unbiased HSIC estimator.

    Returns:
        (La, Lb) float64 tensor, entry (i, j) = linear_cka(feats_a[i], feats_b[j]).

    Raises:
        TypeError: if a list is not a sequence of tensors.
        ValueError: for empty lists, non-2-D or non-finite layers, layers with
            different N, too few frames, or a constant layer.
    """
    n_a = _check_layer_list(feats_a, "feats_a", 1)
    symmetric = feats_b is None
    feats_b = feats_a if symmetric else feats_b
    n_b = _check_layer_list(feats_b, "feats_b", 1)
    if n_a != n_b:
        raise ValueError(f"feats_a layers have N={n_a} frames but feats_b layers have N={n_b}")
    check_enough_frames(n_a, unbiased, "feats_a/feats_b")

    sides_a = [_layer_moments(x) for x in feats_a]
    sides_b = sides_a if symmetric else [_layer_moments(y) for y in feats_b]
    centred_a = [centre_moments(s) for s in sides_a]
    centred_b = centred_a if symmetric else [centre_moments(s) for s in sides_b]
    self_a = [checked_self_hsic(c, unbiased, f"feats_a[{i}]") for i, c in enumerate(centred_a)]
    self_b = (
        self_a
        if symmetric
        else [checked_self_hsic(c, unbiased, f"feats_b[{j}]") for j, c in enumerate(centred_b)]
    )

    out = torch.empty(len(feats_a), len(feats_b), dtype=torch.float64)
    for i, x in enumerate(feats_a):
        for j, y in enumerate(feats_b):
            if symmetric and j < i:
                out[i, j] = out[j, i]
                continue
            cross = CrossMoments(x.shape[1], y.shape[1])
            for start in range(0, n_a, ONE_SHOT_CHUNK_ROWS):
                stop = start + ONE_SHOT_CHUNK_ROWS
                u, a = _shifted(x[start:stop], sides_a[i])
                v, b = _shifted(y[start:stop], sides_b[j])
                cross.update(u, a, v, b)
            cross_c = cross.reshifted(
                sides_a[i], sides_b[j], centred_a[i].shift, centred_b[j].shift
            )
            hxy = cross_hsic(centred_a[i], centred_b[j], cross_c, unbiased)
            out[i, j] = float(hxy / torch.sqrt(self_a[i] * self_b[j]))
    return out


class CKAMatrixAccumulator:
    """Streaming layer-by-layer linear CKA matrix over chunks of frames.

    Args:
        dims_a: feature dimension of each layer of model/checkpoint A.
        dims_b: feature dimension of each layer of model/checkpoint B.
        unbiased: default estimator for :meth:`compute`.
        device: where the float64 sums live.

    Memory is ``8 * (sum_i D_a,i^2 + sum_j D_b,j^2 + sum_ij D_a,i D_b,j)``
    bytes, independent of the number of frames.
    """

    def __init__(
        self,
        dims_a: Sequence[int],
        dims_b: Sequence[int],
        unbiased: bool = False,
        device: torch.device | str = "cpu",
    ) -> None:
        for name, dims in (("dims_a", dims_a), ("dims_b", dims_b)):
            if len(dims) == 0 or any(not isinstance(d, int) or d < 1 for d in dims):
                raise ValueError(f"{name} must be a non-empty list of positive ints, got {dims!r}")
        self.dims_a = [int(d) for d in dims_a]
        self.dims_b = [int(d) for d in dims_b]
        self.unbiased = bool(unbiased)
        self.device = torch.device(device)
        self._a = [FeatureMoments(d, self.device) for d in self.dims_a]
        self._b = [FeatureMoments(d, self.device) for d in self.dims_b]
        self._ab = [[CrossMoments(da, db, self.device) for db in self.dims_b] for da in self.dims_a]

    @property
    def count(self) -> int:
        """Number of frames accumulated so far."""
        return self._a[0].count

    def update(self, chunks_a: Sequence[torch.Tensor], chunks_b: Sequence[torch.Tensor]) -> None:
        """Add one chunk of frames for every layer.

        Args:
            chunks_a: La tensors (C, D_a,i) for the same C frames.
            chunks_b: Lb tensors (C, D_b,j) for those frames.

        Raises:
            ValueError: for a wrong number of layers, widths, mismatched C or
                non-finite values.
        """
        for name, chunks, dims in (("chunks_a", chunks_a, self.dims_a), ("chunks_b", chunks_b, self.dims_b)):
            if isinstance(chunks, torch.Tensor) or len(chunks) != len(dims):
                got = "a tensor" if isinstance(chunks, torch.Tensor) else f"{len(chunks)} layers"
                raise ValueError(f"{name}: expected a list of {len(dims)} layer chunks, got {got}")
        n_a = _check_layer_list(chunks_a, "chunks_a", 0)
        n_b = _check_layer_list(chunks_b, "chunks_b", 0)
        if n_a != n_b:
            raise ValueError(f"chunks_a have {n_a} rows but chunks_b have {n_b}")
        for i, chunk in enumerate(chunks_a):
            check_width(chunk, self.dims_a[i], f"chunks_a[{i}]")
        for j, chunk in enumerate(chunks_b):
            check_width(chunk, self.dims_b[j], f"chunks_b[{j}]")
        if n_a == 0:
            return
        shifted_a = [side.update(c, f"chunks_a[{i}]") for i, (side, c) in enumerate(zip(self._a, chunks_a))]
        shifted_b = [side.update(c, f"chunks_b[{j}]") for j, (side, c) in enumerate(zip(self._b, chunks_b))]
        for i, (u, a) in enumerate(shifted_a):
            for j, (v, b) in enumerate(shifted_b):
                self._ab[i][j].update(u, a, v, b)

    def compute(self, unbiased: Optional[bool] = None) -> torch.Tensor:
        """CKA matrix of all frames seen.

        Args:
            unbiased: estimator; defaults to the constructor's choice.

        Returns:
            (La, Lb) float64 CPU tensor.
        """
        use_unbiased = self.unbiased if unbiased is None else bool(unbiased)
        check_enough_frames(self.count, use_unbiased, "CKAMatrixAccumulator")
        centred_a = [centre_moments(s) for s in self._a]
        centred_b = [centre_moments(s) for s in self._b]
        self_a = [checked_self_hsic(c, use_unbiased, f"layer a[{i}]") for i, c in enumerate(centred_a)]
        self_b = [checked_self_hsic(c, use_unbiased, f"layer b[{j}]") for j, c in enumerate(centred_b)]
        out = torch.empty(len(self.dims_a), len(self.dims_b), dtype=torch.float64)
        for i in range(len(self.dims_a)):
            for j in range(len(self.dims_b)):
                cross_c = self._ab[i][j].reshifted(
                    self._a[i], self._b[j], centred_a[i].shift, centred_b[j].shift
                )
                hxy = cross_hsic(centred_a[i], centred_b[j], cross_c, use_unbiased)
                out[i, j] = float(hxy / torch.sqrt(self_a[i] * self_b[j]))
        return out

    def merge(self, other: "CKAMatrixAccumulator") -> "CKAMatrixAccumulator":
        """Add another accumulator's frames (same layer dims) into this one.

        Args:
            other: accumulator with identical ``dims_a`` and ``dims_b``; unchanged.

        Returns:
            self.

        Raises:
            TypeError: if ``other`` has the wrong type.
            ValueError: if the layer dimensions differ.
        """
        if not isinstance(other, CKAMatrixAccumulator):
            raise TypeError(f"merge() expects a CKAMatrixAccumulator, got {type(other).__name__}")
        if (other.dims_a, other.dims_b) != (self.dims_a, self.dims_b):
            raise ValueError(
                f"cannot merge CKAMatrixAccumulator with dims {other.dims_a} x {other.dims_b} "
                f"into one with dims {self.dims_a} x {self.dims_b}"
            )
        if other.device != self.device:
            moved = CKAMatrixAccumulator(self.dims_a, self.dims_b, self.unbiased, self.device)
            moved.load_state_dict(other.state_dict())
            other = moved
        if other.count == 0:
            return self
        if self.count == 0:
            self.load_state_dict(other.state_dict())
            return self
        # Cross sums first: re-expressing them needs the other's per-layer sums
        # about its own (old) shifts.
        for i in range(len(self.dims_a)):
            for j in range(len(self.dims_b)):
                self._ab[i][j].add_(
                    other._ab[i][j].reshifted(
                        other._a[i], other._b[j], self._a[i].shift, self._b[j].shift
                    )
                )
        for mine, theirs in zip(self._a + self._b, other._a + other._b):
            mine.add_(theirs.reshifted(mine.shift))
        return self

    def state_dict(self) -> Dict:
        """Plain dict of tensors and ints describing the accumulated sums."""
        return {
            "dims_a": list(self.dims_a),
            "dims_b": list(self.dims_b),
            "unbiased": self.unbiased,
            "a": [s.state_dict() for s in self._a],
            "b": [s.state_dict() for s in self._b],
            "ab": [[c.state_dict() for c in row] for row in self._ab],
        }

    def load_state_dict(self, state: Dict) -> None:
        """Restore sums saved by :meth:`state_dict`.

        Raises:
            KeyError: if a key is missing.
            ValueError: if the saved layer dimensions differ.
        """
        for key in ("dims_a", "dims_b", "a", "b", "ab"):
            if key not in state:
                raise KeyError(f"CKAMatrixAccumulator state_dict is missing key {key!r}")
        if (list(state["dims_a"]), list(state["dims_b"])) != (self.dims_a, self.dims_b):
            raise ValueError(
                f"CKAMatrixAccumulator state has dims {state['dims_a']} x {state['dims_b']}, "
                f"expected {self.dims_a} x {self.dims_b}"
            )
        self.unbiased = bool(state.get("unbiased", self.unbiased))
        for i, side in enumerate(self._a):
            side.load_state_dict(state["a"][i], prefix=f"a[{i}].")
        for j, side in enumerate(self._b):
            side.load_state_dict(state["b"][j], prefix=f"b[{j}].")
        for i, row in enumerate(self._ab):
            for j, cross in enumerate(row):
                cross.load_state_dict(state["ab"][i][j], prefix=f"ab[{i}][{j}].")


def layer_dims(feats: Sequence[torch.Tensor]) -> List[int]:
    """Feature dimension of each layer, for building a :class:`CKAMatrixAccumulator`."""
    return [int(f.shape[-1]) for f in feats]
