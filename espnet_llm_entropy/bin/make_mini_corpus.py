"""Generate the bundled bilingual mini corpus (synthetic speech, espeak-ng).

Example::

    python -m espnet_llm_entropy.bin.make_mini_corpus --out_dir data/mini
    python -m espnet_llm_entropy.bin.make_mini_corpus --out_dir data/mini \\
        --num_train 60 --num_dev 10 --num_test 10 --an4_dir ../shared/data/mini_an4
"""

import argparse
import logging
import sys
from typing import List, Optional

from espnet_llm_entropy.corpus import (
    CorpusSummary,
    EspeakNotFoundError,
    MiniCorpusConfig,
    build_mini_corpus,
)
from espnet_llm_entropy.corpus.sentence_templates import LANGUAGES

EPILOG = """\
Output (Kaldi data dirs, sorted by utterance id, ids prefixed by speaker):
  OUT/{train,dev,test}/  wav.scp text utt2spk spk2utt utt2lang utt2dur
  OUT/nonspeech/         silence, white and pink noise (and AN4 noise cuts),
                         empty transcripts (a 'text' line holds only the id)
  OUT/an4/               real AN4 speech (only with --an4_dir)
  OUT/noise.scp          noise list for training-time noise augmentation
  OUT/wav/               16 kHz mono 16-bit wav files (absolute paths in wav.scp)
  OUT/corpus_manifest.json  options and summary, written last

Transcripts: Mandarin in Chinese characters without spaces, numbers written
as Chinese numerals; English in lowercase words, numbers spelled out, no
punctuation; code-switched text puts one space around each English run.
No dev/test sentence occurs in train; --num_heldout_speakers speakers never
occur in train (they alternate between test and dev).

The same options and espeak-ng version give the same bytes. Re-running with
the same options returns at once unless --overwrite. espeak-ng must be
installed (Debian/Ubuntu: sudo apt-get install espeak-ng).
"""


def get_parser() -> argparse.ArgumentParser:
    """Command-line options (defaults from MiniCorpusConfig)."""
    defaults = MiniCorpusConfig()
    parser = argparse.ArgumentParser(
        prog="python -m espnet_llm_entropy.bin.make_mini_corpus",
        description="Generate the bilingual (Mandarin/English/code-switched) mini corpus.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out_dir", required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default: %(default)s)")
    parser.add_argument("--num_train", type=int, default=defaults.num_train,
                        help="train utterances (default: %(default)s)")
    parser.add_argument("--num_dev", type=int, default=defaults.num_dev,
                        help="dev utterances (default: %(default)s)")
    parser.add_argument("--num_test", type=int, default=defaults.num_test,
                        help="test utterances (default: %(default)s)")
    parser.add_argument("--languages", default=",".join(defaults.languages),
                        help=f"comma-separated subset of {','.join(LANGUAGES)} (default: %(default)s)")
    parser.add_argument("--num_speakers", type=int, default=defaults.num_speakers,
                        help="synthetic speakers in all (default: %(default)s)")
    parser.add_argument("--num_heldout_speakers", type=int, default=defaults.num_heldout_speakers,
                        help="speakers kept out of train (default: %(default)s)")
    parser.add_argument("--an4_dir", default=None,
                        help="directory with ESPnet's mini_an4 downloads.tar.gz: adds real AN4 speech "
                        "and noise recordings (default: none)")
    parser.add_argument("--nj", type=int, default=defaults.nj,
                        help="parallel espeak-ng jobs (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true", help="rebuild even if the corpus is complete")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    parser.add_argument("--log_level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="logging level (default: %(default)s)")
    return parser


def format_summary(summary: CorpusSummary) -> str:
    """A short human-readable table of what was written."""
    state = "reused existing corpus" if summary.reused else f"built in {summary.elapsed_s:.1f} s"
    lines = [f"mini corpus in {summary.out_dir} ({state}, {summary.espeak_version})",
             f"{'set':<10} {'utts':>5} {'hours':>7} {'min s':>6} {'max s':>6}  languages / speakers"]
    for name, s in summary.splits.items():
        langs = " ".join(f"{k}:{v}" for k, v in s.languages.items())
        lines.append(f"{name:<10} {s.num_utts:>5} {s.total_duration_s / 3600:>7.3f} "
                     f"{s.min_duration_s:>6.2f} {s.max_duration_s:>6.2f}  {langs} / {len(s.speakers)} spk")
    lines.append(f"held-out speakers: dev {summary.heldout_speakers['dev']}, "
                 f"test {summary.heldout_speakers['test']}")
    lines.append(f"noise list: {summary.noise_scp} ({summary.num_noises} entries)")
    return "\n".join(lines)


def main(cmd: Optional[List[str]] = None) -> int:
    """Run the tool; returns the exit status."""
    parser = get_parser()
    args = parser.parse_args(cmd)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = MiniCorpusConfig(
        seed=args.seed,
        num_train=args.num_train,
        num_dev=args.num_dev,
        num_test=args.num_test,
        languages=tuple(x.strip() for x in args.languages.split(",") if x.strip()),
        num_speakers=args.num_speakers,
        num_heldout_speakers=args.num_heldout_speakers,
        an4_dir=args.an4_dir,
        nj=args.nj,
    )
    try:
        config.validate()
    except ValueError as err:
        parser.error(str(err))
    try:
        summary = build_mini_corpus(args.out_dir, config, overwrite=args.overwrite,
                                    show_progress=not args.no_progress)
    except (EspeakNotFoundError, ValueError) as err:
        print(f"make_mini_corpus: error: {err}", file=sys.stderr)
        return 1
    print(format_summary(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
