"""Tests of probes and accessible information (V-information, bits, held-out)."""

import math

import pytest
import torch

from espnet_llm_entropy.metrics.accessible_info import (
    accessible_information,
    prior_cross_entropy_bits,
    split_train_heldout,
)
from espnet_llm_entropy.metrics.probe import ProbeConfig, probe_cross_entropy_bits, train_probe


def gaussian_classes(n=1200, d=6, c=4, separation=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, c, (n,), generator=g)
    means = torch.randn(c, d, generator=g) * separation
    feats = means[labels] + torch.randn(n, d, generator=g)
    return feats, labels


def test_informative_features_beat_shuffled_labels():
    feats, labels = gaussian_classes()
    informative = accessible_information(feats, labels, num_classes=4, seed=0)
    shuffled_labels = labels[torch.randperm(labels.numel(), generator=torch.Generator().manual_seed(1))]
    shuffled = accessible_information(feats, shuffled_labels, num_classes=4, seed=0)
    # 4 roughly balanced classes: about 2 bits of label entropy
    assert 1.8 < informative["h_prior_bits"] < 2.1
    assert informative["info_bits"] > 0.5
    assert informative["info_bits"] == pytest.approx(
        informative["h_prior_bits"] - informative["h_conditional_bits"], abs=1e-12
    )
    assert informative["info_share"] == pytest.approx(
        informative["info_bits"] / informative["h_prior_bits"], abs=1e-12
    )
    assert abs(shuffled["info_bits"]) < 0.05
    assert informative["info_bits"] > shuffled["info_bits"] + 0.5
    assert informative["heldout_accuracy"] > 0.5 > shuffled["heldout_accuracy"]
    assert informative["num_train"] + informative["num_heldout"] == 1200
    assert informative["num_heldout"] == 240


def test_deterministic_with_seed():
    feats, labels = gaussian_classes(n=600, seed=3)
    first = accessible_information(feats, labels, 4, seed=11)
    second = accessible_information(feats, labels, 4, seed=11)
    other = accessible_information(feats, labels, 4, seed=12)
    assert first == second
    assert first["h_conditional_bits"] != other["h_conditional_bits"]


def test_mlp_probe_reaches_information_a_linear_probe_cannot():
    # XOR of two signs: no linear information, plenty for a 1-hidden-layer MLP
    g = torch.Generator().manual_seed(4)
    feats = torch.randn(800, 2, generator=g)
    labels = ((feats[:, 0] > 0) ^ (feats[:, 1] > 0)).long()
    linear = accessible_information(feats, labels, 2, probe="linear")
    mlp = accessible_information(
        feats, labels, 2, probe=ProbeConfig(kind="mlp", hidden_dim=16, steps=100)
    )
    assert abs(linear["info_bits"]) < 0.05
    assert mlp["info_bits"] > 0.4
    assert mlp["probe"]["kind"] == "mlp"


def test_adam_minibatch_probe_learns():
    feats, labels = gaussian_classes(n=800, seed=5)
    result = accessible_information(
        feats, labels, 4, probe=ProbeConfig(optimizer="adam", steps=150, batch_size=128, lr=5e-2)
    )
    reference = accessible_information(feats, labels, 4)
    assert result["info_bits"] > 0.5
    assert result["info_bits"] == pytest.approx(reference["info_bits"], abs=0.15)


def test_subsampling_ignore_index_and_groups():
    feats, labels = gaussian_classes(n=1000, seed=6)
    labels = labels.clone()
    labels[:100] = -100
    groups = torch.arange(1000) // 10  # 100 "utterances" of 10 frames
    result = accessible_information(feats, labels, 4, groups=groups, heldout_fraction=0.25)
    assert result["num_train"] + result["num_heldout"] == 900
    assert result["num_heldout"] % 10 == 0  # whole groups only
    sub = accessible_information(feats, labels, 4, max_frames=300)
    assert sub["num_train"] + sub["num_heldout"] == 300


def test_grouped_split_keeps_groups_on_one_side():
    groups = torch.arange(200) // 7
    train_idx, heldout_idx = split_train_heldout(200, 0.3, torch.Generator().manual_seed(0), groups)
    assert set(groups[train_idx].tolist()).isdisjoint(groups[heldout_idx].tolist())
    assert train_idx.numel() + heldout_idx.numel() == 200
    assert len(set(groups[heldout_idx].tolist())) == round(0.3 * 29)


def test_prior_cross_entropy_by_hand():
    # train counts (2, 1) + 0.5 each -> p = (2.5/4, 1.5/4); held-out label 1 costs -log2(0.375)
    train = torch.tensor([0, 0, 1])
    assert prior_cross_entropy_bits(train, torch.tensor([1]), 2) == pytest.approx(-math.log2(0.375))
    # a class unseen in train stays finite with smoothing, infinite without
    assert math.isfinite(prior_cross_entropy_bits(train, torch.tensor([2]), 3))
    with pytest.raises(ValueError, match="prior_smoothing=0"):
        prior_cross_entropy_bits(train, torch.tensor([2]), 3, smoothing=0.0)


def test_probe_cross_entropy_in_bits():
    feats, labels = gaussian_classes(n=400, seed=7)
    probe = train_probe(feats, labels, 4, ProbeConfig(steps=50))
    stats = probe_cross_entropy_bits(probe, feats, labels)
    with torch.no_grad():
        nats = torch.nn.functional.cross_entropy(probe(feats), labels).item()
    assert stats["cross_entropy_bits"] == pytest.approx(nats / math.log(2), rel=1e-5)
    assert 0.0 <= stats["accuracy"] <= 1.0


def test_training_leaves_global_rng_alone():
    feats, labels = gaussian_classes(n=200, seed=8)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_probe(feats, labels, 4, ProbeConfig(steps=5))
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(labels=torch.full((50,), 4)), ValueError, r"\[0, num_classes=4\)"),
        (dict(labels=torch.zeros(50)), TypeError, "integer tensor"),
        (dict(labels=torch.zeros(49, dtype=torch.long)), ValueError, r"expected shape \(50,\)"),
        (dict(probe="forest"), ValueError, "unknown probe 'forest'"),
        (dict(probe=ProbeConfig(batch_size=8)), ValueError, "L-BFGS trains on the full batch"),
        (dict(probe=ProbeConfig(optimizer="sgd")), ValueError, "unknown optimizer 'sgd'"),
        (dict(heldout_fraction=1.0), ValueError, r"heldout_fraction must be in \(0, 1\)"),
        (dict(features=torch.full((50, 3), float("nan"))), ValueError, "non-finite"),
        (dict(num_classes=1), ValueError, "num_classes must be >= 2"),
        (dict(groups=torch.zeros(50, dtype=torch.long)), ValueError, "empty train or held-out"),
    ],
)
def test_bad_input(kwargs, error, match):
    args = dict(features=torch.randn(50, 3), labels=torch.randint(0, 4, (50,)), num_classes=4)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        accessible_information(**args)
