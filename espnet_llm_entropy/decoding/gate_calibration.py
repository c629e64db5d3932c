"""Choosing the CTC-evidence gate's threshold on dev data.

Counts the greedy CTC phones of every utterance of a dev speech set and a
dev non-speech set with a trained LLM-ASR model (encoder + phone-CTC head
only, no LLM), then applies
:func:`espnet_llm_entropy.decoding.evidence_gate.calibrate_min_ctc_phones`.
The test sets are never read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Union

from tqdm import tqdm

from espnet_llm_entropy.decoding.evidence_gate import GateCalibration, calibrate_min_ctc_phones


def data_dir_ctc_phone_counts(s2t, data_dir: Union[str, Path], batch_size: int = 16) -> Dict[str, int]:
    """utterance id -> greedy CTC phone count, for every entry of ``<data_dir>/wav.scp``.

    Args:
        s2t: an :class:`espnet_llm_entropy.speech2text.LLMSpeech2Text`.
        data_dir: a Kaldi data dir (wav.scp entries as ESPnet's sound reader
            reads them: paths, pipes, ``ark:`` offsets).
        batch_size: utterances per encoder batch.
    """
    from espnet2.fileio.sound_scp import SoundScpReader

    wav_scp = Path(data_dir) / "wav.scp"
    if not wav_scp.is_file():
        raise FileNotFoundError(f"gate calibration: {wav_scp} does not exist")
    reader = SoundScpReader(str(wav_scp), dtype="float32", always_2d=False)
    keys = list(reader.keys())
    if not keys:
        raise ValueError(f"gate calibration: {wav_scp} lists no utterance")
    counts: Dict[str, int] = {}
    for start in tqdm(range(0, len(keys), batch_size), desc=f"CTC phones {Path(data_dir).name}",
                      unit="batch", leave=False):
        chunk = keys[start:start + batch_size]
        loaded = [reader[k] for k in chunk]
        waves = [audio for _, audio in loaded]
        rates = [rate for rate, _ in loaded]
        counts.update(zip(chunk, s2t.ctc_phone_counts(waves, rates, chunk)))
    return counts


def calibrate_gate(
    s2t,
    speech_dir: Union[str, Path],
    nonspeech_dir: Union[str, Path],
    max_speech_gated: float = 0.0,
    batch_size: int = 16,
) -> Dict:
    """Calibrate ``min_ctc_phones`` on dev speech and dev non-speech.

    Returns:
        ``{"calibration": GateCalibration.as_dict(), "speech_counts": {...},
        "nonspeech_counts": {...}, "decoding_option": "--decoding_guard_conf
        min_ctc_phones=N"}``.
    """
    speech = data_dir_ctc_phone_counts(s2t, speech_dir, batch_size)
    nonspeech = data_dir_ctc_phone_counts(s2t, nonspeech_dir, batch_size)
    result: GateCalibration = calibrate_min_ctc_phones(
        list(speech.values()), list(nonspeech.values()), max_speech_gated
    )
    return {
        "calibration": result.as_dict(),
        "speech_dir": str(speech_dir),
        "nonspeech_dir": str(nonspeech_dir),
        "max_speech_gated": max_speech_gated,
        "decoding_option": f"--decoding_guard_conf min_ctc_phones={result.min_ctc_phones}",
        "speech_counts": speech,
        "nonspeech_counts": nonspeech,
    }


def read_calibrated_threshold(path: Union[str, Path]) -> int:
    """``min_ctc_phones`` from a calibration JSON written by :func:`calibrate_gate`."""
    path = Path(path)
    try:
        return int(json.loads(path.read_text())["calibration"]["min_ctc_phones"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a gate calibration file ({exc})") from None
