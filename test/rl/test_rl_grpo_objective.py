"""Group normalisation and the clipped GRPO surrogate."""

import pytest
import torch

from espnet_llm_entropy.rl.grpo_objective import GRPOConfig, clipped_policy_loss, group_advantages


def test_advantages_are_standardised_within_each_group():
    rewards = torch.tensor([[1.0, 0.0, 0.5, 0.5], [0.2, 0.4, 0.6, 0.8]])
    adv = group_advantages(rewards, eps=0.0)
    assert torch.allclose(adv.mean(dim=1), torch.zeros(2), atol=1e-6)
    assert torch.allclose(adv.std(dim=1, unbiased=False), torch.ones(2), atol=1e-5)
    assert adv[0, 0] > 0 > adv[0, 1]


def test_all_equal_rewards_give_zero_advantages_not_nan():
    adv = group_advantages(torch.tensor([[0.3, 0.3, 0.3], [-1.0, -1.0, -1.0]]))
    assert torch.equal(adv, torch.zeros(2, 3))


def test_group_shape_is_checked():
    with pytest.raises(ValueError, match="G >= 2"):
        group_advantages(torch.tensor([[1.0], [2.0]]))


def _tokens():
    # two hypotheses: three tokens, one token
    row = torch.tensor([0, 0, 0, 1])
    logp = torch.log(torch.tensor([0.5, 0.4, 0.9, 0.2])).requires_grad_(True)
    return row, logp


def test_on_policy_gradient_raises_the_better_hypothesis():
    row, logp = _tokens()
    adv = torch.tensor([1.0, -1.0])
    out = clipped_policy_loss(logp, logp.detach(), None, adv, row, 2)
    out["loss"].backward()
    # the loss decreases when the advantaged hypothesis' tokens become likelier
    assert (logp.grad[:3] < 0).all() and logp.grad[3] > 0
    # per-hypothesis mean over tokens, then mean over hypotheses: ratio 1 gives -mean(A)
    assert out["loss"].item() == pytest.approx(0.0)
    assert out["clip_fraction"].item() == 0


def test_ratio_beyond_the_clip_range_stops_the_gradient():
    row = torch.tensor([0, 1])
    logp = torch.tensor([0.0, 0.0], requires_grad=True)
    logp_old = torch.log(torch.tensor([0.5, 0.5]))  # ratio 2 for both
    out = clipped_policy_loss(logp, logp_old, None, torch.tensor([1.0, -1.0]), row, 2, clip_eps=0.2)
    out["loss"].backward()
    # positive advantage, ratio above 1+eps: clipped, no gradient; negative advantage keeps it
    assert logp.grad[0] == 0 and logp.grad[1] > 0
    assert out["clip_fraction"].item() == pytest.approx(0.5)


def test_kl_term_is_zero_at_the_reference_and_positive_away_from_it():
    row, logp = _tokens()
    zero = clipped_policy_loss(logp, logp.detach(), logp.detach(), torch.zeros(2), row, 2, kl_coef=1.0)
    assert zero["kl"].item() == pytest.approx(0.0, abs=1e-7)
    away = clipped_policy_loss(logp, logp.detach(), logp.detach() - 0.5, torch.zeros(2), row, 2, kl_coef=1.0)
    assert away["kl"].item() > 0 and away["loss"].item() > 0


def test_config_defaults_are_nim4s_and_budget_follows_the_reference():
    conf = GRPOConfig.from_dict({})
    assert conf.num_samples == 4 and conf.reward.error_scale == 2.0 and conf.reward.hallucination_weight == 0.5
    assert conf.token_budget(0) == conf.min_new_tokens
    assert conf.token_budget(10) == 25
    assert conf.token_budget(1000) == conf.max_new_tokens
    with pytest.raises(ValueError, match="grpo_conf.num_samples"):
        GRPOConfig.from_dict({"num_samples": 1})
    with pytest.raises(ValueError, match="grpo_conf.reward: unknown"):
        GRPOConfig.from_dict({"reward": {"context_weight": 0.5}})
