"""Convert a Kaldi ``text`` file into a phone text file, with error reporting.

Output lines are ``<utt-id> <phone> <phone> ...`` in input order. What is an
error and what is a warning:

Errors (every problem is reported as ``file:line: reason``, up to
``max_errors`` of them; then :class:`PhoneTextConversionError` is raised and
no output file is written, not even partly):

* a blank line, or a line starting with whitespace (no utterance id);
* a line that is not UTF-8;
* a duplicate utterance id;
* an empty transcript (only the id), unless ``allow_empty``;
* a transcript that gives no phones at all (only punctuation or unknown
  symbols), unless ``allow_empty``;
* unknown symbols (characters neither front-end can read: other scripts,
  symbols, emoji) with ``on_unknown="error"``, the default; the policy is
  the one training uses (:mod:`espnet_llm_entropy.text.unknown_symbols`);
* no utterance to write at all (an empty file, or every utterance left out).

Warnings (logged with file and line for the first few, counted in the
:class:`ConversionSummary`):

* unknown symbols with ``on_unknown="skip"`` (the utterance is left out),
  ``"drop"`` (the symbols are left out) or ``"unk"`` (written as ``<unk>``);
* with an existing inventory, phones that are not in it: they are written
  as ``<unk>`` and counted in ``num_phones_to_unk``.
"""

from __future__ import annotations

import collections
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Counter, List, Optional, Union

from espnet_llm_entropy.fileio.atomic import atomic_writer
from espnet_llm_entropy.fileio.kaldi_map import (
    DuplicateKeyTracker,
    KaldiFileError,
    iter_raw_lines,
    parse_kaldi_line,
)
from espnet_llm_entropy.text.phone_inventory import UNK, PhoneInventory
from espnet_llm_entropy.text.phonemizer import Phonemizer, UnknownSymbolError
from espnet_llm_entropy.text.unknown_symbols import (
    DEFAULT_POLICY,
    POLICIES,
    READER_MODE,
    UnknownSymbolsError,
    UnknownSymbolTally,
    check_policy,
    read_transcript,
)

ON_UNKNOWN_CHOICES = POLICIES
MAX_WARNING_LINES = 10
logger = logging.getLogger(__name__)


class PhoneTextConversionError(ValueError):
    """The input had errors; nothing was written.

    Attributes:
        errors: ``file:line: reason`` messages.
    """

    def __init__(self, errors: List[str], truncated: bool = False):
        self.errors = errors
        more = " (stopped after this many)" if truncated else ""
        super().__init__(f"{len(errors)} error(s){more}, no output written:\n" + "\n".join(errors))


@dataclass
class ConversionSummary:
    """What a conversion did.

    Attributes:
        num_utterances: lines written.
        num_phones: phones written (including ``<unk>``).
        num_empty: utterances written without phones (``allow_empty``).
        unknown_symbols: count of each unreadable symbol.
        num_phones_to_unk: phones written as ``<unk>`` because the given
            inventory lacks them.
        phones_to_unk: count of each such phone.
        skipped: utterances left out by ``on_unknown="skip"``.
    """

    num_utterances: int = 0
    num_phones: int = 0
    num_empty: int = 0
    unknown_symbols: Counter[str] = field(default_factory=collections.Counter)
    num_phones_to_unk: int = 0
    phones_to_unk: Counter[str] = field(default_factory=collections.Counter)
    skipped: List[str] = field(default_factory=list)

    @property
    def num_unknown_symbols(self) -> int:
        """Total count of unreadable symbols."""
        return sum(self.unknown_symbols.values())


def convert_text_to_phones(
    in_path: Union[str, Path],
    out_path: Union[str, Path],
    phonemizer: Optional[Phonemizer] = None,
    inventory: Optional[PhoneInventory] = None,
    allow_empty: bool = False,
    on_unknown: str = DEFAULT_POLICY,
    max_errors: int = 20,
    progress: bool = False,
) -> ConversionSummary:
    """Write the phone text of a Kaldi text file (rules in the module docstring).

    Args:
        in_path: Kaldi ``text`` file.
        out_path: phone text file to write (atomically).
        phonemizer: the front-end; when None, ``Phonemizer()`` with
            ``on_unknown=READER_MODE[on_unknown]``.
        inventory: an existing phone inventory; phones outside it are
            written as ``<unk>`` and counted.
        allow_empty: write utterances without phones instead of failing.
        on_unknown: the unknown-symbol policy, one of
            :data:`~espnet_llm_entropy.text.unknown_symbols.POLICIES`.
        max_errors: stop reading after this many errors.
        progress: show a tqdm progress bar.

    Returns:
        The summary.

    Raises:
        PhoneTextConversionError: listing ``file:line`` errors; nothing is
            written then.
        FileNotFoundError: if ``in_path`` is missing.
        ValueError: on a bad ``on_unknown``.
    """
    check_policy(on_unknown, "on_unknown")
    if max_errors < 1:
        raise ValueError(f"max_errors must be >= 1, got {max_errors}")
    if phonemizer is None:
        phonemizer = Phonemizer(on_unknown=READER_MODE[on_unknown])
    if not Path(in_path).is_file():
        raise FileNotFoundError(f"Kaldi text file not found: {in_path}")
    summary = ConversionSummary()
    tally = UnknownSymbolTally(on_unknown)
    errors: List[str] = []
    truncated = False
    tracker = DuplicateKeyTracker(in_path, "utterance id")
    warned_lines = 0
    lines = iter_raw_lines(in_path)
    if progress:
        from tqdm import tqdm

        lines = tqdm(lines, desc=f"phones of {in_path}", unit="utt")
    with atomic_writer(out_path) as out:
        for line_number, line in lines:
            try:
                if isinstance(line, KaldiFileError):
                    raise line
                entry = parse_kaldi_line(line, in_path, line_number, "utterance id", "transcript", True)
                tracker.check(entry)
                if not entry.value and not allow_empty:
                    raise KaldiFileError(
                        in_path,
                        line_number,
                        f"empty transcript for utterance {entry.key!r}; "
                        "expected text after the id (--allow_empty keeps it without phones)",
                    )
                where = f"{in_path}:{line_number}"
                try:
                    read = read_transcript(phonemizer, on_unknown, entry.key, entry.value,
                                           option="--on_unknown")
                except UnknownSymbolError as err:  # a phonemizer made with on_unknown="error"
                    raise KaldiFileError(in_path, line_number, str(err)) from err
                except UnknownSymbolsError as err:
                    raise KaldiFileError(in_path, line_number, str(err)) from err
                tally.add(entry.key, read)
                if read.unknown and warned_lines < MAX_WARNING_LINES:
                    logger.warning("%s: utterance %r: unknown symbols %r (%s)", where, entry.key,
                                   read.unknown, "utterance left out" if read.skipped else on_unknown)
                    warned_lines += 1
                if read.skipped:
                    continue
                phones = read.units
                if entry.value and not phones and not allow_empty:
                    raise KaldiFileError(
                        in_path,
                        line_number,
                        f"transcript {entry.value[:50]!r} of utterance {entry.key!r} gives no phones "
                        "(only punctuation or unknown symbols)",
                    )
            except KaldiFileError as err:
                errors.append(str(err))
                if len(errors) >= max_errors:
                    truncated = True
                    break
                continue
            if errors:
                continue  # keep checking the rest, but write nothing more
            if inventory is not None:
                missing = [p for p in phones if p not in inventory]
                if missing:
                    summary.phones_to_unk.update(missing)
                    summary.num_phones_to_unk += len(missing)
                    phones = [p if p in inventory else UNK for p in phones]
            summary.num_utterances += 1
            summary.num_phones += len(phones)
            summary.num_empty += not phones
            out.write(" ".join([entry.key] + phones) + "\n")
        summary.unknown_symbols = tally.symbols
        summary.skipped = tally.skipped
        if not errors and summary.num_utterances == 0:
            errors.append(
                f"{in_path}: no utterance to write: the file has no lines" if not tally.skipped else
                f"{in_path}: no utterance to write: all {len(tally.skipped)} were left out by --on_unknown skip"
            )
        if errors:
            raise PhoneTextConversionError(errors, truncated=truncated)
    return summary
