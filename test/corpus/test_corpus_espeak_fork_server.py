"""The libespeak-ng fork server: the command line's samples, without its process starts."""

import itertools
import random

import numpy as np
import pytest

from espnet_llm_entropy.corpus.espeak_fork_server import EspeakForkServer, EspeakLibraryError
from espnet_llm_entropy.corpus.espeak_synthesis import (
    MANDARIN_VOICE,
    UtterancePlan,
    command_line_synthesizer,
    find_espeak,
    library_synthesizer,
    render_utterance,
    synthesize_run,
)
from espnet_llm_entropy.corpus.synthesizer_pool import SynthesizerPool, library_mismatch
from espnet_llm_entropy.corpus.wav_io import parse_pcm16_wav_bytes

VOICES = (f"{MANDARIN_VOICE}+f2", f"{MANDARIN_VOICE}+m3", "en-us+f2", "en-gb+m3", "en-us")
TEXTS = {"cmn": ("明天有个会议", "我们去北京", "今天天气很好"),
         "en": ("please book a table for two", "the meeting starts at nine")}


@pytest.fixture(scope="module")
def server(espeak_available):
    try:
        with EspeakForkServer() as running:
            yield running
    except EspeakLibraryError as err:
        pytest.skip(f"libespeak-ng cannot be used here ({err}); the corpus uses the command line")


def _runs(count: int, seed: int):
    rng = random.Random(seed)
    runs = []
    for _ in range(count):
        voice = rng.choice(VOICES)
        text = rng.choice(TEXTS["cmn" if voice.startswith(MANDARIN_VOICE) else "en"])
        runs.append((voice, text, rng.randint(30, 70), rng.randint(140, 190)))
    return runs


def _command_line(voice, text, pitch, speed):
    import subprocess

    out = subprocess.run([find_espeak(), "-v", voice, "-p", str(pitch), "-s", str(speed), "-b", "1", "--stdout"],
                         input=text.encode(), capture_output=True, check=True)
    return parse_pcm16_wav_bytes(out.stdout)[0]


def test_every_run_is_the_command_lines_sample_for_sample(server):
    """Voices, pitches and speeds mixed in a random order: what was spoken before changes nothing
    (in one process without forks, most runs differ from the command line's)."""
    runs = _runs(40, seed=3)
    spoken = [server.speak(*run) for run in runs]
    for run, samples in zip(runs, spoken):
        expected = _command_line(*run)
        assert samples.dtype == np.float32
        assert np.array_equal(samples, expected), run
    # the same run again, after others, is the same again
    assert np.array_equal(server.speak(*runs[0]), spoken[0])


def test_library_synthesizer_equals_command_line_synthesizer(server):
    """At 16 kHz too, so a corpus is the same bytes whichever the builder uses."""
    plan = UtterancePlan(utt_id="x", runs=((f"{MANDARIN_VOICE}+f2", "明天有个"), ("en-us+f2", "meeting")),
                         pitch=50, speed=175, gap_s=0.1, pad_before_s=0.2, pad_after_s=0.3, peak_dbfs=-6.0)
    assert np.array_equal(library_synthesizer(server)(*plan.runs[1], 50, 175),
                          synthesize_run(find_espeak(), *plan.runs[1], 50, 175))
    assert library_mismatch(server, find_espeak()) is None


def test_rendered_utterances_are_the_same_bytes(server, tmp_path):
    plan = UtterancePlan(utt_id="x", runs=((f"{MANDARIN_VOICE}+m3", "我们去北京"), ("en-gb+m3", "today")),
                         pitch=44, speed=160, gap_s=0.1, pad_before_s=0.2, pad_after_s=0.3, peak_dbfs=-3.0)
    render_utterance(plan, library_synthesizer(server), tmp_path / "lib.wav")
    render_utterance(plan, command_line_synthesizer(find_espeak()), tmp_path / "cli.wav")
    assert (tmp_path / "lib.wav").read_bytes() == (tmp_path / "cli.wav").read_bytes()


def test_an_unknown_voice_falls_back_as_the_command_line_does(server):
    """espeak-ng speaks an unknown voice with its default one (``check_voices`` guards the corpus);
    the server does what the command line does, and goes on serving."""
    assert np.array_equal(server.speak("no-such-voice", "hello", 50, 170),
                          _command_line("no-such-voice", "hello", 50, 170))
    assert np.array_equal(server.speak("en-us", "hello", 50, 170), _command_line("en-us", "hello", 50, 170))


def test_a_library_that_does_not_load_is_a_clear_error(espeak_available):
    with pytest.raises(EspeakLibraryError, match="no-such-espeak-library"):
        EspeakForkServer("libno-such-espeak-library.so")


def test_close_ends_every_process_it_forked(espeak_available):
    import psutil

    try:
        server = EspeakForkServer()
    except EspeakLibraryError as err:
        pytest.skip(f"libespeak-ng cannot be used here ({err})")
    for voice, text, pitch, speed in itertools.islice(_runs(10, seed=4), 10):
        server.speak(voice, text, pitch, speed)
    root = psutil.Process(server._proc.pid)
    family = [root] + root.children(recursive=True)
    assert len(family) >= 3  # the root and a zygote per voice used
    server.close()
    gone, alive = psutil.wait_procs(family, timeout=10)
    assert not alive


def test_pool_falls_back_to_the_command_line(espeak_available, caplog):
    with SynthesizerPool(find_espeak(), use_library=False) as pool:
        assert not pool.uses_library
        samples = pool.synthesizer()("en-us", "hello", 50, 170)
    assert np.array_equal(samples, synthesize_run(find_espeak(), "en-us", "hello", 50, 170))
