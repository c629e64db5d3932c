"""Real AN4 speech and noise from ESPnet's mini_an4 archive."""

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile

from espnet_llm_entropy.corpus import MiniCorpusConfig, build_mini_corpus
from espnet_llm_entropy.corpus.an4_archive import parse_transcription, read_an4_archive
from espnet_llm_entropy.corpus.kaldi_data_dir import check_kaldi_data_dir
from espnet_llm_entropy.fileio.kaldi_map import read_kaldi_map

# from an4/etc/an4_{train,test}.transcription inside the archive, lowercased
EXPECTED_TEXT = {
    "fash-an251-fash-b": "yes",
    "fash-an253-fash-b": "go",
    "fbbh-cen8-fbbh-b": "march third nineteen twenty eight",
    "mwhw-an152-mwhw-b": "start",
    "mwhw-cen8-mwhw-b": "eleven seventeen fifty one",
    "fcaw-cen8-fcaw-b": "eleven twenty seven fifty seven",
    "mmxg-cen8-mmxg-b": "october twenty four nineteen seventy",
}


def test_read_archive(mini_an4_dir):
    utterances, noises = read_an4_archive(mini_an4_dir / "downloads.tar.gz")
    assert {u.utt_id: u.text for u in utterances} == EXPECTED_TEXT
    by_id = {u.utt_id: u for u in utterances}
    assert by_id["fash-an251-fash-b"].audio.shape == (16000,)  # 1.00 s (soxi)
    assert by_id["fash-an253-fash-b"].audio.shape == (11200,)  # 0.70 s
    assert sorted(noises) == ["noise-free-sound-0043", "noise-sound-bible-0001"]
    assert noises["noise-free-sound-0043"].shape == (24520,)


def test_corpus_with_an4(mini_an4_dir, espeak_available, tmp_path):
    config = MiniCorpusConfig(num_train=3, num_dev=3, num_test=3, num_speakers=3,
                              num_heldout_speakers=0, an4_dir=str(mini_an4_dir))
    summary = build_mini_corpus(tmp_path, config, show_progress=False)
    an4 = summary.data_dir("an4")
    assert check_kaldi_data_dir(an4) == sorted(EXPECTED_TEXT)
    assert read_kaldi_map(an4 / "text") == dict(sorted(EXPECTED_TEXT.items()))
    assert read_kaldi_map(an4 / "spk2utt")["fash"] == "fash-an251-fash-b fash-an253-fash-b"
    wav = read_kaldi_map(an4 / "wav.scp")["fash-an251-fash-b"]
    assert soundfile.info(wav).samplerate == 16000 and soundfile.info(wav).format == "WAV"
    converted, _ = soundfile.read(wav, dtype="int16")
    with tarfile.open(mini_an4_dir / "downloads.tar.gz") as tar:
        member = tar.extractfile("downloads/an4/wav/an4_clstk/fash/an251-fash-b.sph")
        original, _ = soundfile.read(io.BytesIO(member.read()), dtype="int16")
    np.testing.assert_array_equal(converted, original)  # lossless conversion

    nonspeech = check_kaldi_data_dir(summary.data_dir("nonspeech"))
    real = [u for u in nonspeech if u.startswith("an4noise-")]
    assert len(real) == 2
    noise_ids = list(read_kaldi_map(Path(summary.noise_scp)))
    assert len([n for n in noise_ids if n.startswith("an4-")]) == 2
    # the list holds the first half of each recording, the test set the second
    ns_wavs = read_kaldi_map(summary.data_dir("nonspeech") / "wav.scp")
    first, _ = soundfile.read(read_kaldi_map(Path(summary.noise_scp))["an4-noise_free_sound_0043"],
                              dtype="int16")
    second, _ = soundfile.read(ns_wavs["an4noise-noise_free_sound_0043"], dtype="int16")
    assert first.size + second.size == 24520


def make_archive(path: Path, members: dict) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_unsafe_member_is_rejected(tmp_path):
    archive = make_archive(tmp_path / "downloads.tar.gz", {"../evil.txt": b"x"})
    with pytest.raises(ValueError, match=r"unsafe member path '\.\./evil\.txt'"):
        read_an4_archive(archive)
    assert not (tmp_path.parent / "evil.txt").exists()


def test_transcript_errors(tmp_path):
    bad = b"<s> YES </s> (an251-fash-b)\nNO FILE ID HERE\n"
    archive = make_archive(tmp_path / "a.tar.gz", {"downloads/an4/etc/an4_train.transcription": bad})
    with pytest.raises(ValueError, match=r"an4_train\.transcription:2: expected"):
        read_an4_archive(archive)
    good = b"<s> YES </s> (an251-fash-b)\n"
    archive = make_archive(tmp_path / "b.tar.gz", {"downloads/an4/etc/an4_train.transcription": good})
    with pytest.raises(ValueError, match=r"transcript for 'an251-fash-b' but no an251-fash-b\.sph"):
        read_an4_archive(archive)
    assert parse_transcription("ELEVEN TWENTY (cen8-fcaw-b)\n", "x") == [("cen8-fcaw-b", "eleven twenty")]
