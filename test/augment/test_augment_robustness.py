"""Silence padding + noise mixing: SNR, pad distribution, probability, seeding."""

import numpy as np
import pytest
import soundfile
from scipy import stats

from espnet_llm_entropy.augment import (
    RobustnessAugConfig,
    RobustnessAugmentation,
    RobustnessAugParams,
    crop_or_loop,
)

SR = 16000


def speech_like(seconds=0.5, seed=0):
    """(T,) float32 test signal: two tones with an amplitude envelope."""
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    x = env * (0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 1500 * t))
    return (x + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def measured_snr_db(wave, out, params):
    padded = np.pad(wave.astype(np.float64), (params.pad_before, params.pad_after))
    noise = out.astype(np.float64) - padded
    return 10 * np.log10(np.mean(wave.astype(np.float64) ** 2) / np.mean(noise**2))


@pytest.fixture
def noise_scp(tmp_path):
    """Two noise files: one shorter than any padded utterance, one longer."""
    rng = np.random.default_rng(1)
    short = 0.2 * np.sin(2 * np.pi * 440 * np.arange(1000) / SR)
    long = 0.05 * rng.standard_normal(5 * SR)
    soundfile.write(tmp_path / "short.wav", short, SR)
    soundfile.write(tmp_path / "long.flac", long, SR)
    scp = tmp_path / "noise.scp"
    scp.write_text(f"short {tmp_path / 'short.wav'}\nlong {tmp_path / 'long.flac'}\n")
    return scp


@pytest.mark.parametrize("use_list", [False, True])
def test_snr_of_mix_matches_drawn_value(use_list, request):
    scp = request.getfixturevalue("noise_scp") if use_list else None
    aug = RobustnessAugmentation(prob=1.0, noise_scp=None if scp is None else str(scp))
    rng = np.random.default_rng(123)
    wave = speech_like()
    snrs = []
    for _ in range(40):
        out = aug(wave, rng)
        params = aug.last_params
        assert params.applied
        assert out.shape == (params.pad_before + wave.size + params.pad_after,)
        assert out.dtype == np.float32
        assert abs(measured_snr_db(wave, out, params) - params.snr_db) < 0.5
        snrs.append(params.snr_db)
    if use_list:
        assert {aug.last_params.noise_index} <= {0, 1}
    assert np.std(snrs) > 1.0  # the SNR is really drawn, not fixed


def test_noise_from_list_is_the_scaled_recording(noise_scp):
    aug = RobustnessAugmentation(prob=1.0, noise_scp=str(noise_scp))
    wave = speech_like(0.3)
    for seed in range(6):
        params = aug.sample_params(np.random.default_rng(seed))
        out = aug.apply(wave, params)
        noise = out.astype(np.float64) - np.pad(wave.astype(np.float64), (params.pad_before, params.pad_after))
        recording = soundfile.read(aug.noise_bank.entries[params.noise_index].path)[0]
        expected = crop_or_loop(recording, out.size, params.noise_offset_frac)
        corr = np.corrcoef(noise, expected)[0, 1]
        assert corr > 0.999


def test_padding_follows_configured_beta():
    a, b, max_pad = 1.0, 3.0, 1.0
    aug = RobustnessAugmentation(prob=1.0, max_pad_s=max_pad, pad_beta=(a, b))
    rng = np.random.default_rng(2024)
    draws = []
    for _ in range(3000):
        p = aug.sample_params(rng)
        draws += [p.pad_before / SR / max_pad, p.pad_after / SR / max_pad]
    draws = np.array(draws)
    assert abs(draws.mean() - a / (a + b)) < 0.01
    assert draws.max() <= 1.0 and draws.min() >= 0.0
    assert stats.kstest(draws, "beta", args=(a, b)).pvalue > 0.01
    # the check has power: the mirrored distribution is rejected outright
    assert stats.kstest(draws, "beta", args=(b, a)).pvalue < 1e-6


def test_padding_scales_with_options():
    aug = RobustnessAugmentation(prob=1.0, max_pad_s=0.5, pad_beta=(2.0, 2.0))
    rng = np.random.default_rng(7)
    pads = np.array([aug.sample_params(rng).pad_before for _ in range(2000)]) / SR
    assert abs(pads.mean() - 0.25) < 0.01  # 0.5 s * 2 / (2 + 2)
    assert pads.max() <= 0.5


def test_probability_of_augmentation():
    aug = RobustnessAugmentation(prob=0.2)
    rng = np.random.default_rng(5)
    applied = np.mean([aug.sample_params(rng).applied for _ in range(5000)])
    assert abs(applied - 0.2) < 0.02


def test_prob_zero_leaves_wave_untouched():
    aug = RobustnessAugmentation(prob=0.0)
    wave = speech_like()
    original = wave.copy()
    rng = np.random.default_rng(0)
    for _ in range(50):
        out = aug(wave, rng)
        assert out is wave
        assert aug.last_params == RobustnessAugParams(applied=False)
    np.testing.assert_array_equal(wave, original)


def test_seed_makes_it_reproducible():
    aug = RobustnessAugmentation(prob=0.5)
    wave = speech_like()
    outs1 = [aug(wave, rng) for rng in [np.random.default_rng(11)] for _ in range(8)]
    outs2 = [aug(wave, rng) for rng in [np.random.default_rng(11)] for _ in range(8)]
    for x, y in zip(outs1, outs2):
        np.testing.assert_array_equal(x, y)
    assert any(x.size != wave.size for x in outs1)
    other = [aug(wave, rng) for rng in [np.random.default_rng(12)] for _ in range(8)]
    assert any(x.shape != y.shape or not np.array_equal(x, y) for x, y in zip(outs1, other))


def test_sample_then_apply_equals_call():
    aug = RobustnessAugmentation(prob=1.0)
    wave = speech_like()
    params = aug.sample_params(np.random.default_rng(3))
    np.testing.assert_array_equal(aug.apply(wave, params), aug(wave, np.random.default_rng(3)))
    assert aug.last_params == params


def test_multichannel_and_silent_input():
    aug = RobustnessAugmentation(prob=1.0)
    stereo = np.stack([speech_like(), speech_like(seed=1)], axis=1)
    out = aug(stereo, np.random.default_rng(0))
    p = aug.last_params
    assert out.shape == (stereo.shape[0] + p.pad_before + p.pad_after, 2)
    silent = np.zeros(SR // 4, dtype=np.float64)
    out = aug(silent, np.random.default_rng(0))
    assert out.size > silent.size and not out.any()  # padded, no SNR -> no noise


def test_bad_waveforms_are_rejected():
    aug = RobustnessAugmentation(prob=1.0)
    with pytest.raises(ValueError, match="floating"):
        aug(np.zeros(100, dtype=np.int16), np.random.default_rng(0))
    with pytest.raises(ValueError, match="shape"):
        aug(np.zeros((2, 3, 4)), np.random.default_rng(0))


@pytest.mark.parametrize(
    "conf, option",
    [
        ({"prob": 1.5}, "robustness_aug_conf.prob"),
        ({"prob": "high"}, "robustness_aug_conf.prob"),
        ({"max_pad_s": -0.1}, "robustness_aug_conf.max_pad_s"),
        ({"pad_beta": [0.0, 3.0]}, "robustness_aug_conf.pad_beta"),
        ({"pad_beta": [1.0]}, "robustness_aug_conf.pad_beta"),
        ({"snr_std_db": -5.0}, "robustness_aug_conf.snr_std_db"),
        ({"sample_rate": 0}, "robustness_aug_conf.sample_rate"),
        ({"snr_db": 3}, "unknown option"),
    ],
)
def test_config_errors_name_the_option(conf, option):
    with pytest.raises(ValueError, match=option.replace(".", r"\.")):
        RobustnessAugConfig.from_dict(conf)


def test_config_from_yaml_mapping_builds_the_augmentation(noise_scp):
    conf = RobustnessAugConfig.from_dict(
        {"prob": 1.0, "pad_beta": [2, 5], "noise_scp": str(noise_scp), "snr_mean_db": 0.0}
    )
    assert conf.pad_beta == (2.0, 5.0)
    aug = RobustnessAugmentation.from_config(conf)
    assert len(aug.noise_bank) == 2 and aug.conf == conf
    assert RobustnessAugmentation.from_dict({"prob": 0.5}).conf.prob == 0.5
    # data-loader workers receive the augmentation by pickling
    import pickle

    clone = pickle.loads(pickle.dumps(aug))
    wave = speech_like(0.2)
    np.testing.assert_array_equal(
        clone(wave, np.random.default_rng(4)), aug(wave, np.random.default_rng(4))
    )


def test_crop_or_loop():
    noise = np.arange(5.0)
    np.testing.assert_array_equal(crop_or_loop(noise, 12, 0.0), [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1])
    np.testing.assert_array_equal(crop_or_loop(noise, 3, 0.0), [0, 1, 2])
    np.testing.assert_array_equal(crop_or_loop(noise, 3, 0.999), [2, 3, 4])
    np.testing.assert_array_equal(crop_or_loop(noise, 5, 0.7), noise)


def test_utterance_rng_is_stable_across_processes_and_epochs():
    import subprocess
    import sys

    from espnet_llm_entropy.augment import utterance_rng

    here = utterance_rng(3, "spk1-utt7", epoch=2).integers(1 << 30, size=4).tolist()
    code = (
        "from espnet_llm_entropy.augment.seeding import utterance_rng;"
        "print(utterance_rng(3, 'spk1-utt7', epoch=2).integers(1 << 30, size=4).tolist())"
    )
    # a new interpreter has a different str hash salt; the draws must not change
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(here)
    assert utterance_rng(3, "spk1-utt7", epoch=3).integers(1 << 30, size=4).tolist() != here
    assert utterance_rng(3, "spk1-utt8", epoch=2).integers(1 << 30, size=4).tolist() != here
    with pytest.raises(ValueError, match="epoch"):
        utterance_rng(3, "x", epoch=-1)


def test_silent_stretch_of_noise_adds_nothing(tmp_path):
    rec = np.concatenate([np.zeros(600), 0.1 * np.random.default_rng(0).standard_normal(600)])
    soundfile.write(tmp_path / "gap.wav", rec, SR)
    (tmp_path / "n.scp").write_text(f"gap {tmp_path / 'gap.wav'}\n")
    aug = RobustnessAugmentation(prob=1.0, noise_scp=str(tmp_path / "n.scp"))
    wave = speech_like(500 / SR)
    params = RobustnessAugParams(applied=True, snr_db=0.0, noise_index=0, noise_offset_frac=0.0)
    np.testing.assert_array_equal(aug.apply(wave, params), wave)
    noisy = aug.apply(wave, RobustnessAugParams(applied=True, snr_db=0.0, noise_index=0, noise_offset_frac=0.99))
    assert abs(measured_snr_db(wave, noisy, params) - 0.0) < 0.5
