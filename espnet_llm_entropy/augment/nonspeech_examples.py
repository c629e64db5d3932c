"""Training examples of pure non-speech with an empty transcript.

With probability ``prob`` a training utterance is replaced, for this epoch,
by a non-speech signal of the same length and its transcript by the empty
string: the utterance itself played backwards (a ``reversed_share`` of the
replacements: speech spectra, no words), digital silence (a
``silence_share``) or noise at an RMS level drawn uniformly from
``level_dbfs``. The noise is a random crop of a recording of ``noise_scp``
or, without a list, synthetic white, pink or brown noise.

Why: a phone-CTC head trained on speech alone has never seen noise, and it
emits phones for it (utterance mean-variance normalisation makes a -60 dBFS
hiss look as loud as speech). The CTC-evidence gate of decoding
(:mod:`espnet_llm_entropy.decoding.evidence_gate`) needs a head that answers
"blank" to non-speech, so pretraining sees some. In SFT the empty transcript
teaches the LLM to answer EOS at once. NIM4-ASR's augmentation only pads and
mixes noise into speech (:mod:`espnet_llm_entropy.augment.robustness`); this
adds the case with no speech at all.

Empty targets are valid for both losses: CTC of an empty sequence is the
log-probability of all-blank frames, and the LLM's target is EOS alone.
Each replacement is a pure function of the generator passed in, which the
preprocessor seeds from (seed, utterance id, epoch).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Tuple

import numpy as np

from espnet_llm_entropy.augment.noise_bank import NoiseBank
from espnet_llm_entropy.config_options import dataclass_from_mapping, is_number
from espnet_llm_entropy.augment.robustness import crop_or_loop
from espnet_llm_entropy.corpus.nonspeech_audio import NOISE_COLOURS, coloured_noise, scale_to_rms_dbfs

OPTION_PREFIX = "nonspeech_examples_conf"
SYNTHETIC_RATE = 16000  # coloured_noise's rate; only the sample count matters here


@dataclass
class NonSpeechExamplesConfig:
    """Options (YAML ``nonspeech_examples_conf``).

    Attributes:
        prob: share of training utterances replaced by non-speech, in [0, 1].
        silence_share: share of the replacements that are digital silence.
        reversed_share: share of the replacements that are the utterance
            time-reversed (silence_share + reversed_share <= 1).
        level_dbfs: [low, high] RMS level of the noise, dBFS (<= -15).
        noise_scp: Kaldi scp of noise recordings; None: synthetic noise.
        sample_rate: sampling rate of the speech and the noise list, Hz.
    """

    prob: float = 0.05
    silence_share: float = 0.2
    reversed_share: float = 0.0
    level_dbfs: Tuple[float, float] = (-60.0, -20.0)
    noise_scp: Optional[str] = None
    sample_rate: int = 16000

    def __post_init__(self):
        def bad(name: str, expected: str) -> ValueError:
            return ValueError(
                f"{OPTION_PREFIX}.{name}: expected {expected}, got {getattr(self, name)!r}"
            )

        for name in ("prob", "silence_share", "reversed_share"):
            value = getattr(self, name)
            if not is_number(value) or not 0 <= value <= 1:
                raise bad(name, "a share in [0, 1]")
        if self.silence_share + self.reversed_share > 1:
            raise bad("reversed_share", f"at most 1 - silence_share = {1 - self.silence_share}")
        levels = self.level_dbfs
        if (
            not isinstance(levels, (list, tuple))
            or len(levels) != 2
            or not all(is_number(v) for v in levels)
            or not levels[0] <= levels[1] <= -15.0
        ):
            raise bad("level_dbfs", "[low, high] dBFS with low <= high <= -15")
        self.level_dbfs = (float(levels[0]), float(levels[1]))
        if self.noise_scp is not None and not isinstance(self.noise_scp, (str, Path)):
            raise bad("noise_scp", "a path to a Kaldi scp or null")
        if isinstance(self.sample_rate, bool) or not isinstance(self.sample_rate, int) or self.sample_rate <= 0:
            raise bad("sample_rate", "a positive integer (Hz)")

    @classmethod
    def from_dict(cls, conf: Optional[Mapping[str, Any]]) -> "NonSpeechExamplesConfig":
        """Build from a YAML mapping; unknown keys are an error naming them."""
        return dataclass_from_mapping(cls, conf, OPTION_PREFIX)


class NonSpeechExamples:
    """Draws the replacement of a training utterance (see the module docstring)."""

    def __init__(self, conf: NonSpeechExamplesConfig):
        self.conf = conf
        self.bank = NoiseBank(conf.noise_scp, conf.sample_rate) if conf.noise_scp else None

    @classmethod
    def from_dict(cls, conf: Optional[Mapping[str, Any]]) -> "NonSpeechExamples":
        return cls(NonSpeechExamplesConfig.from_dict(conf))

    def draw(self, wave: np.ndarray, rng: np.random.Generator) -> Optional[np.ndarray]:
        """A non-speech replacement of the utterance ``wave``, or None (keep the utterance).

        Args:
            wave: (S,) the utterance being replaced.
            rng: the utterance's generator for this epoch.

        Returns:
            (S,) float32 (at least one sample), or None with probability ``1 - prob``.
        """
        if rng.random() >= self.conf.prob:
            return None
        num_samples = max(int(wave.shape[0]), 1)
        kind = rng.random()
        if kind < self.conf.silence_share:
            return np.zeros(num_samples, dtype=np.float32)
        if kind < self.conf.silence_share + self.conf.reversed_share and wave.shape[0]:
            return np.ascontiguousarray(np.asarray(wave, dtype=np.float32)[::-1])
        level = rng.uniform(*self.conf.level_dbfs)
        if self.bank is not None and len(self.bank):
            recording = self.bank.load(int(rng.integers(len(self.bank))))
            noise = crop_or_loop(recording, num_samples, float(rng.random())).astype(np.float64)
            return scale_to_rms_dbfs(noise - noise.mean(), level)  # a silent stretch stays silent
        colour = NOISE_COLOURS[int(rng.integers(len(NOISE_COLOURS)))]
        return coloured_noise(rng, colour, num_samples / SYNTHETIC_RATE, level)[:num_samples]
