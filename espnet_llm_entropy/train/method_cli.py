"""``train_method``'s options and what they resolve to, without running anything.

:func:`build_parser` is the command line of ``python -m
espnet_llm_entropy.bin.train_method``; :func:`spec_and_inputs` turns parsed
options into the method spec and run inputs; :func:`stage_training_args`
gives the ``llm_asr_train`` options of one stage (what ``--dry_run``
prints), e.g. for the error diagnosis before that stage has run.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import List, Sequence

from espnet_llm_entropy.conf import stage_config
from espnet_llm_entropy.train.device_policy import DevicePolicy
from espnet_llm_entropy.train.method_spec import MODES, spec_from_stage_configs
from espnet_llm_entropy.train.stage_runner import RunInputs, StageRunner
from espnet_llm_entropy.train.stage_schedule import METHOD_STAGES, STAGES


def build_parser(description: str = "") -> argparse.ArgumentParser:
    """``train_method``'s options (its ``--help`` text is ``description``)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exp_dir", type=Path, required=True, help="parent of the stage exp dirs")
    parser.add_argument("--token_list", type=Path, required=True, help="phone inventory")
    parser.add_argument("--train_dir", type=Path, required=True, help="Kaldi training data dir")
    parser.add_argument("--valid_dir", type=Path, required=True, help="Kaldi validation data dir")
    parser.add_argument("--stats_dir", type=Path, required=True, help="ESPnet collect-stats output")
    parser.add_argument("--llm_dir", type=Path, required=True, help="local Hugging Face causal LM dir")
    parser.add_argument("--probe_dir", type=Path, default=None, help="Kaldi dir of the CKA probe subset "
                        "(default: --valid_dir)")
    parser.add_argument("--mode", choices=MODES, default="replay",
                        help="replay: stages one after the other; live: pretraining runs alongside IA-SFT; "
                        "lockstep: alongside, with the swaps of replay mode (needs the IA-SFT config's "
                        "hot_swap_conf.replay_scale or replay_steps)")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(METHOD_STAGES),
                        help="stages to run (default: the four of the method; add grpo for the fifth)")
    parser.add_argument("--ngpu", type=int, default=0,
                        help="GPUs of the run (0: CPU); the stages' --ngpu comes from here")
    parser.add_argument("--pretrain_gpus", type=int, default=None,
                        help="live mode: GPUs of the pretraining process out of --ngpu (default: half); "
                        "the SFT process gets the rest")
    parser.add_argument("--llm_builder_pid", type=int, default=None,
                        help="a process still building --llm_dir: stages that load the LLM wait for it "
                        "(and fail if it ends without writing the directory)")
    parser.add_argument("--dry_run", action="store_true",
                        help="print the stage commands (with their CUDA_VISIBLE_DEVICES) and exit")
    for stage in STAGES:
        parser.add_argument(f"--{stage}_config", type=Path, default=stage_config(stage),
                            help=f"ESPnet YAML config of the {stage} stage (default: the shipped tiny preset)")
        parser.add_argument(f"--{stage}_args", type=str, default="",
                            help=f"extra llm_asr_train options of the {stage} stage (one shell-quoted string)")
    return parser


def spec_and_inputs(args: argparse.Namespace):
    """The method spec and the run inputs of parsed ``train_method`` options."""
    # the spec: every stage up to the last one asked for (earlier ones chain into it even when done)
    upto = STAGES[: max(STAGES.index(s) for s in args.stages) + 1]
    spec = spec_from_stage_configs(
        {s: getattr(args, f"{s}_config") for s in upto},
        {s: shlex.split(getattr(args, f"{s}_args")) for s in upto},
        stages=upto,
    )
    inputs = RunInputs(
        exp_dir=args.exp_dir, token_list=args.token_list, train_dir=args.train_dir,
        valid_dir=args.valid_dir, stats_dir=args.stats_dir, llm_dir=args.llm_dir, probe_dir=args.probe_dir,
        mode=args.mode, devices=DevicePolicy(args.ngpu, args.pretrain_gpus), llm_builder_pid=args.llm_builder_pid,
    )
    return spec, inputs


def stage_training_args(cmd: Sequence, stage: str) -> List[str]:
    """The ``llm_asr_train`` options ``train_method cmd`` gives ``stage`` (what ``--dry_run`` prints),
    before any stage has run: e.g. the IA-SFT experiment's options for the error diagnosis's oracle."""
    args = build_parser().parse_args([str(c) for c in cmd])
    spec, inputs = spec_and_inputs(args)
    return [str(a) for a in StageRunner(spec, inputs).command(stage, dry_run=True).args]
