"""Tests of one-shot linear CKA (biased and unbiased) against a naive Gram reference."""

import pytest
import torch

from espnet_llm_entropy.metrics.cka import linear_cka


# ---- naive N x N reference, deliberately literal (explicit H, zeroed diagonals) ----
def gram_hsic_biased(k, l):
    n = k.shape[0]
    h = torch.eye(n, dtype=k.dtype) - torch.full((n, n), 1.0 / n, dtype=k.dtype)
    return torch.trace(k @ h @ l @ h) / (n - 1) ** 2


def gram_hsic_unbiased(k, l):
    n = k.shape[0]
    k_t = k - torch.diag(torch.diag(k))
    l_t = l - torch.diag(torch.diag(l))
    ones = torch.ones(n, dtype=k.dtype)
    term1 = torch.trace(k_t @ l_t)
    term2 = (ones @ k_t @ ones) * (ones @ l_t @ ones) / ((n - 1) * (n - 2))
    term3 = 2.0 / (n - 2) * (ones @ k_t @ l_t @ ones)
    return (term1 + term2 - term3) / (n * (n - 3))


def gram_linear_cka(x, y, unbiased):
    x, y = x.double(), y.double()
    k, l = x @ x.T, y @ y.T
    hsic = gram_hsic_unbiased if unbiased else gram_hsic_biased
    return hsic(k, l) / torch.sqrt(hsic(k, k) * hsic(l, l))


def related_pair(n=60, d1=6, d2=9, seed=0, offset=0.0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d1, generator=g, dtype=torch.float64) + offset
    y = x @ torch.randn(d1, d2, generator=g, dtype=torch.float64)
    y = y + 0.7 * torch.randn(n, d2, generator=g, dtype=torch.float64) - offset
    return x, y


def random_orthogonal(d, seed):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    return q


@pytest.mark.parametrize("unbiased", [False, True])
@pytest.mark.parametrize("n,d1,d2,offset", [(30, 5, 8, 0.0), (41, 12, 3, 4.0), (8, 20, 20, -2.0)])
def test_matches_gram_reference(unbiased, n, d1, d2, offset):
    x, y = related_pair(n, d1, d2, seed=n, offset=offset)
    expected = gram_linear_cka(x, y, unbiased)
    got = linear_cka(x, y, unbiased=unbiased)
    assert got.dim() == 0 and got.dtype == torch.float64
    assert float(got) == pytest.approx(float(expected), abs=1e-10)


@pytest.mark.parametrize("unbiased", [False, True])
def test_self_similarity_is_one(unbiased):
    x, _ = related_pair(50, 7, 3, seed=1)
    assert float(linear_cka(x, x, unbiased=unbiased)) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("unbiased", [False, True])
def test_invariant_to_orthogonal_transform_of_either_side(unbiased):
    x, y = related_pair(80, 6, 6, seed=2)
    base = float(linear_cka(x, y, unbiased=unbiased))
    assert 0.05 < abs(base) < 0.99  # a non-trivial value, so invariance means something
    assert float(linear_cka(x @ random_orthogonal(6, 3), y, unbiased)) == pytest.approx(base, abs=1e-10)
    assert float(linear_cka(x, y @ random_orthogonal(6, 4), unbiased)) == pytest.approx(base, abs=1e-10)


@pytest.mark.parametrize("unbiased", [False, True])
def test_invariant_to_isotropic_scaling_and_shift(unbiased):
    x, y = related_pair(70, 5, 4, seed=5)
    base = float(linear_cka(x, y, unbiased=unbiased))
    assert float(linear_cka(3.5 * x, y, unbiased)) == pytest.approx(base, abs=1e-10)
    assert float(linear_cka(x, 1e-3 * y, unbiased)) == pytest.approx(base, abs=1e-10)
    assert float(linear_cka(x + 50.0, y - 7.0, unbiased)) == pytest.approx(base, abs=1e-9)


@pytest.mark.parametrize("unbiased", [False, True])
def test_changed_by_non_isotropic_scaling(unbiased):
    x, y = related_pair(200, 5, 5, seed=6)
    base = float(linear_cka(x, y, unbiased=unbiased))
    scaled = float(linear_cka(x * torch.tensor([10.0, 1.0, 1.0, 0.1, 0.1], dtype=torch.float64), y, unbiased))
    assert abs(scaled - base) > 1e-2


def test_independent_features_near_zero():
    g = torch.Generator().manual_seed(7)
    n, d = 8000, 16
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randn(n, d, generator=g, dtype=torch.float64)
    biased = float(linear_cka(x, y))
    unbiased = float(linear_cka(x, y, unbiased=True))
    # biased CKA of independent features is positive, of order D / N
    assert 0.0 < biased < 0.01
    assert abs(unbiased) < 2e-3
    assert abs(unbiased) < biased


def test_unbiased_removes_small_sample_bias():
    # few frames, many dims: biased CKA of independent features is large, unbiased is not
    g = torch.Generator().manual_seed(8)
    x = torch.randn(40, 30, generator=g, dtype=torch.float64)
    y = torch.randn(40, 30, generator=g, dtype=torch.float64)
    assert float(linear_cka(x, y)) > 0.3
    assert abs(float(linear_cka(x, y, unbiased=True))) < 0.1


def test_large_offset_is_accurate():
    # LLM hidden states carry huge constant offsets; shifts keep the sums accurate
    x, y = related_pair(500, 8, 8, seed=9)
    base_b = float(linear_cka(x, y))
    base_u = float(linear_cka(x, y, unbiased=True))
    big = torch.zeros(8, dtype=torch.float64)
    big[0] = 1e5
    assert float(linear_cka(x + big, y - big)) == pytest.approx(base_b, abs=1e-8)
    assert float(linear_cka(x + big, y - big, unbiased=True)) == pytest.approx(base_u, abs=1e-8)


def test_float32_input_computed_in_float64():
    x, y = related_pair(100, 6, 6, seed=10)
    assert float(linear_cka(x.float(), y.float())) == pytest.approx(
        float(linear_cka(x.float().double(), y.float().double())), abs=1e-12
    )


@pytest.mark.parametrize(
    "x,y,unbiased,match",
    [
        (torch.randn(10, 3), torch.randn(11, 3), False, "same number of rows"),
        (torch.randn(10), torch.randn(10, 3), False, "2-D"),
        (torch.randn(10, 3, 2), torch.randn(10, 3), False, "2-D"),
        (torch.randn(1, 3), torch.randn(1, 3), False, "at least 2 frames"),
        (torch.randn(3, 3), torch.randn(3, 3), True, "at least 4 frames"),
        (torch.tensor([[0.0, float("nan")], [1.0, 2.0]]), torch.randn(2, 2), False, "non-finite"),
        (torch.randn(5, 2), torch.tensor([[float("inf")]] * 5), False, "non-finite"),
        (torch.ones(6, 3), torch.randn(6, 3), False, "zero variance"),
        (torch.randn(6, 0), torch.randn(6, 3), False, "feature column"),
    ],
)
def test_bad_input_raises_value_error(x, y, unbiased, match):
    with pytest.raises(ValueError, match=match):
        linear_cka(x, y, unbiased=unbiased)


def test_non_tensor_raises_type_error():
    with pytest.raises(TypeError, match="x: expected a torch.Tensor"):
        linear_cka([[1.0, 2.0]] * 4, torch.randn(4, 2))
