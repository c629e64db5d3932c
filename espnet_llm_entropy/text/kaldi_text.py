"""Read Kaldi ``text`` files (``<utt-id> <transcript>`` per line), with checks.

A line is the utterance id, whitespace, then the transcript (which may be
empty: a line holding only an id). Problems are reported as
:class:`KaldiTextError` naming the file and the 1-based line:

* a blank line (nothing or only whitespace);
* a line starting with whitespace (no utterance id);
* bytes that are not UTF-8;
* an utterance id seen before in the same file (:class:`DuplicateIdTracker`).

A UTF-8 byte-order mark at the start of the file and ``\\r\\n`` line ends
are accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, Tuple, Union


class KaldiTextError(ValueError):
    """A problem at one line of a Kaldi text file.

    Attributes:
        path: the file.
        line_number: 1-based line number.
        reason: what is wrong and what was expected.
    """

    def __init__(self, path: Union[str, Path], line_number: int, reason: str):
        self.path = str(path)
        self.line_number = line_number
        self.reason = reason
        super().__init__(f"{self.path}:{line_number}: {reason}")


@dataclass(frozen=True)
class KaldiTextEntry:
    """One line of a Kaldi text file."""

    line_number: int
    utt_id: str
    transcript: str


def iter_raw_lines(path: Union[str, Path]) -> Iterator[Tuple[int, Union[str, KaldiTextError]]]:
    """Yield (line_number, decoded line) without line ends.

    A line that is not UTF-8 is yielded as a :class:`KaldiTextError` instead
    of a string, so that a caller can report it and go on.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
    """
    with open(path, "rb") as stream:
        for line_number, raw in enumerate(stream, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                reason = f"not UTF-8 text ({err.reason} at byte {err.start})"
                yield line_number, KaldiTextError(path, line_number, reason)
                continue
            if line_number == 1:
                line = line.lstrip("\ufeff")
            yield line_number, line.rstrip("\r\n")


def parse_kaldi_text_line(line: str, path: Union[str, Path], line_number: int) -> KaldiTextEntry:
    """Split one line into utterance id and transcript.

    Args:
        line: the line without its line end.
        path: file name for error messages.
        line_number: 1-based line number for error messages.

    Returns:
        The entry; the transcript is stripped and may be empty.

    Raises:
        KaldiTextError: on a blank line or a line without utterance id.
    """
    if not line.strip():
        raise KaldiTextError(path, line_number, "blank line; expected '<utt-id> <transcript>'")
    if line[0].isspace():
        raise KaldiTextError(
            path,
            line_number,
            f"line starts with whitespace, so it has no utterance id: {line.strip()[:50]!r}",
        )
    parts = line.split(maxsplit=1)
    transcript = parts[1].strip() if len(parts) > 1 else ""
    return KaldiTextEntry(line_number, parts[0], transcript)


class DuplicateIdTracker:
    """Remembers utterance ids and their lines to report duplicates."""

    def __init__(self, path: Union[str, Path]):
        self.path = path
        self._first_line: Dict[str, int] = {}

    def check(self, entry: KaldiTextEntry) -> None:
        """Record ``entry``'s id.

        Raises:
            KaldiTextError: if the id was seen before (naming both lines).
        """
        first = self._first_line.setdefault(entry.utt_id, entry.line_number)
        if first != entry.line_number:
            raise KaldiTextError(
                self.path,
                entry.line_number,
                f"duplicate utterance id {entry.utt_id!r} (first on line {first})",
            )


def read_kaldi_text(path: Union[str, Path]) -> Iterator[KaldiTextEntry]:
    """Entries of a Kaldi text file, stopping at the first problem.

    Raises:
        KaldiTextError: at the first malformed line or duplicate id.
        FileNotFoundError: if ``path`` does not exist.
    """
    tracker = DuplicateIdTracker(path)
    for line_number, line in iter_raw_lines(path):
        if isinstance(line, KaldiTextError):
            raise line
        entry = parse_kaldi_text_line(line, path, line_number)
        tracker.check(entry)
        yield entry
