"""espeak-ng synthesis: voices, the Mandarin reading of every character, errors."""

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile

from espnet_llm_entropy.corpus import EspeakNotFoundError
from espnet_llm_entropy.corpus import sentence_templates
from espnet_llm_entropy.corpus.espeak_synthesis import (
    MANDARIN_VOICE,
    UtterancePlan,
    check_voices,
    command_line_synthesizer,
    find_espeak,
    render_utterance,
    trim_silence,
)
from espnet_llm_entropy.corpus.speaker_profiles import VOICE_VARIANTS
from espnet_llm_entropy.corpus.wav_io import rms_dbfs


def test_missing_espeak_says_how_to_install(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(EspeakNotFoundError, match="apt-get install espeak-ng"):
        find_espeak()


def test_every_template_character_is_read_as_mandarin(espeak_available):
    """espeak-ng switches to English for characters its Mandarin dictionary
    lacks (shown as '(en)' in the phoneme output); none may do so."""
    source = Path(sentence_templates.__file__).read_text(encoding="utf-8")
    chars = sorted(set(re.findall(r"[\u4e00-\u9fff]", source)))
    assert len(chars) > 100
    binary = find_espeak()
    check_voices(binary)
    out = subprocess.run([binary, "-v", MANDARIN_VOICE, "-q", "-x", "-b", "1"],
                         input="，".join(chars).encode(), capture_output=True, check=True)
    phonemes = out.stdout.decode()
    assert "(en)" not in phonemes
    assert len(phonemes.split("_|")) >= len(chars)  # one syllable per character


def test_trim_silence_keeps_a_margin():
    x = np.zeros(16000, np.float32)
    x[8000:8100] = 0.5
    trimmed = trim_silence(x)
    assert trimmed.size == 100 + 2 * 320  # 20 ms on each side
    assert trim_silence(np.zeros(10, np.float32)).size == 0


def test_render_code_switched_utterance(espeak_available, tmp_path):
    plan = UtterancePlan(
        utt_id="spk01-x", runs=((f"{MANDARIN_VOICE}+f2", "明天有个"), ("en-us+f2", "meeting")),
        pitch=50, speed=175, gap_s=0.1, pad_before_s=0.2, pad_after_s=0.3, peak_dbfs=-6.0)
    path = tmp_path / "x.wav"
    duration = render_utterance(plan, command_line_synthesizer(find_espeak()), path)
    audio, rate = soundfile.read(path, dtype="float32")
    info = soundfile.info(str(path))
    assert (rate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert duration == pytest.approx(audio.size / 16000)
    assert 1.0 < duration < 4.0
    assert 20 * np.log10(np.abs(audio).max()) == pytest.approx(-6.0, abs=0.01)
    # the pads are digital silence, the middle is speech
    assert not audio[: int(0.2 * 16000)].any() and not audio[-int(0.3 * 16000):].any()
    assert rms_dbfs(audio) > -35
    # same plan, same bytes
    render_utterance(plan, command_line_synthesizer(find_espeak()), tmp_path / "y.wav")
    assert path.read_bytes() == (tmp_path / "y.wav").read_bytes()


def test_missing_voice_variant_is_a_clear_error(espeak_available):
    binary = find_espeak()
    check_voices(binary, VOICE_VARIANTS)  # everything the corpus uses is there
    with pytest.raises(EspeakNotFoundError, match="lacks the voice variant.*no-such-variant"):
        check_voices(binary, ["m1", "no-such-variant"])
