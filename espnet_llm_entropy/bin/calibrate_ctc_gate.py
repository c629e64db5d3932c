"""Choose the CTC-evidence gate's threshold (min_ctc_phones) on dev data.

Example::

    python -m espnet_llm_entropy.bin.calibrate_ctc_gate \\
        --asr_train_config exp/joint_sft/config.yaml \\
        --asr_model_file exp/joint_sft/valid.acc.best.pth \\
        --speech_dir data/dev --nonspeech_dir data/nonspeech_dev \\
        --output exp/joint_sft/gate_calibration.json

then decode with the printed ``--decoding_guard_conf min_ctc_phones=N``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import List, Optional

EPILOG = """\
Rule: the threshold lies just above the most phones any dev non-speech clip
got, unless that would silence more than --max_speech_gated (a share) of the
dev speech; then it is the largest threshold that silences no more than that.
Never point --speech_dir or --nonspeech_dir at a test set.
"""


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m espnet_llm_entropy.bin.calibrate_ctc_gate",
                                description=__doc__.splitlines()[0], epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--asr_train_config", type=Path, required=True, help="the LLM-ASR config.yaml")
    p.add_argument("--asr_model_file", type=Path, required=True, help="its checkpoint")
    p.add_argument("--speech_dir", type=Path, required=True, help="dev speech Kaldi data dir")
    p.add_argument("--nonspeech_dir", type=Path, required=True, help="dev non-speech Kaldi data dir")
    p.add_argument("--output", type=Path, required=True, help="calibration JSON to write")
    p.add_argument("--max_speech_gated", type=float, default=0.0,
                   help="share of dev speech the gate may silence, in [0, 1)")
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--ngpu", type=int, default=0, help="0: CPU, 1: the first GPU")
    return p


def main(cmd: Optional[List[str]] = None) -> dict:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    from espnet_llm_entropy.pipeline.gated_decoding import calibrate_gate_to_file

    result = calibrate_gate_to_file(args.asr_train_config, args.asr_model_file, args.speech_dir,
                                    args.nonspeech_dir, args.output, args.max_speech_gated, args.batch_size,
                                    device="cuda" if args.ngpu > 0 else "cpu")
    c = result["calibration"]
    print(f"min_ctc_phones = {c['min_ctc_phones']}: dev speech gated {c['speech_gated']}/"
          f"{c['num_speech']} (fewest phones {c['speech_min_phones']}), dev non-speech passed "
          f"{c['nonspeech_passed']}/{c['num_nonspeech']} (most phones {c['nonspeech_max_phones']})\n"
          f"decode with: {result['decoding_option']}", file=sys.stderr)
    return result


if __name__ == "__main__":
    main()
