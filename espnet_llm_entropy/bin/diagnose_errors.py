"""Where does the recognition error come from? The three numbers of the error diagnosis.

Example::

    python -m espnet_llm_entropy.bin.diagnose_errors \\
        --pretrain_exp exp/pretrain --sft_exp exp/ia_sft \\
        --train_dir data/train --test_dir data/test --out_dir exp/diagnosis
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import List, Optional

EPILOG = """\
(a) greedy CTC phone error rate of --pretrain_exp on --test_dir;
(b) the LLM's text-only perplexity on the test transcripts, and the adaptor +
    LLM of --sft_exp (its LLM directory, LoRA/full setting, frame stacking and
    prompts) trained from scratch for --oracle_steps updates on a perfect
    encoder's one-hot phone frames of --train_dir, decoded greedily on
    --test_dir and scored per language;
(c) with --hyp, the full model's hypotheses scored the same way.
Output: OUT_DIR/diagnosis.json (and the oracle's hypotheses).
"""


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m espnet_llm_entropy.bin.diagnose_errors",
                                description=__doc__.splitlines()[0], epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pretrain_exp", type=Path, required=True, help="phoneme-CTC experiment dir")
    p.add_argument("--sft_exp", type=Path, required=True, help="LLM-ASR experiment dir (LLM, LoRA, prompts)")
    p.add_argument("--train_dir", type=Path, required=True, help="Kaldi data dir the oracle trains on")
    p.add_argument("--test_dir", type=Path, required=True, help="Kaldi data dir with text (+ utt2lang)")
    p.add_argument("--out_dir", type=Path, required=True)
    p.add_argument("--hyp", type=Path, default=None, help="the full model's hypotheses of --test_dir (Kaldi text)")
    p.add_argument("--allow_missing", action="store_true",
                   help="score test utterances missing from --hyp as empty output (default: an error)")
    p.add_argument("--oracle_steps", type=int, default=3000, help="updates of the oracle (default: 3000)")
    p.add_argument("--oracle_llm_conf", action="append", default=[], metavar="KEY=VALUE",
                   help="override the experiment's llm_conf for the oracle, e.g. train_mode=lora")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log_level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return p


def main(cmd: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=args.log_level, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    from espnet_llm_entropy.analysis.error_diagnosis import diagnose_errors
    from espnet_llm_entropy.evaluation.asr_scoring import score_by_language

    overrides = {}
    for item in args.oracle_llm_conf:
        key, sep, value = item.partition("=")
        if not sep or not key:
            sys.exit(f"diagnose_errors: --oracle_llm_conf expects KEY=VALUE, got {item!r}")
        overrides[key] = value
    full = None
    if args.hyp is not None:
        try:
            full = score_by_language(args.test_dir / "text", args.hyp, args.test_dir / "utt2lang",
                                     allow_missing=args.allow_missing)
        except (ValueError, FileNotFoundError) as exc:
            sys.exit(f"diagnose_errors: error: {exc}")
    result = diagnose_errors(args.pretrain_exp, args.sft_exp, args.train_dir, args.test_dir, args.out_dir,
                             full_model_scores=full, oracle_steps=args.oracle_steps, seed=args.seed,
                             oracle_llm_conf=overrides)
    summary = {
        "encoder_per": result["a_encoder_phone_error_rate"]["per"],
        "llm_perplexity": result["b_llm_text_perplexity"]["perplexity"],
        "oracle_mer": result["b_oracle_encoder"]["scores"]["all"]["rate"],
        "full_model_mer": (full or {}).get("all", {}).get("rate"),
    }
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
