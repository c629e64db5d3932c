"""Batches of raw utterances (waveform + transcript) from a Kaldi data dir.

The analysis runs several experiments on the *same* utterances, each with
its own preprocessor (phone inventory, LLM tokenizer), so the raw audio and
transcript are read once here and every experiment turns them into its own
padded tensors (:func:`collate_for_experiment`). Audio is read with ESPnet's
``SoundScpReader`` (the reader behind ``wav.scp,speech,sound``), transcripts
with :func:`espnet_llm_entropy.fileio.kaldi_map.read_kaldi_text`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch


@dataclass
class RawBatch:
    """Utterances of one batch, before any model-specific preprocessing.

    Attributes:
        keys: B utterance ids.
        waves: B float32 waveforms, each (S_b,).
        texts: B transcripts (None when the data dir has no ``text``).
        sample_rate: sampling rate shared by all waveforms.
    """

    keys: List[str]
    waves: List[np.ndarray]
    texts: Optional[List[str]]
    sample_rate: int


def check_data_dir(data_dir: Path, need_text: bool = True) -> None:
    """Raise a clear error when ``data_dir`` is not a usable Kaldi data dir.

    Args:
        data_dir: directory expected to hold ``wav.scp`` (and ``text``).
        need_text: also require ``text``.

    Raises:
        FileNotFoundError: naming the missing directory or file.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"--data_dir {data_dir}: no such directory")
    needed = ["wav.scp"] + (["text"] if need_text else [])
    for name in needed:
        if not (data_dir / name).is_file():
            raise FileNotFoundError(
                f"--data_dir {data_dir}: no {name} (expected a Kaldi data dir with "
                f"{' and '.join(needed)})"
            )


def iterate_raw_batches(
    data_dir: Path,
    batch_size: int = 8,
    max_utts: Optional[int] = None,
    need_text: bool = True,
) -> Iterator[RawBatch]:
    """Read ``wav.scp`` (+ ``text``) in file order, ``batch_size`` utterances at a time.

    Args:
        data_dir: Kaldi data dir.
        batch_size: utterances per batch (>= 1).
        max_utts: use only the first ``max_utts`` utterances of ``wav.scp``.
        need_text: require a transcript for every utterance.

    Yields:
        :class:`RawBatch` objects.

    Raises:
        FileNotFoundError: missing dir/files.
        ValueError: bad options, an utterance of ``wav.scp`` without a
            transcript, multi-channel audio, or mixed sampling rates.
    """
    from espnet2.fileio.sound_scp import SoundScpReader

    from espnet_llm_entropy.fileio.kaldi_map import read_kaldi_text

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if max_utts is not None and max_utts < 1:
        raise ValueError(f"max_utts must be >= 1 or None, got {max_utts}")
    data_dir = Path(data_dir)
    check_data_dir(data_dir, need_text)
    reader = SoundScpReader(str(data_dir / "wav.scp"))
    keys = list(reader.keys())
    if max_utts is not None:
        keys = keys[:max_utts]
    if not keys:
        raise ValueError(f"{data_dir / 'wav.scp'}: no utterances")
    texts = read_kaldi_text(data_dir / "text") if (data_dir / "text").is_file() else None
    if need_text:
        missing = [k for k in keys if k not in texts]
        if missing:
            raise ValueError(
                f"{data_dir / 'text'}: no transcript for {len(missing)} utterance(s) of wav.scp, "
                f"e.g. {missing[0]!r}"
            )
    rate_seen: Optional[int] = None
    for start in range(0, len(keys), batch_size):
        batch_keys = keys[start : start + batch_size]
        waves = []
        for key in batch_keys:
            rate, wave = reader[key]
            wave = np.asarray(wave)
            if wave.ndim != 1:
                raise ValueError(
                    f"{data_dir / 'wav.scp'}: utterance {key!r} has shape {wave.shape}; "
                    "expected mono audio"
                )
            if rate_seen is None:
                rate_seen = int(rate)
            elif int(rate) != rate_seen:
                raise ValueError(
                    f"{data_dir / 'wav.scp'}: utterance {key!r} is sampled at {rate} Hz, "
                    f"earlier ones at {rate_seen} Hz"
                )
            waves.append(wave.astype(np.float32))
        batch_texts = [texts[k] for k in batch_keys] if (texts is not None and need_text) else None
        yield RawBatch(batch_keys, waves, batch_texts, int(rate_seen))


def count_utterances(data_dir: Path, max_utts: Optional[int] = None) -> int:
    """Number of utterances :func:`iterate_raw_batches` will read (for progress bars).

    Read with ESPnet's ``read_2columns_text``, as the ``SoundScpReader`` of
    :func:`iterate_raw_batches` reads the list.
    """
    from espnet2.fileio.read_text import read_2columns_text

    count = len(read_2columns_text(Path(data_dir) / "wav.scp"))
    return count if max_utts is None else min(count, max_utts)


def collate_for_experiment(
    batch: RawBatch,
    preprocess_fn: Optional[Callable[[str, Dict], Dict]],
    collate_fn: Callable,
) -> Tuple[List[str], Dict[str, torch.Tensor]]:
    """Apply one experiment's preprocessor and ESPnet collate function to a raw batch.

    Args:
        batch: the raw utterances.
        preprocess_fn: ``(uid, {"speech": wave, "text": str}) -> dict``
            (the task's inference-mode preprocessor) or None.
        collate_fn: ESPnet collate function (pads; adds ``<name>_lengths``).

    Returns:
        (keys, tensors) with ``speech`` (B, S), ``speech_lengths`` (B,) and,
        with a transcript, ``text`` (B, L) phone ids and ``llm_tokens`` (B, U)
        when the experiment has an LLM (padded with -1).
    """
    items = []
    for index, key in enumerate(batch.keys):
        data: Dict = {"speech": batch.waves[index]}
        if batch.texts is not None:
            data["text"] = batch.texts[index]
        if preprocess_fn is not None:
            data = preprocess_fn(key, data)
        items.append((key, data))
    return collate_fn(items)
