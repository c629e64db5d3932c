"""A tiny experiment setup shared by the task tests: corpus, phones, LLM, shape files."""

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def tiny_exp(tmp_path_factory):
    """Mini corpus (12/4/4 utts), phone list, tiny LLM and ESPnet shape files."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (run `make setup`)")
    from espnet_llm_entropy.testing.experiment_setup import build_tiny_experiment

    return build_tiny_experiment(tmp_path_factory.mktemp("exp"), 12, 4, 4)
