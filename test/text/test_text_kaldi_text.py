"""Kaldi text reading: ids, transcripts and errors that name file and line."""

import re

import pytest

from espnet_llm_entropy.text.kaldi_text import KaldiTextError, read_kaldi_text


def _write(tmp_path, data: bytes):
    path = tmp_path / "text"
    path.write_bytes(data)
    return path


def test_reads_ids_and_transcripts(tmp_path):
    path = _write(tmp_path, "\ufeffu1 你好 world\r\nu2\tI  am\nu3\n".encode("utf-8"))
    entries = list(read_kaldi_text(path))
    assert [(e.line_number, e.utt_id, e.transcript) for e in entries] == [
        (1, "u1", "你好 world"),
        (2, "u2", "I  am"),
        (3, "u3", ""),
    ]


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
def test_errors_name_file_and_line(tmp_path, data, line, message):
    path = _write(tmp_path, data)
    with pytest.raises(KaldiTextError, match=re.escape(f"{path}:{line}: ") + ".*" + message) as info:
        list(read_kaldi_text(path))
    assert info.value.line_number == line
