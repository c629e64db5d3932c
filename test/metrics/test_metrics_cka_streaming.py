"""Tests of the streaming CKAAccumulator: chunks, merge, state round trip, errors."""

import io

import pytest
import torch

from espnet_llm_entropy.metrics.cka import CKAAccumulator, linear_cka


def correlated(n, d1, d2, seed, drift=0.0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d1, generator=g, dtype=torch.float64)
    # a slowly drifting mean: the first chunk's mean is far from the global one
    x = x + drift * torch.linspace(0, 1, n, dtype=torch.float64)[:, None]
    y = torch.tanh(x @ torch.randn(d1, d2, generator=g, dtype=torch.float64))
    y = y + 0.3 * torch.randn(n, d2, generator=g, dtype=torch.float64) + 3.0
    return x, y


def feed(acc, x, y, sizes):
    start = 0
    for size in sizes:
        acc.update(x[start : start + size], y[start : start + size])
        start += size
    assert start == x.shape[0]
    return acc


UNEVEN = [1, 7, 64, 3, 0, 125, 2, 98]  # sums to 300, includes an empty chunk


@pytest.mark.parametrize("unbiased", [False, True])
@pytest.mark.parametrize("drift", [0.0, 40.0])
def test_streaming_equals_one_shot(unbiased, drift):
    x, y = correlated(300, 10, 6, seed=1, drift=drift)
    acc = feed(CKAAccumulator(10, 6, unbiased=unbiased), x, y, UNEVEN)
    assert acc.count == 300
    expected = float(linear_cka(x, y, unbiased=unbiased))
    assert float(acc.compute()) == pytest.approx(expected, abs=1e-6)
    assert float(acc.compute()) == pytest.approx(expected, abs=1e-11)


def test_compute_can_override_estimator():
    x, y = correlated(200, 5, 5, seed=2)
    acc = feed(CKAAccumulator(5, 5), x, y, [50, 150])
    assert float(acc.compute(unbiased=True)) == pytest.approx(float(linear_cka(x, y, True)), abs=1e-11)
    assert float(acc.compute()) == pytest.approx(float(linear_cka(x, y, False)), abs=1e-11)


@pytest.mark.parametrize("unbiased", [False, True])
def test_merge_equals_single_accumulator(unbiased):
    x, y = correlated(300, 8, 4, seed=3, drift=25.0)
    single = feed(CKAAccumulator(8, 4, unbiased), x, y, UNEVEN)
    # three "ranks", each seeing a different slice (hence different internal shifts)
    slices = [(0, 5), (5, 180), (180, 300)]
    parts = [feed(CKAAccumulator(8, 4, unbiased), x[a:b], y[a:b], [b - a]) for a, b in slices]
    merged = CKAAccumulator(8, 4, unbiased)  # starts empty: adopts the first part
    for part in parts:
        merged.merge(part)
    merged.merge(CKAAccumulator(8, 4, unbiased))  # merging an empty one changes nothing
    assert merged.count == 300
    assert float(merged.compute()) == pytest.approx(float(single.compute()), abs=1e-10)
    # merged parts are unchanged
    assert parts[0].count == 5


def test_state_dict_round_trip_and_continue():
    x, y = correlated(200, 6, 6, seed=4)
    acc = feed(CKAAccumulator(6, 6, unbiased=True), x[:120], y[:120], [60, 60])
    buffer = io.BytesIO()
    torch.save(acc.state_dict(), buffer)
    buffer.seek(0)
    restored = CKAAccumulator(6, 6)
    restored.load_state_dict(torch.load(buffer))
    assert restored.unbiased is True and restored.count == 120
    restored.update(x[120:], y[120:])
    assert float(restored.compute()) == pytest.approx(float(linear_cka(x, y, unbiased=True)), abs=1e-10)


def test_float32_chunks_accumulate_in_float64():
    x, y = correlated(256, 6, 6, seed=5)
    x32, y32 = x.float(), y.float()
    acc = feed(CKAAccumulator(6, 6), x32, y32, [100, 156])
    assert acc._x.gram.dtype == torch.float64
    assert float(acc.compute()) == pytest.approx(float(linear_cka(x32.double(), y32.double())), abs=1e-11)


def test_errors():
    acc = CKAAccumulator(3, 2)
    with pytest.raises(ValueError, match="x_chunk: expected 3 feature columns, got 4"):
        acc.update(torch.randn(5, 4), torch.randn(5, 2))
    with pytest.raises(ValueError, match="same number of rows"):
        acc.update(torch.randn(5, 3), torch.randn(4, 2))
    with pytest.raises(ValueError, match="non-finite"):
        acc.update(torch.full((2, 3), float("nan")), torch.randn(2, 2))
    with pytest.raises(ValueError, match="at least 2 frames"):
        acc.compute()
    acc.update(torch.randn(3, 3), torch.randn(3, 2))
    with pytest.raises(ValueError, match="at least 4 frames"):
        acc.compute(unbiased=True)
    with pytest.raises(ValueError, match="cannot merge"):
        acc.merge(CKAAccumulator(2, 3))
    with pytest.raises(TypeError, match="CKAAccumulator"):
        acc.merge("not an accumulator")
    with pytest.raises(ValueError, match="expected \\(3, 2\\)"):
        acc.load_state_dict(CKAAccumulator(4, 2).state_dict())
    with pytest.raises(ValueError, match="dim_x must be a positive int"):
        CKAAccumulator(0, 2)
