"""Where does the recognition error come from? The three numbers of the error diagnosis.

Example::

    python -m espnet_llm_entropy.bin.diagnose_errors \\
        --pretrain_exp exp/pretrain --sft_exp exp/ia_sft \\
        --train_dir data/train --test_dir data/test --out_dir exp/diagnosis

The two sides apart, each as soon as its inputs exist (then ``--merge``)::

    python -m espnet_llm_entropy.bin.diagnose_errors --parts llm \\
        --sft_train_args "$(train_method ... --dry_run: the ia_sft options)" ...
    python -m espnet_llm_entropy.bin.diagnose_errors --parts encoder --pretrain_exp exp/pretrain ...
    python -m espnet_llm_entropy.bin.diagnose_errors --merge --hyp decode/test/1best_recog/text ...
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from pathlib import Path
from typing import List, Optional

PARTS = ("encoder", "llm")  # = espnet_llm_entropy.analysis.error_diagnosis.PARTS (not imported: --help stays fast)

EPILOG = """\
(a) greedy CTC phone error rate of --pretrain_exp on --test_dir;
(b) the LLM's text-only perplexity on the test transcripts, and the adaptor +
    LLM of --sft_exp (its LLM directory, LoRA/full setting, frame stacking and
    prompts) trained from scratch for --oracle_steps updates on a perfect
    encoder's one-hot phone frames of --train_dir, decoded greedily on
    --test_dir and scored per language;
(c) with --hyp, the full model's hypotheses scored the same way.
Output: OUT_DIR/diagnosis.json (and the oracle's hypotheses); with one of
--parts, OUT_DIR/<part>_side.json, which --merge joins into diagnosis.json.
"""


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m espnet_llm_entropy.bin.diagnose_errors",
                                description=__doc__.splitlines()[0], epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS),
                   help="sides to run (default: both, into diagnosis.json; one alone: into <part>_side.json)")
    p.add_argument("--merge", action="store_true",
                   help="only join the <part>_side.json files (and --hyp) into diagnosis.json")
    p.add_argument("--pretrain_exp", type=Path, default=None, help="phoneme-CTC experiment dir (part encoder)")
    sft = p.add_mutually_exclusive_group()
    sft.add_argument("--sft_exp", type=Path, default=None,
                     help="LLM-ASR experiment dir (LLM, LoRA, prompts; part llm)")
    sft.add_argument("--sft_train_args", type=str, default=None,
                     help="or the llm_asr_train options of such an experiment, one shell-quoted string "
                     "(train_method --dry_run prints them): the experiment need not exist yet")
    p.add_argument("--train_dir", type=Path, default=None,
                   help="Kaldi data dir the oracle trains on (part llm); with --hyp, (c) is also split by "
                   "how many of its transcripts share each test sentence's corpus template")
    p.add_argument("--test_dir", type=Path, required=True, help="Kaldi data dir with text (+ utt2lang)")
    p.add_argument("--out_dir", type=Path, required=True)
    p.add_argument("--hyp", type=Path, default=None, help="the full model's hypotheses of --test_dir (Kaldi text)")
    p.add_argument("--allow_missing", action="store_true",
                   help="score test utterances missing from --hyp as empty output (default: an error)")
    p.add_argument("--oracle_steps", type=int, default=3000, help="updates of the oracle (default: 3000)")
    p.add_argument("--oracle_llm_conf", action="append", default=[], metavar="KEY=VALUE",
                   help="override the experiment's llm_conf for the oracle, e.g. train_mode=lora")
    p.add_argument("--decode_config", type=Path, default=None,
                   help="the full model's decoding config (llm_asr_inference --config): its "
                   "decoding_guard_conf bounds the oracle's output too (default: the decoder's defaults)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log_level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return p


def _check(args, parser) -> None:
    if args.merge:
        return
    if "encoder" in args.parts and args.pretrain_exp is None:
        parser.error("--parts encoder needs --pretrain_exp")
    if "llm" in args.parts and (args.train_dir is None or (args.sft_exp is None and args.sft_train_args is None)):
        parser.error("--parts llm needs --train_dir and --sft_exp or --sft_train_args")


def main(cmd: Optional[List[str]] = None) -> None:
    parser = get_parser()
    args = parser.parse_args(cmd)
    _check(args, parser)
    logging.basicConfig(level=args.log_level, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    from espnet_llm_entropy.analysis import error_diagnosis
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
    guard_conf = None
    if args.decode_config is not None and not args.merge and "llm" in args.parts:
        try:
            guard_conf = error_diagnosis.decoding_guard_conf_of(args.decode_config)
        except (OSError, ValueError) as exc:
            sys.exit(f"diagnose_errors: error: {exc}")
    sft_args = None
    if not args.merge and "llm" in args.parts:
        try:
            sft_args = (error_diagnosis.load_training_args(args.sft_exp) if args.sft_exp is not None
                        else error_diagnosis.parse_training_args(shlex.split(args.sft_train_args)))
        except FileNotFoundError as exc:
            sys.exit(f"diagnose_errors: error: {exc}")
    for part in ([] if args.merge else args.parts):
        error_diagnosis.diagnose_part(part, args.out_dir, args.test_dir, pretrain_exp=args.pretrain_exp,
                                      sft_args=sft_args, train_dir=args.train_dir, oracle_steps=args.oracle_steps,
                                      seed=args.seed, oracle_llm_conf=overrides, guard_conf=guard_conf)
    if not args.merge and len(args.parts) < len(PARTS):
        print(json.dumps({"written": [str(args.out_dir / f"{p}_side.json") for p in args.parts]}, indent=1))
        return
    coverage = None
    if args.hyp is not None and args.train_dir is not None:
        coverage = error_diagnosis.full_model_coverage(args.test_dir, args.hyp, args.train_dir)
    try:
        result = error_diagnosis.merge_parts(args.out_dir, args.test_dir, full, coverage)
    except FileNotFoundError as exc:
        sys.exit(f"diagnose_errors: error: {exc}")
    summary = {
        "encoder_per": result["a_encoder_phone_error_rate"]["per"],
        "llm_perplexity": result["b_llm_text_perplexity"]["perplexity"],
        "oracle_mer": result["b_oracle_encoder"]["scores"]["all"]["rate"],
        "full_model_mer": (full or {}).get("all", {}).get("rate"),
    }
    if coverage is not None:
        summary["full_model_mer_rare_templates"] = coverage["rare"]["rate"]
        summary["full_model_mer_covered_templates"] = coverage["covered"]["rate"]
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
