"""Tests of spectral entropy, effective rank, RankMe and the covariance accumulator."""

import math

import numpy as np
import pytest
import torch

from espnet_llm_entropy.metrics.covariance import CovarianceAccumulator
from espnet_llm_entropy.metrics.spectral import (
    covariance_eigenvalues,
    effective_rank,
    rankme,
    spectral_entropy,
    spectral_metrics,
)


def random_orthogonal(d, seed):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    return q


def equal_variance_directions(k, d, seed, scale=3.0):
    """Rows +/- scale * e_i for i < k, rotated: covariance has exactly k equal eigenvalues."""
    rows = []
    for i in range(k):
        e = torch.zeros(d, dtype=torch.float64)
        e[i] = scale
        rows += [e, -e]
    return torch.stack(rows) @ random_orthogonal(d, seed) + 5.0


def test_isotropic_gaussian_nse_close_to_one():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(20000, 16, generator=g)
    nse = float(spectral_entropy(x))
    assert 0.995 < nse <= 1.0
    assert 15.5 < float(effective_rank(x)) <= 16.0


def test_rank_one_data_has_zero_entropy():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(500, 1, generator=g, dtype=torch.float64)
    v = torch.randn(1, 12, generator=g, dtype=torch.float64)
    x = z @ v + 2.0
    assert float(spectral_entropy(x)) == 0.0
    assert float(spectral_entropy(x, normalized=False)) == 0.0
    assert float(effective_rank(x)) == 1.0


@pytest.mark.parametrize("k,d", [(1, 5), (3, 8), (7, 7), (10, 32)])
def test_effective_rank_of_k_equal_eigenvalues_is_k(k, d):
    x = equal_variance_directions(k, d, seed=k + d)
    assert float(effective_rank(x)) == pytest.approx(k, abs=1e-9)
    assert float(spectral_entropy(x)) == pytest.approx(math.log(k) / math.log(d), abs=1e-10)


def test_matches_numpy_eigendecomposition():
    g = torch.Generator().manual_seed(2)
    scales = torch.tensor([5.0, 3, 1, 0.5, 0.2, 0.01], dtype=torch.float64)
    x = torch.randn(300, 6, generator=g, dtype=torch.float64) * scales
    x = x @ random_orthogonal(6, 3)
    lam = np.linalg.eigvalsh(np.cov(x.numpy(), rowvar=False))
    p = lam / lam.sum()
    h = -(p * np.log(p)).sum()
    assert float(spectral_entropy(x, normalized=False)) == pytest.approx(h, abs=1e-10)
    assert float(spectral_entropy(x)) == pytest.approx(h / math.log(6), abs=1e-10)
    assert float(effective_rank(x)) == pytest.approx(math.exp(h), abs=1e-9)
    eig = covariance_eigenvalues(x)
    assert torch.all(eig[:-1] >= eig[1:])


def test_scale_invariance():
    g = torch.Generator().manual_seed(4)
    x = torch.randn(200, 5, generator=g, dtype=torch.float64) * torch.arange(1, 6, dtype=torch.float64)
    assert float(spectral_entropy(7.0 * x)) == pytest.approx(float(spectral_entropy(x)), abs=1e-12)


def test_rankme_follows_paper_definition_on_uncentred_matrix():
    g = torch.Generator().manual_seed(5)
    scales = torch.linspace(0.1, 2, 10, dtype=torch.float64)
    z = torch.randn(400, 10, generator=g, dtype=torch.float64) * scales + 1.0
    sigma = torch.linalg.svdvals(z)  # direct SVD of the uncentred embeddings
    p = sigma / sigma.sum() + 1e-7
    expected = math.exp(-float((p * torch.log(p)).sum()))
    assert float(rankme(z)) == pytest.approx(expected, rel=1e-9)
    # uncentred: a mean offset changes RankMe but not the covariance-based effective rank
    assert float(effective_rank(z)) == pytest.approx(float(effective_rank(z - 1.0)), abs=1e-9)
    assert abs(float(rankme(z)) - float(rankme(z - 1.0))) > 0.1


def test_rankme_with_fewer_frames_than_dims_uses_min_n_d_values():
    g = torch.Generator().manual_seed(6)
    z = torch.randn(4, 9, generator=g, dtype=torch.float64)
    sigma = torch.linalg.svdvals(z)
    assert sigma.numel() == 4
    p = sigma / sigma.sum() + 1e-7
    assert float(rankme(z)) == pytest.approx(math.exp(-float((p * torch.log(p)).sum())), rel=1e-6)


def test_accumulator_equals_one_shot_and_merges():
    g = torch.Generator().manual_seed(7)
    mix = torch.randn(8, 8, generator=g, dtype=torch.float64)
    x = torch.randn(1000, 8, generator=g, dtype=torch.float64) @ mix
    x = x + torch.linspace(0, 30, 1000, dtype=torch.float64)[:, None]  # drifting mean
    acc = CovarianceAccumulator(8)
    for start, stop in [(0, 1), (1, 333), (333, 333), (333, 1000)]:
        acc.update(x[start:stop])
    assert acc.count == 1000
    assert torch.allclose(acc.covariance(), torch.cov(x.T), atol=1e-10, rtol=1e-10)
    assert torch.allclose(acc.mean(), x.mean(0), atol=1e-12)
    for fn in (spectral_entropy, effective_rank, rankme):
        assert float(fn(acc)) == pytest.approx(float(fn(x)), abs=1e-10)

    left, right = CovarianceAccumulator(8), CovarianceAccumulator(8)
    left.update(x[:400])
    right.update(x[400:])
    restored = CovarianceAccumulator(8)
    restored.load_state_dict(right.state_dict())
    merged = CovarianceAccumulator(8).merge(left).merge(restored)
    assert torch.allclose(merged.covariance(), torch.cov(x.T), atol=1e-10, rtol=1e-10)
    metrics = spectral_metrics(merged)
    assert metrics["num_frames"] == 1000 and metrics["dim"] == 8
    assert metrics["normalized_spectral_entropy"] == pytest.approx(float(spectral_entropy(x)), abs=1e-10)


@pytest.mark.parametrize(
    "fn,x,match",
    [
        (spectral_entropy, torch.zeros(10, 4), "no variance"),
        (effective_rank, torch.ones(10, 4) * 3.0, "no variance"),
        (rankme, torch.zeros(10, 4), "no variance"),
        (spectral_entropy, torch.randn(1, 4), "at least 2 frames"),
        (spectral_entropy, torch.randn(10, 1), "D >= 2"),
        (spectral_entropy, torch.randn(10), "2-D"),
        (effective_rank, torch.tensor([[1.0, float("nan")], [0.0, 1.0]]), "non-finite"),
    ],
)
def test_bad_input(fn, x, match):
    with pytest.raises(ValueError, match=match):
        fn(x)


def test_accumulator_errors():
    acc = CovarianceAccumulator(3)
    with pytest.raises(ValueError, match="chunk: expected 3 feature columns"):
        acc.update(torch.randn(4, 2))
    with pytest.raises(ValueError, match="cannot merge dim 2"):
        acc.merge(CovarianceAccumulator(2))
    with pytest.raises(TypeError, match="expected an \\(N, D\\) tensor or a CovarianceAccumulator"):
        spectral_entropy([[1.0, 2.0]])
    with pytest.raises(ValueError, match="eps must be >= 0"):
        rankme(torch.randn(5, 3), eps=-1.0)
    assert float(effective_rank(torch.randn(10, 1))) == 1.0
