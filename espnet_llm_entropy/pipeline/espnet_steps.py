"""ESPnet training/statistics/decoding steps, as the command lines asr.sh would run.

Each step builds the argument list of one of our entry points
(``llm_asr_train``, ``llm_asr_inference``) and runs it either in this
process (cheap: no re-import of ESPnet, used by the demo and tests) or as a
subprocess (``python -m espnet_llm_entropy.bin.<tool> ...``). The argument
lists are exactly those of asr.sh stages 10-12, so what the demo runs is
what a recipe runs.
"""

from __future__ import annotations

import logging
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Sequence


def data_options(split: str, data_dir: Path, stats_dir: Optional[Path], with_text: bool = True) -> List[str]:
    """``--{split}_data_path_and_name_and_type`` (+ ``--{split}_shape_file``) options.

    Args:
        split: "train" or "valid".
        data_dir: Kaldi data dir with ``wav.scp`` (and ``text``).
        stats_dir: collect-stats output with ``{split}/speech_shape``; None
            during statistics collection itself (then ``wav.scp`` lengths are
            not known and ESPnet uses the data dir's own ``utt2spk`` keys).
    """
    opts = [f"--{split}_data_path_and_name_and_type", f"{data_dir}/wav.scp,speech,sound"]
    if with_text:
        opts += [f"--{split}_data_path_and_name_and_type", f"{data_dir}/text,text,text"]
    shape = (stats_dir / split / "speech_shape") if stats_dir else (data_dir / "utt2spk")
    opts += [f"--{split}_shape_file", str(shape)]
    return opts


def run_entry_point(
    module: str,
    args: Sequence[str],
    in_process: bool = True,
    log_file: Optional[Path] = None,
    echo: Optional[str] = None,
) -> None:
    """Run ``python -m espnet_llm_entropy.bin.<module> args``.

    In-process runs call the module's ``main(cmd)``; subprocess runs write
    their output to ``log_file`` (if given), print the lines matching the
    regular expression ``echo`` (progress), and raise on a non-zero exit
    with the command and the log's tail.
    """
    args = [str(a) for a in args]
    full = f"espnet_llm_entropy.bin.{module}"
    logging.info("running: python -m %s %s", full, " ".join(shlex.quote(a) for a in args))
    if in_process:
        import importlib

        importlib.import_module(full).main(args)
        return
    cmd = [sys.executable, "-m", full, *args]
    if log_file is None:
        subprocess.run(cmd, check=True)
        return
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pattern = re.compile(echo) if echo else None
    with open(log_file, "w") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        for line in proc.stdout:
            log.write(line)
            if pattern is not None and pattern.search(line):
                print("    " + _shorten(line.rstrip()), flush=True)
        returncode = proc.wait()
    if returncode != 0:
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-25:])
        raise RuntimeError(f"command failed ({returncode}): {shlex.join(cmd)}\n--- {log_file} ---\n{tail}")


def _shorten(line: str, width: int = 160) -> str:
    """Drop ESPnet's ``[host] date (module:line) LEVEL:`` prefix; cut long lines."""
    line = re.sub(r"^\[\S+\] \S+ \S+ \(\S+\) \w+: ", "", line)
    return line if len(line) <= width else line[: width - 3] + "..."


def collect_stats(
    config: Path, token_list: Path, train_dir: Path, valid_dir: Path, stats_dir: Path,
    extra: Sequence[str] = (), in_process: bool = True, log_file: Optional[Path] = None,
) -> Path:
    """asr.sh stage 10: shape files and feature statistics into ``stats_dir``."""
    args = [
        "--collect_stats", "true", "--config", config, "--token_list", token_list,
        "--output_dir", stats_dir, "--ngpu", "0", "--use_preprocessor", "true",
        *data_options("train", train_dir, None), *data_options("valid", valid_dir, None),
        *extra,
    ]
    run_entry_point("llm_asr_train", args, in_process, log_file=log_file)
    return stats_dir


def train(
    config: Path, token_list: Path, train_dir: Path, valid_dir: Path, stats_dir: Path,
    exp_dir: Path, extra: Sequence[str] = (), in_process: bool = True,
) -> Path:
    """asr.sh stage 11: one ESPnet training run into ``exp_dir`` (resumable)."""
    args = [
        "--config", config, "--token_list", token_list, "--output_dir", exp_dir,
        "--ngpu", "0", "--resume", "true", "--use_preprocessor", "true",
        *data_options("train", train_dir, stats_dir), *data_options("valid", valid_dir, stats_dir),
        *extra,
    ]
    run_entry_point("llm_asr_train", args, in_process)
    return exp_dir


def decode(
    exp_dir: Path, model_file: Path, data_dir: Path, out_dir: Path,
    batch_size: int = 8, extra: Sequence[str] = (), in_process: bool = True,
    log_file: Optional[Path] = None, echo: Optional[str] = None,
) -> Path:
    """asr.sh stage 12: decode ``data_dir`` into ``out_dir/1best_recog``."""
    args = [
        "--asr_train_config", exp_dir / "config.yaml", "--asr_model_file", model_file,
        "--output_dir", out_dir, "--data_path_and_name_and_type", f"{data_dir}/wav.scp,speech,sound",
        "--batch_size", str(batch_size), "--ngpu", "0", *extra,
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


#: Checkpoints a finished LLM-ASR stage is decoded from, in order of preference.
DECODING_CHECKPOINTS = ("valid.acc.best.pth", "valid.loss.best.pth", "latest.pth")


def decoding_checkpoint(exp_dir: Path) -> Path:
    """The checkpoint of ``exp_dir`` to decode: the best by validation accuracy, else loss, else latest."""
    for name in DECODING_CHECKPOINTS:
        if (Path(exp_dir) / name).exists():
            return Path(exp_dir) / name
    raise FileNotFoundError(f"no trained model in {exp_dir} (did its training finish?)")
