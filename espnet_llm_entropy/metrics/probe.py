"""Restricted predictors ("probes") for accessible-information estimates.

A probe maps frozen features (N, D) to logits over ``num_classes`` labels:
``linear`` is a standardisation followed by one affine layer (multinomial
logistic regression); ``mlp`` adds one hidden layer with GELU. Probes are
trained by minimising mean cross-entropy plus an L2 penalty on the weight
matrices (biases are not penalised, so the null "bias only" predictor stays
inside the family), either full-batch with L-BFGS (default; deterministic and
accurate for convex linear probes) or with Adam, full-batch or minibatch.

Cross-entropies are reported in **bits** (nats / ln 2). The family and the
training recipe define the predictive family V of V-information (Xu et al.
2020): a different family or regularisation measures a different quantity,
so record the :class:`ProbeConfig` next to every number.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable, Dict, Optional

import torch
from torch import nn

from espnet_llm_entropy.metrics.input_checks import check_features

LN2 = math.log(2.0)


@dataclass
class ProbeConfig:
    """How a probe is built and trained.

    Attributes:
        kind: probe family, a key of :data:`PROBE_BUILDERS` (``linear``, ``mlp``).
        hidden_dim: hidden width of the ``mlp`` probe.
        optimizer: a key of :data:`PROBE_TRAINERS` (``lbfgs``: full batch;
            ``adam``: full batch or minibatch).
        steps: L-BFGS iterations, or Adam update steps.
        lr: learning rate; None picks 1.0 for L-BFGS and 1e-2 for Adam.
        weight_decay: coefficient of the L2 penalty on weight matrices.
        batch_size: Adam minibatch size; None trains on the full batch.
            Must be None for L-BFGS.
        standardize: z-score features with train-split statistics first.
        seed: seed of initialisation and minibatch order.
    """

    kind: str = "linear"
    hidden_dim: int = 256
    optimizer: str = "lbfgs"
    steps: int = 100
    lr: Optional[float] = None
    weight_decay: float = 1e-4
    batch_size: Optional[int] = None
    standardize: bool = True
    seed: int = 0

    def to_dict(self) -> Dict:
        """Plain dict (for metrics.json)."""
        return asdict(self)


class FeatureProbe(nn.Module):
    """Standardisation (fixed buffers) followed by a classifier network.

    Args:
        mean: (D,) feature mean used for standardisation.
        std: (D,) feature scale used for standardisation.
        net: module mapping (N, D) to (N, num_classes) logits.
    """

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, net: nn.Module) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, C) for features x: (N, D)."""
        return self.net((x - self.mean) / self.std)


def _build_linear(dim: int, num_classes: int, config: ProbeConfig) -> nn.Module:
    return nn.Linear(dim, num_classes)


def _build_mlp(dim: int, num_classes: int, config: ProbeConfig) -> nn.Module:
    if config.hidden_dim < 1:
        raise ValueError(f"ProbeConfig.hidden_dim must be >= 1, got {config.hidden_dim}")
    return nn.Sequential(
        nn.Linear(dim, config.hidden_dim), nn.GELU(), nn.Linear(config.hidden_dim, num_classes)
    )


#: Probe families by name: (dim, num_classes, config) -> classifier module.
PROBE_BUILDERS: Dict[str, Callable[[int, int, ProbeConfig], nn.Module]] = {
    "linear": _build_linear,
    "mlp": _build_mlp,
}


def _weight_penalty(module: nn.Module) -> torch.Tensor:
    """Sum of squares of all weight matrices (parameters with dim >= 2)."""
    terms = [(p**2).sum() for p in module.parameters() if p.dim() >= 2]
    return torch.stack(terms).sum()


def _objective(probe: FeatureProbe, x: torch.Tensor, y: torch.Tensor, weight_decay: float) -> torch.Tensor:
    loss = nn.functional.cross_entropy(probe(x), y)
    return loss + weight_decay * _weight_penalty(probe.net)


def _train_lbfgs(probe: FeatureProbe, x: torch.Tensor, y: torch.Tensor, config: ProbeConfig) -> None:
    if config.batch_size is not None:
        raise ValueError(
            "ProbeConfig.batch_size: L-BFGS trains on the full batch; "
            "set batch_size=None or use optimizer='adam'"
        )
    optimizer = torch.optim.LBFGS(
        probe.net.parameters(),
        lr=1.0 if config.lr is None else config.lr,
        max_iter=config.steps,
        history_size=20,
        tolerance_grad=1e-9,
        tolerance_change=1e-12,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = _objective(probe, x, y, config.weight_decay)
        loss.backward()
        return loss

    optimizer.step(closure)


def _train_adam(probe: FeatureProbe, x: torch.Tensor, y: torch.Tensor, config: ProbeConfig) -> None:
    optimizer = torch.optim.Adam(probe.net.parameters(), lr=1e-2 if config.lr is None else config.lr)
    n = x.shape[0]
    batch = n if config.batch_size is None else int(config.batch_size)
    if batch < 1:
        raise ValueError(f"ProbeConfig.batch_size must be >= 1 or None, got {config.batch_size}")
    order = torch.randperm(n)
    cursor = 0
    for _ in range(config.steps):
        if batch >= n:
            idx = slice(None)
        else:
            if cursor + batch > n:
                order = torch.randperm(n)
                cursor = 0
            idx = order[cursor : cursor + batch]
            cursor += batch
        optimizer.zero_grad()
        loss = _objective(probe, x[idx], y[idx], config.weight_decay)
        loss.backward()
        optimizer.step()


#: Training procedures by name: (probe, x, y, config) -> None (trains in place).
PROBE_TRAINERS: Dict[str, Callable[[FeatureProbe, torch.Tensor, torch.Tensor, ProbeConfig], None]] = {
    "lbfgs": _train_lbfgs,
    "adam": _train_adam,
}


def check_labels(labels: torch.Tensor, num_rows: int, num_classes: int, name: str = "labels") -> None:
    """Check integer class labels (N,) in [0, num_classes).

    Raises:
        TypeError: if ``labels`` is not an integer tensor.
        ValueError: for a wrong shape or out-of-range labels.
    """
    if not isinstance(labels, torch.Tensor) or labels.dtype.is_floating_point or labels.dtype == torch.bool:
        got = labels.dtype if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise TypeError(f"{name}: expected an integer tensor of shape (N,), got {got}")
    if labels.dim() != 1 or labels.shape[0] != num_rows:
        raise ValueError(f"{name}: expected shape ({num_rows},), got {tuple(labels.shape)}")
    if num_rows and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(
            f"{name}: values must lie in [0, num_classes={num_classes}), "
            f"got range [{int(labels.min())}, {int(labels.max())}]"
        )


def train_probe(
    features: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    config: Optional[ProbeConfig] = None,
) -> FeatureProbe:
    """Fit a probe on (features, labels); deterministic given ``config.seed``.

    The global torch RNG state is left untouched.

    Args:
        features: (N, D) training features.
        labels: (N,) integer labels in [0, num_classes).
        num_classes: number of classes C (>= 2).
        config: probe family and training recipe (default: linear, L-BFGS).

    Returns:
        The trained :class:`FeatureProbe` in eval mode.

    Raises:
        ValueError: for bad shapes/labels or an unknown kind/optimizer.
    """
    config = config or ProbeConfig()
    if config.kind not in PROBE_BUILDERS:
        raise ValueError(f"ProbeConfig.kind: unknown probe {config.kind!r}; choose from {sorted(PROBE_BUILDERS)}")
    if config.optimizer not in PROBE_TRAINERS:
        raise ValueError(
            f"ProbeConfig.optimizer: unknown optimizer {config.optimizer!r}; "
            f"choose from {sorted(PROBE_TRAINERS)}"
        )
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    if config.steps < 1:
        raise ValueError(f"ProbeConfig.steps must be >= 1, got {config.steps}")
    check_features(features, "features", min_rows=1)
    check_labels(labels, features.shape[0], num_classes)
    x = features.detach().to(torch.float32)
    y = labels.detach().to(device=x.device, dtype=torch.long)
    if config.standardize:
        mean = x.mean(dim=0)
        std = x.std(dim=0, unbiased=False).clamp_min(1e-6)
    else:
        mean = torch.zeros(x.shape[1], device=x.device)
        std = torch.ones(x.shape[1], device=x.device)
    with torch.random.fork_rng(devices=[]):
        # parameters are initialised on the CPU from the seed, then moved: the
        # same seed gives the same initial probe on every device
        torch.manual_seed(config.seed)
        net = PROBE_BUILDERS[config.kind](x.shape[1], num_classes, config).to(x.device)
        probe = FeatureProbe(mean, std, net)
        probe.train()
        PROBE_TRAINERS[config.optimizer](probe, x, y, config)
    probe.eval()
    return probe


@torch.no_grad()
def probe_cross_entropy_bits(
    probe: nn.Module, features: torch.Tensor, labels: torch.Tensor, batch_size: int = 65536
) -> Dict[str, float]:
    """Mean cross-entropy (bits) and accuracy of a probe on labelled frames.

    Args:
        probe: module mapping (N, D) features to (N, C) logits.
        features: (N, D) features.
        labels: (N,) integer labels.
        batch_size: frames per forward pass.

    Returns:
        dict with ``cross_entropy_bits`` and ``accuracy``.
    """
    check_features(features, "features", min_rows=1)
    if not isinstance(labels, torch.Tensor) or labels.dim() != 1 or labels.shape[0] != features.shape[0]:
        got = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"labels: expected shape ({features.shape[0]},), got {got}")
    total_nats = 0.0
    correct = 0
    for start in range(0, features.shape[0], batch_size):
        logits = probe(features[start : start + batch_size].to(torch.float32))
        target = labels[start : start + batch_size].to(device=logits.device, dtype=torch.long)
        total_nats += float(nn.functional.cross_entropy(logits.double(), target, reduction="sum"))
        correct += int((logits.argmax(dim=1) == target).sum())
    n = features.shape[0]
    return {"cross_entropy_bits": total_nats / n / LN2, "accuracy": correct / n}
