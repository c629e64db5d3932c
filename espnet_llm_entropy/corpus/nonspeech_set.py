"""Contents of the non-speech test set and of the augmentation noise list.

Non-speech test set (``nonspeech/``, empty transcripts):

* ``silence-*``: digital silence of 1, 2 and 4 s;
* ``white-m<L>db``, ``pink-m<L>db``: 2 s of noise at RMS -L dBFS for
  L in NONSPEECH_LEVELS_DBFS;
* ``an4noise-<name>``: with the AN4 archive, the second half of each real
  noise recording;
* ``tone-*``: 2 s of music-like harmonic notes; ``clicks-*``: 2 s of clicks;
  ``babble-*``: 3 s of time-reversed test speech mixed (speech spectra, no
  words); ``silence-04-30000ms``: 30 s of digital silence.

Non-speech dev set (``nonspeech_dev/``): the same kinds drawn independently
(other levels, babble from dev speech, no AN4 noise), for choosing decoding
thresholds such as the CTC-evidence gate's without looking at the test set.

Noise list (``noise.scp``) for training-time augmentation: 5 s of white,
pink and brown noise (two draws each, independent of the test noise) and,
with the AN4 archive, the first half of each real recording, so that
augmentation never trains on the audio the non-speech test set holds.
"""

from dataclasses import dataclass
from typing import Dict, List, Sequence

import numpy as np

from espnet_llm_entropy.corpus.nonspeech_audio import (
    NOISE_COLOURS,
    click_train,
    coloured_noise,
    digital_silence,
    reversed_babble,
    tone_sequence,
)
from espnet_llm_entropy.corpus.speech_planning import stream

SILENCE_DURATIONS_S = (1.0, 2.0, 4.0, 30.0)
DEV_SILENCE_DURATIONS_S = (1.0, 10.0)
DEV_NOISE_LEVELS_DBFS = {"white": (-55.0, -35.0), "pink": (-45.0, -25.0), "brown": (-40.0,)}
TONE_LEVEL_DBFS = -25.0
BABBLE_LEVEL_DBFS = -25.0
BABBLE_SOURCES = 3
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


def _other_kinds(rng: np.random.Generator, babble_sources: Sequence[np.ndarray]) -> List[NonSpeechItem]:
    """Tones, clicks and (given speech recordings) reversed babble."""
    items = [
        NonSpeechItem(f"tone-m{int(-TONE_LEVEL_DBFS):02d}db", "tone",
                      tone_sequence(rng, 2.0, TONE_LEVEL_DBFS), TONE_LEVEL_DBFS),
        NonSpeechItem("clicks-01", "clicks", click_train(rng, 2.0)),
    ]
    if babble_sources:
        chosen = rng.choice(len(babble_sources), size=min(BABBLE_SOURCES, len(babble_sources)),
                            replace=False)
        audio = reversed_babble(rng, [babble_sources[int(i)] for i in chosen], 3.0, BABBLE_LEVEL_DBFS)
        items.append(NonSpeechItem("babble-01", "babble", audio, BABBLE_LEVEL_DBFS))
    return items


def _silences(durations: Sequence[float]) -> List[NonSpeechItem]:
    return [
        NonSpeechItem(f"silence-{i + 1:02d}-{int(d * 1000):05d}ms", "silence", digital_silence(d))
        for i, d in enumerate(durations)
    ]


def nonspeech_dev_items(seed: int, babble_sources: Sequence[np.ndarray] = ()) -> List[NonSpeechItem]:
    """The non-speech dev set (for thresholds), sorted by id.

    Args:
        seed: the corpus seed (the draws differ from the test set's).
        babble_sources: dev speech waveforms for the reversed babble.
    """
    rng = stream(seed, "nonspeech_dev")
    items = _silences(DEV_SILENCE_DURATIONS_S)
    for colour, levels in DEV_NOISE_LEVELS_DBFS.items():
        for level in levels:
            audio = coloured_noise(rng, colour, NONSPEECH_NOISE_DURATION_S, level)
            items.append(NonSpeechItem(f"{colour}-m{int(-level):02d}db", colour, audio, level))
    items += _other_kinds(rng, babble_sources)
    return sorted(items, key=lambda it: it.item_id)


def nonspeech_test_items(
    seed: int, an4_noises: Dict[str, np.ndarray], babble_sources: Sequence[np.ndarray] = ()
) -> List[NonSpeechItem]:
    """The non-speech test set, sorted by id.

    Args:
        seed: the corpus seed.
        an4_noises: AN4 noise recordings by name (their second halves are used).
        babble_sources: test speech waveforms for the reversed babble.
    """
    rng = stream(seed, "nonspeech")
    items = _silences(SILENCE_DURATIONS_S)
    for colour in ("white", "pink"):
        for level in NONSPEECH_LEVELS_DBFS:
            audio = coloured_noise(rng, colour, NONSPEECH_NOISE_DURATION_S, level)
            items.append(NonSpeechItem(f"{colour}-m{int(-level):02d}db", colour, audio, level))
    for name, audio in sorted(an4_noises.items()):
        half = audio[audio.size // 2:]
        items.append(NonSpeechItem(f"an4noise-{_safe_name(name)}", "an4noise", half))
    items += _other_kinds(stream(seed, "nonspeech_other"), babble_sources)
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
