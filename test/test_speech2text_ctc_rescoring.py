"""LLMSpeech2Text's joint CTC/LLM decoding (``ctc_weight``): the N-best rescored by the phone-CTC head."""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
PHONES = ["<blank>", "<unk>", "a1", "b", "c"]


@pytest.fixture(scope="module")
def joint_config(tmp_path_factory) -> Path:
    """The demo's joint-SFT config (it keeps a phone-CTC head) at a smaller width, with a tiny local LLM."""
    from espnet_llm_entropy.testing.tiny_components import make_tiny_llm_dir, write_narrow_llm_asr_config

    root = tmp_path_factory.mktemp("s2t_rescoring")
    path = write_narrow_llm_asr_config(REPO / "conf" / "tiny" / "joint_sft.yaml",
                                       make_tiny_llm_dir(root / "llm", texts=["八 擦 八擦"] * 8 + ["a b c"] * 8),
                                       root / "config.yaml", PHONES)
    assert yaml.safe_load(path.read_text())["model_conf"]["keep_ctc_head"]
    return path


class HearsBA(torch.nn.Module):
    """Stands in for the CTC head: every utterance clearly says "b a1" (八), blank elsewhere."""

    def forward(self, enc):
        bsz, frames, _ = enc.shape
        logits = torch.full((bsz, frames, len(PHONES)), -8.0)
        logits[:, :, 0] = 8.0
        logits[:, 1, 0], logits[:, 1, 3] = -8.0, 8.0  # b
        logits[:, 3, 0], logits[:, 3, 2] = -8.0, 8.0  # a1
        return logits


def _with_options(config, ctc_weight, beam_size):
    """A recognizer whose CTC head counts as trained (the flag a checkpoint would carry)."""
    from espnet_llm_entropy.speech2text import LLMSpeech2Text
    from espnet_llm_entropy.tasks.llm_asr import LLMASRTask

    torch.manual_seed(0)
    original = LLMASRTask.build_model_from_file

    def build(*args, **kwargs):
        model, train_args = original(*args, **kwargs)
        model.ctc_head_trained.fill_(True)
        return model, train_args

    LLMASRTask.build_model_from_file = build
    try:
        return LLMSpeech2Text(config, None, beam_size=beam_size, ctc_weight=ctc_weight,
                              decoding_guard_conf={"min_ctc_phones": 0})
    finally:
        LLMASRTask.build_model_from_file = original


def _waves(lengths, seed=1):
    g = np.random.default_rng(seed)
    return [(g.standard_normal(n) * 0.2).astype(np.float32) for n in lengths]


def _fixed_nbest(s2t, texts_and_scores):
    """Make the LLM propose the same N-best for every input: (text, log P_LLM) pairs, best first."""
    tok = s2t.model.tokenizer
    ids = [tok(text, add_special_tokens=False)["input_ids"] for text, _ in texts_and_scores]
    scores = [score for _, score in texts_and_scores]
    calls = []

    def propose(enc, enc_lengths, **kwargs):
        calls.append(kwargs)
        per_input = kwargs.get("num_return_sequences", 1)
        assert per_input == len(ids)
        return ids * enc.size(0), scores * enc.size(0)

    s2t.model.generate_from_encoder = propose
    return calls


@pytest.mark.parametrize("weight, expected", [(0.0, "擦"), (0.3, "八"), (1.0, "八")])
def test_the_ctc_head_overrules_the_llm_prior_by_its_weight(joint_config, weight, expected):
    s2t = _with_options(joint_config, weight, beam_size=2)
    s2t.model.ctc_head = HearsBA()
    if weight == 0.0:  # the LLM alone: the 1-best of the beam, no N-best asked for
        s2t.model.generate_from_encoder = lambda enc, lengths, **kw: (
            [s2t.model.tokenizer("擦", add_special_tokens=False)["input_ids"]] * enc.size(0), [-1.0] * enc.size(0))
        hyp = s2t.batch(_waves([16000]))[0]
        assert hyp.text == expected and hyp.ctc_score is None
        return
    calls = _fixed_nbest(s2t, [("擦", -1.0), ("八", -4.0)])  # the LLM prefers the wrong one by 3 nats
    hyps = s2t.batch(_waves([16000, 12000]))
    assert [h.text for h in hyps] == [expected, expected]
    assert calls[0]["num_beams"] == 2 and calls[0]["length_penalty"] == 0.0
    assert hyps[0].score == -4.0  # the LLM's own score of the kept candidate
    assert -1.0 < hyps[0].ctc_score < 0.0  # "b a1" is what the head hears, with near certainty


def test_rescored_hypotheses_are_the_same_alone_and_in_a_batch(joint_config):
    s2t = _with_options(joint_config, 0.5, beam_size=3)
    waves = _waves([16000, 9000, 12345, 7000, 15001])
    batched = s2t.batch(waves)
    assert all(h.ctc_score is not None for h in batched)
    for wave, hyp in zip(waves, batched):
        alone = s2t.batch([wave])[0]
        assert alone.text == hyp.text and alone.token_ids == hyp.token_ids
        assert alone.ctc_score == pytest.approx(hyp.ctc_score, abs=1e-3)


def test_ctc_weight_needs_a_trained_ctc_head(joint_config):
    from espnet_llm_entropy.speech2text import LLMSpeech2Text

    with pytest.raises(ValueError, match=r"ctc_weight 0.3: .*config.yaml has no trained phone-CTC head"):
        LLMSpeech2Text(joint_config, None, beam_size=4, ctc_weight=0.3)  # no checkpoint: head untrained


@pytest.mark.parametrize("options, message", [
    ({"ctc_weight": 2.0}, "ctc_weight must be in"),
    ({"beam_size": 0}, "beam_size must be >= 1"),
])
def test_bad_decoding_options_are_named(joint_config, options, message):
    from espnet_llm_entropy.speech2text import LLMSpeech2Text

    with pytest.raises(ValueError, match=message):
        LLMSpeech2Text(joint_config, None, **options)
