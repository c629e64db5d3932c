"""GRPO's objective as pure tensor functions: group advantages, clipped surrogate, KL to a reference.

For each utterance the policy samples a group of G hypotheses; each gets a
reward (:mod:`.grpo_reward`). The advantage of a hypothesis is its reward
standardised within its group (:func:`group_advantages`), so no value model
is needed. The loss of one hypothesis is the mean over its tokens of::

    -min(rho * A, clip(rho, 1 - eps, 1 + eps) * A) + beta * KL_k3

with ``rho = exp(logp - logp_old)`` (``logp_old``: the sampler's own
log-probabilities), and ``KL_k3 = exp(r) - r - 1``, ``r = logp_ref - logp``,
the unbiased, always non-negative estimator of KL(policy || reference) per
sampled token. The batch loss is the mean over hypotheses
(:func:`clipped_policy_loss`). A group whose rewards are all equal carries
no signal: its advantages are exactly 0 (no NaN), and only the KL term acts
on it.

The options are :class:`GRPOConfig` (``--grpo_conf``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional

import torch

from espnet_llm_entropy.config_options import (
    check_int_at_least,
    check_positive_number,
    dataclass_from_mapping,
    is_number,
)
from espnet_llm_entropy.rl.grpo_reward import RewardConfig


@dataclass(frozen=True)
class GRPOConfig:
    """``--grpo_conf`` of the ``grpo`` training stage.

    Attributes:
        num_samples: G, hypotheses sampled per utterance.
        temperature: sampling temperature (the policy's log-probabilities
            are taken at the same temperature).
        max_new_tokens: hard cap on sampled tokens.
        length_slack, min_new_tokens: the per-batch sampling budget is
            ``max(min_new_tokens, ceil(length_slack * longest reference))``
            tokens (capped by ``max_new_tokens``); a sample that reaches it
            without EOS is cut there and scored as it stands.
        clip_eps: the surrogate's clipping range.
        kl_coef: beta, the weight of the KL penalty to the frozen policy
            the stage started from (0 disables it and no reference copy is kept).
        advantage_eps: added to the group's standard deviation.
        seed: mixed with the update counter (and the DDP rank) into the
            seed of each batch's sampling, so a resumed run samples the same groups.
        reward: :class:`RewardConfig` options.
    """

    num_samples: int = 4
    temperature: float = 1.0
    max_new_tokens: int = 64
    length_slack: float = 2.5
    min_new_tokens: int = 8
    clip_eps: float = 0.2
    kl_coef: float = 0.04
    advantage_eps: float = 1e-4
    seed: int = 0
    reward: RewardConfig = field(default_factory=RewardConfig)

    def __post_init__(self):
        check_int_at_least("grpo_conf.num_samples", self.num_samples, 2, "(a group needs two hypotheses)")
        check_positive_number("grpo_conf.temperature", self.temperature)
        check_int_at_least("grpo_conf.max_new_tokens", self.max_new_tokens, 1)
        check_int_at_least("grpo_conf.min_new_tokens", self.min_new_tokens, 1)
        check_positive_number("grpo_conf.length_slack", self.length_slack)
        check_positive_number("grpo_conf.clip_eps", self.clip_eps)
        check_positive_number("grpo_conf.advantage_eps", self.advantage_eps)
        if not is_number(self.kl_coef) or self.kl_coef < 0:
            raise ValueError(f"grpo_conf.kl_coef: expected a number >= 0, got {self.kl_coef!r}")
        check_int_at_least("grpo_conf.seed", self.seed, 0)

    @classmethod
    def from_dict(cls, conf: Optional[Mapping]) -> "GRPOConfig":
        conf = dict(conf or {})
        reward = conf.pop("reward", None)
        if isinstance(reward, RewardConfig):
            conf["reward"] = reward
        else:
            conf["reward"] = RewardConfig.from_dict(reward)
        return dataclass_from_mapping(cls, conf, "grpo_conf")

    def token_budget(self, longest_reference_tokens: int) -> int:
        """Tokens sampled for a batch whose longest reference has that many LLM tokens."""
        wanted = max(self.min_new_tokens, math.ceil(self.length_slack * longest_reference_tokens))
        return min(self.max_new_tokens, wanted)


def group_advantages(rewards: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """Standardise rewards within each group.

    Args:
        rewards: (B, G) rewards of G hypotheses for each of B utterances.
        eps: added to the standard deviation.

    Returns:
        (B, G) advantages ``(r - mean_g) / (std_g + eps)``; exactly 0 for a
        group whose rewards are all equal.
    """
    if rewards.dim() != 2 or rewards.size(1) < 2:
        raise ValueError(f"rewards: expected (B, G) with G >= 2, got shape {tuple(rewards.shape)}")
    centred = rewards - rewards.mean(dim=1, keepdim=True)
    std = rewards.std(dim=1, keepdim=True, unbiased=False)
    return torch.where(std > 0, centred / (std + eps), torch.zeros_like(centred))


def clipped_policy_loss(
    logp: torch.Tensor,
    logp_old: torch.Tensor,
    logp_ref: Optional[torch.Tensor],
    advantages: torch.Tensor,
    row: torch.Tensor,
    num_rows: int,
    clip_eps: float = 0.2,
    kl_coef: float = 0.0,
) -> Dict[str, torch.Tensor]:
    """The GRPO loss over flattened sampled tokens.

    Args:
        logp: (N,) policy log-probabilities of the sampled tokens (with grad).
        logp_old: (N,) the sampler's log-probabilities of the same tokens.
        logp_ref: (N,) the reference policy's, or None (no KL term).
        advantages: (R,) one advantage per hypothesis.
        row: (N,) hypothesis index in [0, R) of each token.
        num_rows: R (every hypothesis has at least one token, its EOS or
            its last sampled token).
        clip_eps: clipping range of the ratio.
        kl_coef: weight of the KL term.

    Returns:
        ``loss`` (scalar, differentiable), ``kl`` (mean per-token KL
        estimate), ``clip_fraction`` (share of tokens whose ratio was clipped
        in the direction that matters).
    """
    adv = advantages[row]
    ratio = torch.exp(logp - logp_old)
    unclipped = ratio * adv
    clipped = ratio.clamp(1 - clip_eps, 1 + clip_eps) * adv
    token_loss = -torch.minimum(unclipped, clipped)
    kl = torch.zeros_like(logp)
    if logp_ref is not None:
        log_ratio = logp_ref - logp
        kl = torch.exp(log_ratio) - log_ratio - 1
        token_loss = token_loss + kl_coef * kl
    counts = torch.bincount(row, minlength=num_rows).clamp(min=1).to(logp.dtype)
    per_row = torch.zeros(num_rows, dtype=logp.dtype, device=logp.device).index_add(0, row, token_loss)
    loss = (per_row / counts).mean()
    clip_fraction = (clipped < unclipped).float().mean() if logp.numel() else logp.new_zeros(())
    return {"loss": loss, "kl": kl.detach().mean() if kl.numel() else kl.new_zeros(()),
            "clip_fraction": clip_fraction.detach()}
