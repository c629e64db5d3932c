"""ESPnet training/statistics/decoding steps, as the command lines asr.sh would run.

Each step builds the argument list of one of our entry points
(``llm_asr_train``, ``llm_asr_inference``) and runs it either in this
process (cheap: no re-import of ESPnet, used by the demo and tests) or as a
subprocess (``python -m espnet_llm_entropy.bin.<tool> ...``). The argument
lists are exactly those of asr.sh stages 10-12, so what the demo runs is
what a recipe runs. ``--ngpu`` comes from ``train/device_policy.py``;
multi-stage trainings go through ``train/stage_runner.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from espnet_llm_entropy.train import device_policy
from espnet_llm_entropy.train.espnet_commands import data_options, run_entry_point, start_entry_point, training_args

__all__ = ["data_options", "run_entry_point", "start_entry_point", "collect_stats", "train", "decode", "score_hallucination",
           "decoding_checkpoint", "DECODING_CHECKPOINTS"]


def collect_stats(
    config: Path, token_list: Path, train_dir: Path, valid_dir: Path, stats_dir: Path,
    extra: Sequence[str] = (), in_process: bool = True, log_file: Optional[Path] = None, ngpu: int = 0,
) -> Path:
    """asr.sh stage 10: shape files and feature statistics into ``stats_dir``."""
    args = [*training_args(config, token_list, stats_dir, train_dir, valid_dir, None,
                           device_policy.training_args(ngpu)), *extra]
    run_entry_point("llm_asr_train", args, in_process, log_file=log_file)
    return stats_dir


def train(
    config: Path, token_list: Path, train_dir: Path, valid_dir: Path, stats_dir: Path,
    exp_dir: Path, extra: Sequence[str] = (), in_process: bool = True, ngpu: int = 0,
) -> Path:
    """asr.sh stage 11: one ESPnet training run into ``exp_dir`` (resumable).

    One stage alone; a multi-stage run goes through ``train/stage_runner.py``.
    """
    args = [*training_args(config, token_list, exp_dir, train_dir, valid_dir, stats_dir,
                           device_policy.training_args(ngpu)), *extra]
    run_entry_point("llm_asr_train", args, in_process)
    return exp_dir


def decode(
    exp_dir: Path, model_file: Path, data_dir: Path, out_dir: Path,
    batch_size: int = 8, extra: Sequence[str] = (), in_process: bool = True,
    log_file: Optional[Path] = None, echo: Optional[str] = None, ngpu: int = 0,
) -> Path:
    """asr.sh stage 12: decode ``data_dir`` into ``out_dir/1best_recog``."""
    args = [
        "--asr_train_config", exp_dir / "config.yaml", "--asr_model_file", model_file,
        "--output_dir", out_dir, "--data_path_and_name_and_type", f"{data_dir}/wav.scp,speech,sound",
        "--batch_size", str(batch_size), *device_policy.decoding_args(ngpu), *extra,
    ]
    run_entry_point("llm_asr_inference", args, in_process, log_file=log_file, echo=echo)
    return out_dir / "1best_recog"


def score_hallucination(
    hyp: Path, data_dir: Path, out_dir: Path, dataset: str, nonspeech: bool = False,
    in_process: bool = True, log_file: Optional[Path] = None,
) -> Path:
    """Stage 13's hallucination tables of one decoded set into ``out_dir/hallucination.json``.

    A speech set is scored against ``data_dir/text``; a non-speech set
    (``nonspeech=True``) has no reference and is scored for output per minute.
    """
    args = ["--hyp", hyp, "--out_dir", out_dir, "--dataset", dataset, "--wav_scp", data_dir / "wav.scp"]
    args += ["--nonspeech"] if nonspeech else ["--ref", data_dir / "text"]
    run_entry_point("score_hallucination", args, in_process, log_file=log_file)
    return out_dir / "hallucination.json"


#: Checkpoints a finished LLM-ASR stage is decoded from, in order of preference
#: (only the grpo stage selects by the dev reward of its greedy hypotheses).
DECODING_CHECKPOINTS = ("valid.reward.best.pth", "valid.acc.best.pth", "valid.loss.best.pth", "latest.pth")


def decoding_checkpoint(exp_dir: Path) -> Path:
    """The checkpoint of ``exp_dir`` to decode: the best by dev reward (grpo), else accuracy, else loss, else latest."""
    for name in DECODING_CHECKPOINTS:
        if (Path(exp_dir) / name).exists():
            return Path(exp_dir) / name
    raise FileNotFoundError(f"no trained model in {exp_dir} (did its training finish?)")
