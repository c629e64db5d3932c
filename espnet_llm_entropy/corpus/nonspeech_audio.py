"""Non-speech signals: digital silence and coloured noise at a set RMS level.

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
    shaped = shaped - shaped.mean()
    shaped *= 10 ** (level_dbfs / 20.0) / np.sqrt(np.mean(shaped**2))
    return shaped.astype(np.float32)
