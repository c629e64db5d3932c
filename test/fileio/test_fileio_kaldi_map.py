"""Kaldi two-column files: keys and values in file order, errors that name file and line."""

import re

import pytest

from espnet_llm_entropy.fileio.kaldi_map import (
    KaldiFileError,
    iter_kaldi_map,
    iter_kaldi_text,
    read_kaldi_map,
    read_kaldi_text,
)


def _write(tmp_path, data: bytes, name: str = "text"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_text_reads_ids_and_transcripts(tmp_path):
    path = _write(tmp_path, "\ufeffu1 你好 world\r\nu2\tI  am\nu3\n".encode("utf-8"))
    entries = list(iter_kaldi_text(path))
    assert [(e.line_number, e.key, e.value) for e in entries] == [
        (1, "u1", "你好 world"),
        (2, "u2", "I  am"),
        (3, "u3", ""),
    ]
    assert read_kaldi_text(path) == {"u1": "你好 world", "u2": "I  am", "u3": ""}


@pytest.mark.parametrize(
    "data, line, message",
    [
        (b"u1 a\n\nu2 b\n", 2, "blank line"),
        (b"u1 a\n   \n", 2, "blank line"),
        (b"u1 a\n x y\n", 2, "no utterance id"),
        (b"u1 a\nu2 b\nu1 c\n", 3, "duplicate utterance id 'u1' \\(first on line 1\\)"),
        (b"u1 a\nu2 \xff\xfe\n", 2, "not UTF-8"),
    ],
)
def test_text_errors_name_file_and_line(tmp_path, data, line, message):
    path = _write(tmp_path, data)
    with pytest.raises(KaldiFileError, match=re.escape(f"{path}:{line}: ") + ".*" + message) as info:
        list(iter_kaldi_text(path))
    assert info.value.line_number == line
    assert info.value.path == str(path)


def test_map_keeps_file_order_not_sorted_order(tmp_path):
    path = _write(tmp_path, b"b-2 x\na-10 y\na-9 z\n", "utt2spk")
    assert list(read_kaldi_map(path)) == ["b-2", "a-10", "a-9"]


def test_map_value_required_unless_allowed(tmp_path):
    path = _write(tmp_path, b"u1 /a.wav\nu2\n", "wav.scp")
    with pytest.raises(KaldiFileError, match=re.escape(f"{path}:2: expected '<utt-id> <audio path>', got 'u2'")):
        read_kaldi_map(path, key_name="utt-id", value_name="audio path")
    assert read_kaldi_map(path, allow_empty_value=True) == {"u1": "/a.wav", "u2": ""}


def test_map_blank_lines_and_comments(tmp_path):
    path = _write(tmp_path, b"#noises\nn1 /a.wav\n\nn2 /b.wav\n", "noise.scp")
    with pytest.raises(KaldiFileError, match=":1: expected"):
        read_kaldi_map(path)  # "#noises" is a key without a value
    with pytest.raises(KaldiFileError, match=":3: blank line"):
        read_kaldi_map(path, comments=True)
    assert read_kaldi_map(path, comments=True, blank_lines="skip") == {"n1": "/a.wav", "n2": "/b.wav"}


def test_map_duplicate_key_names_both_lines(tmp_path):
    path = _write(tmp_path, b"k v\nj w\nk x\n", "spk2utt")
    with pytest.raises(KaldiFileError, match=re.escape(f"{path}:3: duplicate key 'k' (first on line 1)")):
        read_kaldi_map(path)


def test_missing_file_and_bad_option(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"utt2dur file .*absent does not exist"):
        read_kaldi_map(tmp_path / "absent", what="utt2dur")
    path = _write(tmp_path, b"k v\n")
    with pytest.raises(ValueError, match="blank_lines must be 'error' or 'skip', got 'drop'"):
        list(iter_kaldi_map(path, blank_lines="drop"))
