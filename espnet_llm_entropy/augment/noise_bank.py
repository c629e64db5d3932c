"""Noise recordings listed in a Kaldi-style ``scp`` file, loaded lazily.

The list has one recording per line, ``<noise-id> <path>``; blank lines and
lines starting with ``#`` are ignored. Every path is checked when the list is
read, so a typo fails at start-up with the scp name and the line number, not
in the middle of an epoch. Waveforms are read with :mod:`soundfile` the first
time they are needed and cached in memory (noise lists for augmentation are
small; each data-loader worker keeps its own cache).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Union

import numpy as np

from espnet_llm_entropy.fileio.kaldi_map import iter_kaldi_map

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NoiseEntry:
    """One line of a noise scp.

    Attributes:
        noise_id: the first field of the line.
        path: the audio file the line names.
        line_no: 1-based line number in the scp (for error messages).
    """

    noise_id: str
    path: Path
    line_no: int


def read_noise_scp(scp: Union[str, Path]) -> List[NoiseEntry]:
    """Read a noise list ``<noise-id> <path>`` and check that every file exists.

    Relative paths are taken relative to the current directory, as Kaldi and
    ESPnet do.

    Args:
        scp: path of the list.

    Returns:
        the entries in file order.

    Raises:
        FileNotFoundError: the scp itself, or a file named on one of its lines,
            does not exist (the message names the scp and the line).
        ValueError: a line does not have two fields, an id repeats, or the list
            is empty (a :class:`~espnet_llm_entropy.fileio.kaldi_map.KaldiFileError`
            for a bad line).
    """
    scp = Path(scp)
    entries: List[NoiseEntry] = []
    lines = iter_kaldi_map(scp, "noise list (noise_scp)", "noise-id", "path", blank_lines="skip", comments=True)
    for line in lines:
        if line.value.endswith("|"):
            raise ValueError(
                f"{scp}:{line.line_number}: piped commands are not supported in a noise "
                f"list; give an audio file path (got {line.value!r})"
            )
        path = Path(line.value)
        if not path.is_file():
            raise FileNotFoundError(
                f"{scp}:{line.line_number}: noise file {path} (id {line.key!r}) does not exist"
            )
        entries.append(NoiseEntry(line.key, path, line.line_number))
    if not entries:
        raise ValueError(f"noise list (noise_scp) {scp} has no entries")
    return entries


class NoiseBank:
    """Noise waveforms from a scp list, read on first use and cached.

    Args:
        scp: path of the noise list (see :func:`read_noise_scp`).
        sample_rate: expected sampling rate in Hz; a recording at another rate
            is an error (resample the noise list offline).
    """

    def __init__(self, scp: Union[str, Path], sample_rate: int):
        self.scp = Path(scp)
        self.sample_rate = int(sample_rate)
        self.entries = read_noise_scp(self.scp)
        self._cache: Dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def load(self, index: int) -> np.ndarray:
        """Return noise recording ``index`` as mono float64, shape (L,).

        Multi-channel recordings contribute their first channel.

        Raises:
            ValueError: the recording is unreadable, empty, or at the wrong rate
                (the message names the scp line and the file).
        """
        cached = self._cache.get(index)
        if cached is not None:
            return cached
        import soundfile  # imported here: only noise lists need it

        entry = self.entries[index]
        where = f"{self.scp}:{entry.line_no} ({entry.path})"
        try:
            data, rate = soundfile.read(str(entry.path), dtype="float64", always_2d=True)
        except Exception as exc:  # soundfile raises several types
            raise ValueError(f"{where}: cannot read noise file: {exc}") from exc
        if rate != self.sample_rate:
            raise ValueError(
                f"{where}: noise sampled at {rate} Hz, expected sample_rate="
                f"{self.sample_rate} Hz"
            )
        wave = np.ascontiguousarray(data[:, 0])
        if wave.size == 0 or not np.any(wave):
            raise ValueError(f"{where}: noise file is empty or all zeros")
        self._cache[index] = wave
        logger.debug("loaded noise %s (%d samples)", entry.noise_id, wave.size)
        return wave
