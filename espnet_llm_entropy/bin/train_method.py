"""Run the method's four training stages (pretrain -> align -> IA-SFT -> joint SFT).

Example (tiny setup)::

    python -m espnet_llm_entropy.bin.train_method --exp_dir exp/method \\
        --token_list phones.txt --train_dir data/train --valid_dir data/dev \\
        --stats_dir exp/stats --llm_dir llm --mode replay

Re-running the same command continues where it stopped (every stage is an
ESPnet run with ``--resume true``). Writes ``<exp_dir>/swap_history.json``
and ``<exp_dir>/cka_trace.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
from pathlib import Path
from typing import Optional, Sequence

from espnet_llm_entropy.train.four_stage_pipeline import MODES, STAGE_DIRS, FourStageSetup, run_four_stages

CONF = Path(__file__).resolve().parents[2] / "conf" / "tiny"
DEFAULT_CONFIGS = {
    "pretrain": CONF / "pretrain_phoneme_ctc.yaml",
    "align": CONF / "align.yaml",
    "ia_sft": CONF / "ia_sft.yaml",
    "joint_sft": CONF / "joint_sft.yaml",
}


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exp_dir", type=Path, required=True, help="parent of the four stage exp dirs")
    parser.add_argument("--token_list", type=Path, required=True, help="phone inventory")
    parser.add_argument("--train_dir", type=Path, required=True, help="Kaldi training data dir")
    parser.add_argument("--valid_dir", type=Path, required=True, help="Kaldi validation data dir")
    parser.add_argument("--stats_dir", type=Path, required=True, help="ESPnet collect-stats output")
    parser.add_argument("--llm_dir", type=Path, required=True, help="local Hugging Face causal LM dir")
    parser.add_argument("--probe_dir", type=Path, default=None, help="Kaldi dir of the CKA probe subset "
                        "(default: --valid_dir)")
    parser.add_argument("--mode", choices=MODES, default="replay",
                        help="replay: stages one after the other; live: pretraining runs alongside IA-SFT")
    parser.add_argument("--stages", nargs="+", choices=STAGE_DIRS, default=list(STAGE_DIRS))
    for stage in STAGE_DIRS:
        parser.add_argument(f"--{stage}_config", type=Path, default=DEFAULT_CONFIGS[stage],
                            help=f"ESPnet YAML config of the {stage} stage")
        parser.add_argument(f"--{stage}_args", type=str, default="",
                            help=f"extra llm_asr_train options of the {stage} stage (one shell-quoted string)")
    return parser


def main(cmd: Optional[Sequence[str]] = None) -> None:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    setup = FourStageSetup(
        exp_dir=args.exp_dir, token_list=args.token_list, train_dir=args.train_dir,
        valid_dir=args.valid_dir, stats_dir=args.stats_dir, llm_dir=args.llm_dir,
        configs={s: getattr(args, f"{s}_config") for s in STAGE_DIRS},
        stage_args={s: shlex.split(getattr(args, f"{s}_args")) for s in STAGE_DIRS},
        mode=args.mode, probe_dir=args.probe_dir,
    )
    out = run_four_stages(setup, args.stages)
    history = json.loads(out["swap_history"].read_text())
    logging.info("IA-SFT swaps: %s", [(h["step"], h["version"]) for h in history["ia_sft"]])
    logging.info("summary: %s, %s", out["swap_history"], out["cka_trace"])


if __name__ == "__main__":
    main()
