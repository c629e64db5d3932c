"""Build the bundled bilingual mini corpus (the Python API behind the CLI).

Layout of ``out_dir``::

    train/ dev/ test/     Kaldi data dirs of synthetic speech (wav.scp, text,
                          utt2spk, spk2utt, utt2lang, utt2dur)
    nonspeech/            silence, noise, tones, clicks, babble; empty transcripts
    nonspeech_dev/        the same kinds, drawn apart, for dev-side thresholds
    an4/                  real AN4 speech (only with an4_dir)
    noise.scp             noise list for training-time augmentation
    wav/<set>/*.wav       16 kHz mono PCM16 audio (absolute paths in wav.scp)
    corpus_manifest.json  options + summary, written last
    .mini_corpus          marker: the directory belongs to the builder

Only a new or empty directory, or one holding the marker, is used; in it
only the entries above are touched. Every directory and file is built under
a ``.tmp-`` name and renamed when complete; the manifest is written last, so a corpus without a manifest is
incomplete and is rebuilt. Running again with the same options returns the
existing corpus at once unless ``overwrite`` is set.
"""

import logging
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from tqdm import tqdm

from espnet_llm_entropy.corpus.an4_archive import read_an4_archive
from espnet_llm_entropy.corpus.corpus_config import (
    AN4_ARCHIVE_NAME,
    SPEECH_SPLITS,
    CorpusSummary,
    MiniCorpusConfig,
    SplitSummary,
)
from espnet_llm_entropy.corpus.espeak_synthesis import (
    check_voices,
    espeak_version,
    find_espeak,
    render_utterance,
)
from espnet_llm_entropy.corpus.kaldi_data_dir import (
    DataDirEntry,
    check_kaldi_data_dir,
    write_kaldi_data_dir,
)
from espnet_llm_entropy.corpus.nonspeech_set import (
    NonSpeechItem,
    noise_list_items,
    nonspeech_dev_items,
    nonspeech_test_items,
)
from espnet_llm_entropy.corpus.speaker_profiles import VOICE_VARIANTS
from espnet_llm_entropy.corpus.synthesizer_pool import SynthesizerPool
from espnet_llm_entropy.corpus.speech_planning import PlannedUtterance, plan_speech_splits
from espnet_llm_entropy.corpus.wav_io import SAMPLE_RATE, parse_pcm16_wav_bytes, write_pcm16_wav
from espnet_llm_entropy.fileio.atomic import (
    install_directory,
    make_temporary_sibling_dir,
    remove_stale_temporaries,
    write_text_atomic,
)
from espnet_llm_entropy.fileio.kaldi_map import read_kaldi_map

logger = logging.getLogger(__name__)

MANIFEST_NAME = "corpus_manifest.json"
MARKER_NAME = ".mini_corpus"
OWNED_ENTRIES = ("train", "dev", "test", "nonspeech", "nonspeech_dev", "an4", "wav", "noise.scp")


def _summarize(name: str, data_dir: Path, entries: Sequence[DataDirEntry],
               durations: Dict[str, float], languages: Dict[str, str]) -> SplitSummary:
    counts: Dict[str, int] = {}
    for e in entries:
        counts[languages[e.utt_id]] = counts.get(languages[e.utt_id], 0) + 1
    values = [durations[e.utt_id] for e in entries]
    return SplitSummary(
        name=name,
        data_dir=str(data_dir),
        num_utts=len(entries),
        total_duration_s=round(float(sum(values)), 3),
        min_duration_s=round(float(min(values)), 3),
        max_duration_s=round(float(max(values)), 3),
        speakers=sorted({e.speaker for e in entries}),
        languages=dict(sorted(counts.items())),
    )


def _write_set(out_dir: Path, name: str, entries: List[DataDirEntry], tmp_wav: Path,
               durations: Dict[str, float], languages: Dict[str, str]) -> SplitSummary:
    """Install the finished wav dir, then the data dir that points into it."""
    install_directory(tmp_wav, out_dir / "wav" / name)
    extra = {
        "utt2lang": {e.utt_id: languages[e.utt_id] for e in entries},
        "utt2dur": {e.utt_id: f"{durations[e.utt_id]:.4f}" for e in entries},
    }
    write_kaldi_data_dir(out_dir / name, entries, extra)
    return _summarize(name, out_dir / name, entries, durations, languages)


def _write_audio_items(out_dir: Path, name: str, items: Sequence[Tuple[str, str, np.ndarray, str, str]]
                       ) -> SplitSummary:
    """Write (utt_id, speaker, audio, text, language) items as one data dir."""
    tmp_wav = make_temporary_sibling_dir(out_dir / "wav" / name)
    entries, durations, languages = [], {}, {}
    for utt_id, speaker, audio, text, lang in items:
        write_pcm16_wav(tmp_wav / f"{utt_id}.wav", audio)
        wav_path = out_dir / "wav" / name / f"{utt_id}.wav"
        entries.append(DataDirEntry(utt_id, speaker, str(wav_path), text))
        durations[utt_id] = audio.size / SAMPLE_RATE
        languages[utt_id] = lang
    return _write_set(out_dir, name, entries, tmp_wav, durations, languages)


def _babble_sources(wav_scp: Path, count: int = 8) -> List[np.ndarray]:
    """The first ``count`` recordings of a written speech set (for reversed babble)."""
    waves = []
    for location in list(read_kaldi_map(wav_scp).values())[:count]:
        path = Path(location)
        samples, _ = parse_pcm16_wav_bytes(path.read_bytes(), str(path))
        waves.append(samples)
    return waves


def _write_noise_list(out_dir: Path, items: Sequence[NonSpeechItem]) -> int:
    tmp_wav = make_temporary_sibling_dir(out_dir / "wav" / "noise")
    for item in items:
        write_pcm16_wav(tmp_wav / f"{item.item_id}.wav", item.audio)
    install_directory(tmp_wav, out_dir / "wav" / "noise")
    lines = "".join(f"{it.item_id} {out_dir / 'wav' / 'noise' / (it.item_id + '.wav')}\n" for it in items)
    write_text_atomic(out_dir / "noise.scp", lines)
    return len(items)


def _render_speech(planned: Dict[str, List[PlannedUtterance]], tmp_wavs: Dict[str, Path],
                   binary: str, nj: int, show_progress: bool) -> Dict[str, float]:
    """Render every planned utterance into its split's temporary wav dir.

    Threads suffice: the work happens in espeak-ng processes (fork servers or
    the command line, :class:`SynthesizerPool`), one per thread.

    Returns:
        {utt_id: duration in seconds}
    """
    jobs = [(p.plan, tmp_wavs[split] / f"{p.utt_id}.wav") for split in SPEECH_SPLITS for p in planned[split]]
    durations: Dict[str, float] = {}
    with SynthesizerPool(binary) as synthesizers:
        pool = ThreadPoolExecutor(max_workers=nj)

        def render(job):
            return job[0].utt_id, render_utterance(job[0], synthesizers.synthesizer(), job[1])

        try:
            results = pool.map(render, jobs)
            bar = tqdm(results, total=len(jobs), desc="espeak-ng", unit="utt", disable=not show_progress)
            for utt_id, duration in bar:
                durations[utt_id] = duration
        except BaseException:
            # Ctrl-C or a failed utterance: drop the queued work instead of
            # synthesizing the rest before exiting
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    return durations


def _claim_output_dir(out_dir: Path) -> None:
    """Create ``out_dir`` or make sure it is one of ours.

    The builder deletes its own entries (``train``, ``test``, ``wav`` ...)
    before rebuilding; a marker file guards against doing that in a
    directory it did not create (say, a repository root with a ``test/``).
    """
    marker = out_dir / MARKER_NAME
    if out_dir.is_dir() and any(out_dir.iterdir()) and not marker.is_file():
        raise ValueError(
            f"out_dir (--out_dir): {out_dir} is not empty and was not created by "
            f"make_mini_corpus (no {MARKER_NAME} file in it); choose a new or empty directory"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    if not marker.is_file():
        write_text_atomic(marker, "created by python -m espnet_llm_entropy.bin.make_mini_corpus\n")


def _existing_corpus(out_dir: Path, options: Dict[str, object], version: str) -> Optional[CorpusSummary]:
    """The manifest's summary if it matches and every file it lists exists."""
    manifest = out_dir / MANIFEST_NAME
    if not manifest.is_file():
        return None
    try:
        summary = CorpusSummary.from_json(manifest.read_text(encoding="utf-8"))
    except (ValueError, TypeError, KeyError) as err:
        logger.warning("ignoring unreadable %s (%s): rebuilding", manifest, err)
        return None
    if summary.out_dir != str(out_dir):
        logger.info("%s was built in %s (absolute paths): rebuilding", out_dir, summary.out_dir)
        return None
    if summary.options != options or summary.espeak_version != version:
        logger.info("%s was built with other options or espeak-ng: rebuilding", out_dir)
        return None
    try:
        for split in summary.splits.values():
            if len(check_kaldi_data_dir(Path(split.data_dir))) != split.num_utts:
                raise ValueError(f"{split.data_dir}: utterance count differs from the manifest")
        noise = read_kaldi_map(Path(summary.noise_scp))
        if len(noise) != summary.num_noises or not all(Path(p).is_file() for p in noise.values()):
            raise ValueError(f"{summary.noise_scp}: incomplete")
    except (OSError, ValueError) as err:
        logger.info("existing corpus in %s is incomplete (%s): rebuilding", out_dir, err)
        return None
    summary.reused = True
    return summary


def build_mini_corpus(
    out_dir: Union[str, Path],
    config: Optional[MiniCorpusConfig] = None,
    overwrite: bool = False,
    show_progress: bool = True,
) -> CorpusSummary:
    """Generate (or reuse) the bilingual mini corpus in ``out_dir``.

    Args:
        out_dir: output directory (created; only the entries listed in the
            module docstring are ever touched).
        config: options; defaults to ``MiniCorpusConfig()``.
        overwrite: rebuild even if a complete corpus with the same options
            is there.
        show_progress: tqdm progress bar while synthesizing.

    Returns:
        the summary, also stored in ``out_dir/corpus_manifest.json``.

    Raises:
        ValueError: a bad option (naming it).
        EspeakNotFoundError: espeak-ng or one of its voices is missing.
    """
    config = config or MiniCorpusConfig()
    config.validate()
    out_dir = Path(out_dir).resolve()
    if any(c.isspace() for c in str(out_dir)):
        raise ValueError(f"out_dir (--out_dir): Kaldi scp files cannot hold paths with whitespace: {out_dir}")
    binary = find_espeak()
    version = espeak_version(binary)
    options = config.output_options()
    if not overwrite:
        existing = _existing_corpus(out_dir, options, version)
        if existing is not None:
            logger.info("complete corpus with the same options found in %s: reusing it", out_dir)
            return existing
    check_voices(binary, VOICE_VARIANTS)
    start = time.perf_counter()
    planned = plan_speech_splits(config)
    an4_utts, an4_noises = [], {}
    if config.an4_dir is not None:
        an4_utts, an4_noises = read_an4_archive(Path(config.an4_dir) / AN4_ARCHIVE_NAME)

    _claim_output_dir(out_dir)
    (out_dir / MANIFEST_NAME).unlink(missing_ok=True)
    remove_stale_temporaries(out_dir)
    remove_stale_temporaries(out_dir / "wav")
    for name in OWNED_ENTRIES:
        path = out_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()

    # speech: render into temporary wav dirs, then install wav dir + data dir
    tmp_wavs = {split: make_temporary_sibling_dir(out_dir / "wav" / split) for split in SPEECH_SPLITS}
    logger.info("synthesizing %d utterances with %s (%d jobs)",
                sum(len(v) for v in planned.values()), version, config.nj)
    durations = _render_speech(planned, tmp_wavs, binary, config.nj, show_progress)

    splits: Dict[str, SplitSummary] = {}
    for split in SPEECH_SPLITS:
        final_wav = out_dir / "wav" / split
        entries = [DataDirEntry(p.utt_id, p.speaker, str(final_wav / f"{p.utt_id}.wav"), p.text)
                   for p in planned[split]]
        languages = {p.utt_id: p.language for p in planned[split]}
        splits[split] = _write_set(out_dir, split, entries, tmp_wavs[split], durations, languages)

    babble = {split: _babble_sources(out_dir / split / "wav.scp") for split in ("dev", "test")}
    nonspeech = [(it.item_id, it.speaker, it.audio, "", "none")
                 for it in nonspeech_test_items(config.seed, an4_noises, babble["test"])]
    splits["nonspeech"] = _write_audio_items(out_dir, "nonspeech", nonspeech)
    nonspeech_dev = [(it.item_id, it.speaker, it.audio, "", "none")
                     for it in nonspeech_dev_items(config.seed, babble["dev"])]
    splits["nonspeech_dev"] = _write_audio_items(out_dir, "nonspeech_dev", nonspeech_dev)
    if an4_utts:
        real = [(u.utt_id, u.speaker, u.audio, u.text, "en") for u in an4_utts]
        splits["an4"] = _write_audio_items(out_dir, "an4", real)
    num_noises = _write_noise_list(out_dir, noise_list_items(config.seed, an4_noises))

    train_speakers = set(splits["train"].speakers)
    heldout = {split: sorted(set(splits[split].speakers) - train_speakers) for split in ("dev", "test")}
    summary = CorpusSummary(
        out_dir=str(out_dir),
        options=options,
        espeak_version=version,
        splits=splits,
        noise_scp=str(out_dir / "noise.scp"),
        num_noises=num_noises,
        heldout_speakers=heldout,
        elapsed_s=round(time.perf_counter() - start, 2),
    )
    write_text_atomic(out_dir / MANIFEST_NAME, summary.to_json())
    logger.info("mini corpus written to %s in %.1f s", out_dir, summary.elapsed_s)
    return summary
