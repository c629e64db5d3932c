"""Waveform augmentations (numpy only, seeded): robustness to silence and noise."""

from espnet_llm_entropy.augment.noise_bank import NoiseBank, NoiseEntry, read_noise_scp
from espnet_llm_entropy.augment.robustness import (
    RobustnessAugConfig,
    RobustnessAugmentation,
    RobustnessAugParams,
    crop_or_loop,
    scale_noise_to_snr,
)
from espnet_llm_entropy.augment.seeding import utterance_rng

__all__ = [
    "NoiseBank",
    "NoiseEntry",
    "read_noise_scp",
    "RobustnessAugConfig",
    "RobustnessAugmentation",
    "RobustnessAugParams",
    "crop_or_loop",
    "scale_noise_to_snr",
    "utterance_rng",
]
