"""Evaluate one trained run of a paradigm comparison in one process.

Decodes the run's test and non-speech sets (non-speech with and without
the CTC-evidence gate), scores them, runs the entropy-allocation analysis
and writes ``<run_dir>/metrics.json``: the work of
:func:`espnet_llm_entropy.comparison.run_metrics.evaluate_run`, with
ESPnet imported once. ``compare_paradigms`` starts one of these per
(paradigm, seed); run it by hand to re-evaluate a run::

    python -m espnet_llm_entropy.bin.evaluate_comparison_run \\
        --workspace compare_out/runs/full_method/seed0/workspace.json \\
        --paradigm_file espnet_llm_entropy/conf/paradigms/full_method.yaml \\
        --run_dir compare_out/runs/full_method/seed0 --seed 0 \\
        --phone_aligner compare_out/pretrain/seed0_phone_<key>

Finished decodings and analyses are kept; delete ``decode/<set>`` or
``analysis`` to redo them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import List, Optional

from espnet_llm_entropy.bin.cli_types import positive_int


def get_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    p = argparse.ArgumentParser(
        prog="python -m espnet_llm_entropy.bin.evaluate_comparison_run",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--workspace", type=Path, required=True,
                   help="the comparison workspace as JSON (written by compare_paradigms)")
    p.add_argument("--paradigm_file", type=Path, required=True, help="the run's paradigm YAML")
    p.add_argument("--run_dir", type=Path, required=True, help="runs/<paradigm>/seed<k> of the comparison")
    p.add_argument("--seed", type=int, required=True, help="the run's training seed")
    p.add_argument("--phone_aligner", type=Path, default=None,
                   help="a phoneme pretraining of the same seed (phone labels for the probes)")
    p.add_argument("--max_utts", type=positive_int, default=60, help="test utterances analysed")
    p.add_argument("--batch_size", type=positive_int, default=16, help="decoding batch size")
    return p


def main(cmd: Optional[List[str]] = None) -> int:
    """Entry point; ``cmd`` is the argument list (default: ``sys.argv[1:]``)."""
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    from espnet_llm_entropy.comparison.paradigm_spec import ParadigmSpecError, load_paradigm
    from espnet_llm_entropy.comparison.run_metrics import evaluate_run
    from espnet_llm_entropy.comparison.workspace import ComparisonWorkspace

    try:
        ws = ComparisonWorkspace.from_json(args.workspace.read_text(encoding="utf-8"), str(args.workspace))
        ws.check()
        spec = load_paradigm(args.paradigm_file)
    except (OSError, ValueError, ParadigmSpecError) as err:
        raise SystemExit(f"evaluate_comparison_run: error: {err}") from err
    if not args.run_dir.is_dir():
        raise SystemExit(f"evaluate_comparison_run: error: no run directory {args.run_dir}")
    result = evaluate_run(ws, args.run_dir, spec, args.seed, args.phone_aligner, args.max_utts,
                          args.batch_size, in_process=True)
    logging.info("wrote %s (test MER %s)", args.run_dir / "metrics.json", result["metrics"].get("mer"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
