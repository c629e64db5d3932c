"""Non-speech training examples: how often, what signal, at what level, reproducibly."""

import numpy as np
import pytest
import soundfile

from espnet_llm_entropy.augment.nonspeech_examples import NonSpeechExamples, NonSpeechExamplesConfig


def _rms_dbfs(x):
    return 20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def test_share_of_replacements_follows_prob():
    examples = NonSpeechExamples.from_dict({"prob": 0.25})
    drawn = [examples.draw(np.ones(1600), np.random.default_rng(i)) is not None for i in range(2000)]
    assert 0.21 < np.mean(drawn) < 0.29
    never = NonSpeechExamples.from_dict({"prob": 0.0})
    assert all(never.draw(np.ones(1600), np.random.default_rng(i)) is None for i in range(50))


def test_replacement_has_the_length_and_a_level_in_range():
    examples = NonSpeechExamples.from_dict({"prob": 1.0, "silence_share": 0.0, "level_dbfs": [-50, -30]})
    for seed in range(20):
        audio = examples.draw(np.ones(12345), np.random.default_rng(seed))
        assert audio.shape == (12345,) and audio.dtype == np.float32
        assert -50.1 <= _rms_dbfs(audio) <= -29.9
    silent = NonSpeechExamples.from_dict({"prob": 1.0, "silence_share": 1.0})
    assert not silent.draw(np.ones(800), np.random.default_rng(0)).any()


def test_same_generator_same_replacement():
    examples = NonSpeechExamples.from_dict({"prob": 1.0, "silence_share": 0.0})
    a = examples.draw(np.ones(4000), np.random.default_rng(7))
    b = examples.draw(np.ones(4000), np.random.default_rng(7))
    assert np.array_equal(a, b)


def test_noise_list_recordings_are_cropped_and_levelled(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "hum.wav"
    soundfile.write(path, (np.sin(np.arange(48000) * 0.05) * 0.5).astype(np.float32), 16000)
    scp = tmp_path / "noise.scp"
    scp.write_text(f"hum {path}\n")
    examples = NonSpeechExamples.from_dict({"prob": 1.0, "silence_share": 0.0, "noise_scp": str(scp),
                                            "level_dbfs": [-40, -40]})
    audio = examples.draw(np.ones(20000), rng)
    assert audio.shape == (20000,) and _rms_dbfs(audio) == pytest.approx(-40, abs=0.1)


def test_reversed_replacement_is_the_utterance_backwards():
    examples = NonSpeechExamples.from_dict({"prob": 1.0, "silence_share": 0.0, "reversed_share": 1.0})
    wave = np.arange(10, dtype=np.float32)
    assert examples.draw(wave, np.random.default_rng(0)).tolist() == wave[::-1].tolist()
    with pytest.raises(ValueError, match="reversed_share"):
        NonSpeechExamplesConfig.from_dict({"silence_share": 0.5, "reversed_share": 0.6})


@pytest.mark.parametrize("conf, name", [({"prob": 2}, "prob"), ({"silence_share": -1}, "silence_share"),
                                        ({"level_dbfs": [-10, -5]}, "level_dbfs"), ({"bogus": 1}, "bogus")])
def test_bad_options_name_themselves(conf, name):
    with pytest.raises(ValueError, match=name):
        NonSpeechExamplesConfig.from_dict(conf)
