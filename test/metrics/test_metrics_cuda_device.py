"""The metrics give the CPU values when features and sums live on a CUDA device."""

import pytest
import torch

from espnet_llm_entropy.metrics import (
    CKAAccumulator,
    CKAMatrixAccumulator,
    CovarianceAccumulator,
    accessible_information,
    cka_matrix,
    ctc_forced_align,
    linear_cka,
    spectral_entropy,
)

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (none visible)")


def pair(n=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 12, generator=g) + 3.0
    y = torch.tanh(x @ torch.randn(12, 7, generator=g)) + 0.2 * torch.randn(n, 7, generator=g)
    return x, y


@pytest.mark.parametrize("unbiased", [False, True])
def test_cka_accumulator_on_cuda_matches_cpu(unbiased):
    x, y = pair()
    acc = CKAAccumulator(12, 7, unbiased=unbiased, device="cuda")
    acc.update(x[:150].cuda(), y[:150].cuda())
    acc.update(x[150:], y[150:])  # CPU chunks are moved to the accumulator's device
    expected = float(linear_cka(x, y, unbiased=unbiased))
    assert acc.compute().device.type == "cuda"
    assert float(acc.compute()) == pytest.approx(expected, abs=1e-10)
    assert float(linear_cka(x.cuda(), y.cuda(), unbiased=unbiased)) == pytest.approx(expected, abs=1e-10)
    cpu_half = CKAAccumulator(12, 7, unbiased=unbiased)
    cpu_half.update(x[:200], y[:200])
    gpu_half = CKAAccumulator(12, 7, unbiased=unbiased, device="cuda")
    gpu_half.update(x[200:].cuda(), y[200:].cuda())
    assert float(cpu_half.merge(gpu_half).compute()) == pytest.approx(expected, abs=1e-10)


def test_layer_cka_and_spectral_on_cuda():
    x, y = pair(seed=1)
    feats = [x.cuda(), y.cuda()]
    expected = cka_matrix([x, y])
    assert torch.allclose(cka_matrix(feats), expected, atol=1e-10)
    acc = CKAMatrixAccumulator([12, 7], [12, 7], device="cuda")
    acc.update(feats, feats)
    assert torch.allclose(acc.compute(), expected, atol=1e-10)
    cov = CovarianceAccumulator(12, device="cuda")
    cov.update(x.cuda())
    assert float(spectral_entropy(cov)) == pytest.approx(float(spectral_entropy(x)), abs=1e-10)


def test_probe_and_alignment_on_cuda():
    g = torch.Generator().manual_seed(2)
    labels = torch.randint(0, 3, (600,), generator=g)
    feats = torch.randn(3, 5, generator=g)[labels] + torch.randn(600, 5, generator=g)
    cpu = accessible_information(feats, labels, 3)
    gpu = accessible_information(feats.cuda(), labels.cuda(), 3)
    assert gpu["h_prior_bits"] == pytest.approx(cpu["h_prior_bits"], abs=1e-12)
    assert gpu["info_bits"] == pytest.approx(cpu["info_bits"], abs=0.02)
    log_probs = torch.log_softmax(torch.randn(40, 6, generator=g), dim=1)
    targets = torch.tensor([1, 3, 3, 5])
    on_gpu = ctc_forced_align(log_probs.cuda(), targets.cuda(), blank_handling="nearest")
    assert on_gpu.device.type == "cuda"
    assert on_gpu.cpu().tolist() == ctc_forced_align(log_probs, targets, blank_handling="nearest").tolist()
