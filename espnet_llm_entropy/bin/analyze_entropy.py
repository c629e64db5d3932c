"""Entropy-allocation analysis of trained experiments on a Kaldi data dir.

Writes ``metrics.json``, ``summary.md`` and PNG plots into ``--out_dir``::

    python -m espnet_llm_entropy.bin.analyze_entropy \\
        --exp_dir exp/pretrain --exp_dir exp/sft --data_dir data/test \\
        --out_dir exp/analysis --max_utts 200 --max_frames 100000

With several ``--exp_dir`` the first one is the CKA reference unless
``--reference_exp`` is given. Experiments without a phone CTC head get
their frame labels from ``--phone_exp`` (a phoneme-CTC experiment).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from espnet_llm_entropy.analysis.analysis_run import AnalysisOptions
from espnet_llm_entropy.bin.cli_types import positive_int


def get_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    defaults = AnalysisOptions()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--exp_dir", action="append", required=True,
                        help="experiment dir (config.yaml + checkpoints); repeat for several")
    parser.add_argument("--checkpoint", action="append", default=None,
                        help="checkpoint file name (or path), once for all experiments or once per "
                        "--exp_dir; default: valid.acc.best.pth, valid.per.best.pth, ... or the "
                        "newest <N>epoch.pth")
    parser.add_argument("--data_dir", required=True, help="Kaldi data dir with wav.scp and text")
    parser.add_argument("--out_dir", required=True, help="where metrics.json, summary.md and plots go")
    parser.add_argument("--reference_exp", default=None,
                        help="experiment every --exp_dir is compared with by CKA "
                        "(default: the first --exp_dir when there are several)")
    parser.add_argument("--reference_checkpoint", default=None, help="checkpoint of --reference_exp")
    parser.add_argument("--phone_exp", default=None,
                        help="phoneme-CTC experiment whose CTC head aligns phone labels for "
                        "experiments without their own head")
    parser.add_argument("--phone_checkpoint", default=None, help="checkpoint of --phone_exp")
    parser.add_argument("--max_utts", type=positive_int, default=None, help="use the first N utterances")
    parser.add_argument("--max_frames", type=positive_int, default=None,
                        help="cap on frames per stream (encoder/adaptor/transcript) in the frame statistics")
    parser.add_argument("--batch_size", type=positive_int, default=defaults.batch_size)
    parser.add_argument("--probe", choices=["linear", "mlp"], default=defaults.probe,
                        help="probe family of the accessible-information estimate")
    parser.add_argument("--probe_max_frames", type=positive_int, default=defaults.probe_max_frames,
                        help="labelled frames kept per probed representation")
    parser.add_argument("--llm_layer_stride", type=positive_int, default=defaults.llm_layer_stride,
                        help="spectra of LLM layers k, 2k, ... and the last only (bounds memory for deep LLMs)")
    parser.add_argument("--blank_handling", choices=["nearest", "previous", "keep"],
                        default=defaults.blank_handling, help="labels of CTC blank frames")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--device", default=defaults.device)
    parser.add_argument("--no_plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    parser.add_argument("--log_level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def main(cmd: Optional[List[str]] = None) -> dict:
    """Run the analysis; returns the metrics dict (exit status 1 with a message on bad input)."""
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(message)s")
    from espnet_llm_entropy.analysis.report import analyze_experiments

    try:
        metrics = analyze_experiments(
            args.exp_dir, args.data_dir, args.out_dir,
            checkpoints=args.checkpoint, reference_exp=args.reference_exp,
            reference_checkpoint=args.reference_checkpoint, phone_exp=args.phone_exp,
            phone_checkpoint=args.phone_checkpoint, max_utts=args.max_utts, max_frames=args.max_frames,
            batch_size=args.batch_size, probe=args.probe, probe_max_frames=args.probe_max_frames,
            llm_layer_stride=args.llm_layer_stride, blank_handling=args.blank_handling,
            seed=args.seed, device=args.device,
            plots=not args.no_plots, show_progress=not args.no_progress,
        )
    except (FileNotFoundError, ValueError) as e:
        logging.error("%s", e)
        sys.exit(f"analyze_entropy: error: {e}")
    for path in metrics["outputs"]:
        logging.info("wrote %s", path)
    return metrics


if __name__ == "__main__":
    main()
