"""Bring one utterance's audio into the shape and rate the model was trained on.

The recognizer's frontend expects mono float audio at its own sampling
rate (``frontend_conf.fs``, 16 kHz in every recipe here). What arrives at
decoding time can differ:

* **several channels** (a stereo file, an (S, C) array as soundfile reads
  it): down-mixed to mono, the mean of the channels, with a warning naming
  the utterance and the channel count. A multi-channel array with more than
  :data:`MAX_CHANNELS` columns is an error: it is almost always a
  channels-first (C, S) array, which would otherwise be averaged over time;
* **another sampling rate** (an 8 kHz telephone file, 44.1 or 48 kHz
  recordings): resampled with a polyphase filter
  (``scipy.signal.resample_poly``, the exact ratio of the two rates), with a
  warning naming the utterance and both rates. Resampling rather than an
  error, because it is what ESPnet's own data preparation
  (``format_wav_scp.py --fs``) does to such files before training, and a
  wrong rate decoded as if it were right gives fluent garbage (or nothing)
  without a word. Audio below the model's rate has no content above its
  Nyquist frequency; expect worse accuracy than on native-rate audio;
* **integer PCM** (int16/int32 arrays): scaled to [-1, 1) the way
  soundfile's float reading does;
* **non-finite samples** (NaN, inf, e.g. from a broken float WAV): an error
  naming the utterance and how many samples are bad; they would turn every
  feature of the utterance into NaN;
* **clipped or extreme amplitude**: passed on unchanged. The frontend's
  log-mel features and the utterance mean-variance normalisation make the
  level irrelevant to the model; clipping is a property of the recording.

Empty input (0 samples) passes as an empty (0,) array: what to do with
audio too short to encode is the recognizer's decision, not this one's.

The rate of each utterance of a data directory comes from its file's header
(:func:`sound_file_rates`): ESPnet's streaming loader keeps only the samples.
"""

from __future__ import annotations

import logging
from math import gcd
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np

from espnet_llm_entropy.fileio.kaldi_map import iter_kaldi_map

logger = logging.getLogger(__name__)

#: More columns than this in an (S, C) array is taken for a channels-first mistake.
MAX_CHANNELS = 64


class AudioInputError(ValueError):
    """Audio that cannot be turned into model input; names the utterance."""


def to_float_samples(wave: np.ndarray, utt_id: str) -> np.ndarray:
    """Float samples of ``wave``: integer PCM is scaled to [-1, 1), floats are kept.

    Args:
        wave: (S,) or (S, C) samples of any real dtype.
        utt_id: named in errors.

    Returns:
        The same shape, float64.
    """
    if wave.dtype.kind in "iu":
        info = np.iinfo(wave.dtype)
        scale = float(info.max) + 1.0
        offset = 0.0 if wave.dtype.kind == "i" else scale / 2.0
        return (wave.astype(np.float64) - offset) / (scale - offset)
    if wave.dtype.kind != "f":
        raise AudioInputError(
            f"utterance {utt_id}: audio samples must be real numbers, got dtype {wave.dtype}"
        )
    return wave.astype(np.float64, copy=False)


def downmix(wave: np.ndarray, utt_id: str) -> np.ndarray:
    """(S,) or (S, C) -> (S,): the mean of the channels, with a warning when C > 1."""
    if wave.ndim == 1:
        return wave
    if wave.ndim != 2:
        raise AudioInputError(
            f"utterance {utt_id}: expected audio of shape (samples,) or (samples, channels), "
            f"got an array of shape {tuple(wave.shape)}"
        )
    channels = wave.shape[1]
    if channels > MAX_CHANNELS:
        raise AudioInputError(
            f"utterance {utt_id}: audio of shape {tuple(wave.shape)} would have {channels} "
            f"channels (more than {MAX_CHANNELS}); expected (samples, channels) as soundfile "
            "reads it. Is the array channels-first? Pass its transpose."
        )
    if channels == 0:
        raise AudioInputError(f"utterance {utt_id}: audio has 0 channels")
    if channels > 1:
        logger.warning(
            "utterance %s: %d-channel audio down-mixed to mono (mean of the channels)",
            utt_id, channels,
        )
    return wave.mean(axis=1)


def resample(wave: np.ndarray, sample_rate: int, target_rate: int, utt_id: str) -> np.ndarray:
    """(S,) at ``sample_rate`` -> (S * target_rate / sample_rate,) at ``target_rate``.

    Polyphase filtering with the exact rational ratio of the rates (a Kaiser
    windowed FIR anti-aliasing filter, ``scipy.signal.resample_poly``); a
    warning names the utterance and both rates. Equal rates return ``wave``.
    """
    if sample_rate == target_rate:
        return wave
    logger.warning(
        "utterance %s: audio at %d Hz resampled to the model's %d Hz",
        utt_id, sample_rate, target_rate,
    )
    if wave.size == 0:
        return wave
    from scipy.signal import resample_poly

    common = gcd(sample_rate, target_rate)
    return resample_poly(wave, target_rate // common, sample_rate // common)


def _check_rate(rate, name: str, utt_id: str) -> int:
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate <= 0:
        raise AudioInputError(
            f"utterance {utt_id}: {name} must be a positive whole number of Hz, got {rate!r}"
        )
    return int(rate)


def prepare_waveform(
    wave: Union[np.ndarray, "torch.Tensor"],  # noqa: F821 (torch only named)
    sample_rate: int,
    target_rate: int,
    utt_id: str,
) -> np.ndarray:
    """Mono float32 audio at the model's rate, from what a file or a caller gives.

    Args:
        wave: (S,) or (S, C) samples (samples first, as soundfile and ESPnet's
            readers give them); a numpy array or a CPU/GPU tensor; float or
            integer PCM.
        sample_rate: the rate of ``wave`` in Hz.
        target_rate: the model's rate in Hz (the frontend's ``fs``).
        utt_id: the utterance, named in every warning and error.

    Returns:
        (S',) float32, S' = S * target_rate / sample_rate (rounded up).

    Raises:
        AudioInputError: a non-finite sample, a bad shape or rate, a
            non-numeric dtype (each message names the utterance).
    """
    sample_rate = _check_rate(sample_rate, "the audio's sampling rate", utt_id)
    target_rate = _check_rate(target_rate, "the model's sampling rate", utt_id)
    if hasattr(wave, "detach"):  # a torch tensor
        wave = wave.detach().cpu().numpy()
    wave = to_float_samples(np.asarray(wave), utt_id)
    bad = int(np.count_nonzero(~np.isfinite(wave)))
    if bad:
        raise AudioInputError(
            f"utterance {utt_id}: {bad} of {wave.size} audio samples are not finite "
            "(NaN or infinity); expected finite sample values"
        )
    mono = downmix(wave, utt_id)
    mono = resample(mono, sample_rate, target_rate, utt_id)
    return np.ascontiguousarray(mono, dtype=np.float32)


# ----------------------------------------------------------------------------
# Where a data directory's audio comes from: the true rate of each utterance.
# ESPnet's streaming loader reads "sound" entries with soundfile.read and keeps
# only the samples; the rate has to be read from the file's header.


def read_audio_list(path: Union[str, Path]) -> Dict[str, Tuple[int, str]]:
    """``<utt-id> <location>`` lines of a ``wav.scp`` -> {utt_id: (line number, location)}.

    Blank lines are skipped; the file is read by :mod:`espnet_llm_entropy.fileio.kaldi_map`.

    Raises:
        FileNotFoundError: the list does not exist.
        ValueError: a line without a location, a repeated id or bytes that are
            not UTF-8 (names the file and line).
    """
    lines = iter_kaldi_map(path, what="audio list", key_name="utterance id", value_name="audio file",
                           blank_lines="skip")
    return {line.key: (line.line_number, line.value) for line in lines}


def sound_file_rates(path: Union[str, Path], utt_ids: Sequence[str]) -> Dict[str, Optional[int]]:
    """The sampling rate of each utterance of a ``sound``-type ``wav.scp``, from the file headers.

    Args:
        path: the ``wav.scp`` (``<utt-id> <audio file>`` lines).
        utt_ids: the utterances to look up (all must be in the list).

    Returns:
        {utt_id: rate in Hz}; None for a piped command (``... |``), whose
        header cannot be read without running it (ESPnet's ``sound`` reader
        cannot run it either).

    Raises:
        ValueError: an id not in the list, or a file soundfile cannot open
            (names the utterance, the file and the line).
    """
    entries = read_audio_list(path)
    rates: Dict[str, Optional[int]] = {}
    for uid in utt_ids:
        if uid not in entries:
            raise ValueError(f"{path}: no audio for utterance {uid!r}")
        line_no, location = entries[uid]
        if location.endswith("|"):
            rates[uid] = None
            continue
        import soundfile

        try:
            info = soundfile.info(location)
        except Exception as exc:  # soundfile raises several types for unreadable files
            raise ValueError(
                f"{path}:{line_no}: cannot read the audio of utterance {uid!r} from "
                f"{location!r}: {exc}"
            ) from exc
        rates[uid] = int(info.samplerate)
    return rates
