"""Shared pieces of the training-stage tests: a probe data dir, a tiny encoder, published versions."""

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch


class FakeReporter:
    """The two SubReporter methods the hooks use."""

    def __init__(self):
        self.total_count = 0
        self.epoch = 1
        self.registered = []

    def get_total_count(self):
        return self.total_count

    def register(self, stats, weight=None):
        self.registered.append((self.total_count, dict(stats)))


@pytest.fixture
def probe_dir(tmp_path):
    """A Kaldi dir with 3 short random-noise utterances (16 kHz)."""
    d = tmp_path / "probe"
    d.mkdir()
    rng = np.random.default_rng(0)
    lines = []
    for i in range(3):
        wav = d / f"u{i}.wav"
        soundfile.write(wav, (0.1 * rng.standard_normal(8000 + 1600 * i)).astype("float32"), 16000)
        lines.append(f"utt{i} {wav}")
    (d / "wav.scp").write_text("\n".join(lines) + "\n")
    return d


@pytest.fixture
def tiny_encoder():
    from espnet_llm_entropy.testing.tiny_components import build_tiny_speech_encoder

    torch.manual_seed(0)
    return build_tiny_speech_encoder(output_size=16, specaug=False)


def _perturbed_states(encoder, n, scale=0.3, seed=1):
    """n encoder state dicts, each a random perturbation of the previous one's ``encoder.*`` weights."""
    gen = torch.Generator().manual_seed(seed)
    state = {k: v.clone() for k, v in encoder.state_dict().items()}
    out = []
    for _ in range(n):
        state = {k: (v + scale * torch.randn(v.shape, generator=gen) * v.std().clamp(min=1e-3))
                 if k.startswith("encoder.") and v.is_floating_point() and v.numel() > 1 else v.clone() for k, v in state.items()}
        out.append(state)
    return out


def _publish_chain(publish_dir: Path, states, steps):
    from espnet_llm_entropy.train.encoder_versions import publish_encoder_version

    return [publish_encoder_version(publish_dir, s, i + 1, step, 0.9, i, final=(i == len(states) - 1))
            for i, (s, step) in enumerate(zip(states, steps))]


@pytest.fixture
def helpers():
    """FakeReporter, perturbed_states(encoder, n), publish_chain(dir, states, steps)."""

    class Helpers:
        FakeReporter = FakeReporter
        perturbed_states = staticmethod(_perturbed_states)
        publish_chain = staticmethod(_publish_chain)

    return Helpers


# ------------------------------------------------------------------ ESPnet runs
SMALL_MODEL = [
    "--encoder_conf", "output_size=32", "--encoder_conf", "linear_units=64", "--encoder_conf", "attention_heads=2",
    "--batch_size", "4", "--num_att_plot", "0", "--seed", "0",
]


@pytest.fixture(scope="session")
def method_setup(tmp_path_factory):
    """Tiny corpus (12/4/4), phones, LLM, stats, and a MethodSetup with small stage options."""
    import shutil

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (run `make setup`)")
    from espnet_llm_entropy.conf import stage_configs
    from espnet_llm_entropy.testing.experiment_setup import build_tiny_experiment
    from espnet_llm_entropy.testing.method_setup import METHOD_STAGES, MethodSetup

    root = tmp_path_factory.mktemp("method")
    exp = build_tiny_experiment(root, 12, 4, 4)
    return MethodSetup(
        exp_dir=root / "exp", token_list=exp.phones, train_dir=exp.data / "train", valid_dir=exp.data / "dev",
        stats_dir=exp.stats, llm_dir=exp.llm_dir, configs=stage_configs(METHOD_STAGES),
        stage_args={
            "pretrain": SMALL_MODEL + [
                "--max_epoch", "2", "--model_conf", "cr_weight=0", "--model_conf", "head_hidden_size=32",
                "--cka_monitor_conf", "check_interval=1", "--cka_monitor_conf", "reference_step=2",
                "--cka_monitor_conf", "threshold=1.0", "--probe_conf", "num_utts=4"],
            "align": SMALL_MODEL + ["--max_epoch", "1", "--num_iters_per_epoch", "none", "--probe_conf", "num_utts=4"],
            # one IA-SFT step per pretraining step: v2..v4 (pretraining steps 4-6) at IA-SFT steps 1-3
            "ia_sft": SMALL_MODEL + ["--max_epoch", "2", "--num_iters_per_epoch", "none", "--hot_swap_conf", "check_interval=1",
                                     "--hot_swap_conf", "replay_scale=1.0", "--probe_conf", "num_utts=4"],
            "joint_sft": SMALL_MODEL + ["--max_epoch", "2", "--num_iters_per_epoch", "none",
                                        "--model_conf", "ctc_head_hidden_size=32",
                                        "--drift_conf", "floor=1.0",
                                        "--drift_conf", "action=lower_lr", "--probe_conf", "num_utts=4"],
        },
    )


@pytest.fixture(scope="session")
def pretrained_setup(method_setup):
    """The pretraining stage run once (in-process).

    Threshold 1.0 makes every check after the reference (step 2) publish:
    v1..v3 at steps 3, 4, 5 and the final v4 at step 6, whatever the exact CKA values.
    """
    from espnet_llm_entropy.testing.method_setup import run_stage

    run_stage(method_setup, "pretrain")
    return method_setup


@pytest.fixture(scope="session")
def aligned_setup(pretrained_setup):
    from espnet_llm_entropy.testing.method_setup import run_stage

    run_stage(pretrained_setup, "align")
    return pretrained_setup
