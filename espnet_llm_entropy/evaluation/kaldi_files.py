"""Kaldi-style data files for scoring: ``text``, ``utt2dur``, ``wav.scp``.

All readers report bad input (including bytes that are not UTF-8) with
the file name and the 1-based line; they are built on
:mod:`espnet_llm_entropy.fileio.kaldi_map`, where ``read_kaldi_text`` lives.
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import Dict, Union

from tqdm import tqdm

from espnet_llm_entropy.fileio.kaldi_map import iter_kaldi_map

logger = logging.getLogger(__name__)

PathLike = Union[str, Path]
_ARK_OFFSET = re.compile(r".+\.ark:\d+$")


def read_utt2dur(path: PathLike) -> Dict[str, float]:
    """Read ``<utt-id> <seconds>`` lines.

    Raises:
        ValueError: a line without exactly two fields, a duration that is not a
            finite number >= 0, or a repeated id (names file and line).
    """
    durations: Dict[str, float] = {}
    for entry in iter_kaldi_map(path, "utt2dur", "utt-id", "seconds", blank_lines="skip"):
        line_no, uid, value = entry.line_number, entry.key, entry.value
        if len(value.split()) != 1:
            raise ValueError(f"{path}:{line_no}: expected '<utt-id> <seconds>', got {uid} {value!r}")
        try:
            seconds = float(value)
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(
                f"{path}:{line_no}: duration of {uid!r} must be a number >= 0, got {value!r}"
            )
        durations[uid] = seconds
    return durations


def _audio_duration(location: str) -> float:
    if _ARK_OFFSET.match(location):
        import kaldiio

        rate, samples = kaldiio.load_mat(location)
        return len(samples) / float(rate)
    import soundfile

    return float(soundfile.info(location).duration)


def durations_from_wav_scp(path: PathLike) -> Dict[str, float]:
    """Measure every recording of a ``wav.scp`` (``<utt-id> <audio path>``).

    Plain audio files are measured with ``soundfile.info`` (header only);
    ``file.ark:offset`` entries are read with kaldiio. Piped commands are not
    run: make an ``utt2dur`` for such lists.

    Raises:
        ValueError: malformed line, piped command, repeated id, or unreadable
            audio (names file and line).
    """
    entries = list(iter_kaldi_map(path, "wav.scp", "utt-id", "audio path", blank_lines="skip"))
    for entry in entries:
        if entry.value.endswith("|"):
            raise ValueError(
                f"{path}:{entry.line_number}: piped command in wav.scp is not supported; "
                "pass --utt2dur instead (e.g. from utils/data/get_utt2dur.sh)"
            )
    durations: Dict[str, float] = {}
    for entry in tqdm(entries, desc="durations", unit="utt", disable=None):
        try:
            durations[entry.key] = _audio_duration(entry.value)
        except Exception as exc:  # soundfile / kaldiio raise several types
            raise ValueError(f"{path}:{entry.line_number}: cannot read audio {entry.value!r}: {exc}") from exc
    return durations
