"""Kaldi-style data files for scoring: ``text``, ``utt2dur``, ``wav.scp``,
and atomic writing of results.

All readers report bad input (including bytes that are not UTF-8) with
the file name and the 1-based line.
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import Dict, Union

from tqdm import tqdm

from espnet_llm_entropy.text.atomic_file import atomic_write_text
from espnet_llm_entropy.text.kaldi_text import KaldiTextError, iter_raw_lines
from espnet_llm_entropy.text.kaldi_text import read_kaldi_text as read_text_entries

logger = logging.getLogger(__name__)

PathLike = Union[str, Path]
_ARK_OFFSET = re.compile(r".+\.ark:\d+$")


def _lines(path: PathLike, what: str):
    """Non-blank lines as (1-based number, text); bytes that are not UTF-8 are an error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file {path} does not exist")
    for line_no, line in iter_raw_lines(path):
        if isinstance(line, KaldiTextError):
            raise line
        if line.strip():
            yield line_no, line


def read_kaldi_text(path: PathLike) -> Dict[str, str]:
    """Read ``<utt-id> <transcript>`` lines (a line with only the id is an empty transcript).

    The rules of :mod:`espnet_llm_entropy.text.kaldi_text`, the same as
    ``text_to_phones``: blank lines, lines starting with whitespace (no
    id), bytes that are not UTF-8 and repeated ids are errors.

    Raises:
        FileNotFoundError: missing file.
        KaldiTextError (a ValueError): a bad line, naming the file and line.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"text file {path} does not exist")
    return {entry.utt_id: entry.transcript for entry in read_text_entries(path)}


def read_utt2dur(path: PathLike) -> Dict[str, float]:
    """Read ``<utt-id> <seconds>`` lines.

    Raises:
        ValueError: a line without exactly two fields, a duration that is not a
            finite number >= 0, or a repeated id (names file and line).
    """
    durations: Dict[str, float] = {}
    for line_no, line in _lines(path, "utt2dur"):
        fields = line.split()
        if len(fields) != 2:
            raise ValueError(f"{path}:{line_no}: expected '<utt-id> <seconds>', got {line!r}")
        uid, value = fields
        try:
            seconds = float(value)
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(
                f"{path}:{line_no}: duration of {uid!r} must be a number >= 0, got {value!r}"
            )
        if uid in durations:
            raise ValueError(f"{path}:{line_no}: utterance id {uid!r} repeated")
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
    entries = []
    for line_no, line in _lines(path, "wav.scp"):
        fields = line.strip().split(maxsplit=1)
        if len(fields) != 2:
            raise ValueError(f"{path}:{line_no}: expected '<utt-id> <audio path>', got {line!r}")
        if fields[1].rstrip().endswith("|"):
            raise ValueError(
                f"{path}:{line_no}: piped command in wav.scp is not supported; "
                "pass --utt2dur instead (e.g. from utils/data/get_utt2dur.sh)"
            )
        entries.append((line_no, fields[0], fields[1].strip()))
    durations: Dict[str, float] = {}
    for line_no, uid, location in tqdm(entries, desc="durations", unit="utt", disable=None):
        if uid in durations:
            raise ValueError(f"{path}:{line_no}: utterance id {uid!r} repeated")
        try:
            durations[uid] = _audio_duration(location)
        except Exception as exc:  # soundfile / kaldiio raise several types
            raise ValueError(f"{path}:{line_no}: cannot read audio {location!r}: {exc}") from exc
    return durations


# one atomic text writer for the whole package
write_text_atomic = atomic_write_text
