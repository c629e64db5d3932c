"""Contents of the non-speech test set and of the augmentation noise list.

Non-speech test set (``nonspeech/``, empty transcripts):

* ``silence-*``: digital silence of 1, 2 and 4 s;
* ``white-m<L>db``, ``pink-m<L>db``: 2 s of noise at RMS -L dBFS for
  L in NONSPEECH_LEVELS_DBFS;
* ``an4noise-<name>``: with the AN4 archive, the second half of each real
  noise recording.

Noise list (``noise.scp``) for training-time augmentation: 5 s of white,
pink and brown noise (two draws each, independent of the test noise) and,
with the AN4 archive, the first half of each real recording, so that
augmentation never trains on the audio the non-speech test set holds.
"""

from dataclasses import dataclass
from typing import Dict, List

import numpy as np

from espnet_llm_entropy.corpus.nonspeech_audio import NOISE_COLOURS, coloured_noise, digital_silence
from espnet_llm_entropy.corpus.speech_planning import stream

SILENCE_DURATIONS_S = (1.0, 2.0, 4.0)
NONSPEECH_LEVELS_DBFS = (-60.0, -50.0, -40.0, -30.0)
NONSPEECH_NOISE_DURATION_S = 2.0
NOISE_LIST_DURATION_S = 5.0
NOISE_LIST_LEVEL_DBFS = -20.0
NOISE_LIST_DRAWS = 2


@dataclass(frozen=True)
class NonSpeechItem:
    """One non-speech signal.

    Attributes:
        item_id: utterance id (non-speech set) or noise id (noise list).
        speaker: the kind of signal ("silence", "white", "pink", "an4noise").
        audio: (T,) float32 at 16 kHz.
        level_dbfs: intended RMS level (None for silence and recordings).
    """

    item_id: str
    speaker: str
    audio: np.ndarray
    level_dbfs: float = None


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


def nonspeech_test_items(seed: int, an4_noises: Dict[str, np.ndarray]) -> List[NonSpeechItem]:
    """The non-speech test set, sorted by id."""
    rng = stream(seed, "nonspeech")
    items = [
        NonSpeechItem(f"silence-{i + 1:02d}-{int(d * 1000):05d}ms", "silence", digital_silence(d))
        for i, d in enumerate(SILENCE_DURATIONS_S)
    ]
    for colour in ("white", "pink"):
        for level in NONSPEECH_LEVELS_DBFS:
            audio = coloured_noise(rng, colour, NONSPEECH_NOISE_DURATION_S, level)
            items.append(NonSpeechItem(f"{colour}-m{int(-level):02d}db", colour, audio, level))
    for name, audio in sorted(an4_noises.items()):
        half = audio[audio.size // 2:]
        items.append(NonSpeechItem(f"an4noise-{_safe_name(name)}", "an4noise", half))
    return sorted(items, key=lambda it: it.item_id)


def noise_list_items(seed: int, an4_noises: Dict[str, np.ndarray]) -> List[NonSpeechItem]:
    """The augmentation noise list, sorted by id."""
    rng = stream(seed, "noise")
    items = []
    for colour in NOISE_COLOURS:
        for draw in range(NOISE_LIST_DRAWS):
            audio = coloured_noise(rng, colour, NOISE_LIST_DURATION_S, NOISE_LIST_LEVEL_DBFS)
            items.append(NonSpeechItem(f"synth-{colour}-{draw + 1:02d}", colour, audio,
                                       NOISE_LIST_LEVEL_DBFS))
    for name, audio in sorted(an4_noises.items()):
        items.append(NonSpeechItem(f"an4-{_safe_name(name)}", "an4noise", audio[: audio.size // 2]))
    return sorted(items, key=lambda it: it.item_id)
