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
    from espnet_llm_entropy.corpus.corpus_config import MiniCorpusConfig
    from espnet_llm_entropy.corpus.mini_corpus_builder import build_mini_corpus
    from espnet_llm_entropy.testing.experiment_setup import prepare_tiny_experiment

    root = tmp_path_factory.mktemp("exp")
    build_mini_corpus(root / "data", MiniCorpusConfig(num_train=12, num_dev=4, num_test=4, nj=2),
                      show_progress=False)
    return prepare_tiny_experiment(root)
