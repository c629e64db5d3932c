"""The utterance check through ESPnet training (tiny corpus): unknown symbols, empty targets, short audio, bad wav.scp."""

import logging
import shutil
import time

import numpy as np
import pytest
import soundfile
import torch

from espnet_llm_entropy.pipeline import espnet_steps
from espnet_llm_entropy.tasks.utterance_check import UtteranceCheckError, ctc_frames_needed
from espnet_llm_entropy.text.unknown_symbols import UnknownSymbolsError

SMALL = ["--encoder_conf", "output_size=32", "--encoder_conf", "linear_units=64", "--encoder_conf",
         "attention_heads=2", "--batch_size", "4", "--num_att_plot", "0", "--probe_conf", "num_utts=2",
         "--model_conf", "cr_weight=0", "--model_conf", "head_hidden_size=32"]


def _copy(tiny_exp, tmp_path):
    """A copy of the tiny train dir and its stats, to edit."""
    data = tmp_path / "train"
    shutil.copytree(tiny_exp.data / "train", data)
    stats = tmp_path / "stats"
    shutil.copytree(tiny_exp.stats, stats)
    return data, stats


def _edit_lines(path, edit):
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(edit(lines)) + "\n", encoding="utf-8")


def _set_transcripts(data, new):
    """Replace the transcripts of the first len(new) utterances; returns their ids."""
    ids = []

    def edit(lines):
        out = []
        for i, line in enumerate(lines):
            utt = line.split()[0]
            if i < len(new):
                ids.append(utt)
                line = f"{utt} {new[i]}"
            out.append(line)
        return out

    _edit_lines(data / "text", edit)
    return ids


def _train(tiny_exp, data, stats, out, *extra, epochs=1):
    return espnet_steps.train(
        tiny_exp.pretrain_config, tiny_exp.phones, data, tiny_exp.data / "dev", stats, out,
        extra=[*SMALL, "--max_epoch", str(epochs), *extra],
    )


def test_unreadable_symbols_stop_training_at_start_naming_utterances_and_symbols(tiny_exp, tmp_path):
    data, stats = _copy(tiny_exp, tmp_path)
    ids = _set_transcripts(data, ["привет мир", "hello 😀 world"])
    out = tmp_path / "exp"
    with pytest.raises(UtteranceCheckError) as err:
        _train(tiny_exp, data, stats, out)
    message = str(err.value)
    assert f"{data / 'text'}:1: utterance '{ids[0]}': cannot read 9 symbol(s)" in message
    assert f"{data / 'text'}:2: utterance '{ids[1]}': cannot read 1 symbol(s) ['😀']" in message
    assert "on_unknown=skip" in message
    # nothing half-written: the run failed at start-up
    assert not (out / "config.yaml").exists() and not list(out.glob("*.pth"))


def test_skip_leaves_utterances_out_and_drop_never_trains_an_empty_target(tiny_exp, tmp_path, caplog):
    data, stats = _copy(tiny_exp, tmp_path)
    _set_transcripts(data, ["привет мир", "hello 😀 world"])
    with caplog.at_level(logging.WARNING):
        _train(tiny_exp, data, stats, tmp_path / "skip", "--phonemizer_conf", "on_unknown=skip")
    assert "[train] utterance check: 10 of 12 utterances used, 2 left out (2 with unreadable symbols" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        _train(tiny_exp, data, stats, tmp_path / "drop", "--phonemizer_conf", "on_unknown=drop", epochs=2)
    # the all-Cyrillic utterance has no phones left: left out; the emoji is dropped from the other
    assert "11 of 12 utterances used, 1 left out (1 without phones" in caplog.text
    assert "on_unknown=drop: 10 unreadable symbol(s) in 2 utterance(s)" in caplog.text
    for epoch in (1, 2):  # one summary line per epoch
        assert sum(f"epoch {epoch}: [train] utterance check" in r.message for r in caplog.records) == 1
    assert (tmp_path / "drop" / "2epoch.pth").exists()


def test_preprocessor_refuses_an_empty_target_in_training():
    from espnet_llm_entropy.tasks.preprocessor import LLMASRPreprocessor

    pre = LLMASRPreprocessor(train=True, token_list=["<blank>", "<unk>", "HH"],
                             phonemizer_conf={"on_unknown": "drop"})
    with pytest.raises(ValueError, match="utterance u1: its transcript 'привет' gives no phones; it is never"):
        pre("u1", {"text": "привет"})
    default = LLMASRPreprocessor(train=True, token_list=["<blank>", "<unk>", "HH"])
    with pytest.raises(UnknownSymbolsError, match=r"utterance 'u2': cannot read 1 symbol\(s\) \['😀'\]"):
        default("u2", {"text": "hi 😀"})
    assert LLMASRPreprocessor(train=False, token_list=["<blank>", "<unk>"],
                              phonemizer_conf={"on_unknown": "drop"})("u1", {"text": "привет"})["text"].size == 0


def test_too_short_audio_is_left_out_with_a_count_and_one_warning(tiny_exp, tmp_path, caplog):
    data, stats = _copy(tiny_exp, tmp_path)
    first = (data / "wav.scp").read_text().split()[0]
    short = tmp_path / "short.wav"
    soundfile.write(short, (0.01 * np.random.default_rng(0).standard_normal(800)).astype("float32"), 16000)
    _edit_lines(data / "wav.scp", lambda ls: [f"{first} {short}" if ln.split()[0] == first else ln for ln in ls])
    _edit_lines(stats / "train" / "speech_shape",
                lambda ls: [f"{first} 800" if ln.split()[0] == first else ln for ln in ls])
    _set_transcripts(data, ["this is a long transcript for a very short clip"])
    with caplog.at_level(logging.WARNING):
        _train(tiny_exp, data, stats, tmp_path / "exp")
    summary = [r.message for r in caplog.records if r.message.startswith("[train] utterance check")]
    assert len(summary) == 1
    assert "11 of 12 utterances used, 1 left out (1 too short" in summary[0]
    assert f"{first}: 800 input samples/frames give" in summary[0] and "CTC target needs" in summary[0]
    # the check can be switched off: ESPnet's behaviour, the short utterance is batched (and CTC gets inf)
    assert "utterance check" not in _check_disabled_log(tiny_exp, data, stats, tmp_path, caplog)


def _check_disabled_log(tiny_exp, data, stats, tmp_path, caplog):
    caplog.clear()
    with caplog.at_level(logging.INFO):
        try:
            _train(tiny_exp, data, stats, tmp_path / "unchecked", "--utterance_check_conf", "enabled=false")
        except Exception:  # noqa: BLE001 - whatever ESPnet does with it, the check did not run
            pass
    return caplog.text


def test_wav_scp_line_without_a_path_names_file_line_and_id(tiny_exp, tmp_path):
    data, stats = _copy(tiny_exp, tmp_path)
    third = (data / "wav.scp").read_text().splitlines()[2].split()[0]
    _edit_lines(data / "wav.scp", lambda ls: [third if ln.split()[0] == third else ln for ln in ls])
    with pytest.raises(UtteranceCheckError, match=f"{data / 'wav.scp'}:3: utterance '{third}' has no audio path"):
        _train(tiny_exp, data, stats, tmp_path / "exp")
    assert not (tmp_path / "exp" / "config.yaml").exists()


def test_frame_counter_matches_the_encoder_and_ctc_needs_blanks_between_repeats():
    from espnet_llm_entropy.tasks.encoder_frames import EncoderFrameCounter
    from espnet_llm_entropy.testing.tiny_components import build_tiny_speech_encoder

    torch.manual_seed(0)
    encoder = build_tiny_speech_encoder(output_size=16, specaug=False)
    counter = EncoderFrameCounter(encoder)
    for n in (1200, 1601, 16000):
        encoder.eval()
        with torch.no_grad():
            _, lengths = encoder(torch.randn(1, n), torch.tensor([n]), augment=False)
        assert counter.frames(n) == int(lengths[0])
    assert counter.frames(400) == 0  # 3 fbank frames: shorter than conv2d subsampling needs
    frames = counter.frames(16000)
    assert counter.at_least(16000, frames) and not counter.at_least(16000, frames + 1)
    assert ctc_frames_needed([3, 3, 4, 4, 4, 5]) == 9 and ctc_frames_needed([]) == 0
