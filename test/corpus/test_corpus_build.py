"""The corpus builder end to end on a small corpus (espeak-ng required)."""

import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from espnet_llm_entropy.corpus import MANIFEST_NAME, EspeakNotFoundError, MiniCorpusConfig, build_mini_corpus
from espnet_llm_entropy.corpus.kaldi_data_dir import check_kaldi_data_dir
from espnet_llm_entropy.fileio.kaldi_map import read_kaldi_map
from espnet_llm_entropy.corpus.nonspeech_set import NONSPEECH_LEVELS_DBFS, SILENCE_DURATIONS_S
from espnet_llm_entropy.corpus.wav_io import rms_dbfs

CJK = re.compile(r"[\u4e00-\u9fff]")


def read_set(data_dir: Path):
    return {name: read_kaldi_map(data_dir / name, allow_empty_value=(name == "text"))
            for name in ("wav.scp", "text", "utt2spk", "utt2lang", "utt2dur")}


def text_and_audio(out_dir: Path):
    """{relative path: bytes} of everything except files naming out_dir."""
    files = {}
    for path in sorted(Path(out_dir).rglob("*")):
        if path.is_file() and path.name not in ("wav.scp", "noise.scp", MANIFEST_NAME):
            files[str(path.relative_to(out_dir))] = path.read_bytes()
    return files


def test_speech_sets_are_valid_kaldi_dirs(small_corpus, small_config):
    expected = {"train": small_config.num_train, "dev": small_config.num_dev,
                "test": small_config.num_test}
    for split, count in expected.items():
        data_dir = small_corpus.data_dir(split)
        ids = check_kaldi_data_dir(data_dir)
        assert len(ids) == count == small_corpus.splits[split].num_utts
        files = read_set(data_dir)
        for name, mapping in files.items():
            assert list(mapping) == ids, name
        for utt in ids:
            assert utt.startswith(files["utt2spk"][utt] + "-")
            assert Path(files["wav.scp"][utt]).is_absolute()
        spk2utt = read_kaldi_map(data_dir / "spk2utt")
        assert sorted(u for utts in spk2utt.values() for u in utts.split()) == ids


def test_audio_is_16k_mono_pcm16_speech(small_corpus):
    for split in ("train", "dev", "test"):
        files = read_set(small_corpus.data_dir(split))
        for utt, path in files["wav.scp"].items():
            info = soundfile.info(path)
            assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
            audio, _ = soundfile.read(path, dtype="float32")
            duration = audio.size / 16000
            assert 0.8 < duration < 6.0, (utt, duration)
            assert float(files["utt2dur"][utt]) == pytest.approx(duration, abs=1e-3)
            assert rms_dbfs(audio) > -40.0, f"{utt} is (nearly) silent"
            assert -9.1 < 20 * np.log10(np.abs(audio).max()) < -1.9


def test_languages_and_transcripts(small_corpus):
    seen = set()
    for split in ("train", "dev", "test"):
        files = read_set(small_corpus.data_dir(split))
        for utt, text in files["text"].items():
            lang = files["utt2lang"][utt]
            seen.add(lang)
            assert f"-{lang}-" in utt
            has_cjk, has_latin = bool(CJK.search(text)), bool(re.search(r"[a-z]", text))
            assert (has_cjk, has_latin) == {"zh": (True, False), "en": (False, True),
                                            "cs": (True, True)}[lang], text
            assert not re.search(r"[0-9A-Z.,!?]", text), text
    assert seen == {"zh", "en", "cs"}


def test_split_design(small_corpus, small_config):
    texts = {s: set(read_set(small_corpus.data_dir(s))["text"].values()) for s in ("train", "dev", "test")}
    assert not texts["train"] & texts["dev"] and not texts["train"] & texts["test"]
    assert not texts["dev"] & texts["test"]
    train_spk = set(small_corpus.splits["train"].speakers)
    assert len(train_spk) == small_config.num_speakers - small_config.num_heldout_speakers
    for split in ("dev", "test"):
        heldout = set(small_corpus.splits[split].speakers) - train_spk
        assert heldout == set(small_corpus.heldout_speakers[split]) and len(heldout) == 1
    assert not set(small_corpus.heldout_speakers["dev"]) & set(small_corpus.heldout_speakers["test"])


def test_nonspeech_set(small_corpus):
    data_dir = small_corpus.data_dir("nonspeech")
    ids = check_kaldi_data_dir(data_dir)
    assert (data_dir / "text").read_text().splitlines() == ids  # empty transcripts
    wavs = read_kaldi_map(data_dir / "wav.scp")
    silences = [u for u in ids if u.startswith("silence-")]
    assert len(silences) == len(SILENCE_DURATIONS_S)
    for utt in silences:
        audio, rate = soundfile.read(wavs[utt], dtype="int16")
        assert rate == 16000 and audio.size >= 16000 and not audio.any()
    for colour in ("white", "pink"):
        for level in NONSPEECH_LEVELS_DBFS:
            utt = f"{colour}-m{int(-level):02d}db"
            audio, _ = soundfile.read(wavs[utt], dtype="float32")
            assert rms_dbfs(audio) == pytest.approx(level, abs=0.1), utt
    assert not [u for u in ids if u.startswith("an4noise")]  # built without AN4
    for kind in ("tone-", "clicks-", "babble-"):
        assert [u for u in ids if u.startswith(kind)], kind
    longest = max(soundfile.info(wavs[u]).duration for u in silences)
    assert longest >= 30.0


def test_nonspeech_dev_set_is_drawn_apart_from_the_test_set(small_corpus):
    dev_dir = small_corpus.data_dir("nonspeech_dev")
    ids = check_kaldi_data_dir(dev_dir)
    assert (dev_dir / "text").read_text().splitlines() == ids  # empty transcripts
    kinds = {u.split("-")[0] for u in ids}
    assert {"silence", "white", "pink", "brown", "tone", "clicks", "babble"} <= kinds
    test_audio = {Path(p).read_bytes() for p in
                  read_kaldi_map(small_corpus.data_dir("nonspeech") / "wav.scp").values()}
    for utt, path in read_kaldi_map(dev_dir / "wav.scp").items():
        audio, rate = soundfile.read(path, dtype="float32")
        assert rate == 16000 and audio.size > 0
        if not utt.startswith("silence-"):
            assert audio.any() and Path(path).read_bytes() not in test_audio, utt


def test_babble_is_reversed_speech_without_its_words(small_corpus):
    """The babble mixes time-reversed dev/test speech: speech-level energy, not a copy of any utterance."""
    from espnet_llm_entropy.corpus.nonspeech_audio import reversed_babble

    speech = [soundfile.read(p, dtype="float32")[0]
              for p in list(read_kaldi_map(small_corpus.data_dir("test") / "wav.scp").values())[:3]]
    rng = np.random.default_rng(0)
    mix = reversed_babble(rng, speech[:1], 1.0, -25.0)
    assert rms_dbfs(mix) == pytest.approx(-25.0, abs=0.1)
    forward = speech[0][:16000]
    corr = abs(np.corrcoef(mix[: forward.size], forward)[0, 1]) if forward.size == 16000 else 0.0
    assert corr < 0.5


def test_noise_list(small_corpus):
    noises = read_kaldi_map(Path(small_corpus.noise_scp))
    assert len(noises) == small_corpus.num_noises and list(noises) == sorted(noises)
    assert {n.split("-")[1] for n in noises} == {"white", "pink", "brown"}
    nonspeech = {Path(p).read_bytes() for p in
                 read_kaldi_map(small_corpus.data_dir("nonspeech") / "wav.scp").values()}
    for path in noises.values():
        audio, rate = soundfile.read(path, dtype="float32")
        assert rate == 16000 and audio.size == 5 * 16000
        assert Path(path).read_bytes() not in nonspeech  # never the test audio


def test_noise_list_reads_in_the_augmentation_noise_bank(small_corpus):
    noise_bank = pytest.importorskip("espnet_llm_entropy.augment.noise_bank",
                                     reason="the augmentation module is not in this checkout")
    entries = noise_bank.read_noise_scp(small_corpus.noise_scp)
    assert len(entries) == small_corpus.num_noises


def test_manifest_and_reuse(small_corpus, small_config):
    out = Path(small_corpus.out_dir)
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert manifest["options"]["seed"] == small_config.seed
    assert manifest["splits"]["train"]["num_utts"] == small_config.num_train
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    start = time.perf_counter()
    again = build_mini_corpus(out, small_config, show_progress=False)
    assert again.reused and time.perf_counter() - start < 2.0
    assert again.splits == small_corpus.splits
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before


def test_same_seed_same_bytes_other_seed_differs(small_corpus, small_config, tmp_path):
    reference = text_and_audio(Path(small_corpus.out_dir))
    twin = build_mini_corpus(tmp_path / "twin", MiniCorpusConfig(**{**small_config.__dict__, "nj": 1}),
                             show_progress=False)
    assert not twin.reused
    assert text_and_audio(Path(twin.out_dir)) == reference
    other = build_mini_corpus(tmp_path / "other", MiniCorpusConfig(**{**small_config.__dict__, "seed": 4}),
                              show_progress=False)
    other_files = text_and_audio(Path(other.out_dir))
    for split in ("train", "dev", "test"):
        assert other_files[f"{split}/text"] != reference[f"{split}/text"]
    assert other_files["wav/nonspeech/white-m30db.wav"] != reference["wav/nonspeech/white-m30db.wav"]


def test_rebuild_on_changed_options_overwrite_and_leftovers(small_config, espeak_available, tmp_path):
    config = MiniCorpusConfig(**{**small_config.__dict__, "languages": ("en",), "num_train": 3})
    first = build_mini_corpus(tmp_path, config, show_progress=False)
    assert first.splits["train"].languages == {"en": 3}
    leftover = tmp_path / ".tmp-train-interrupted"
    leftover.mkdir()
    (tmp_path / "user_notes.txt").write_text("keep me")
    changed = MiniCorpusConfig(**{**config.__dict__, "num_train": 4})
    second = build_mini_corpus(tmp_path, changed, show_progress=False)
    assert not second.reused and second.splits["train"].num_utts == 4
    assert not leftover.exists() and (tmp_path / "user_notes.txt").read_text() == "keep me"
    assert len(list((tmp_path / "wav" / "train").iterdir())) == 4
    # an incomplete corpus (a wav file gone) is rebuilt, not reused
    victim = Path(next(iter(read_kaldi_map(tmp_path / "dev" / "wav.scp").values())))
    victim.unlink()
    third = build_mini_corpus(tmp_path, changed, show_progress=False)
    assert not third.reused and victim.is_file()
    assert build_mini_corpus(tmp_path, changed, show_progress=False).reused
    assert not build_mini_corpus(tmp_path, changed, overwrite=True, show_progress=False).reused


@pytest.mark.parametrize(
    "options, message",
    [({"num_train": 0}, r"num_train \(--num_train\): expected an integer in 1\.\.100000, got 0"),
     ({"languages": ("zh", "fr")}, r"languages \(--languages\).*got 'zh,fr'"),
     ({"languages": ()}, r"languages \(--languages\)"),
     ({"num_heldout_speakers": 5, "num_speakers": 5}, r"num_heldout_speakers"),
     ({"seed": -1}, r"seed \(--seed\)"),
     ({"nj": 0}, r"nj \(--nj\)"),
     ({"an4_dir": "/nonexistent/mini_an4"}, r"an4_dir.*downloads\.tar\.gz.*does not exist")],
)
def test_bad_options_are_rejected_before_anything_is_written(options, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        build_mini_corpus(tmp_path / "out", MiniCorpusConfig(**options))
    assert not (tmp_path / "out").exists()


def test_refuses_a_foreign_non_empty_directory(espeak_available, tmp_path):
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "test_something.py").write_text("precious")
    for overwrite in (False, True):
        with pytest.raises(ValueError, match="not empty and was not created by make_mini_corpus"):
            build_mini_corpus(tmp_path, MiniCorpusConfig(num_train=3, num_dev=3, num_test=3),
                              overwrite=overwrite, show_progress=False)
    assert (tmp_path / "test" / "test_something.py").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test"]


def test_missing_espeak_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", os.devnull)
    with pytest.raises(EspeakNotFoundError, match="espeak-ng was not found.*apt-get install espeak-ng"):
        build_mini_corpus(tmp_path / "out", MiniCorpusConfig(num_train=3, num_dev=3, num_test=3))
    assert not (tmp_path / "out").exists()


def test_a_moved_corpus_is_rebuilt_not_reused(small_config, espeak_available, tmp_path):
    config = MiniCorpusConfig(**{**small_config.__dict__, "num_train": 3})
    build_mini_corpus(tmp_path / "a", config, show_progress=False)
    (tmp_path / "a").rename(tmp_path / "b")
    moved = build_mini_corpus(tmp_path / "b", config, show_progress=False)
    assert not moved.reused
    for path in read_kaldi_map(moved.data_dir("train") / "wav.scp").values():
        assert Path(path).is_file() and str(path).startswith(str(tmp_path / "b"))


def test_interrupted_build_leaves_no_data_dir_and_recovers(small_config, espeak_available, tmp_path,
                                                          monkeypatch):
    from espnet_llm_entropy.corpus import mini_corpus_builder

    real_render = mini_corpus_builder.render_utterance
    calls = []

    def failing_render(plan, speak, wav_path):
        calls.append(plan.utt_id)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real_render(plan, speak, wav_path)

    config = MiniCorpusConfig(**{**small_config.__dict__, "num_train": 30, "nj": 1})
    monkeypatch.setattr(mini_corpus_builder, "render_utterance", failing_render)
    with pytest.raises(KeyboardInterrupt):
        build_mini_corpus(tmp_path, config, show_progress=False)
    assert len(calls) < 10  # the queued utterances were cancelled
    visible = {p.name for p in tmp_path.iterdir() if not p.name.startswith(".")}
    assert visible <= {"wav"}  # no data dir, no manifest
    assert all(p.name.startswith(".tmp-") for p in (tmp_path / "wav").iterdir())
    monkeypatch.setattr(mini_corpus_builder, "render_utterance", real_render)
    summary = build_mini_corpus(tmp_path, config, show_progress=False)
    assert summary.splits["train"].num_utts == 30 and not summary.reused
    assert not [p for p in (tmp_path / "wav").iterdir() if p.name.startswith(".tmp-")]
