"""Build a phone inventory (token list) from phone text files.

Example::

    python -m espnet_llm_entropy.bin.make_phone_inventory \\
        --in data/train/text.phn --out data/token_list/phn/tokens.txt
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Iterator, List, Optional

from espnet_llm_entropy.fileio.kaldi_map import KaldiFileError, iter_kaldi_text
from espnet_llm_entropy.text.phone_inventory import PhoneInventory

EPILOG = """\
Input: phone text files, '<utt-id> <phone> <phone> ...' per line (as written
by espnet_llm_entropy.bin.text_to_phones). Output: one symbol per line,
<blank> (id 0), <unk> (id 1), then every phone seen, sorted by code point,
and <sos/eos> last with --sos_eos. The file is written atomically; a
malformed input line (blank, no utterance id, not UTF-8, duplicate id) stops
with FILE:LINE: reason and exit status 1, writing nothing.
"""


def get_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m espnet_llm_entropy.bin.make_phone_inventory",
        description="Build a phone inventory from phone text files.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--in", dest="in_paths", nargs="+", required=True, help="phone text file(s)")
    parser.add_argument("--out", dest="out_path", required=True, help="inventory file to write")
    parser.add_argument("--sos_eos", action="store_true", help="end the inventory with <sos/eos>")
    parser.add_argument("--log_level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def iter_phone_sequences(path: str) -> Iterator[List[str]]:
    """Phones of each line of a phone text file.

    Raises:
        KaldiFileError: naming the file and line of a malformed line.
    """
    for entry in iter_kaldi_text(path):
        yield entry.value.split()


def main(cmd: Optional[List[str]] = None) -> None:
    """Build and write the inventory; exit status 1 on bad input."""
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=args.log_level, format="%(asctime)s (%(module)s) %(levelname)s: %(message)s")
    log = logging.getLogger("make_phone_inventory")
    num_utterances = 0

    def all_sequences() -> Iterator[List[str]]:
        nonlocal num_utterances
        for path in args.in_paths:
            for phones in iter_phone_sequences(path):
                num_utterances += 1
                yield phones

    try:
        inventory = PhoneInventory.build(all_sequences(), sos_eos=args.sos_eos)
    except (OSError, KaldiFileError) as err:
        log.error("%s", err)
        sys.exit(1)
    inventory.save(args.out_path)
    log.info(
        "wrote %s: %d symbols (%d phones) from %d utterances",
        args.out_path,
        len(inventory),
        len(inventory.phones),
        num_utterances,
    )


if __name__ == "__main__":
    main()
