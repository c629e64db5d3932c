"""The grpo stage as an ESPnet training: reporter stats, model selection, resume."""

import pytest
import torch

from espnet_llm_entropy.analysis.learning_curves import read_training_state
from espnet_llm_entropy.conf import stage_config
from espnet_llm_entropy.pipeline import espnet_steps

pytestmark = pytest.mark.slow


def _grpo(tiny_exp, trained_sft, out, epochs):
    return espnet_steps.train(
        stage_config("grpo"), tiny_exp.phones, tiny_exp.data / "train", tiny_exp.data / "dev", tiny_exp.stats, out,
        extra=["--llm_conf", f"path={trained_sft.llm_dir}", "--llm_conf", "train_mode=lora",
               "--model_conf", "keep_ctc_head=false", "--init_param", str(trained_sft.model_file),
               "--max_epoch", str(epochs), "--num_iters_per_epoch", "2", "--batch_size", "4",
               "--grpo_conf", "max_new_tokens=8"],
    )


def _epoch_stats(exp_dir, epoch):
    return read_training_state(exp_dir / "checkpoint.pth")["reporter"]["stats"][epoch]


@pytest.fixture(scope="module")
def straight(tiny_exp, trained_sft):
    return _grpo(tiny_exp, trained_sft, tiny_exp.root / "exp_grpo_straight", 2)


def test_reporter_has_the_reward_terms_and_selection_uses_dev_reward(straight):
    stats = _epoch_stats(straight, 2)
    for key in ("reward", "reward_accuracy", "reward_hallucination", "kl", "zero_variance_groups", "gen_len"):
        assert key in stats["train"], key
    assert "reward" in stats["valid"] and "acc" in stats["valid"]
    assert (straight / "valid.reward.best.pth").exists()
    assert espnet_steps.decoding_checkpoint(straight).name == "valid.reward.best.pth"


def test_resume_after_a_stop_samples_the_same_groups(straight, tiny_exp, trained_sft):
    resumed = tiny_exp.root / "exp_grpo_resumed"
    _grpo(tiny_exp, trained_sft, resumed, 1)  # the run stops after epoch 1 ...
    _grpo(tiny_exp, trained_sft, resumed, 2)  # ... and is resumed from its checkpoint
    a, b = _epoch_stats(straight, 2)["train"], _epoch_stats(resumed, 2)["train"]
    for key in ("reward", "gen_len", "kl", "error_rate"):
        assert a[key] == b[key], key
    sa = torch.load(straight / "latest.pth", map_location="cpu")
    sb = torch.load(resumed / "latest.pth", map_location="cpu")
    assert sa.keys() == sb.keys()
    assert int(sa["grpo.updates"]) == 4 and bool(sa["grpo.reference.captured"])
    for key in sa:
        if torch.is_tensor(sa[key]):
            assert torch.equal(sa[key], sb[key]), key
