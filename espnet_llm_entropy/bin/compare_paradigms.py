"""Compare training paradigms of LLM-based ASR: accuracy, hallucination and entropy allocation.

Trains every paradigm (``conf/paradigms/*.yaml``: single-stage, character
CTC, phoneme CTC, the full method) with every seed under the same update
budget, decodes the test and non-speech sets, runs the entropy-allocation
analysis and writes ``<out_dir>/comparison.md`` (tables with mean and spread
over seeds, the paper's claims checked against the numbers, plots)::

    python -m espnet_llm_entropy.bin.compare_paradigms --out_dir compare_out           # 3 seeds
    python -m espnet_llm_entropy.bin.compare_paradigms --out_dir compare_quick --quick # 1 seed, 5 of 25 steps per epoch, 2,000 utts

Without data options it builds the demo's corpus (10,000 training utterances) and tiny LLM in
``<out_dir>/workspace``. A recipe passes its own data instead: --train_dir,
--valid_dir, --test_dir, --llm_dir, --token_list (phones), --stats_dir and
optionally --nonspeech_dir. Running the same command again resumes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from espnet_llm_entropy.comparison.comparison_runner import (
    QUICK_NUM_TRAIN,
    QUICK_OPTIONS,
    QUICK_STEPS_PER_EPOCH,
    ComparisonConfig,
    command_line,
    run_comparison,
)
from espnet_llm_entropy.comparison.paradigm_spec import DEFAULT_PARADIGMS, ParadigmSpecError
from espnet_llm_entropy.comparison.workspace import ComparisonWorkspace
from espnet_llm_entropy.conf import stage_config
from espnet_llm_entropy.pipeline.demo_pipeline import ESPNET_AN4_DIR, NO_AN4, resolve_an4_dir

WORKSPACE_OPTIONS = ("train_dir", "valid_dir", "test_dir", "llm_dir", "token_list", "stats_dir")


def get_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    d = ComparisonConfig(out_dir=Path("."))
    p = argparse.ArgumentParser(
        prog="python -m espnet_llm_entropy.bin.compare_paradigms",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out_dir", type=Path, required=True, help="where runs, report and plots go")
    p.add_argument("--paradigms", nargs="+", default=list(DEFAULT_PARADIGMS),
                   help="names of shipped paradigms (espnet_llm_entropy/conf/paradigms) or YAML paths "
                   "(default: %(default)s)")
    p.add_argument("--seeds", nargs="+", type=int, default=None,
                   help="training seeds (default: 0 1 2; 0 with --quick)")
    p.add_argument("--quick", action="store_true",
                   help=f"one seed, {QUICK_STEPS_PER_EPOCH} steps per epoch, {QUICK_NUM_TRAIN} training utterances, "
                   f"{QUICK_OPTIONS['llm_pretrain_steps']} LLM pretraining steps and {QUICK_OPTIONS['jobs']} jobs "
                   "(a check that everything runs and a first look, in minutes)")
    p.add_argument("--steps_per_epoch", type=int, default=None,
                   help=f"updates per epoch of every stage (default: {d.steps_per_epoch}; "
                        f"{QUICK_STEPS_PER_EPOCH} with --quick)")
    p.add_argument("--jobs", type=int, default=None,
                   help=f"trainings at a time (default: {d.jobs}; {QUICK_OPTIONS['jobs']} with --quick)")
    p.add_argument("--threads_per_job", type=int, default=None, help="torch threads per training (default: cores / jobs)")
    p.add_argument("--allow_unequal_budgets", action="store_true",
                   help="accept paradigms whose total epochs differ (the report says so)")
    p.add_argument("--analysis_max_utts", type=int, default=d.analysis_max_utts,
                   help="test utterances in the entropy analysis (default: %(default)s)")
    p.add_argument("--decode_batch_size", type=int, default=d.decode_batch_size)
    corpus = p.add_argument_group("bundled mini corpus (used when no data options are given)")
    corpus.add_argument("--num_train", type=int, default=None,
                        help=f"training utterances (default: {d.num_train}; {QUICK_NUM_TRAIN} with --quick)")
    corpus.add_argument("--num_dev", type=int, default=d.num_dev)
    corpus.add_argument("--num_test", type=int, default=d.num_test)
    corpus.add_argument("--llm_pretrain_steps", type=int, default=None,
                        help=f"steps of the tiny LLM's text pretraining (default: {d.llm_pretrain_steps}; "
                        f"{QUICK_OPTIONS['llm_pretrain_steps']} with --quick)")
    corpus.add_argument("--an4_dir", type=str, default=None,
                        help="directory with ESPnet's mini_an4 downloads.tar.gz (AN4 noise in the non-speech "
                        f"set); default: $ESPNET_ROOT/{ESPNET_AN4_DIR} when it holds the archive; '{NO_AN4}': none")
    data = p.add_argument_group("your own data (all of train/valid/test dir, LLM, token list, stats dir)")
    for name in WORKSPACE_OPTIONS:
        data.add_argument(f"--{name}", type=Path, default=None)
    data.add_argument("--nonspeech_dir", type=Path, default=None, help="Kaldi dir of non-speech clips")
    data.add_argument("--stats_config", type=Path, default=stage_config("pretrain"),
                      help="ESPnet config for statistics of character units (default: %(default)s)")
    return p


def workspace_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Optional[ComparisonWorkspace]:
    """The caller's workspace, or None to build the mini corpus; all data options or none."""
    given = [n for n in WORKSPACE_OPTIONS if getattr(args, n) is not None]
    if not given and args.nonspeech_dir is None:
        return None
    missing = [f"--{n}" for n in WORKSPACE_OPTIONS if getattr(args, n) is None]
    if missing:
        parser.error(f"with your own data, also give {' '.join(missing)}")
    return ComparisonWorkspace(
        root=args.out_dir.resolve() / "workspace", train_dir=args.train_dir, valid_dir=args.valid_dir,
        test_dir=args.test_dir, nonspeech_dir=args.nonspeech_dir, llm_dir=args.llm_dir,
        token_lists={"phone": args.token_list}, stats_dirs={"phone": args.stats_dir},
        stats_config=args.stats_config,
    )


def main(cmd: Optional[List[str]] = None) -> int:
    """Run the comparison; exit status 1 when a run failed (the report covers the others)."""
    parser = get_parser()
    args = parser.parse_args(cmd)
    # options left unset take --quick's value or the ComparisonConfig default
    chosen = {name: getattr(args, name) if getattr(args, name) is not None
              else (QUICK_OPTIONS[name] if args.quick else getattr(ComparisonConfig, name))
              for name in QUICK_OPTIONS}
    workspace = workspace_from_args(args, parser)
    try:
        an4_dir = resolve_an4_dir(args.an4_dir) if workspace is None else None
        conf = ComparisonConfig(
            out_dir=args.out_dir, paradigms=args.paradigms, **chosen,
            threads_per_job=args.threads_per_job,
            allow_unequal_budgets=args.allow_unequal_budgets, analysis_max_utts=args.analysis_max_utts,
            decode_batch_size=args.decode_batch_size, num_dev=args.num_dev,
            num_test=args.num_test, an4_dir=an4_dir,
        )
        report = run_comparison(conf, workspace, command=command_line() if cmd is None else None)
    except (ParadigmSpecError, FileNotFoundError, ValueError) as err:
        print(f"compare_paradigms: error: {err}", file=sys.stderr)
        return 1
    failed = {n: o for n, o in report["outcomes"].items() if o["status"] != "done"}
    for name, outcome in failed.items():
        print(f"compare_paradigms: {name} {outcome['status']}: {outcome['error']}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
