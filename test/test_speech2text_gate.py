"""LLMSpeech2Text's CTC-evidence gate and its handling of audio too short to encode."""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
PHONES = ["<blank>", "<unk>", "a1", "b", "c"]


@pytest.fixture(scope="module")
def gate_config(tmp_path_factory) -> Path:
    """The demo's joint-SFT config (it keeps a phone-CTC head) at a smaller width, with a
    tiny local LLM: no training, no checkpoint."""
    from espnet_llm_entropy.testing.tiny_components import make_tiny_llm_dir, write_narrow_llm_asr_config

    root = tmp_path_factory.mktemp("s2t_gate")
    path = write_narrow_llm_asr_config(REPO / "conf" / "tiny" / "joint_sft.yaml",
                                       make_tiny_llm_dir(root / "llm"), root / "config.yaml", PHONES)
    assert yaml.safe_load(path.read_text())["model_conf"]["keep_ctc_head"]
    return path


class HandMadePosteriors(torch.nn.Module):
    """Stands in for the CTC head: row b of the batch hears ``phones[b]`` distinct phones."""

    def __init__(self, phones):
        super().__init__()
        self.phones = phones

    def forward(self, enc):
        bsz, frames, _ = enc.shape
        logits = torch.full((bsz, frames, len(PHONES)), -10.0)
        logits[:, :, 0] = 10.0  # blank everywhere ...
        for b, n in enumerate(self.phones[:bsz]):
            for k in range(n):  # ... but n separate frames of alternating phones
                logits[b, 2 * k, 0] = -10.0
                logits[b, 2 * k, 2 + k % 3] = 10.0
        return logits


def _recognizer(gate_config, phones, **guard):
    from espnet_llm_entropy.speech2text import LLMSpeech2Text

    torch.manual_seed(0)
    s2t = LLMSpeech2Text(gate_config, None, decoding_guard_conf=guard)
    s2t.model.ctc_head = HandMadePosteriors(phones)
    s2t.model.ctc_head_trained.fill_(True)
    calls = []
    original = s2t.model.generate_from_encoder

    def spy(enc, enc_lengths, **kwargs):
        calls.append((enc.size(0), kwargs["max_new_tokens"]))
        return original(enc, enc_lengths, **kwargs)

    s2t.model.generate_from_encoder = spy
    return s2t, calls


def _waves(n, seconds=1.0):
    g = np.random.default_rng(0)
    return [(g.standard_normal(int(seconds * 16000)) * 0.1).astype(np.float32) for _ in range(n)]


def test_utterances_without_evidence_skip_the_llm(gate_config):
    s2t, calls = _recognizer(gate_config, [0, 6, 2], min_ctc_phones=3)
    hyps = s2t.batch(_waves(3), keys=["silent", "speech", "murmur"])
    assert [h.ctc_phones for h in hyps] == [0, 6, 2]
    assert [h.skipped for h in hyps] == ["no_speech_evidence", None, "no_speech_evidence"]
    assert hyps[0].text == "" and hyps[0].token_ids == [] and hyps[2].text == ""
    assert [c[0] for c in calls] == [1]  # the LLM ran once, for the one utterance with evidence


def test_no_llm_call_at_all_when_nothing_was_heard(gate_config):
    s2t, calls = _recognizer(gate_config, [0, 0], min_ctc_phones=1)
    assert [h.skipped for h in s2t.batch(_waves(2))] == ["no_speech_evidence"] * 2
    assert calls == []


def test_gate_off_decodes_everything_but_the_budget_still_follows_the_evidence(gate_config):
    s2t, calls = _recognizer(gate_config, [0, 1], ctc_gate=False, min_tokens=4)
    hyps = s2t.batch(_waves(2, seconds=4.0))
    assert [h.skipped for h in hyps] == [None, None]
    # 4 s of audio would allow ceil(4 * 6 * 1.5) = 36 tokens; one CTC phone allows max(4, 2) = 4
    assert calls == [(2, 4)]


def test_untrained_head_is_no_evidence(gate_config):
    from espnet_llm_entropy.speech2text import LLMSpeech2Text

    s2t = LLMSpeech2Text(gate_config, None, decoding_guard_conf={"min_ctc_phones": 1000})
    hyps = s2t.batch(_waves(2))
    assert [h.skipped for h in hyps] == [None, None] and [h.ctc_phones for h in hyps] == [None, None]
    with pytest.raises(ValueError, match="no trained phone-CTC head"):
        s2t.ctc_phone_counts(_waves(1))


@pytest.mark.parametrize("samples", [0, 1, 320])
def test_audio_too_short_to_encode_gets_an_empty_hypothesis(gate_config, samples, caplog):
    s2t, calls = _recognizer(gate_config, [5, 5], min_ctc_phones=1)
    short = np.zeros(samples, dtype=np.float32)
    with caplog.at_level("WARNING"):
        hyps = s2t.batch([short, _waves(1)[0]], keys=["tiny-utt", "ok-utt"])
    assert hyps[0].skipped == "too_short" and hyps[0].text == ""
    assert hyps[1].skipped is None
    assert "tiny-utt" in caplog.text
    assert s2t.ctc_phone_counts([short]) == [0]


def test_stereo_and_other_rates_are_brought_to_the_model(gate_config, caplog):
    s2t, _ = _recognizer(gate_config, [5], min_ctc_phones=1)
    mono = _waves(1)[0]
    with caplog.at_level("WARNING"):
        hyp = s2t(np.stack([mono, mono], axis=1))[0]
        hyp8k = s2t(mono[::2], sample_rate=8000)[0]
    assert hyp.skipped is None and hyp8k.skipped is None
    assert "2 channels" in caplog.text or "channels" in caplog.text
    assert "8000" in caplog.text


def test_extreme_and_broken_audio(gate_config):
    s2t, _ = _recognizer(gate_config, [5], min_ctc_phones=1)
    loud = np.clip(_waves(1)[0] * 1e6, -1.0, 1.0)  # fully clipped
    assert s2t(loud)[0].skipped is None
    assert s2t(_waves(1)[0] * 1e6)[0].skipped is None  # far beyond full scale: no crash
    broken = _waves(1)[0]
    broken[100] = np.nan
    with pytest.raises(ValueError, match="nan-utt"):
        s2t.batch([broken], keys=["nan-utt"])


def test_truncated_model_file_is_named(gate_config, tmp_path):
    from espnet_llm_entropy.speech2text import LLMSpeech2Text

    torch.manual_seed(0)
    good = tmp_path / "model.pth"
    torch.save(LLMSpeech2Text(gate_config, None).model.state_dict(), good)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match="cut.pth"):
        LLMSpeech2Text(gate_config, cut)
