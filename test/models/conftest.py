"""Fixtures for model tests: a tiny real LLM directory and tiny audio batches."""

import pytest
import torch

from espnet_llm_entropy.testing.tiny_components import make_tiny_llm_dir


@pytest.fixture(scope="session")
def tiny_llm_dir(tmp_path_factory):
    return make_tiny_llm_dir(tmp_path_factory.mktemp("llm") / "qwen2_tiny")


@pytest.fixture
def audio_batch():
    """3 waveforms of different lengths (0.5-1.0 s at 16 kHz), padded: (3, S), (3,)."""
    g = torch.Generator().manual_seed(0)
    lengths = torch.tensor([16000, 12000, 8000])
    speech = torch.randn(3, 16000, generator=g) * 0.1
    for i, n in enumerate(lengths.tolist()):
        speech[i, n:] = 0
    return speech, lengths
