"""Signal helpers: WAV stream parsing, resampling, silence, coloured noise."""

import io
import math
import struct

import numpy as np
import pytest
import soundfile

from espnet_llm_entropy.corpus.nonspeech_audio import coloured_noise, digital_silence
from espnet_llm_entropy.corpus.wav_io import (
    parse_pcm16_wav_bytes,
    resample,
    rms_dbfs,
    to_pcm16,
    write_pcm16_wav,
)


def streamed_wav(samples: np.ndarray, rate: int) -> bytes:
    """A WAV as espeak-ng --stdout writes it: placeholder sizes in the header."""
    buf = io.BytesIO()
    soundfile.write(buf, samples, rate, subtype="PCM_16", format="WAV")
    data = bytearray(buf.getvalue())
    data[4:8] = struct.pack("<I", 0x7FFFF024)
    data[40:44] = struct.pack("<I", 0x7FFFF000)
    return bytes(data)


def test_parse_streamed_wav():
    samples = (np.arange(100, dtype=np.int16) - 50) * 300
    decoded, rate = parse_pcm16_wav_bytes(streamed_wav(samples, 22050))
    assert rate == 22050
    np.testing.assert_array_equal(to_pcm16(decoded), samples)


def test_parse_rejects_bad_streams():
    with pytest.raises(ValueError, match="espeak: not a RIFF/WAVE"):
        parse_pcm16_wav_bytes(b"hello world!", "espeak")
    buf = io.BytesIO()
    soundfile.write(buf, np.zeros((10, 2)), 16000, subtype="PCM_16", format="WAV")
    with pytest.raises(ValueError, match="2 channel"):
        parse_pcm16_wav_bytes(buf.getvalue())


def test_resample_keeps_a_tone():
    t = np.arange(22050) / 22050
    tone = 0.5 * np.sin(2 * math.pi * 440 * t)
    out = resample(tone, 22050, 16000)
    assert out.shape == (16000,)
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spectrum) - 440) <= 1  # 1 Hz bins over 1 s
    assert abs(rms_dbfs(out[100:-100]) - rms_dbfs(tone)) < 0.1


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
def test_resample_equals_scipy_with_its_default_filter(dtype):
    from scipy.signal import resample_poly

    rng = np.random.default_rng(0)
    x = (rng.standard_normal(22050 + 17) * 1000).astype(dtype)
    for _ in range(2):  # the second call uses the cached filter
        assert np.array_equal(resample(x, 22050, 16000), resample_poly(x, 320, 441).astype(np.float32))
    assert np.array_equal(resample(x, 8000, 16000), resample_poly(x, 2, 1).astype(np.float32))


def test_silence_and_levels(tmp_path):
    silence = digital_silence(1.5)
    assert silence.shape == (24000,) and not silence.any()
    assert rms_dbfs(silence) == -math.inf
    rng = np.random.default_rng(0)
    for colour in ("white", "pink", "brown"):
        for level in (-60.0, -30.0):
            noise = coloured_noise(rng, colour, 2.0, level)
            path = tmp_path / f"{colour}{level}.wav"
            write_pcm16_wav(path, noise)
            back, rate = soundfile.read(path, dtype="float32")
            assert rate == 16000 and back.shape == (32000,)
            # after 16-bit quantization the level is still within 0.1 dB
            assert rms_dbfs(back) == pytest.approx(level, abs=0.1)
            assert abs(float(back.mean())) < 10 ** (level / 20)


def octave_power(x: np.ndarray, low: float) -> float:
    freqs = np.fft.rfftfreq(x.size, 1 / 16000)
    power = np.abs(np.fft.rfft(x)) ** 2
    return float(power[(freqs >= low) & (freqs < 2 * low)].sum())


def test_noise_colours_have_their_spectral_slope():
    rng = np.random.default_rng(1)
    white = coloured_noise(rng, "white", 4.0, -30)
    pink = coloured_noise(rng, "pink", 4.0, -30)
    brown = coloured_noise(rng, "brown", 4.0, -30)
    # octave 100-200 Hz vs 3200-6400 Hz (5 octaves apart)
    ratio_db = {name: 10 * math.log10(octave_power(x, 3200) / octave_power(x, 100))
                for name, x in [("white", white), ("pink", pink), ("brown", brown)]}
    assert ratio_db["white"] == pytest.approx(10 * math.log10(32), abs=1.0)  # +3 dB/octave
    assert ratio_db["pink"] == pytest.approx(0.0, abs=1.0)  # equal power per octave
    assert ratio_db["brown"] == pytest.approx(-10 * math.log10(32), abs=1.5)


def test_noise_option_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown noise colour 'blue'"):
        coloured_noise(rng, "blue", 1.0, -30)
    with pytest.raises(ValueError, match="level_dbfs must be <= -15"):
        coloured_noise(rng, "white", 1.0, -3)
    with pytest.raises(ValueError, match="duration_s must be > 0"):
        digital_silence(0)
