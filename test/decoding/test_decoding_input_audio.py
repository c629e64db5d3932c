"""Decoding input preparation: down-mix, resampling, PCM scaling, non-finite samples."""

import logging

import numpy as np
import pytest
import torch

from espnet_llm_entropy.decoding.input_audio import AudioInputError, prepare_waveform


def _tone(freq: float, rate: int, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_mono_at_the_model_rate_passes_unchanged_and_silently(caplog):
    wave = _tone(440, 16000)
    with caplog.at_level(logging.WARNING):
        out = prepare_waveform(wave, 16000, 16000, "u1")
    assert out.dtype == np.float32 and out.shape == wave.shape
    np.testing.assert_array_equal(out, wave)
    assert not caplog.records


def test_stereo_is_downmixed_with_a_warning_naming_utterance_and_channels(caplog):
    left, right = _tone(440, 16000), _tone(880, 16000)
    with caplog.at_level(logging.WARNING):
        out = prepare_waveform(np.stack([left, right], axis=1), 16000, 16000, "stereo-utt")
    np.testing.assert_allclose(out, (left + right) / 2, atol=1e-7)
    assert "stereo-utt" in caplog.text and "2-channel" in caplog.text


def test_single_column_is_mono_without_warning(caplog):
    wave = _tone(440, 16000)
    with caplog.at_level(logging.WARNING):
        out = prepare_waveform(wave[:, None], 16000, 16000, "u")
    np.testing.assert_array_equal(out, wave)
    assert not caplog.records


@pytest.mark.parametrize("rate", [8000, 44100, 48000])
def test_other_rates_are_resampled_with_a_warning_naming_both_rates(rate, caplog):
    wave = _tone(440, rate, seconds=1.0)
    with caplog.at_level(logging.WARNING):
        out = prepare_waveform(wave, rate, 16000, "odd-rate")
    assert out.dtype == np.float32 and out.shape == (16000,)
    assert f"odd-rate: audio at {rate} Hz resampled to the model's 16000 Hz" in caplog.text
    # the tone keeps its frequency: the spectrum peaks at 440 Hz (1 Hz bins)
    assert abs(int(np.argmax(np.abs(np.fft.rfft(out)))) - 440) <= 1
    np.testing.assert_allclose(np.abs(out[2000:-2000]).max(), 0.5, atol=0.02)


def test_stereo_48k_is_downmixed_and_resampled(caplog):
    wave = np.stack([_tone(440, 48000), _tone(440, 48000)], axis=1)
    with caplog.at_level(logging.WARNING):
        out = prepare_waveform(wave, 48000, 16000, "s48")
    assert out.shape == (8000,)
    assert "2-channel" in caplog.text and "48000 Hz" in caplog.text


def test_integer_pcm_is_scaled_like_soundfile():
    pcm = np.array([0, 16384, -32768, 32767], dtype=np.int16)
    np.testing.assert_allclose(prepare_waveform(pcm, 16000, 16000, "u"), [0, 0.5, -1, 32767 / 32768])
    u8 = np.array([128, 0, 255], dtype=np.uint8)
    np.testing.assert_allclose(prepare_waveform(u8, 16000, 16000, "u"), [0, -1, 127 / 128])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_are_an_error_naming_the_utterance(bad):
    wave = _tone(440, 16000)
    wave[[10, 20]] = bad
    with pytest.raises(AudioInputError, match=r"utterance broken-1: 2 of 8000 audio samples are not finite"):
        prepare_waveform(wave, 16000, 16000, "broken-1")


def test_extreme_and_clipped_amplitude_pass_unchanged():
    rng = np.random.default_rng(0)
    clipped = np.clip(rng.normal(0, 10, 16000), -1, 1).astype(np.float32)
    loud = (rng.normal(0, 1, 16000) * 1e6).astype(np.float32)
    np.testing.assert_array_equal(prepare_waveform(clipped, 16000, 16000, "c"), clipped)
    np.testing.assert_array_equal(prepare_waveform(loud, 16000, 16000, "l"), loud)


def test_empty_audio_stays_empty_at_any_rate():
    assert prepare_waveform(np.zeros(0, np.float32), 16000, 16000, "e").shape == (0,)
    assert prepare_waveform(np.zeros((0, 2), np.float32), 8000, 16000, "e").shape == (0,)


def test_tensors_are_accepted():
    wave = torch.from_numpy(_tone(440, 16000))
    np.testing.assert_array_equal(prepare_waveform(wave, 16000, 16000, "t"), wave.numpy())


def test_shape_dtype_and_rate_errors_name_the_utterance():
    with pytest.raises(AudioInputError, match=r"utt-x.*channels-first"):
        prepare_waveform(np.zeros((2, 16000), np.float32), 16000, 16000, "utt-x")
    with pytest.raises(AudioInputError, match=r"utt-x.*shape \(1, 2, 3\)"):
        prepare_waveform(np.zeros((1, 2, 3), np.float32), 16000, 16000, "utt-x")
    with pytest.raises(AudioInputError, match=r"utt-x.*dtype"):
        prepare_waveform(np.array(["a"]), 16000, 16000, "utt-x")
    with pytest.raises(AudioInputError, match=r"utt-x.*sampling rate.*0"):
        prepare_waveform(np.zeros(10, np.float32), 0, 16000, "utt-x")
    with pytest.raises(AudioInputError, match=r"utt-x.*model's sampling rate"):
        prepare_waveform(np.zeros(10, np.float32), 16000, 16000.5, "utt-x")
