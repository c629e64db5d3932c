"""Kaldi data directories: sorted, consistent, atomic; ESPnet reads empty text."""

import pytest

from espnet_llm_entropy.corpus.kaldi_data_dir import DataDirEntry, check_kaldi_data_dir, write_kaldi_data_dir
from espnet_llm_entropy.fileio.kaldi_map import read_kaldi_map


def make_entries(tmp_path, texts):
    entries = []
    for utt, spk, text in texts:
        wav = tmp_path / f"{utt}.wav"
        wav.write_bytes(b"RIFF")
        entries.append(DataDirEntry(utt, spk, str(wav), text))
    return entries


def test_written_files_are_sorted_and_consistent(tmp_path):
    entries = make_entries(tmp_path, [("b-2", "b", "two"), ("a-9", "a", "你好 world"),
                                      ("b-1", "b", ""), ("a-10", "a", "ten")])
    out = tmp_path / "data"
    write_kaldi_data_dir(out, entries, {"utt2lang": {e.utt_id: "x" for e in entries}})
    assert check_kaldi_data_dir(out) == ["a-10", "a-9", "b-1", "b-2"]
    assert (out / "spk2utt").read_text() == "a a-10 a-9\nb b-1 b-2\n"
    assert (out / "text").read_text(encoding="utf-8").splitlines() == [
        "a-10 ten", "a-9 你好 world", "b-1", "b-2 two"]
    assert list(read_kaldi_map(out / "utt2lang")) == ["a-10", "a-9", "b-1", "b-2"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_espnet_reads_an_empty_transcript_as_empty_string(tmp_path):
    read_text = pytest.importorskip("espnet2.fileio.read_text", reason="ESPnet is not installed")
    out = tmp_path / "data"
    write_kaldi_data_dir(out, make_entries(tmp_path, [("s-1", "s", ""), ("s-2", "s", "hi")]))
    assert read_text.read_2columns_text(out / "text") == {"s-1": "", "s-2": "hi"}


@pytest.mark.parametrize(
    "rows, message",
    [([("x-1", "y", "a")], "must start with its speaker id 'y'"),
     ([("s-1", "s", "a"), ("s-1", "s", "b")], "duplicate utterance id 's-1'"),
     ([("s 1", "s", "a")], "without spaces"),
     ([("s-1", "s", "a\nb")], "newline"),
     ([], "no utterances")],
)
def test_bad_entries_write_nothing(tmp_path, rows, message):
    with pytest.raises(ValueError, match=message):
        write_kaldi_data_dir(tmp_path / "data", make_entries(tmp_path, rows))
    assert not (tmp_path / "data").exists()


def test_extra_file_must_cover_all_utterances(tmp_path):
    entries = make_entries(tmp_path, [("s-1", "s", "a"), ("s-2", "s", "b")])
    with pytest.raises(ValueError, match="extra file 'utt2lang'"):
        write_kaldi_data_dir(tmp_path / "data", entries, {"utt2lang": {"s-1": "en"}})
    assert not (tmp_path / "data").exists()


def test_check_finds_inconsistencies(tmp_path):
    out = tmp_path / "data"
    write_kaldi_data_dir(out, make_entries(tmp_path, [("s-1", "s", "a"), ("s-2", "s", "b")]))
    (out / "text").write_text("s-2 b\ns-1 a\n")
    with pytest.raises(ValueError, match="text: not sorted"):
        check_kaldi_data_dir(out)
    (out / "text").write_text("s-1 a\ns-3 b\n")
    with pytest.raises(ValueError, match="text: utterance ids differ"):
        check_kaldi_data_dir(out)
    (out / "text").write_text("s-1 a\ns-2 b\n")
    (tmp_path / "s-2.wav").unlink()
    with pytest.raises(ValueError, match="s-2: no such file"):
        check_kaldi_data_dir(out)
    (out / "utt2spk").write_text("s-1\n")
    with pytest.raises(ValueError, match=r"utt2spk:1: expected '<key> <value>'"):
        check_kaldi_data_dir(out)


def test_rewrite_replaces_the_directory(tmp_path):
    out = tmp_path / "data"
    write_kaldi_data_dir(out, make_entries(tmp_path, [("s-1", "s", "old")]))
    (out / "stale").write_text("x")
    write_kaldi_data_dir(out, make_entries(tmp_path, [("s-1", "s", "new")]))
    assert (out / "text").read_text() == "s-1 new\n"
    assert not (out / "stale").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["data"]
