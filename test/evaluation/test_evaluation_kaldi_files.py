"""Kaldi text / utt2dur / wav.scp readers."""

import numpy as np
import pytest
import soundfile

from espnet_llm_entropy.evaluation import durations_from_wav_scp, read_kaldi_text, read_utt2dur


def test_read_text_with_empty_transcripts(tmp_path):
    path = tmp_path / "text"
    path.write_text("u1 hello world\nu2\nu3 你好 世界\r\n", encoding="utf-8")
    assert read_kaldi_text(path) == {"u1": "hello world", "u2": "", "u3": "你好 世界"}


def test_read_text_errors(tmp_path):
    path = tmp_path / "text"
    path.write_text("u1 a\nu2 b\nu1 c\n")
    with pytest.raises(ValueError, match=r"text:3: duplicate utterance id 'u1' \(first on line 1\)"):
        read_kaldi_text(path)
    with pytest.raises(FileNotFoundError, match="absent"):
        read_kaldi_text(tmp_path / "absent")


@pytest.mark.parametrize(
    "content, where, reason",
    [
        (b"u1 a\n\nu2 b\n", ":2", "blank line"),
        (b"u1 a\n   \n", ":2", "blank line"),
        (b"u1 a\n u2 b\n", ":2", "starts with whitespace"),
        (b"u1 a\nu2 caf\xe9\n", ":2", "not UTF-8"),
    ],
)
def test_read_text_refuses_what_text_to_phones_refuses(tmp_path, content, where, reason):
    path = tmp_path / "text"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"text{where}: .*{reason}"):
        read_kaldi_text(path)


def test_utt2dur_that_is_not_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "utt2dur"
    path.write_bytes(b"u1 1.0\nu\xe9 2.0\n")
    with pytest.raises(ValueError, match=r"utt2dur:2: not UTF-8"):
        read_utt2dur(path)


def test_read_utt2dur(tmp_path):
    path = tmp_path / "utt2dur"
    path.write_text("u1 1.5\nu2 0\n")
    assert read_utt2dur(path) == {"u1": 1.5, "u2": 0.0}
    for bad, where in [("u1 x\n", ":1"), ("u1 1.0\nu2\n", ":2"), ("u1 -2\n", ":1"), ("u1 1\nu1 2\n", ":2")]:
        path.write_text(bad)
        with pytest.raises(ValueError, match=f"utt2dur{where}"):
            read_utt2dur(path)


def test_durations_from_wav_scp(tmp_path):
    soundfile.write(tmp_path / "a.wav", np.zeros(8000), 16000)
    soundfile.write(tmp_path / "b.flac", np.zeros(24000), 16000)
    scp = tmp_path / "wav.scp"
    scp.write_text(f"a {tmp_path / 'a.wav'}\nb {tmp_path / 'b.flac'}\n")
    assert durations_from_wav_scp(scp) == {"a": pytest.approx(0.5), "b": pytest.approx(1.5)}
    scp.write_text(f"a {tmp_path / 'a.wav'}\nb {tmp_path / 'nope.wav'}\n")
    with pytest.raises(ValueError, match=r"wav.scp:2: cannot read audio"):
        durations_from_wav_scp(scp)
    scp.write_text("a sox x.wav -t wav - |\n")
    with pytest.raises(ValueError, match=r"wav.scp:1: piped command.*--utt2dur"):
        durations_from_wav_scp(scp)

