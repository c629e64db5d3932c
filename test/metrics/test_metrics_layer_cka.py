"""Tests of layer-by-layer CKA matrices, one-shot and streaming."""

import pytest
import torch

from espnet_llm_entropy.metrics.cka import linear_cka
from espnet_llm_entropy.metrics.layer_cka import CKAMatrixAccumulator, cka_matrix, layer_dims


def toy_layers(n=120, seed=0):
    """Two 'models': B's layers are noisy transforms of A's, plus one unrelated layer."""
    g = torch.Generator().manual_seed(seed)
    a0 = torch.randn(n, 4, generator=g, dtype=torch.float64) + 2.0
    a1 = torch.relu(a0 @ torch.randn(4, 6, generator=g, dtype=torch.float64))
    a2 = a1 @ torch.randn(6, 3, generator=g, dtype=torch.float64)
    b0 = a0 + 0.1 * torch.randn(n, 4, generator=g, dtype=torch.float64)
    b1 = torch.randn(n, 5, generator=g, dtype=torch.float64)
    return [a0, a1, a2], [b0, b1]


@pytest.mark.parametrize("unbiased", [False, True])
def test_matrix_equals_pairwise_cka(unbiased):
    feats_a, feats_b = toy_layers()
    matrix = cka_matrix(feats_a, feats_b, unbiased=unbiased)
    assert matrix.shape == (3, 2) and matrix.dtype == torch.float64
    for i, x in enumerate(feats_a):
        for j, y in enumerate(feats_b):
            assert float(matrix[i, j]) == pytest.approx(float(linear_cka(x, y, unbiased)), abs=1e-12)
    # the noisy copy of a0 is the most similar layer of B to a0
    assert float(matrix[0, 0]) > 0.9 > float(matrix[0, 1])


def test_self_matrix_is_symmetric_with_unit_diagonal():
    feats_a, _ = toy_layers(seed=1)
    matrix = cka_matrix(feats_a)
    assert torch.allclose(matrix, matrix.T)
    assert torch.allclose(torch.diag(matrix), torch.ones(3, dtype=torch.float64))
    assert float(matrix[0, 2]) == pytest.approx(float(linear_cka(feats_a[0], feats_a[2])), abs=1e-12)


@pytest.mark.parametrize("unbiased", [False, True])
def test_streaming_matrix_equals_one_shot_and_merges(unbiased):
    feats_a, feats_b = toy_layers(n=150, seed=2)
    expected = cka_matrix(feats_a, feats_b, unbiased=unbiased)
    acc = CKAMatrixAccumulator(layer_dims(feats_a), layer_dims(feats_b), unbiased=unbiased)
    for start, stop in [(0, 3), (3, 70), (70, 71), (71, 150)]:
        acc.update([f[start:stop] for f in feats_a], [f[start:stop] for f in feats_b])
    assert torch.allclose(acc.compute(), expected, atol=1e-10, rtol=0)

    first = CKAMatrixAccumulator([4, 6, 3], [4, 5], unbiased=unbiased)
    second = CKAMatrixAccumulator([4, 6, 3], [4, 5], unbiased=unbiased)
    first.update([f[:90] for f in feats_a], [f[:90] for f in feats_b])
    second.update([f[90:] for f in feats_a], [f[90:] for f in feats_b])
    restored = CKAMatrixAccumulator([4, 6, 3], [4, 5])
    restored.load_state_dict(second.state_dict())
    first.merge(restored)
    assert first.count == 150
    assert torch.allclose(first.compute(), expected, atol=1e-10, rtol=0)


def test_errors():
    feats_a, feats_b = toy_layers()
    with pytest.raises(ValueError, match="at least one layer"):
        cka_matrix([], feats_b)
    with pytest.raises(TypeError, match="list/tuple"):
        cka_matrix(feats_a[0], feats_b)
    with pytest.raises(ValueError, match=r"feats_a\[1\] has 119 rows"):
        cka_matrix([feats_a[0], feats_a[1][:-1]], feats_b)
    with pytest.raises(ValueError, match="N=120 frames but feats_b layers have N=119"):
        cka_matrix(feats_a, [f[:-1] for f in feats_b])
    with pytest.raises(ValueError, match=r"feats_b\[0\].*non-finite"):
        cka_matrix(feats_a, [torch.full((120, 2), float("nan")), feats_b[1]])
    acc = CKAMatrixAccumulator([4, 6, 3], [4, 5])
    with pytest.raises(ValueError, match="expected a list of 2 layer chunks, got 1 layers"):
        acc.update([f[:5] for f in feats_a], [feats_b[0][:5]])
    with pytest.raises(ValueError, match=r"chunks_a\[2\]: expected 3 feature columns"):
        acc.update([feats_a[0][:5], feats_a[1][:5], feats_a[1][:5]], [f[:5] for f in feats_b])
    with pytest.raises(ValueError, match="cannot merge"):
        acc.merge(CKAMatrixAccumulator([4], [4, 5]))
