"""Fixtures of the mini-corpus tests: a small corpus built once per session."""

import shutil

import pytest

from espnet_llm_entropy.corpus import MiniCorpusConfig, build_mini_corpus

SMALL = dict(num_train=9, num_dev=3, num_test=3, num_speakers=5, num_heldout_speakers=2)


@pytest.fixture(scope="session")
def espeak_available() -> None:
    """Skips the test where espeak-ng is not installed."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (Debian: apt-get install espeak-ng)")


@pytest.fixture(scope="session")
def small_config() -> MiniCorpusConfig:
    """Options of a corpus small enough to build in about a second."""
    return MiniCorpusConfig(seed=3, nj=2, **SMALL)


@pytest.fixture(scope="session")
def small_corpus(espeak_available, small_config, tmp_path_factory):
    """A small corpus (no AN4) built once; tests must not modify it."""
    out = tmp_path_factory.mktemp("mini_corpus")
    return build_mini_corpus(out, small_config, show_progress=False)
