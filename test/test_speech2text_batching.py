"""LLMSpeech2Text answers the same whether an utterance is decoded alone or in a batch."""

from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_sft_config(tmp_path_factory) -> Path:
    """The demo's SFT config (conformer with legacy relative positions, fbank, utterance
    MVN) at a smaller width, pointing at a tiny local LLM: no training, no checkpoint."""
    from espnet_llm_entropy.testing.tiny_components import make_tiny_llm_dir, write_narrow_llm_asr_config

    root = tmp_path_factory.mktemp("s2t_batching")
    return write_narrow_llm_asr_config(REPO / "conf" / "tiny" / "sft_llm_asr.yaml",
                                       make_tiny_llm_dir(root / "llm"), root / "config.yaml",
                                       ["<blank>", "<unk>", "a1", "b", "c"])


def test_greedy_hypotheses_are_the_same_with_batch_1_and_batch_8(tiny_sft_config):
    from espnet_llm_entropy.speech2text import LLMSpeech2Text

    torch.manual_seed(0)  # no checkpoint: the encoder and adaptor keep their seeded init
    s2t = LLMSpeech2Text(tiny_sft_config, None)
    g = torch.Generator().manual_seed(1)
    lengths = [16000, 12345, 9000, 7777, 15001, 5000, 11111, 8000]
    waves = [(torch.randn(n, generator=g) * 0.3).numpy() for n in lengths]
    batched = s2t.batch(waves)
    for wave, hyp in zip(waves, batched):
        alone = s2t.batch([wave])[0]
        assert alone.token_ids == hyp.token_ids and alone.text == hyp.text
        assert alone.score == pytest.approx(hyp.score, abs=1e-4)
