"""Convert a Kaldi ``text`` file into a phone text file (Mandarin + English).

Example::

    python -m espnet_llm_entropy.bin.text_to_phones \\
        --in data/train/text --out data/train/text.phn --inventory data/phones.txt
    python -m espnet_llm_entropy.bin.text_to_phones \\
        --in data/dev/text --out data/dev/text.phn --inventory_in data/phones.txt
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from espnet_llm_entropy.text.phone_inventory import PhoneInventory, PhoneInventoryError
from espnet_llm_entropy.text.phone_text_conversion import (
    ON_UNKNOWN_CHOICES,
    PhoneTextConversionError,
    convert_text_to_phones,
)
from espnet_llm_entropy.text.character_units import UNITS, build_unit_reader
from espnet_llm_entropy.text.phonemizer import LANGUAGES
from espnet_llm_entropy.text.unknown_symbols import DEFAULT_POLICY, READER_MODE

EPILOG = """\
Output: one line per utterance, '<utt-id> <phone> <phone> ...', in input
order. Mandarin: pinyin initials and finals with tone (neutral tone 5,
erhua 'er5'); English: ARPAbet with stress (CMUdict, OOV words by g2p_en's
neural predictor, no download); digits read out in the language around them;
punctuation dropped.

Errors (exit status 1, every problem listed as FILE:LINE: reason, and no
output file written at all): a blank line, a line starting with whitespace
(no utterance id), a line that is not UTF-8, a duplicate utterance id, an
empty transcript or one that gives no phones (unless --allow_empty), unknown
symbols with --on_unknown error.

Warnings (counted in the final report): unknown symbols (other scripts,
symbols, emoji) with --on_unknown warn (dropped) or unk (written as <unk>);
with --inventory_in, phones missing from that inventory, written as <unk>.

--inventory PATH writes a phone inventory built from this file's phones
(<blank> first, <unk> second, then the phones in sorted order).
"""


def get_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m espnet_llm_entropy.bin.text_to_phones",
        description="Convert a Kaldi text file into a phone text file.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--in", dest="in_path", required=True, help="Kaldi text file: '<utt-id> <transcript>' lines"
    )
    parser.add_argument("--out", dest="out_path", required=True, help="phone text file to write")
    parser.add_argument(
        "--unit",
        choices=UNITS,
        default="phone",
        help="phone: pinyin phones + ARPAbet (default); char: Chinese characters and English "
        "letters with <space> between English words (character-level CTC targets)",
    )
    parser.add_argument(
        "--language",
        choices=LANGUAGES,
        default="auto",
        help="auto: read each segment by its script; zh: Chinese + digits, Latin words unknown; "
        "en: English + digits, Chinese characters unknown (default: %(default)s)",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--inventory", default=None, help="write a phone inventory built from the output here")
    group.add_argument(
        "--inventory_in",
        default=None,
        help="existing phone inventory: phones outside it are written as <unk> and counted",
    )
    parser.add_argument(
        "--sos_eos", action="store_true", help="end the built --inventory with <sos/eos> (attention decoders)"
    )
    parser.add_argument(
        "--allow_empty",
        action="store_true",
        help="keep utterances whose transcript is empty or gives no phones (written as the id alone)",
    )
    parser.add_argument(
        "--on_unknown",
        choices=ON_UNKNOWN_CHOICES,
        default=DEFAULT_POLICY,
        help="unreadable symbols (other scripts, symbols, emoji): error (stop, naming the line, "
        "utterance and symbols), skip (leave the utterance out), drop (leave the symbols out) or unk "
        "(write <unk>); the same policy as training's --phonemizer_conf on_unknown (default: %(default)s)",
    )
    parser.add_argument(
        "--no_neural_oov",
        action="store_true",
        help="spell English OOV words as letter names instead of using g2p_en's neural predictor",
    )
    parser.add_argument(
        "--max_errors", type=int, default=20, help="stop after this many errors (default: %(default)s)"
    )
    parser.add_argument("--log_level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def main(cmd: Optional[List[str]] = None) -> None:
    """Run the conversion; exits with status 1 and a clear message on bad input."""
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=args.log_level, format="%(asctime)s (%(module)s) %(levelname)s: %(message)s")
    log = logging.getLogger("text_to_phones")
    try:
        inventory = PhoneInventory.from_file(args.inventory_in) if args.inventory_in else None
    except (OSError, PhoneInventoryError) as err:
        log.error("cannot use --inventory_in: %s", err)
        sys.exit(1)
    phonemizer = build_unit_reader(dict(
        unit=args.unit,
        language=args.language,
        on_unknown=READER_MODE[args.on_unknown],
        use_neural_oov=not args.no_neural_oov,
    ))
    try:
        summary = convert_text_to_phones(
            args.in_path,
            args.out_path,
            phonemizer=phonemizer,
            inventory=inventory,
            allow_empty=args.allow_empty,
            on_unknown=args.on_unknown,
            max_errors=args.max_errors,
            progress=True,
        )
    except FileNotFoundError as err:
        log.error("%s", err)
        sys.exit(1)
    except PhoneTextConversionError as err:
        log.error("%s", err)
        sys.exit(1)
    log.info(
        "wrote %s: %d utterances, %d phones (%d without phones)",
        args.out_path,
        summary.num_utterances,
        summary.num_phones,
        summary.num_empty,
    )
    if summary.num_unknown_symbols:
        action = {"unk": "written as <unk>", "drop": "dropped",
                  "skip": f"{len(summary.skipped)} utterance(s) left out"}[args.on_unknown]
        log.warning(
            "%d unknown symbol(s), %s: %s",
            summary.num_unknown_symbols,
            action,
            dict(summary.unknown_symbols.most_common(20)),
        )
    if inventory is not None:
        share = summary.num_phones_to_unk / max(summary.num_phones, 1)
        log.info(
            "%d of %d phones (%.2f%%) became <unk> (not in %s)%s",
            summary.num_phones_to_unk,
            summary.num_phones,
            100 * share,
            args.inventory_in,
            f": {dict(summary.phones_to_unk.most_common(20))}" if summary.num_phones_to_unk else "",
        )
    if args.inventory:
        built = PhoneInventory.build(_read_phone_sequences(args.out_path), sos_eos=args.sos_eos)
        built.save(args.inventory)
        log.info("wrote phone inventory %s (%d symbols)", args.inventory, len(built))


def _read_phone_sequences(path: str):
    with open(path, encoding="utf-8") as stream:
        for line in stream:
            yield line.split()[1:]


if __name__ == "__main__":
    main()
