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
* unknown symbols, when ``on_unknown="error"``.

Warnings (logged with file and line for the first few, counted in the
:class:`ConversionSummary`):

* unknown symbols (characters neither front-end can read: other scripts,
  symbols, emoji) with ``on_unknown="warn"`` (dropped) or ``"unk"``
  (written as ``<unk>``);
* with an existing inventory, phones that are not in it: they are written
  as ``<unk>`` and counted in ``num_phones_to_unk``.
"""

from __future__ import annotations

import collections
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Counter, List, Optional, Union

from espnet_llm_entropy.text.atomic_file import atomic_text_writer
from espnet_llm_entropy.text.kaldi_text import (
    DuplicateIdTracker,
    KaldiTextError,
    iter_raw_lines,
    parse_kaldi_text_line,
)
from espnet_llm_entropy.text.phone_inventory import UNK, PhoneInventory
from espnet_llm_entropy.text.phonemizer import Phonemizer, UnknownSymbolError

ON_UNKNOWN_CHOICES = ("warn", "unk", "error")
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
    """

    num_utterances: int = 0
    num_phones: int = 0
    num_empty: int = 0
    unknown_symbols: Counter[str] = field(default_factory=collections.Counter)
    num_phones_to_unk: int = 0
    phones_to_unk: Counter[str] = field(default_factory=collections.Counter)

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
    on_unknown: str = "warn",
    max_errors: int = 20,
    progress: bool = False,
) -> ConversionSummary:
    """Write the phone text of a Kaldi text file (rules in the module docstring).

    Args:
        in_path: Kaldi ``text`` file.
        out_path: phone text file to write (atomically).
        phonemizer: the front-end; when None, ``Phonemizer()`` with
            ``on_unknown`` "unk" for ``"unk"`` and "drop" otherwise.
        inventory: an existing phone inventory; phones outside it are
            written as ``<unk>`` and counted.
        allow_empty: write utterances without phones instead of failing.
        on_unknown: ``"warn"``, ``"unk"`` or ``"error"`` (see module doc).
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
    if on_unknown not in ON_UNKNOWN_CHOICES:
        raise ValueError(f"on_unknown must be one of {ON_UNKNOWN_CHOICES}, got {on_unknown!r}")
    if max_errors < 1:
        raise ValueError(f"max_errors must be >= 1, got {max_errors}")
    if phonemizer is None:
        phonemizer = Phonemizer(on_unknown="unk" if on_unknown == "unk" else "drop")
    if not Path(in_path).is_file():
        raise FileNotFoundError(f"Kaldi text file not found: {in_path}")
    summary = ConversionSummary()
    errors: List[str] = []
    truncated = False
    tracker = DuplicateIdTracker(in_path)
    warned_lines = 0
    lines = iter_raw_lines(in_path)
    if progress:
        from tqdm import tqdm

        lines = tqdm(lines, desc=f"phones of {in_path}", unit="utt")
    with atomic_text_writer(out_path) as out:
        for line_number, line in lines:
            try:
                if isinstance(line, KaldiTextError):
                    raise line
                entry = parse_kaldi_text_line(line, in_path, line_number)
                tracker.check(entry)
                if not entry.transcript and not allow_empty:
                    raise KaldiTextError(
                        in_path,
                        line_number,
                        f"empty transcript for utterance {entry.utt_id!r}; "
                        "expected text after the id (--allow_empty keeps it without phones)",
                    )
                try:
                    result = phonemizer.phonemize(entry.transcript)
                except UnknownSymbolError as err:  # a phonemizer made with on_unknown="error"
                    raise KaldiTextError(in_path, line_number, str(err)) from err
                if result.unknown:
                    where = f"{in_path}:{line_number}"
                    if on_unknown == "error":
                        raise KaldiTextError(
                            in_path,
                            line_number,
                            f"cannot read {sorted(set(result.unknown))!r}: expected Chinese "
                            "characters, English words, digits or punctuation",
                        )
                    summary.unknown_symbols.update(result.unknown)
                    if warned_lines < MAX_WARNING_LINES:
                        logger.warning("%s: unknown symbols %r (%s)", where, result.unknown, on_unknown)
                        warned_lines += 1
                phones = result.phones
                if entry.transcript and not phones and not allow_empty:
                    raise KaldiTextError(
                        in_path,
                        line_number,
                        f"transcript {entry.transcript[:50]!r} of utterance {entry.utt_id!r} gives no phones "
                        "(only punctuation or unknown symbols)",
                    )
            except KaldiTextError as err:
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
            out.write(" ".join([entry.utt_id] + phones) + "\n")
        if errors:
            raise PhoneTextConversionError(errors, truncated=truncated)
    return summary
