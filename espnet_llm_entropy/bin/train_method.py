"""Run the method's training stages (pretrain -> align -> IA-SFT -> joint SFT).

Example (tiny setup)::

    python -m espnet_llm_entropy.bin.train_method --exp_dir exp/method \\
        --token_list phones.txt --train_dir data/train --valid_dir data/dev \\
        --stats_dir exp/stats --llm_dir llm --mode replay

Re-running the same command continues where it stopped (every stage is an
ESPnet run with ``--resume true``). Writes ``<exp_dir>/swap_history.json``
and ``<exp_dir>/cka_trace.json``. ``--dry_run`` prints the stage commands
instead of running them. Devices: ``--ngpu N`` (default 0: CPU); in live and
lockstep modes ``--pretrain_gpus K`` of them train the pretraining, the rest
the SFT stages alongside it; on the CPU the two processes split the threads
(``train/device_policy.py``).
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import Optional, Sequence

from espnet_llm_entropy.train.method_cli import build_parser, spec_and_inputs
from espnet_llm_entropy.train.stage_runner import StageRunner, dry_run_lines, write_run_summary


def get_parser() -> argparse.ArgumentParser:
    return build_parser(__doc__)


def main(cmd: Optional[Sequence[str]] = None) -> None:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    spec, inputs = spec_and_inputs(args)
    if args.dry_run:
        print("\n".join(dry_run_lines(spec, inputs, args.stages)))
        return
    StageRunner(spec, inputs).run(args.stages)
    out = write_run_summary(spec, inputs)
    history = json.loads(out["swap_history"].read_text())
    logging.info("IA-SFT swaps: %s", [(h["step"], h["version"]) for h in history.get("ia_sft", [])])
    logging.info("summary: %s, %s", out["swap_history"], out["cka_trace"])


if __name__ == "__main__":
    main()
