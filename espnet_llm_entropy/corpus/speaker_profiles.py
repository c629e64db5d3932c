"""Synthetic speakers: a fixed espeak-ng voice, pitch and speed per speaker.

A speaker is bilingual: the same voice variant (``+m3``, ``+f2`` ...),
pitch and speed base read Mandarin with espeak-ng's Mandarin voice and
English with one English accent (``en-us`` or ``en-gb``). Each utterance
varies speed and pitch a little around the speaker's base (see
:func:`draw_prosody`).
"""

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np

# espeak-ng voice variants shipped with Debian's espeak-ng-data (voices/!v),
# alternating male and female so that any prefix of the list is mixed.
VOICE_VARIANTS = ("m1", "f1", "m3", "f2", "m2", "f3", "m4", "f4", "m5", "f5",
                  "m7", "klatt2", "m6", "klatt3")
ENGLISH_VOICES = ("en-us", "en-gb")

PITCH_RANGE = (30, 70)  # espeak-ng -p, 0..99 (default 50)
SPEED_RANGE = (150, 195)  # espeak-ng -s, words per minute (default 175)
PITCH_JITTER = 6  # per utterance, +- in -p units
SPEED_JITTER = 0.08  # per utterance, relative


@dataclass(frozen=True)
class SpeakerProfile:
    """One synthetic speaker.

    Attributes:
        speaker_id: e.g. "spk03"; prefixes every utterance id of the speaker.
        variant: espeak-ng voice variant name (appended as ``+variant``).
        english_voice: espeak-ng voice for English text.
        pitch: base pitch (espeak-ng -p).
        speed: base speed in words per minute (espeak-ng -s).
    """

    speaker_id: str
    variant: str
    english_voice: str
    pitch: int
    speed: int


def make_speakers(rng: np.random.Generator, count: int) -> List[SpeakerProfile]:
    """Create ``count`` speakers with distinct variant/pitch/speed bases.

    Args:
        rng: random generator; the same state gives the same speakers.
        count: number of speakers (1..99).

    Returns:
        Speakers spk01, spk02, ... in id order.
    """
    if not 1 <= count <= 99:
        raise ValueError(f"number of speakers must be within 1..99, got {count}")
    # spread pitch and speed over their ranges, then shuffle the pairing
    pitches = np.linspace(*PITCH_RANGE, num=count).round().astype(int)
    speeds = np.linspace(*SPEED_RANGE, num=count).round().astype(int)
    pitches = pitches[rng.permutation(count)]
    speeds = speeds[rng.permutation(count)]
    english = rng.integers(0, len(ENGLISH_VOICES), count)
    return [
        SpeakerProfile(
            speaker_id=f"spk{i + 1:02d}",
            variant=VOICE_VARIANTS[i % len(VOICE_VARIANTS)],
            english_voice=ENGLISH_VOICES[int(english[i])],
            pitch=int(pitches[i]),
            speed=int(speeds[i]),
        )
        for i in range(count)
    ]


def draw_prosody(rng: np.random.Generator, speaker: SpeakerProfile) -> Tuple[int, int]:
    """Per-utterance (pitch, speed) around the speaker's base.

    Returns:
        pitch clipped to 0..99 and speed (words per minute, >= 80).
    """
    pitch = speaker.pitch + int(rng.integers(-PITCH_JITTER, PITCH_JITTER + 1))
    speed = speaker.speed * (1.0 + rng.uniform(-SPEED_JITTER, SPEED_JITTER))
    return int(np.clip(pitch, 0, 99)), max(80, int(round(speed)))
