"""Keeping the pretraining's phone-CTC head in LLM-ASR training, and non-speech examples."""

import numpy as np
import pytest
import torch

from espnet_llm_entropy.pipeline import espnet_steps
from espnet_llm_entropy.testing.experiment_setup import REPO_CONF


@pytest.fixture(scope="module")
def pretrained_with_nonspeech(tiny_exp):
    """One epoch of phoneme-CTC pretraining where half the utterances are non-speech."""
    return espnet_steps.train(
        tiny_exp.pretrain_config, tiny_exp.phones, tiny_exp.data / "train", tiny_exp.data / "dev",
        tiny_exp.stats, tiny_exp.root / "exp_pretrain_nonspeech",
        extra=["--max_epoch", "1", "--batch_size", "4", "--nonspeech_examples_conf", "prob=0.5"],
    )


def _head(state):
    return {k: v for k, v in state.items() if k.startswith("ctc_head.")}


def _joint_sft(tiny_exp, out, extra):
    return espnet_steps.train(
        REPO_CONF / "tiny" / "joint_sft.yaml", tiny_exp.phones, tiny_exp.data / "train",
        tiny_exp.data / "dev", tiny_exp.stats, out,
        extra=["--llm_conf", f"path={tiny_exp.llm_dir}", "--max_epoch", "1", "--num_iters_per_epoch", "none",
               "--batch_size", "4",
               "--drift_conf", "floor=0.0", *extra],
    )


@pytest.fixture(scope="module")
def joint_with_head(tiny_exp, pretrained_with_nonspeech):
    """Joint SFT initialised from a headless LLM-ASR checkpoint, with the pretraining's head."""
    # a headless LLM-ASR checkpoint (the tiny SFT config has no head), as IA-SFT's would be
    sft = espnet_steps.train(
        tiny_exp.sft_config, tiny_exp.phones, tiny_exp.data / "train", tiny_exp.data / "dev",
        tiny_exp.stats, tiny_exp.root / "exp_sft_headless",
        extra=["--llm_conf", f"path={tiny_exp.llm_dir}", "--speech_encoder_init",
               pretrained_with_nonspeech / "1epoch.pth", "--max_epoch", "1", "--batch_size", "4"],
    )
    assert not _head(torch.load(sft / "1epoch.pth", weights_only=True))
    return _joint_sft(tiny_exp, tiny_exp.root / "exp_joint_head",
                      ["--init_param", str(sft / "1epoch.pth"),
                       "--ctc_head_init", str(pretrained_with_nonspeech / "1epoch.pth")])


def test_head_comes_from_pretraining_frozen_and_survives_init_param(joint_with_head, pretrained_with_nonspeech):
    pre = torch.load(pretrained_with_nonspeech / "1epoch.pth", weights_only=True)
    joint = joint_with_head
    state = torch.load(joint / "1epoch.pth", weights_only=True)
    assert bool(state["ctc_head_trained"])
    for key, value in _head(pre).items():  # loaded, not overwritten by --init_param, not trained
        assert torch.equal(state[key], value), key
    encoder_key = next(k for k in state if k.startswith("speech_encoder.encoder"))
    assert encoder_key in state


def test_without_head_init_the_head_is_not_evidence(tiny_exp, pretrained_with_nonspeech):
    joint = _joint_sft(tiny_exp, tiny_exp.root / "exp_joint_nohead",
                       ["--speech_encoder_init", str(pretrained_with_nonspeech / "1epoch.pth")])
    state = torch.load(joint / "1epoch.pth", weights_only=True)
    assert not bool(state["ctc_head_trained"])


def test_head_init_is_refused_for_a_model_without_a_head(tiny_exp, pretrained_with_nonspeech, tmp_path):
    with pytest.raises(ValueError, match="keep_ctc_head"):
        espnet_steps.train(
            tiny_exp.sft_config, tiny_exp.phones, tiny_exp.data / "train", tiny_exp.data / "dev",
            tiny_exp.stats, tmp_path / "x",
            extra=["--llm_conf", f"path={tiny_exp.llm_dir}", "--max_epoch", "1",
                   "--ctc_head_init", str(pretrained_with_nonspeech / "1epoch.pth")],
        )


def test_preprocessor_replaces_utterances_by_nonspeech_with_empty_targets(tiny_exp):
    from espnet_llm_entropy.augment.nonspeech_examples import NonSpeechExamples
    from espnet_llm_entropy.tasks.preprocessor import LLMASRPreprocessor
    from espnet_llm_entropy.text.llm_tokenizer import load_llm_tokenizer

    tokenizer = load_llm_tokenizer(tiny_exp.llm_dir)
    wave = (np.random.default_rng(0).standard_normal(8000) * 0.1).astype(np.float32)

    def run(prob, train=True, uid="utt-a"):
        pre = LLMASRPreprocessor(train, str(tiny_exp.phones), tokenizer,
                                 nonspeech_examples=NonSpeechExamples.from_dict({"prob": prob}))
        return pre(uid, {"speech": wave.copy(), "text": "hello world"})

    replaced = run(1.0)
    assert replaced["text"].size == 0 and replaced["llm_tokens"].size == 0
    assert replaced["speech"].shape == wave.shape and not np.allclose(replaced["speech"], wave)
    kept = run(0.0)
    assert kept["text"].size > 0 and np.array_equal(kept["speech"], wave)
    assert run(1.0, train=False)["text"].size > 0  # validation is never replaced
    again = run(1.0)
    assert np.array_equal(again["speech"], replaced["speech"])  # seeded by (seed, id, epoch)


def test_gate_calibration_cli_reads_dev_sets_only(tiny_exp, joint_with_head, tmp_path):
    import json

    from espnet_llm_entropy.bin.calibrate_ctc_gate import main

    out = tmp_path / "calibration.json"
    result = main(["--asr_train_config", str(joint_with_head / "config.yaml"),
                   "--asr_model_file", str(joint_with_head / "1epoch.pth"),
                   "--speech_dir", str(tiny_exp.data / "dev"),
                   "--nonspeech_dir", str(tiny_exp.data / "nonspeech_dev"), "--output", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    dev_ids = {ln.split()[0] for ln in (tiny_exp.data / "dev" / "wav.scp").read_text().splitlines()}
    assert set(result["speech_counts"]) == dev_ids
    c = result["calibration"]
    assert c["num_speech"] == len(dev_ids) and c["min_ctc_phones"] >= 1
    assert result["decoding_option"] == f"--decoding_guard_conf min_ctc_phones={c['min_ctc_phones']}"
    ns_ids = {ln.split()[0] for ln in (tiny_exp.data / "nonspeech_dev" / "wav.scp").read_text().splitlines()}
    counts = result["nonspeech_counts"]
    assert set(counts) == ns_ids and all(isinstance(v, int) and v >= 0 for v in counts.values())
    assert c["nonspeech_max_phones"] == max(counts.values())
