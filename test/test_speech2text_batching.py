"""LLMSpeech2Text answers the same whether an utterance is decoded alone or in a batch."""

from pathlib import Path

import pytest
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_sft_config(tmp_path_factory) -> Path:
    """The demo's SFT config (conformer with legacy relative positions, fbank, utterance
    MVN) at a smaller width, pointing at a tiny local LLM: no training, no checkpoint."""
    import espnet_llm_entropy
    from espnet_llm_entropy.tasks.llm_asr import LLMASRTask
    from espnet_llm_entropy.testing.tiny_components import make_tiny_llm_dir

    espnet_llm_entropy.register()
    root = tmp_path_factory.mktemp("s2t_batching")
    llm_dir = make_tiny_llm_dir(root / "llm")
    args = LLMASRTask.get_parser().parse_args(
        ["--config", str(REPO / "conf" / "tiny" / "sft_llm_asr.yaml"), "--llm_conf", f"path={llm_dir}"]
    )
    conf = vars(args)
    conf["token_list"] = ["<blank>", "<unk>", "a1", "b", "c"]
    conf["encoder_conf"] = dict(conf["encoder_conf"], output_size=32, attention_heads=2, linear_units=64)
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(conf, allow_unicode=True), encoding="utf-8")
    return path


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
