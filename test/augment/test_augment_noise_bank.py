"""Noise scp reading: errors name the list and the line; lazy cached loading."""

import numpy as np
import pytest
import soundfile

from espnet_llm_entropy.augment import NoiseBank, read_noise_scp


def write_noise(path, rate=16000, samples=800, channels=1):
    data = 0.1 * np.random.default_rng(0).standard_normal((samples, channels))
    soundfile.write(path, data, rate)
    return path


def test_reads_entries_skipping_comments(tmp_path):
    a = write_noise(tmp_path / "a.wav")
    b = write_noise(tmp_path / "b.wav")
    scp = tmp_path / "noise.scp"
    scp.write_text(f"# babble\nn1 {a}\n\nn2 {b}\n")
    entries = read_noise_scp(scp)
    assert [(e.noise_id, e.line_no) for e in entries] == [("n1", 2), ("n2", 4)]


@pytest.mark.parametrize(
    "content, error, where",
    [
        ("n1 {a}\nn2 {missing}\n", FileNotFoundError, ":2"),
        ("n1 {a}\nlonely\n", ValueError, ":2"),
        ("n1 {a}\nn1 {a}\n", ValueError, ":2"),
        ("n1 sox {a} -t wav - |\n", ValueError, ":1"),
        ("# nothing\n", ValueError, "no entries"),
    ],
)
def test_bad_lists_name_scp_and_line(tmp_path, content, error, where):
    a = write_noise(tmp_path / "a.wav")
    scp = tmp_path / "noise.scp"
    scp.write_text(content.format(a=a, missing=tmp_path / "nope.wav"))
    with pytest.raises(error, match="noise") as err:
        read_noise_scp(scp)
    assert where in str(err.value)
    if where.startswith(":"):
        assert f"{scp}{where}" in str(err.value)


def test_missing_scp(tmp_path):
    with pytest.raises(FileNotFoundError, match="noise_scp"):
        read_noise_scp(tmp_path / "absent.scp")


def test_loads_first_channel_once_and_checks_rate(tmp_path):
    stereo = write_noise(tmp_path / "st.wav", channels=2)
    wrong = write_noise(tmp_path / "w.wav", rate=8000)
    scp = tmp_path / "noise.scp"
    scp.write_text(f"st {stereo}\nw {wrong}\n")
    bank = NoiseBank(scp, sample_rate=16000)
    first = bank.load(0)
    assert first.shape == (800,)
    np.testing.assert_allclose(first, soundfile.read(stereo)[0][:, 0])
    assert bank.load(0) is first  # cached
    with pytest.raises(ValueError, match=r"noise.scp:2 .*8000 Hz"):
        bank.load(1)
