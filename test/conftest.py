"""Shared pytest fixtures: where the read-only shared data lives, a tiny prepared experiment."""

import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def mini_an4_dir() -> Path:
    """Directory with ESPnet's mini_an4 archive; skips where it is absent."""
    path = SHARED_DATA / "mini_an4"
    if not (path / "downloads.tar.gz").exists():
        pytest.skip(f"real AN4 speech not available here ({path} is absent)")
    return path


@pytest.fixture(scope="session")
def tiny_exp(tmp_path_factory):
    """Mini corpus (12/4/4 utts), phone list, tiny LLM and ESPnet shape files."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (run `make setup`)")
    from espnet_llm_entropy.testing.experiment_setup import build_tiny_experiment

    return build_tiny_experiment(tmp_path_factory.mktemp("exp"), 12, 4, 4)


@pytest.fixture(scope="session")
def trained_sft(tiny_exp):
    """A 1-epoch LLM-ASR SFT model of ``tiny_exp`` (LoRA: the checkpoint leaves the base LLM out)."""
    from espnet_llm_entropy.testing.experiment_setup import train_tiny_sft

    return train_tiny_sft(tiny_exp, tiny_exp.root / "exp_sft_shared")
