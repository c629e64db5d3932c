"""Speech synthesis with Debian's espeak-ng, one planned utterance at a time.

Mandarin is read with the ``cmn-latn-pinyin`` voice: in espeak-ng 1.51 the
plain ``cmn`` voice reads many characters as pinyin followed by the tone
number spoken in English ("ni three hao three"), while ``cmn-latn-pinyin``
reads them correctly. A code-switched sentence is therefore synthesized run
by run: Chinese runs with the Mandarin voice, English runs with the
speaker's English voice (same variant, pitch and speed), trimmed and joined
with a short pause.

A run is spoken by a :data:`RunSynthesizer`: :func:`command_line_synthesizer`
(one ``espeak-ng`` process per run) or :func:`library_synthesizer` (a fork
server around libespeak-ng, :mod:`~espnet_llm_entropy.corpus.espeak_fork_server`,
which gives the same samples without a process start per run).
"""

import functools
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Sequence, Tuple

import numpy as np

from espnet_llm_entropy.corpus.wav_io import (
    SAMPLE_RATE,
    parse_pcm16_wav_bytes,
    resample,
    write_pcm16_wav,
)

#: Speaks one run: (voice, text, pitch, speed) -> (T,) float32 samples at 16 kHz.
RunSynthesizer = Callable[[str, str, int, int], np.ndarray]

ESPEAK_BINARY = "espeak-ng"
MANDARIN_VOICE = "cmn-latn-pinyin"
REQUIRED_VOICES = (MANDARIN_VOICE, "en-us", "en-gb")
INSTALL_HINT = (
    "install it with `sudo apt-get install espeak-ng` (Debian/Ubuntu), "
    "`sudo dnf install espeak-ng` (Fedora) or `brew install espeak-ng` (macOS)"
)
TRIM_THRESHOLD_DB = -45.0  # relative to the run's peak
TRIM_MARGIN_S = 0.02


class EspeakNotFoundError(RuntimeError):
    """espeak-ng (or a voice the corpus needs) is not installed."""


def find_espeak() -> str:
    """Path of the espeak-ng executable.

    Raises:
        EspeakNotFoundError: not on PATH, with installation instructions.
    """
    path = shutil.which(ESPEAK_BINARY)
    if path is None:
        raise EspeakNotFoundError(
            f"{ESPEAK_BINARY} was not found on PATH; the mini corpus is "
            f"synthesized with it: {INSTALL_HINT}"
        )
    return path


def _version_line(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, check=True)
    return out.stdout.decode("utf-8", "replace").strip().splitlines()[0]


def espeak_version(binary: str) -> str:
    """First line of ``espeak-ng --version``, e.g. "eSpeak NG text-to-speech: 1.51"."""
    return _version_line(binary).split("Data at:")[0].strip()


def espeak_data_dir(binary: str) -> str:
    """The voice data directory ``espeak-ng --version`` names ("" when it names none)."""
    parts = _version_line(binary).split("Data at:")
    return parts[1].strip() if len(parts) > 1 else ""


def _listed(binary: str, spec: str, column: int) -> List[str]:
    out = subprocess.run([binary, f"--voices={spec}"], capture_output=True, check=True)
    rows = [line.split() for line in out.stdout.decode("utf-8", "replace").splitlines()[1:]]
    return [row[column] for row in rows if len(row) > column]


def check_voices(binary: str, variants: Sequence[str] = ()) -> None:
    """Raise :class:`EspeakNotFoundError` if a voice or variant the corpus uses
    is missing (espeak-ng silently falls back to its default voice)."""
    for voice in REQUIRED_VOICES:
        lang = voice.split("-")[0]
        names = _listed(binary, lang, 1)
        if voice not in names:
            raise EspeakNotFoundError(
                f"{binary} has no voice {voice!r} (found for {lang!r}: "
                f"{sorted(set(names))}); espeak-ng >= 1.50 with its full voice data "
                f"is needed: {INSTALL_HINT}"
            )
    available = {f.split("/")[-1] for f in _listed(binary, "variant", 4)}
    missing = sorted(set(variants) - available)
    if missing:
        raise EspeakNotFoundError(
            f"{binary} lacks the voice variant(s) {missing} (voices/!v of its data); {INSTALL_HINT}"
        )


@dataclass(frozen=True)
class UtterancePlan:
    """Everything needed to render one utterance; drawn from the seed.

    Attributes:
        utt_id: utterance id.
        runs: ((voice, text), ...) synthesized in order; voice already
            carries the variant, e.g. "en-us+f2".
        pitch: espeak-ng -p.
        speed: espeak-ng -s (words per minute).
        gap_s: pause inserted between runs.
        pad_before_s: silence before the speech.
        pad_after_s: silence after the speech.
        peak_dbfs: the waveform is scaled so that its peak has this level.
    """

    utt_id: str
    runs: Tuple[Tuple[str, str], ...]
    pitch: int
    speed: int
    gap_s: float
    pad_before_s: float
    pad_after_s: float
    peak_dbfs: float


def synthesize_run(binary: str, voice: str, text: str, pitch: int, speed: int) -> np.ndarray:
    """Speak one run of text with the ``binary`` command line; returns (T,) float32 at 16 kHz."""
    cmd = [binary, "-v", voice, "-p", str(pitch), "-s", str(speed), "-b", "1", "--stdout"]
    proc = subprocess.run(cmd, input=text.encode("utf-8"), capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} failed on {text!r} (exit {proc.returncode}): "
            f"{proc.stderr.decode('utf-8', 'replace').strip()}"
        )
    samples, rate = parse_pcm16_wav_bytes(proc.stdout, f"espeak-ng output for {text!r}")
    return resample(samples, rate, SAMPLE_RATE)


def command_line_synthesizer(binary: str) -> RunSynthesizer:
    """Runs spoken by one ``binary`` process each."""
    return functools.partial(synthesize_run, binary)


def library_synthesizer(server) -> RunSynthesizer:
    """Runs spoken by an :class:`~espnet_llm_entropy.corpus.espeak_fork_server.EspeakForkServer`."""
    def speak(voice: str, text: str, pitch: int, speed: int) -> np.ndarray:
        return resample(server.speak(voice, text, pitch, speed), server.sample_rate, SAMPLE_RATE)
    return speak


def trim_silence(samples: np.ndarray) -> np.ndarray:
    """Cut leading/trailing samples quieter than TRIM_THRESHOLD_DB re. the peak,
    keeping TRIM_MARGIN_S on each side. (T,) -> (T',)."""
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak == 0.0:
        return samples[:0]
    loud = np.nonzero(np.abs(samples) >= peak * 10 ** (TRIM_THRESHOLD_DB / 20))[0]
    margin = int(TRIM_MARGIN_S * SAMPLE_RATE)
    return samples[max(0, loud[0] - margin): loud[-1] + 1 + margin]


def render_utterance(plan: UtterancePlan, speak: RunSynthesizer, wav_path: Path) -> float:
    """Synthesize (each run with ``speak``), assemble and write one utterance as a 16 kHz wav file.

    Returns:
        its duration in seconds.
    """
    gap = np.zeros(int(round(plan.gap_s * SAMPLE_RATE)), dtype=np.float32)
    pieces: List[np.ndarray] = [np.zeros(int(round(plan.pad_before_s * SAMPLE_RATE)), np.float32)]
    for i, (voice, text) in enumerate(plan.runs):
        speech = trim_silence(speak(voice, text, plan.pitch, plan.speed))
        if speech.size == 0:
            raise RuntimeError(f"{plan.utt_id}: espeak-ng produced silence for {text!r} ({voice})")
        if i:
            pieces.append(gap)
        pieces.append(speech)
    pieces.append(np.zeros(int(round(plan.pad_after_s * SAMPLE_RATE)), np.float32))
    audio = np.concatenate(pieces)
    audio *= 10 ** (plan.peak_dbfs / 20) / float(np.max(np.abs(audio)))
    write_pcm16_wav(wav_path, audio)
    return audio.size / SAMPLE_RATE
