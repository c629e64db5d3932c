"""Score hallucination on Kaldi-format reference and hypothesis text files.

Example::

    python -m espnet_llm_entropy.bin.score_hallucination \\
        --ref dump/raw/test/text --hyp exp/asr/decode/test/text --out_dir exp/asr/decode/test/halluc
    python -m espnet_llm_entropy.bin.score_hallucination --nonspeech \\
        --hyp exp/asr/decode/test_nonspeech/text --utt2dur data/test_nonspeech/utt2dur \\
        --out_dir exp/asr/decode/test_nonspeech/halluc

Writes ``hallucination.json`` (all figures, ids of hallucinated / looping
utterances) and ``hallucination.md`` (a RESULTS.md-style table) into
``--out_dir`` and prints the table. Definitions:
:mod:`espnet_llm_entropy.evaluation.hallucination`.

Utterance ids of the reference (or, for ``--nonspeech`` without ``--ref``,
of the duration list) that the hypothesis file lacks are an error naming
the count and the first ids: a decoding job probably stopped part-way.
With ``--allow_missing`` they are scored as empty hypotheses, with a
warning. Ids in the hypothesis file that the reference lacks are always an
error. Hypothesis and reference files are read with the rules of
``text_to_phones``: blank lines, lines starting with whitespace and bytes
that are not UTF-8 are errors naming the file and line.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Dict, List, Optional

from espnet_llm_entropy.evaluation.hallucination import (
    HallucinationConfig,
    hallucination_report,
    nonspeech_report,
)
from espnet_llm_entropy.evaluation.hypothesis_ids import check_hypothesis_ids, id_sample
from espnet_llm_entropy.evaluation.kaldi_files import durations_from_wav_scp, read_utt2dur
from espnet_llm_entropy.evaluation.report_table import hallucination_markdown
from espnet_llm_entropy.evaluation.text_units import UNIT_TYPES
from espnet_llm_entropy.fileio.atomic import write_text_atomic
from espnet_llm_entropy.fileio.kaldi_map import read_kaldi_text

logger = logging.getLogger("score_hallucination")


def get_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description="Hallucination metrics (NIM4-ASR rule, repetition loops, length "
        "ratios, output on non-speech) from Kaldi-format text files.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--ref", type=Path, help="reference text (<utt-id> <transcript>)")
    parser.add_argument("--hyp", type=Path, required=True, help="hypothesis text")
    durations = parser.add_mutually_exclusive_group()
    durations.add_argument("--utt2dur", type=Path, help="utterance durations in seconds")
    durations.add_argument(
        "--wav_scp", type=Path, help="wav.scp to measure durations from (soundfile)"
    )
    parser.add_argument(
        "--nonspeech",
        action="store_true",
        help="the set has no speech: report the share of utterances with output and "
        "output units per minute (needs --utt2dur or --wav_scp; --ref optional)",
    )
    parser.add_argument(
        "--allow_missing",
        action="store_true",
        help="score utterances without hypothesis as empty output (default: an error)",
    )
    parser.add_argument("--out_dir", type=Path, required=True, help="output directory")
    parser.add_argument(
        "--dataset",
        default=None,
        help="row label of the table (default: <decode dir>/<set> from --hyp)",
    )
    parser.add_argument("--unit", choices=UNIT_TYPES, default="mixed", help="counting unit")
    parser.add_argument("--length_ratio_threshold", type=float, default=1.5)
    parser.add_argument("--overlap_threshold", type=float, default=0.1)
    parser.add_argument("--loop_max_ngram", type=int, default=10)
    parser.add_argument("--loop_min_repeats", type=int, default=4)
    parser.add_argument("--loop_min_span", type=int, default=8)
    parser.add_argument(
        "--log_level",
        default="INFO",
        choices=("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"),
    )
    return parser


def default_dataset_name(hyp: Path) -> str:
    """``<decode dir>/<set>`` from ``.../<decode dir>/<set>[/1best_recog]/text``."""
    parent = hyp.resolve().parent
    if parent.name == "1best_recog":
        parent = parent.parent
    return f"{parent.parent.name}/{parent.name}" if parent.parent.name else parent.name


def score(args: argparse.Namespace) -> Dict[str, object]:
    """Compute the report for parsed options (no writing)."""
    conf = HallucinationConfig(
        length_ratio_threshold=args.length_ratio_threshold,
        overlap_threshold=args.overlap_threshold,
        unit=args.unit,
        loop_max_ngram=args.loop_max_ngram,
        loop_min_repeats=args.loop_min_repeats,
        loop_min_span=args.loop_min_span,
    )
    hyps = read_kaldi_text(args.hyp)
    refs = read_kaldi_text(args.ref) if args.ref is not None else None
    durations: Optional[Dict[str, float]] = None
    if args.utt2dur is not None:
        durations = read_utt2dur(args.utt2dur)
    elif args.wav_scp is not None:
        durations = durations_from_wav_scp(args.wav_scp)
    duration_source = args.utt2dur or args.wav_scp

    if refs is not None:
        utt_ids, source = list(refs), str(args.ref)
    elif durations is not None:
        utt_ids, source = list(durations), str(duration_source)
    else:
        raise ValueError("--ref is required (it may be omitted only with --nonspeech)")
    missing = check_hypothesis_ids(list(hyps), utt_ids, args.hyp, source, args.allow_missing)
    if durations is not None:
        no_duration = [uid for uid in utt_ids if uid not in durations]
        if no_duration:
            raise ValueError(
                f"{duration_source}: no duration for {len(no_duration)} utterance(s) of "
                f"{source}: {id_sample(no_duration)}"
            )

    dataset = args.dataset or default_dataset_name(args.hyp)
    result: Dict[str, object] = {
        "dataset": dataset,
        "ref": None if args.ref is None else str(args.ref),
        "hyp": str(args.hyp),
        "durations": None if duration_source is None else str(duration_source),
        "missing_hyps": len(missing),
    }
    if args.nonspeech:
        if durations is None:
            raise ValueError("--nonspeech needs --utt2dur or --wav_scp (output per minute)")
        result["nonspeech"] = nonspeech_report(hyps, durations, conf, utt_ids)
    else:
        result["speech"] = hallucination_report(refs, hyps, conf)
        if durations is not None:
            result["nonspeech"] = nonspeech_report(hyps, durations, conf, utt_ids)
    result["markdown"] = hallucination_markdown(
        dataset,
        speech=result.get("speech"),
        nonspeech=result.get("nonspeech") if args.nonspeech else None,
    )
    return result


def main(cmd: Optional[List[str]] = None) -> int:
    """Entry point; ``cmd`` is the argument list (default: ``sys.argv[1:]``)."""
    args = get_parser().parse_args(cmd)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s",
    )
    if args.ref is None and not args.nonspeech:
        get_parser().error("--ref is required unless --nonspeech is given")
    if args.nonspeech and args.utt2dur is None and args.wav_scp is None:
        get_parser().error("--nonspeech needs --utt2dur or --wav_scp")
    try:
        result = score(args)
    except (ValueError, FileNotFoundError) as exc:
        raise SystemExit(f"score_hallucination: error: {exc}") from exc
    markdown = result.pop("markdown")
    write_text_atomic(
        args.out_dir / "hallucination.json",
        json.dumps(result, indent=2, ensure_ascii=False) + "\n",
    )
    write_text_atomic(args.out_dir / "hallucination.md", markdown)
    sys.stdout.write(markdown)
    logger.info("wrote %s/hallucination.{json,md}", args.out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
