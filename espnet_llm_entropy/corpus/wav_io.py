"""Small audio helpers: parse espeak-ng's WAV stream, resample, write PCM16.

All corpus audio is 16 kHz, mono, 16-bit PCM WAV. Levels are given in dBFS
relative to a full-scale amplitude of 1.0 (int16 value 32768): a signal of
RMS r has level ``20 * log10(r)`` dBFS (a full-scale sine is -3.01 dBFS).
"""

import functools
import math
import struct
from pathlib import Path
from typing import Tuple, Union

import numpy as np
import soundfile
from scipy.signal import firwin, resample_poly

SAMPLE_RATE = 16000


def parse_pcm16_wav_bytes(data: bytes, source: str = "<bytes>") -> Tuple[np.ndarray, int]:
    """Decode a mono 16-bit PCM RIFF/WAVE byte string.

    espeak-ng's ``--stdout`` writes a header whose size fields are
    placeholders (the length is unknown while streaming), so the data chunk
    is taken to run to the end of the bytes.

    Args:
        data: the WAV bytes.
        source: a name for error messages.

    Returns:
        (samples, sample_rate): samples (T,) float32 in [-1, 1).
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{source}: not a RIFF/WAVE stream ({len(data)} bytes)")
    pos = 12
    sample_rate = None
    while pos + 8 <= len(data):
        chunk_id = data[pos:pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4:pos + 8])
        body = pos + 8
        if chunk_id == b"fmt ":
            fmt, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[body:body + 16])
            if (fmt, channels, bits) != (1, 1, 16):
                raise ValueError(
                    f"{source}: expected mono 16-bit PCM, got format {fmt}, "
                    f"{channels} channel(s), {bits} bits"
                )
            sample_rate = rate
        elif chunk_id == b"data":
            if sample_rate is None:
                raise ValueError(f"{source}: data chunk before fmt chunk")
            payload = data[body:]
            payload = payload[: len(payload) // 2 * 2]
            samples = np.frombuffer(payload, dtype="<i2").astype(np.float32) / 32768.0
            return samples, sample_rate
        pos = body + size + (size & 1)
    raise ValueError(f"{source}: no data chunk in WAV stream")


@functools.lru_cache(maxsize=8)
def _lowpass_filter(up: int, down: int) -> np.ndarray:
    """The anti-aliasing FIR filter ``resample_poly`` designs by default (Kaiser window, beta 5).

    Designing it takes about as long as filtering a 3-second utterance, and
    corpus synthesis resamples every espeak-ng run from 22,050 Hz, so it is
    designed once per rate pair. (2 * 10 * max(up, down) + 1,) float64, read-only.
    """
    max_rate = max(up, down)
    taps = firwin(2 * 10 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0))
    taps.setflags(write=False)
    return taps


def resample(samples: np.ndarray, rate_in: int, rate_out: int = SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling (deterministic), e.g. 22050 -> 16000 Hz.

    The same result as ``scipy.signal.resample_poly`` with its default
    filter, whose design is cached.

    Args:
        samples: (T,) float array.
    Returns:
        (T * rate_out / rate_in,) float32 array.
    """
    if rate_in == rate_out:
        return samples.astype(np.float32)
    g = math.gcd(rate_in, rate_out)
    up, down = rate_out // g, rate_in // g
    samples = np.asarray(samples)
    taps = _lowpass_filter(up, down)
    if np.issubdtype(samples.dtype, np.floating):
        taps = taps.astype(samples.dtype)  # scipy designs in float64 and casts to the signal's dtype
    return resample_poly(samples, up, down, window=taps).astype(np.float32)


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    """Round and clip float samples in [-1, 1] to int16: (T,) -> (T,)."""
    return np.clip(np.round(samples * 32768.0), -32768, 32767).astype(np.int16)


def write_pcm16_wav(path: Union[str, Path], samples: np.ndarray) -> None:
    """Write (T,) samples (float in [-1, 1] or int16) as 16 kHz PCM16 WAV."""
    if samples.dtype != np.int16:
        samples = to_pcm16(samples)
    soundfile.write(str(path), samples, SAMPLE_RATE, subtype="PCM_16", format="WAV")


def rms_dbfs(samples: np.ndarray) -> float:
    """RMS level in dBFS of float samples (T,); -inf for digital silence."""
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return -math.inf if rms == 0.0 else 20.0 * math.log10(rms)
