"""Robustness augmentation against hallucination: silence padding plus noise.

With probability ``prob`` an utterance is (1) padded with digital silence
before and after, each pad lasting ``max_pad_s * Beta(a, b)`` seconds, and
(2) mixed with noise at an SNR drawn from ``N(snr_mean_db, snr_std_db)``.
The defaults are the paper's settings: p = 0.2, 0-1 s pads drawn from
Beta(1, 3), SNR ~ N(10 dB, 5 dB). The model thus sees non-speech stretches
and noisy audio whose transcript is unchanged, which teaches it not to emit
text for silence or noise.

SNR definition (what the drawn value means):
    speech power  P_s = mean(x**2) over the ORIGINAL utterance samples
                   (before padding; all channels);
    noise power   P_n = mean(n**2) over the WHOLE padded length T', after
                   scaling;
    SNR_dB        = 10 * log10(P_s / P_n).
So the padding does not dilute the speech power, and the noise level is the
same in the pads as under the speech. An utterance with zero power gets
padding but no noise (no SNR can be defined against it); so does a noise
crop that is digitally silent.

Noise comes from a Kaldi scp of recordings (``noise_scp``); a recording
shorter than T' is looped, a longer one is cropped at a random offset.
Without a list, Gaussian white noise is used.

Reproducibility: all randomness comes from the ``numpy.random.Generator``
passed in. :meth:`RobustnessAugmentation.sample_params` draws everything
(including a seed for white noise) into a :class:`RobustnessAugParams`, and
:meth:`RobustnessAugmentation.apply` is a pure function of the wave and the
params; ``__call__`` does both and keeps the params in ``last_params``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

from espnet_llm_entropy.augment.noise_bank import NoiseBank
from espnet_llm_entropy.config_options import dataclass_from_mapping

OPTION_PREFIX = "robustness_aug_conf"


@dataclass
class RobustnessAugConfig:
    """Options of the robustness augmentation (YAML ``robustness_aug_conf``).

    Attributes:
        prob: probability that an utterance is augmented at all, in [0, 1].
        max_pad_s: longest silence pad on each side, seconds (>= 0).
        pad_beta: (a, b) of the Beta distribution of pad / max_pad_s; both > 0.
        snr_mean_db: mean of the Gaussian SNR distribution, dB.
        snr_std_db: standard deviation of the SNR distribution, dB (>= 0).
        noise_scp: Kaldi scp ``<id> <path>`` of noise recordings; None means
            Gaussian white noise.
        sample_rate: sampling rate of the speech (and the noise), Hz.
    """

    prob: float = 0.2
    max_pad_s: float = 1.0
    pad_beta: Tuple[float, float] = (1.0, 3.0)
    snr_mean_db: float = 10.0
    snr_std_db: float = 5.0
    noise_scp: Optional[str] = None
    sample_rate: int = 16000

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Check every option; raise ValueError naming the bad one."""

        def bad(name: str, expected: str, value: Any) -> ValueError:
            return ValueError(
                f"{OPTION_PREFIX}.{name}: expected {expected}, got {value!r}"
            )

        def number(name: str, value: Any) -> float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise bad(name, "a number", value)
            if not math.isfinite(value):
                raise bad(name, "a finite number", value)
            return float(value)

        if not 0.0 <= number("prob", self.prob) <= 1.0:
            raise bad("prob", "a probability in [0, 1]", self.prob)
        if number("max_pad_s", self.max_pad_s) < 0:
            raise bad("max_pad_s", "a duration >= 0 seconds", self.max_pad_s)
        if not isinstance(self.pad_beta, (tuple, list)) or len(self.pad_beta) != 2:
            raise bad("pad_beta", "two numbers [a, b]", self.pad_beta)
        a, b = (number("pad_beta", v) for v in self.pad_beta)
        if a <= 0 or b <= 0:
            raise bad("pad_beta", "Beta parameters a > 0 and b > 0", self.pad_beta)
        self.pad_beta = (a, b)
        number("snr_mean_db", self.snr_mean_db)
        if number("snr_std_db", self.snr_std_db) < 0:
            raise bad("snr_std_db", "a standard deviation >= 0 dB", self.snr_std_db)
        if (
            isinstance(self.sample_rate, bool)
            or not isinstance(self.sample_rate, int)
            or self.sample_rate <= 0
        ):
            raise bad("sample_rate", "a positive integer (Hz)", self.sample_rate)
        if self.noise_scp is not None and not isinstance(self.noise_scp, (str, Path)):
            raise bad("noise_scp", "a path to a Kaldi scp or null", self.noise_scp)

    @classmethod
    def from_dict(cls, conf: Optional[Mapping[str, Any]]) -> "RobustnessAugConfig":
        """Build from a YAML mapping; unknown keys are an error naming them."""
        conf = dict(conf or {})
        if "pad_beta" in conf and isinstance(conf["pad_beta"], list):
            conf["pad_beta"] = tuple(conf["pad_beta"])
        return dataclass_from_mapping(cls, conf, OPTION_PREFIX)


@dataclass(frozen=True)
class RobustnessAugParams:
    """Everything drawn for one utterance.

    Attributes:
        applied: False when the utterance is left untouched (other fields
            are then meaningless zeros).
        pad_before: silence samples prepended.
        pad_after: silence samples appended.
        snr_db: target SNR in dB (see the module docstring).
        noise_index: index into the noise list, or -1 for white noise.
        noise_offset_frac: where in the noise recording the crop starts, as a
            fraction in [0, 1) of the possible start positions.
        noise_seed: seed of the white-noise generator (white noise only).
    """

    applied: bool
    pad_before: int = 0
    pad_after: int = 0
    snr_db: float = 0.0
    noise_index: int = -1
    noise_offset_frac: float = 0.0
    noise_seed: int = 0

    def as_dict(self) -> Dict[str, Any]:
        """Plain dict, e.g. for logging."""
        return dataclasses.asdict(self)


def crop_or_loop(noise: np.ndarray, length: int, offset_frac: float) -> np.ndarray:
    """Take ``length`` samples of ``noise``, looping it when it is too short.

    Args:
        noise: (L,) recording, L >= 1.
        length: samples wanted.
        offset_frac: start position as a fraction in [0, 1) of the valid
            starts (``L - length + 1`` of them when L >= length, else L).

    Returns:
        (length,) array.
    """
    n = noise.shape[0]
    starts = n - length + 1 if n >= length else n
    start = min(int(offset_frac * starts), starts - 1)
    index = (start + np.arange(length)) % n
    return noise[index]


def scale_noise_to_snr(
    noise: np.ndarray, speech_power: float, snr_db: float
) -> np.ndarray:
    """Scale ``noise`` so that ``10 log10(speech_power / mean(noise**2)) == snr_db``.

    Args:
        noise: (T,) noise samples; must not be all zeros.
        speech_power: mean square of the speech samples.
        snr_db: wanted SNR in dB.

    Returns:
        (T,) scaled noise (float64).
    """
    noise_power = float(np.mean(np.square(noise, dtype=np.float64)))
    if noise_power <= 0.0:
        raise ValueError("noise segment has zero power; cannot set an SNR")
    target_power = speech_power / (10.0 ** (snr_db / 10.0))
    return noise * math.sqrt(target_power / noise_power)


class RobustnessAugmentation:
    """Seeded silence padding + noise mixing (see the module docstring).

    Args:
        prob, max_pad_s, pad_beta, snr_mean_db, snr_std_db, noise_scp,
        sample_rate: see :class:`RobustnessAugConfig`.

    Example:
        >>> aug = RobustnessAugmentation(prob=1.0)
        >>> out = aug(np.ones(16000) * 0.1, np.random.default_rng(0))
        >>> out.shape[0] >= 16000
        True
    """

    def __init__(
        self,
        prob: float = 0.2,
        max_pad_s: float = 1.0,
        pad_beta: Tuple[float, float] = (1.0, 3.0),
        snr_mean_db: float = 10.0,
        snr_std_db: float = 5.0,
        noise_scp: Optional[str] = None,
        sample_rate: int = 16000,
    ):
        self.conf = RobustnessAugConfig(
            prob=prob,
            max_pad_s=max_pad_s,
            pad_beta=tuple(pad_beta),
            snr_mean_db=snr_mean_db,
            snr_std_db=snr_std_db,
            noise_scp=noise_scp,
            sample_rate=sample_rate,
        )
        self.noise_bank: Optional[NoiseBank] = (
            NoiseBank(noise_scp, sample_rate) if noise_scp is not None else None
        )
        self.last_params: Optional[RobustnessAugParams] = None

    @classmethod
    def from_config(cls, conf: RobustnessAugConfig) -> "RobustnessAugmentation":
        """Build from a :class:`RobustnessAugConfig`."""
        return cls(**dataclasses.asdict(conf))

    @classmethod
    def from_dict(cls, conf: Optional[Mapping[str, Any]]) -> "RobustnessAugmentation":
        """Build from the YAML mapping ``robustness_aug_conf`` (validated)."""
        return cls.from_config(RobustnessAugConfig.from_dict(conf))

    def sample_params(self, rng: np.random.Generator) -> RobustnessAugParams:
        """Draw the augmentation of one utterance.

        The same number of values is drawn whether or not the utterance is
        augmented, so one utterance's decision does not shift the random
        stream seen by the next ones.

        Args:
            rng: the random generator (e.g. seeded per worker/epoch).
        """
        c = self.conf
        u = rng.random()
        a, b = c.pad_beta
        pads = rng.beta(a, b, size=2) * c.max_pad_s * c.sample_rate
        snr_db = rng.normal(c.snr_mean_db, c.snr_std_db)
        n_noise = len(self.noise_bank) if self.noise_bank is not None else 0
        noise_index = int(rng.integers(n_noise)) if n_noise else -1
        offset_frac = float(rng.random())
        noise_seed = int(rng.integers(2**63 - 1))
        if u >= c.prob:
            return RobustnessAugParams(applied=False)
        return RobustnessAugParams(
            applied=True,
            pad_before=int(round(pads[0])),
            pad_after=int(round(pads[1])),
            snr_db=float(snr_db),
            noise_index=noise_index,
            noise_offset_frac=offset_frac,
            noise_seed=noise_seed,
        )

    def make_noise(self, params: RobustnessAugParams, length: int) -> np.ndarray:
        """Unscaled noise of ``length`` samples for ``params``, shape (length,)."""
        if params.noise_index < 0:
            return np.random.default_rng(params.noise_seed).standard_normal(length)
        if self.noise_bank is None:
            raise ValueError(
                f"params name noise recording {params.noise_index} but "
                f"{OPTION_PREFIX}.noise_scp is not set"
            )
        recording = self.noise_bank.load(params.noise_index)
        return crop_or_loop(recording, length, params.noise_offset_frac)

    def apply(self, wave: np.ndarray, params: RobustnessAugParams) -> np.ndarray:
        """Apply drawn params to one utterance.

        Args:
            wave: (T,) or (T, C) floating-point samples.
            params: from :meth:`sample_params`.

        Returns:
            (T', ...) with T' = pad_before + T + pad_after, same dtype as
            ``wave``; ``wave`` itself when ``params.applied`` is False.
        """
        if not isinstance(wave, np.ndarray) or wave.ndim not in (1, 2):
            raise ValueError(
                "RobustnessAugmentation expects a numpy waveform of shape (T,) or "
                f"(T, C), got {type(wave).__name__} with shape "
                f"{getattr(wave, 'shape', None)}"
            )
        if not np.issubdtype(wave.dtype, np.floating):
            raise ValueError(
                f"RobustnessAugmentation expects floating-point samples, got "
                f"dtype {wave.dtype} (read audio with dtype float32/float64)"
            )
        if not params.applied:
            return wave
        x = wave.astype(np.float64, copy=False)
        pad_width = [(params.pad_before, params.pad_after)] + [(0, 0)] * (x.ndim - 1)
        padded = np.pad(x, pad_width)
        speech_power = float(np.mean(np.square(x))) if x.size else 0.0
        if speech_power > 0.0:
            noise = self.make_noise(params, padded.shape[0])
            if np.any(noise):  # a digitally silent stretch of a recording adds nothing
                noise = scale_noise_to_snr(noise, speech_power, params.snr_db)
                padded += noise if padded.ndim == 1 else noise[:, None]
        return padded.astype(wave.dtype, copy=False)

    def __call__(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Draw params with ``rng``, apply them, and keep them in ``last_params``.

        Args:
            wave: (T,) or (T, C) floating-point samples.
            rng: random generator.

        Returns:
            (T', ...) augmented samples (``wave`` itself when not augmented).
        """
        params = self.sample_params(rng)
        self.last_params = params
        return self.apply(wave, params)

    def __repr__(self) -> str:
        fields_ = ", ".join(
            f"{k}={v!r}" for k, v in dataclasses.asdict(self.conf).items()
        )
        return f"{type(self).__name__}({fields_})"
