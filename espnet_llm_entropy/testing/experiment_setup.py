"""Prepare a tiny experiment from a mini corpus: phone inventory, LLM, statistics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from espnet_llm_entropy.conf import CONF_ROOT
from espnet_llm_entropy.pipeline import espnet_steps
from espnet_llm_entropy.testing.tiny_components import make_tiny_llm_dir

#: The shipped presets (the repository's ``conf/`` links here).
REPO_CONF = CONF_ROOT


@dataclass
class TinyExperiment:
    """Paths of a prepared tiny experiment."""

    root: Path
    data: Path
    phones: Path
    llm_dir: Path
    stats: Path
    pretrain_config: Path
    sft_config: Path


def read_transcripts(text_file: Path):
    """Transcripts (without ids) of a Kaldi text file."""
    lines = text_file.read_text(encoding="utf-8").splitlines()
    return [ln.split(maxsplit=1)[1] for ln in lines if len(ln.split(maxsplit=1)) == 2]


def prepare_tiny_experiment(root: Path) -> TinyExperiment:
    """Phone inventory from train, tiny LLM on train transcripts, ESPnet stats."""
    data = root / "data"
    phones = root / "phones.txt"
    espnet_steps.run_entry_point(
        "text_to_phones",
        ["--in", data / "train" / "text", "--out", root / "train.phn", "--inventory", phones],
    )
    llm_dir = make_tiny_llm_dir(root / "llm", texts=read_transcripts(data / "train" / "text"))
    pre = REPO_CONF / "tiny" / "pretrain_phoneme_ctc.yaml"
    stats = espnet_steps.collect_stats(pre, phones, data / "train", data / "dev", root / "stats")
    return TinyExperiment(root, data, phones, llm_dir, stats, pre, REPO_CONF / "tiny" / "sft_llm_asr.yaml")


def build_tiny_experiment(root: Path, num_train: int = 12, num_dev: int = 4, num_test: int = 4) -> TinyExperiment:
    """Synthesize a mini corpus of the given size under ``root/data``, then prepare it."""
    from espnet_llm_entropy.corpus.corpus_config import MiniCorpusConfig
    from espnet_llm_entropy.corpus.mini_corpus_builder import build_mini_corpus

    config = MiniCorpusConfig(num_train=num_train, num_dev=num_dev, num_test=num_test, nj=2)
    build_mini_corpus(root / "data", config, show_progress=False)
    return prepare_tiny_experiment(root)


@dataclass
class TrainedModel:
    """A 1-epoch LLM-ASR SFT experiment of a tiny experiment and the test waveforms to decode."""

    exp: Path
    config: Path
    model_file: Path
    llm_dir: Path
    test_wavs: list


def train_tiny_sft(tiny: TinyExperiment, exp_dir: Path) -> TrainedModel:
    """Train the SFT preset for one epoch (LoRA on the tiny LLM, so the checkpoint leaves the LLM out)."""
    exp = espnet_steps.train(
        tiny.sft_config, tiny.phones, tiny.data / "train", tiny.data / "dev", tiny.stats, exp_dir,
        extra=["--llm_conf", f"path={tiny.llm_dir}", "--llm_conf", "train_mode=lora",
               "--max_epoch", "1", "--batch_size", "4"],
    )
    wavs = [Path(ln.split()[1]) for ln in (tiny.data / "test" / "wav.scp").read_text().splitlines()]
    return TrainedModel(exp, exp / "config.yaml", exp / "1epoch.pth", tiny.llm_dir, wavs)
