"""Non-speech signals: digital silence, coloured noise, tones, clicks and babble.

Used for the non-speech test set (does a model output text for silence or
noise?) and for the noise list of training-time augmentation.
"""

import numpy as np

from espnet_llm_entropy.corpus.wav_io import SAMPLE_RATE

NOISE_COLOURS = ("white", "pink", "brown")
# power spectral density ~ 1 / f**exponent
_COLOUR_EXPONENT = {"white": 0.0, "pink": 1.0, "brown": 2.0}


def digital_silence(duration_s: float) -> np.ndarray:
    """All-zero signal: (round(duration_s * 16000),) float32."""
    if duration_s <= 0:
        raise ValueError(f"duration_s must be > 0, got {duration_s}")
    return np.zeros(int(round(duration_s * SAMPLE_RATE)), dtype=np.float32)


def scale_to_rms_dbfs(signal: np.ndarray, level_dbfs: float) -> np.ndarray:
    """``signal`` scaled to an RMS of ``level_dbfs`` (float32; a silent signal stays silent)."""
    rms = float(np.sqrt(np.mean(np.square(signal, dtype=np.float64))))
    if rms == 0.0:
        return signal.astype(np.float32)
    return (signal * (10 ** (level_dbfs / 20.0) / rms)).astype(np.float32)


def coloured_noise(
    rng: np.random.Generator, colour: str, duration_s: float, level_dbfs: float
) -> np.ndarray:
    """Gaussian noise with a 1/f**k power spectrum scaled to an exact RMS.

    Args:
        rng: random generator.
        colour: "white" (k=0), "pink" (k=1, equal power per octave) or
            "brown" (k=2).
        duration_s: length in seconds.
        level_dbfs: RMS level in dBFS (full scale = 1.0); must leave headroom
            (<= -15 dBFS) so that peaks do not clip.

    Returns:
        (round(duration_s * 16000),) float32, zero mean, RMS = 10**(level/20).
    """
    if colour not in _COLOUR_EXPONENT:
        raise ValueError(f"unknown noise colour {colour!r}; expected one of {NOISE_COLOURS}")
    if duration_s <= 0:
        raise ValueError(f"duration_s must be > 0, got {duration_s}")
    if level_dbfs > -15.0:
        raise ValueError(f"level_dbfs must be <= -15 dBFS to avoid clipping, got {level_dbfs}")
    n = int(round(duration_s * SAMPLE_RATE))
    white = rng.standard_normal(n)
    exponent = _COLOUR_EXPONENT[colour]
    if exponent == 0.0:
        shaped = white
    else:
        spectrum = np.fft.rfft(white)
        freqs = np.fft.rfftfreq(n, d=1.0 / SAMPLE_RATE)
        gain = np.zeros_like(freqs)
        gain[1:] = freqs[1:] ** (-exponent / 2.0)
        shaped = np.fft.irfft(spectrum * gain, n=n)
    return scale_to_rms_dbfs(shaped - shaped.mean(), level_dbfs)


def tone_sequence(
    rng: np.random.Generator, duration_s: float, level_dbfs: float, note_s: float = 0.4
) -> np.ndarray:
    """A music-like signal: notes of a harmonic tone (fundamental + 3 overtones).

    Each note lasts ``note_s`` with a 10 ms attack and an exponential decay;
    fundamentals are drawn from a pentatonic scale over 110-880 Hz.

    Returns:
        (round(duration_s * 16000),) float32 at RMS ``level_dbfs``.
    """
    n = int(round(duration_s * SAMPLE_RATE))
    if n <= 0:
        raise ValueError(f"duration_s must be > 0, got {duration_s}")
    note_len = max(int(note_s * SAMPLE_RATE), 1)
    t = np.arange(note_len) / SAMPLE_RATE
    envelope = np.minimum(t / 0.01, 1.0) * np.exp(-3.0 * t / note_s)
    semitones = np.array([0, 2, 4, 7, 9])
    out = np.zeros(n)
    for start in range(0, n, note_len):
        octave = int(rng.integers(0, 3))
        f0 = 110.0 * 2 ** (octave + semitones[int(rng.integers(len(semitones)))] / 12.0)
        note = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 5)) * envelope
        stop = min(start + note_len, n)
        out[start:stop] = note[: stop - start]
    return scale_to_rms_dbfs(out, level_dbfs)


def click_train(
    rng: np.random.Generator, duration_s: float, peak: float = 0.5, rate_hz: float = 4.0
) -> np.ndarray:
    """Clicks: short decaying noise bursts (2 ms) at about ``rate_hz`` per second, jittered.

    Returns:
        (round(duration_s * 16000),) float32 with peaks near ``peak``.
    """
    n = int(round(duration_s * SAMPLE_RATE))
    if n <= 0:
        raise ValueError(f"duration_s must be > 0, got {duration_s}")
    out = np.zeros(n)
    burst_len = int(0.002 * SAMPLE_RATE)
    decay = np.exp(-np.arange(burst_len) / (burst_len / 4))
    period = SAMPLE_RATE / rate_hz
    position = rng.uniform(0, period)
    while position < n - burst_len:
        start = int(position)
        burst = rng.standard_normal(burst_len) * decay
        out[start:start + burst_len] += burst / np.abs(burst).max() * peak
        position += period * rng.uniform(0.5, 1.5)
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def reversed_babble(
    rng: np.random.Generator, utterances: list, duration_s: float, level_dbfs: float
) -> np.ndarray:
    """Babble without words: a mix of time-reversed speech recordings.

    Args:
        rng: random generator (start offsets).
        utterances: (T_i,) speech waveforms at 16 kHz (at least one, non-silent).
        duration_s: length of the result.
        level_dbfs: RMS level of the mix.

    Returns:
        (round(duration_s * 16000),) float32: each recording reversed, looped
        to the length from a random offset, summed, scaled to the level.
    """
    n = int(round(duration_s * SAMPLE_RATE))
    if n <= 0 or not utterances:
        raise ValueError(f"reversed_babble needs duration_s > 0 and utterances, got {duration_s}, "
                         f"{len(utterances)} utterances")
    mix = np.zeros(n)
    for wave in utterances:
        wave = np.asarray(wave, dtype=np.float64)[::-1]
        start = int(rng.integers(wave.size))
        mix += wave[(start + np.arange(n)) % wave.size]
    return scale_to_rms_dbfs(mix, level_dbfs)
