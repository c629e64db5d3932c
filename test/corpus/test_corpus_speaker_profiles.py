"""Synthetic speakers: distinct voices, per-utterance prosody within bounds."""

import numpy as np
import pytest

from espnet_llm_entropy.corpus import speaker_profiles as sp


def test_speakers_are_distinct_and_deterministic():
    speakers = sp.make_speakers(np.random.default_rng(0), 10)
    assert [s.speaker_id for s in speakers] == [f"spk{i:02d}" for i in range(1, 11)]
    assert len({s.variant for s in speakers}) == 10
    assert len({(s.pitch, s.speed) for s in speakers}) == 10
    assert all(sp.PITCH_RANGE[0] <= s.pitch <= sp.PITCH_RANGE[1] for s in speakers)
    assert all(sp.SPEED_RANGE[0] <= s.speed <= sp.SPEED_RANGE[1] for s in speakers)
    assert {s.english_voice for s in speakers} <= set(sp.ENGLISH_VOICES)
    assert sp.make_speakers(np.random.default_rng(0), 10) == speakers
    assert sp.make_speakers(np.random.default_rng(1), 10) != speakers


def test_prosody_varies_around_the_base():
    speaker = sp.make_speakers(np.random.default_rng(0), 1)[0]
    rng = np.random.default_rng(0)
    draws = [sp.draw_prosody(rng, speaker) for _ in range(200)]
    pitches, speeds = zip(*draws)
    assert max(abs(p - speaker.pitch) for p in pitches) <= sp.PITCH_JITTER
    assert len(set(pitches)) > 5 and len(set(speeds)) > 5
    assert max(abs(s / speaker.speed - 1) for s in speeds) <= sp.SPEED_JITTER + 0.01


def test_speaker_count_bounds():
    with pytest.raises(ValueError, match="within 1..99, got 0"):
        sp.make_speakers(np.random.default_rng(0), 0)
