"""ESPnet entry-point command lines, as asr.sh would run them, and how to run them.

:func:`training_args` is the argument list of one ``llm_asr_train`` run
(asr.sh stage 11's options); :func:`run_entry_point` runs one of the
package's entry points in this process (cheap: no re-import of ESPnet) or
as ``python -m espnet_llm_entropy.bin.<tool>`` with its own environment and
log file. Devices are never chosen here: callers pass the options of
``train/device_policy.py``.
"""

from __future__ import annotations

import importlib
import logging
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import List, Mapping, Optional, Sequence

ENTRY_POINT_PACKAGE = "espnet_llm_entropy.bin"


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
    shape = (Path(stats_dir) / split / "speech_shape") if stats_dir else (Path(data_dir) / "utt2spk")
    opts += [f"--{split}_shape_file", str(shape)]
    return opts


def training_args(
    config: Path, token_list: Path, output_dir: Path, train_dir: Path, valid_dir: Path,
    stats_dir: Optional[Path], device_args: Sequence[str],
) -> List[str]:
    """The ``llm_asr_train`` options of one (resumable) training run, before its extra options.

    ``stats_dir`` None collects statistics (asr.sh stage 10) instead of training.
    """
    head = ["--config", str(config), "--token_list", str(token_list), "--output_dir", str(output_dir),
            *device_args]
    if stats_dir is None:
        head = ["--collect_stats", "true", *head]
    else:
        head += ["--resume", "true"]
    return [*head, "--use_preprocessor", "true",
            *data_options("train", train_dir, stats_dir), *data_options("valid", valid_dir, stats_dir)]


def entry_point_command(module: str, args: Sequence) -> List[str]:
    """``[python, -m, espnet_llm_entropy.bin.<module>, *args]`` (as strings)."""
    return [sys.executable, "-m", f"{ENTRY_POINT_PACKAGE}.{module}", *[str(a) for a in args]]


def run_entry_point(
    module: str,
    args: Sequence,
    in_process: bool = True,
    log_file: Optional[Path] = None,
    echo: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
    echo_tag: Optional[str] = None,
) -> None:
    """Run ``python -m espnet_llm_entropy.bin.<module> args``.

    In-process runs call the module's ``main(cmd)`` (``env`` must then be
    None); subprocess runs get ``env`` (default: this process's), write
    their output to ``log_file`` (if given), print the lines matching the
    regular expression ``echo`` (progress; prefixed with ``[echo_tag]``), and raise on a non-zero exit
    with the command and the log's tail.
    """
    args = [str(a) for a in args]
    full = f"{ENTRY_POINT_PACKAGE}.{module}"
    logging.info("running: python -m %s %s", full, " ".join(shlex.quote(a) for a in args))
    if in_process:
        if env is not None:
            raise ValueError(f"{module}: an in-process run cannot have its own environment; run it as a subprocess")
        importlib.import_module(full).main(args)
        return
    cmd = entry_point_command(module, args)
    env = None if env is None else dict(env)
    if log_file is None:
        subprocess.run(cmd, check=True, env=env)
        return
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pattern = re.compile(echo) if echo else None
    with open(log_file, "w", buffering=1) as log:  # line-buffered: the log can be followed
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                errors="replace", env=env)
        for line in proc.stdout:
            log.write(line)
            if pattern is not None and pattern.search(line):
                print("    " + (f"[{echo_tag}] " if echo_tag else "") + _shorten(line.rstrip()), flush=True)
        returncode = proc.wait()
    if returncode != 0:
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-25:])
        raise RuntimeError(f"command failed ({returncode}): {shlex.join(cmd)}\n--- {log_file} ---\n{tail}")


def start_entry_point(module: str, args: Sequence, log_file: Path,
                      env: Optional[Mapping[str, str]] = None) -> subprocess.Popen:
    """Start ``python -m espnet_llm_entropy.bin.<module> args`` in the background (own session, log appended)."""
    cmd = entry_point_command(module, args)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_file, "ab")
    logging.info("starting a process: %s (log %s)", shlex.join(cmd), log_file)
    try:
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                env=None if env is None else dict(env))
    finally:
        log.close()  # the child has its own copy of the descriptor


def _shorten(line: str, width: int = 160) -> str:
    """Drop ESPnet's ``[host] date (module:line) LEVEL:`` prefix; cut long lines."""
    line = re.sub(r"^\[\S+\] \S+ \S+ \(\S+\) \w+: ", "", line)
    return line if len(line) <= width else line[: width - 3] + "..."
