"""Run the four training stages in order, each an ESPnet training with its own exp dir.

``<exp_dir>/pretrain``  phoneme CR-CTC pretraining, publishing encoder versions
                        to ``<exp_dir>/pretrain/encoder_versions``;
``<exp_dir>/align``     adaptor only, encoder = version 1;
``<exp_dir>/ia_sft``    adaptor + LLM, encoder hot-swapped (replay or live);
``<exp_dir>/joint_sft`` everything trains, encoder drift reported.

Replay mode runs the stages one after the other. Live mode starts
pretraining as a separate process, runs alignment as soon as version 1 is
published and IA-SFT while pretraining continues (the paper's asynchronous
setting), then waits for pretraining before joint SFT. Every stage is an
ESPnet run with ``--resume true``, so calling :func:`run_four_stages` again
continues where it stopped. At the end ``swap_history.json`` and
``cka_trace.json`` summarise the run (see :func:`write_run_summary`).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import yaml

from espnet_llm_entropy.pipeline import espnet_steps
from espnet_llm_entropy.train.atomic_files import read_jsonl, write_json_atomic
from espnet_llm_entropy.train.encoder_versions import read_published_versions
from espnet_llm_entropy.train.hot_swap import HISTORY_FILE

STAGE_DIRS = ("pretrain", "align", "ia_sft", "joint_sft")
MODES = ("replay", "live")


@dataclass
class FourStageSetup:
    """Inputs of one run of the method.

    Attributes:
        exp_dir: parent of the four stage exp dirs.
        token_list: phone inventory.
        train_dir, valid_dir: Kaldi data dirs.
        stats_dir: ESPnet collect-stats output (shape files, feats stats).
        llm_dir: local Hugging Face causal LM directory.
        configs: stage name -> ESPnet YAML config.
        stage_args: stage name -> extra command-line options.
        mode: replay | live.
        probe_dir: Kaldi dir of the probe subset (default: ``valid_dir``).
    """

    exp_dir: Path
    token_list: Path
    train_dir: Path
    valid_dir: Path
    stats_dir: Path
    llm_dir: Path
    configs: Dict[str, Path]
    stage_args: Dict[str, List[str]] = field(default_factory=dict)
    mode: str = "replay"
    probe_dir: Optional[Path] = None

    def stage_dir(self, stage: str) -> Path:
        return Path(self.exp_dir) / stage

    @property
    def publish_dir(self) -> Path:
        return self.stage_dir("pretrain") / "encoder_versions"


def config_keeps_ctc_head(config: Path) -> bool:
    """Whether an LLM-ASR training config builds a phone-CTC head (keep_ctc_head or ctc_weight > 0)."""
    conf = yaml.safe_load(Path(config).read_text()) or {}
    model_conf = conf.get("model_conf") or {}
    return bool(model_conf.get("keep_ctc_head")) or float(model_conf.get("ctc_weight") or 0) > 0


def _stage_options(setup: FourStageSetup, stage: str) -> List[str]:
    probe = str(setup.probe_dir or setup.valid_dir)
    opts = ["--probe_conf", f"data_dir={probe}", "--use_matplotlib", "false"]
    if stage == "pretrain":
        opts += ["--cka_monitor_conf", f"publish_dir={setup.publish_dir}"]
    else:
        opts += ["--llm_conf", f"path={setup.llm_dir}"]
    if stage in ("align", "ia_sft"):
        opts += ["--hot_swap_conf", f"publish_dir={setup.publish_dir}"]
    if stage == "ia_sft":
        opts += ["--hot_swap_conf", f"mode={setup.mode}",
                 "--init_param", str(setup.stage_dir("align") / "latest.pth")]
    if stage == "joint_sft":
        opts += ["--init_param", str(setup.stage_dir("ia_sft") / "latest.pth")]
        if config_keeps_ctc_head(setup.configs[stage]):
            # the pretraining's phone-CTC head: speech evidence for decoding's gate
            opts += ["--ctc_head_init", str(setup.stage_dir("pretrain") / "latest.pth")]
    return opts + list(setup.stage_args.get(stage, []))


def stage_command_args(setup: FourStageSetup, stage: str) -> List[str]:
    """The ``llm_asr_train`` options of one stage (as ``espnet_steps.train`` builds them)."""
    return [
        "--config", str(setup.configs[stage]), "--token_list", str(setup.token_list),
        "--output_dir", str(setup.stage_dir(stage)), "--ngpu", "0", "--resume", "true",
        "--use_preprocessor", "true",
        *espnet_steps.data_options("train", setup.train_dir, setup.stats_dir),
        *espnet_steps.data_options("valid", setup.valid_dir, setup.stats_dir),
        *_stage_options(setup, stage),
    ]


def run_stage(setup: FourStageSetup, stage: str, in_process: bool = True) -> Path:
    """One ESPnet training run of ``stage`` (resumable)."""
    logging.info("=== stage %s -> %s", stage, setup.stage_dir(stage))
    return espnet_steps.train(
        setup.configs[stage], setup.token_list, setup.train_dir, setup.valid_dir, setup.stats_dir,
        setup.stage_dir(stage), extra=_stage_options(setup, stage), in_process=in_process,
    )


def start_stage_process(setup: FourStageSetup, stage: str) -> subprocess.Popen:
    """Start ``stage`` as a separate ``python -m ...llm_asr_train`` process (log in its exp dir)."""
    out = setup.stage_dir(stage)
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "espnet_llm_entropy.bin.llm_asr_train", *stage_command_args(setup, stage)]
    log = open(out / "process.log", "ab")
    logging.info("starting %s as a process: %s", stage, " ".join(cmd))
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_for_version(publish_dir: Path, version: int, process: Optional[subprocess.Popen],
                     timeout_s: float = 3600.0, poll_s: float = 1.0) -> None:
    """Block until ``version`` is published (raise if the publishing process dies first)."""
    deadline = time.monotonic() + timeout_s
    while True:
        records, _ = read_published_versions(publish_dir)
        if any(r.version >= version for r in records):
            return
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"pretraining exited ({process.returncode}) before publishing v{version}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"encoder v{version} not published in {publish_dir} after {timeout_s} s")
        time.sleep(poll_s)


def write_run_summary(setup: FourStageSetup) -> Dict[str, Path]:
    """``<exp_dir>/swap_history.json`` and ``<exp_dir>/cka_trace.json``.

    swap_history.json: the alignment and IA-SFT swap histories (step,
    version, CKA old vs new encoder on the probe set, pretraining step).
    cka_trace.json: the pretraining checks (step, CKA to reference,
    publications), the published records and the joint-SFT drift per epoch.
    """
    records, problems = read_published_versions(setup.publish_dir)
    history = {s: read_jsonl(setup.stage_dir(s) / HISTORY_FILE) for s in ("align", "ia_sft")}
    trace = {
        "pretrain_checks": read_jsonl(setup.stage_dir("pretrain") / "cka_trace.jsonl"),
        "publications": [r.__dict__ for r in records],
        "incomplete_publications": problems,
        "ia_sft_swaps": history["ia_sft"],
        "joint_sft_drift": read_jsonl(setup.stage_dir("joint_sft") / "drift_trace.jsonl"),
        "mode": setup.mode,
    }
    out = {"swap_history": Path(setup.exp_dir) / "swap_history.json",
           "cka_trace": Path(setup.exp_dir) / "cka_trace.json"}
    write_json_atomic(out["swap_history"], {"mode": setup.mode, **history})
    write_json_atomic(out["cka_trace"], trace)
    return out


def run_four_stages(setup: FourStageSetup, stages: Sequence[str] = STAGE_DIRS) -> Dict[str, Path]:
    """Run (or resume) the selected stages in order; returns the summary files."""
    if setup.mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {setup.mode!r}")
    unknown = [s for s in stages if s not in STAGE_DIRS]
    if unknown:
        raise ValueError(f"unknown stages {unknown}; expected some of {STAGE_DIRS}")
    missing = [s for s in stages if s not in setup.configs or not Path(setup.configs[s]).is_file()]
    if missing:
        raise FileNotFoundError(f"no config file for stages {missing}: {[setup.configs.get(s) for s in missing]}")
    pretrain_proc = None
    try:
        if "pretrain" in stages:
            if setup.mode == "live":
                pretrain_proc = start_stage_process(setup, "pretrain")
                wait_for_version(setup.publish_dir, 1, pretrain_proc)
            else:
                run_stage(setup, "pretrain")
        for stage in ("align", "ia_sft"):
            if stage in stages:
                run_stage(setup, stage)
        if pretrain_proc is not None:
            code = pretrain_proc.wait()
            if code != 0:
                raise RuntimeError(f"pretraining process failed ({code}); see "
                                   f"{setup.stage_dir('pretrain') / 'process.log'}")
            pretrain_proc = None
        if "joint_sft" in stages:
            run_stage(setup, "joint_sft")
    finally:
        if pretrain_proc is not None and pretrain_proc.poll() is None:
            os.killpg(pretrain_proc.pid, signal.SIGTERM)
            pretrain_proc.wait()
    return write_run_summary(setup)
