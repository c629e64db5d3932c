"""``llm_asr_inference`` on awkward inputs, through ``main([...])`` with a tiny trained model.

Empty and 20 ms audio, 8 kHz mono, 48 kHz stereo, clipped and extreme
amplitude, NaN samples, a key file with an id the audio list lacks, an
unreadable file: each either decodes (with a warning naming the utterance)
or stops the job with an error naming it, and a failed job leaves no
``1best_recog`` behind.
"""

import functools
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

from espnet_llm_entropy.bin import llm_asr_inference

RESULT_FILES = ("text", "token", "token_int", "score")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Mini corpus (4/2/2 utterances) and a 1-epoch LLM-ASR SFT model: (config, checkpoint, test wav)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (needed to synthesise the mini corpus; run `make setup`)")
    from espnet_llm_entropy.pipeline import espnet_steps
    from espnet_llm_entropy.testing.experiment_setup import build_tiny_experiment

    root = tmp_path_factory.mktemp("inference_exp")
    exp = build_tiny_experiment(root, 4, 2, 2)
    sft = espnet_steps.train(
        exp.sft_config, exp.phones, exp.data / "train", exp.data / "dev", exp.stats, root / "exp_sft",
        extra=["--llm_conf", f"path={exp.llm_dir}", "--max_epoch", "1", "--batch_size", "2"],
    )
    first_wav = (exp.data / "test" / "wav.scp").read_text().split("\n")[0].split()[1]
    return sft / "config.yaml", sft / "1epoch.pth", Path(first_wav)


@pytest.fixture(scope="module")
def awkward(trained, tmp_path_factory):
    """A wav.scp of awkward recordings made from one real test utterance."""
    from scipy.signal import resample_poly

    speech, rate = soundfile.read(trained[2])
    assert rate == 16000
    rng = np.random.default_rng(0)
    d = tmp_path_factory.mktemp("awkward")
    files = {
        "a-empty": (np.zeros(0), 16000, "PCM_16"),
        "b-20ms": (speech[:320], 16000, "PCM_16"),
        "c-mono8k": (resample_poly(speech, 1, 2), 8000, "PCM_16"),
        "d-stereo48k": (np.stack([resample_poly(speech, 3, 1)] * 2, axis=1), 48000, "PCM_16"),
        "e-clipped": (np.clip(rng.normal(0, 10, 32000), -1, 1), 16000, "PCM_16"),
        "f-extreme": (rng.normal(0, 1e6, 32000), 16000, "FLOAT"),
        "g-speech": (speech, 16000, "PCM_16"),
    }
    lines = []
    for uid, (samples, fs, subtype) in files.items():
        soundfile.write(d / f"{uid}.wav", samples, fs, subtype=subtype)
        lines.append(f"{uid} {d / uid}.wav\n")
    (d / "wav.scp").write_text("".join(lines))
    return d, {uid: len(samples) for uid, (samples, _, _) in files.items()}


def _run(trained, scp: Path, out: Path, *extra: str):
    config, model, _ = trained
    llm_asr_inference.main([
        "--asr_train_config", str(config), "--asr_model_file", str(model), "--output_dir", str(out),
        "--data_path_and_name_and_type", f"{scp},speech,sound", *extra,
    ])


def _results(out: Path):
    return {
        name: dict((ln.split(" ", 1) + [""])[:2] for ln in (out / "1best_recog" / name).read_text().splitlines())
        for name in RESULT_FILES
    }


def _nothing_left(out: Path):
    assert not (out / "1best_recog").exists()
    assert not [p.name for p in out.glob(".1best_recog*")]


def test_awkward_inputs_decode_with_warnings_naming_the_utterance(trained, awkward, tmp_path, caplog, monkeypatch):
    from espnet_llm_entropy.speech2text import LLMSpeech2Text

    seen = {}
    real_batch = LLMSpeech2Text.batch

    @functools.wraps(real_batch)  # keeps the signature the CLI inspects
    def spy(self, waves, **options):
        for w in waves:
            assert w.ndim == 1 and w.dtype == np.float32
            seen.setdefault(len(seen), w.size)
        return real_batch(self, waves, **options)

    monkeypatch.setattr(LLMSpeech2Text, "batch", spy)
    d, lengths = awkward
    with caplog.at_level(logging.WARNING):
        _run(trained, d / "wav.scp", tmp_path / "out", "--batch_size", "1")
    results = _results(tmp_path / "out")
    for name in RESULT_FILES:
        assert sorted(results[name]) == sorted(lengths), name
    assert results["text"]["a-empty"] == "" and results["text"]["b-20ms"] == ""
    assert all("\ufffd" not in text for text in results["text"].values())
    assert "utterance a-empty: empty audio (0 samples)" in caplog.text
    short = [r.getMessage() for r in caplog.records if "b-20ms" in r.getMessage()]
    assert len(short) == 1 and ("too short" in short[0] or "shorter than the encoder needs" in short[0])
    assert "utterance c-mono8k: audio at 8000 Hz resampled to the model's 16000 Hz" in caplog.text
    assert "utterance d-stereo48k: 2-channel audio down-mixed" in caplog.text
    assert "utterance d-stereo48k: audio at 48000 Hz resampled" in caplog.text
    # the model saw 16 kHz mono: 8 kHz doubled, 48 kHz divided by 3
    sizes = sorted(seen.values())
    assert 2 * lengths["c-mono8k"] in sizes and lengths["d-stereo48k"] // 3 in sizes
    assert lengths["g-speech"] in sizes and lengths["f-extreme"] in sizes


def test_batches_mix_rates_and_channels(trained, awkward, tmp_path):
    d, lengths = awkward
    _run(trained, d / "wav.scp", tmp_path / "out", "--batch_size", "3")
    results = _results(tmp_path / "out")
    assert sorted(results["text"]) == sorted(lengths)
    assert results["text"]["a-empty"] == ""


def test_key_file_id_missing_from_wav_scp_fails_naming_it_and_leaves_nothing(trained, awkward, tmp_path):
    d, _ = awkward
    out = tmp_path / "out"
    good = tmp_path / "good.scp"
    good.write_text("c-mono8k x\ng-speech y\n")
    _run(trained, d / "wav.scp", out, "--key_file", str(good))
    assert (out / "1best_recog" / "text").exists()  # a previous result, removed by the failing run
    with pytest.raises(SystemExit, match="absent.scp"):
        _run(trained, d / "wav.scp", out, "--key_file", str(tmp_path / "absent.scp"))
    bad = tmp_path / "bad.scp"
    bad.write_text("g-speech x\nno-such-utt-1 y\nc-mono8k z\nno-such-utt-2 w\n")
    with pytest.raises(SystemExit) as err:
        _run(trained, d / "wav.scp", out, "--key_file", str(bad))
    assert "lists 2 utterance id(s)" in str(err.value) and "no-such-utt-1, no-such-utt-2" in str(err.value)
    _nothing_left(out)


def test_key_file_in_another_order_decodes_its_ids(trained, awkward, tmp_path):
    d, _ = awkward
    keys = tmp_path / "keys.scp"
    keys.write_text("g-speech\nc-mono8k\n")
    _run(trained, d / "wav.scp", tmp_path / "out", "--key_file", str(keys))
    assert sorted(_results(tmp_path / "out")["text"]) == ["c-mono8k", "g-speech"]


def test_failure_in_the_middle_of_a_shard_leaves_no_partial_result(trained, awkward, tmp_path):
    d, _ = awkward
    broken = np.zeros(16000, dtype=np.float32)
    broken[100] = np.nan
    soundfile.write(tmp_path / "nan.wav", broken, 16000, subtype="FLOAT")
    scp = tmp_path / "wav.scp"
    scp.write_text(f"a-good {d / 'g-speech.wav'}\nb-nan {tmp_path / 'nan.wav'}\nc-good {d / 'g-speech.wav'}\n")
    with pytest.raises(SystemExit, match=r"utterance b-nan: 1 of 16000 audio samples are not finite"):
        _run(trained, scp, tmp_path / "out")
    _nothing_left(tmp_path / "out")


def test_unreadable_audio_and_missing_path_name_file_and_line(trained, tmp_path):
    (tmp_path / "junk.wav").write_bytes(b"not audio at all")
    scp = tmp_path / "wav.scp"
    scp.write_text(f"u1 {tmp_path / 'junk.wav'}\n")
    with pytest.raises(SystemExit, match=r"wav.scp:1: cannot read the audio of utterance 'u1'"):
        _run(trained, scp, tmp_path / "out")
    scp.write_text("u1\n")
    with pytest.raises(SystemExit, match=r"wav.scp:1: expected '<utterance id> <audio file>', got 'u1'"):
        _run(trained, scp, tmp_path / "out")
    _nothing_left(tmp_path / "out")


def test_model_tag_decodes_a_pack_like_the_experiment(trained, awkward, tmp_path):
    """``--model_tag`` takes a pack (asr.sh stage 14) as ESPnet's asr_inference does."""
    from espnet_llm_entropy.packing.pack_model import pack_llm_asr

    config, model, _ = trained
    pack = pack_llm_asr(config, model, tmp_path / "model.zip", include_llm=True)
    scp = awkward[0] / "wav.scp"
    _run(trained, scp, tmp_path / "from_exp")
    llm_asr_inference.main([
        "--model_tag", str(pack), "--output_dir", str(tmp_path / "from_pack"),
        "--data_path_and_name_and_type", f"{scp},speech,sound",
    ])
    assert _results(tmp_path / "from_pack") == _results(tmp_path / "from_exp")
    with pytest.raises(SystemExit, match="--model_tag"):
        llm_asr_inference.main(["--output_dir", str(tmp_path / "x"), "--data_path_and_name_and_type",
                                f"{scp},speech,sound"])
