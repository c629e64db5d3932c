"""Calibrate the CTC-evidence gate on dev data and decode several sets with and without it, in one process.

Example::

    python -m espnet_llm_entropy.bin.decode_with_gate \\
        --asr_train_config exp/joint_sft/config.yaml \\
        --asr_model_file exp/joint_sft/valid.acc.best.pth \\
        --calibration_speech_dir data/dev --calibration_nonspeech_dir data/nonspeech_dev \\
        --data_root data --sets test nonspeech --nogate_sets test nonspeech --out_dir decode

is ``calibrate_ctc_gate`` followed by one ``llm_asr_inference`` per set
(``--decoding_guard_conf min_ctc_phones=<chosen>``) and one per no-gate set
(``--decoding_guard_conf ctc_gate=false``), with ESPnet imported once.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import List, Optional

from espnet_llm_entropy.bin.cli_types import positive_int

EPILOG = """\
Output: OUT_DIR/gate_calibration.json, OUT_DIR/<set>/1best_recog/ for every
--sets entry and OUT_DIR_nogate/<set>/1best_recog/ for every --nogate_sets
entry; existing <set> folders there are replaced. Never calibrate on a test set.
"""


def get_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m espnet_llm_entropy.bin.decode_with_gate",
                                description=__doc__.splitlines()[0], epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--asr_train_config", type=Path, required=True, help="the LLM-ASR config.yaml")
    p.add_argument("--asr_model_file", type=Path, required=True, help="its checkpoint")
    p.add_argument("--data_root", type=Path, required=True, help="parent of the Kaldi data dirs to decode")
    p.add_argument("--sets", nargs="+", required=True, help="data dirs under --data_root decoded with the gate")
    p.add_argument("--nogate_sets", nargs="*", default=[], help="data dirs decoded again without the gate")
    p.add_argument("--calibration_speech_dir", type=Path, required=True, help="dev speech Kaldi data dir")
    p.add_argument("--calibration_nonspeech_dir", type=Path, required=True, help="dev non-speech Kaldi data dir")
    p.add_argument("--out_dir", type=Path, required=True, help="output root")
    p.add_argument("--batch_size", type=positive_int, default=16, help="decoding batch size")
    p.add_argument("--decode_config", type=Path, default=None,
                   help="decoding config (llm_asr_inference --config: beam_size, ctc_weight, "
                   "decoding_guard_conf); default: greedy search with the default guards")
    return p


def main(cmd: Optional[List[str]] = None) -> int:
    """Entry point; ``cmd`` is the argument list (default: ``sys.argv[1:]``); returns the threshold."""
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    from espnet_llm_entropy.pipeline.gated_decoding import GatedDecodingJob, decode_with_calibrated_gate

    job = GatedDecodingJob(
        asr_train_config=args.asr_train_config, asr_model_file=args.asr_model_file, data_root=args.data_root,
        out_dir=args.out_dir, sets=args.sets, nogate_sets=args.nogate_sets,
        calibration_speech_dir=args.calibration_speech_dir,
        calibration_nonspeech_dir=args.calibration_nonspeech_dir, batch_size=args.batch_size,
        decode_config=args.decode_config,
    )
    try:
        return decode_with_calibrated_gate(job)
    except FileNotFoundError as err:
        raise SystemExit(f"decode_with_gate: error: {err}") from err


if __name__ == "__main__":
    main()
