"""Kaldi two-column files (``<key> <value>`` per line): ``wav.scp``, ``utt2dur``, ``text`` ...

ESPnet's ``espnet2.fileio.read_text.read_2columns_text`` reads such files for
training; it reports a repeated key but fails with a bare unpacking error on a
blank line and a decoding error without a line number on bytes that are not
UTF-8. The readers here are for files a user hands to our tools, where every
problem is a :class:`KaldiFileError` naming the file and the 1-based line:

* bytes that are not UTF-8;
* a line without a value, unless values may be empty (``text`` of non-speech);
* a key seen before (naming the line of its first occurrence);
* a blank line, unless ``blank_lines="skip"``;
* a line starting with whitespace (it has no key).

The key order of the file is kept. A UTF-8 byte-order mark at the start and
``\\r\\n`` line ends are accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, Tuple, Union

PathLike = Union[str, Path]


class KaldiFileError(ValueError):
    """A problem at one line of a Kaldi file.

    Attributes:
        path: the file.
        line_number: 1-based line number.
        reason: what is wrong and what was expected.
    """

    def __init__(self, path: PathLike, line_number: int, reason: str):
        self.path = str(path)
        self.line_number = line_number
        self.reason = reason
        super().__init__(f"{self.path}:{line_number}: {reason}")


@dataclass(frozen=True)
class KaldiLine:
    """One ``<key> <value>`` line (the value is stripped and may be empty)."""

    line_number: int
    key: str
    value: str


def iter_raw_lines(path: PathLike) -> Iterator[Tuple[int, Union[str, KaldiFileError]]]:
    """Yield (line number, decoded line without its line end).

    A line that is not UTF-8 is yielded as a :class:`KaldiFileError` instead
    of a string, so that a caller collecting problems can report it and go on.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
    """
    with open(path, "rb") as stream:
        for line_number, raw in enumerate(stream, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                reason = f"not UTF-8 text ({err.reason} at byte {err.start})"
                yield line_number, KaldiFileError(path, line_number, reason)
                continue
            if line_number == 1:
                line = line.lstrip("\ufeff")
            yield line_number, line.rstrip("\r\n")


class DuplicateKeyTracker:
    """Remembers the keys of one file and the line each was first seen on."""

    def __init__(self, path: PathLike, key_name: str = "key"):
        self.path = path
        self.key_name = key_name
        self._first_line: Dict[str, int] = {}

    def check(self, entry: KaldiLine) -> None:
        """Record ``entry``'s key.

        Raises:
            KaldiFileError: the key was seen before (naming both lines).
        """
        first = self._first_line.setdefault(entry.key, entry.line_number)
        if first != entry.line_number:
            raise KaldiFileError(
                self.path, entry.line_number, f"duplicate {self.key_name} {entry.key!r} (first on line {first})"
            )


def parse_kaldi_line(
    line: str,
    path: PathLike,
    line_number: int,
    key_name: str = "key",
    value_name: str = "value",
    allow_empty_value: bool = False,
) -> KaldiLine:
    """Split one non-blank line into key and value.

    Args:
        line: the line without its line end.
        path, line_number: for error messages.
        key_name, value_name: what the columns hold, for error messages.
        allow_empty_value: accept a line holding only a key (value ``""``).

    Raises:
        KaldiFileError: a blank line, a line starting with whitespace (it has
            no key), or a missing value when values may not be empty.
    """
    expected = f"'<{key_name}> <{value_name}>'"
    if not line.strip():
        raise KaldiFileError(path, line_number, f"blank line; expected {expected}")
    if line[0].isspace():
        raise KaldiFileError(
            path, line_number, f"line starts with whitespace, so it has no {key_name}: {line.strip()[:50]!r}"
        )
    parts = line.split(maxsplit=1)
    if len(parts) == 1 and not allow_empty_value:
        raise KaldiFileError(path, line_number, f"expected {expected}, got {line.strip()!r}")
    return KaldiLine(line_number, parts[0], parts[1].strip() if len(parts) == 2 else "")


def iter_kaldi_map(
    path: PathLike,
    what: str = "Kaldi",
    key_name: str = "key",
    value_name: str = "value",
    allow_empty_value: bool = False,
    blank_lines: str = "error",
    comments: bool = False,
) -> Iterator[KaldiLine]:
    """The ``<key> <value>`` lines of ``path`` in file order, checked (see the module docstring).

    Args:
        path: the file.
        what: the kind of file, for the error of a missing file (``"wav.scp"``).
        key_name, value_name: what the columns hold, for error messages.
        allow_empty_value: accept lines holding only a key (value ``""``).
        blank_lines: ``"error"`` or ``"skip"``.
        comments: skip lines whose first non-blank character is ``#``.

    Raises:
        FileNotFoundError: ``path`` is not a file (naming ``what``).
        KaldiFileError: at the first bad line.
        ValueError: ``blank_lines`` is neither ``"error"`` nor ``"skip"``.
    """
    if blank_lines not in ("error", "skip"):
        raise ValueError(f"blank_lines must be 'error' or 'skip', got {blank_lines!r}")
    if not Path(path).is_file():
        raise FileNotFoundError(f"{what} file {path} does not exist")
    tracker = DuplicateKeyTracker(path, key_name)
    for line_number, line in iter_raw_lines(path):
        if isinstance(line, KaldiFileError):
            raise line
        if blank_lines == "skip" and not line.strip():
            continue
        if comments and line.lstrip().startswith("#"):
            continue
        entry = parse_kaldi_line(line, path, line_number, key_name, value_name, allow_empty_value)
        tracker.check(entry)
        yield entry


def read_kaldi_map(path: PathLike, **options) -> Dict[str, str]:
    """``{key: value}`` of a Kaldi two-column file, in file order.

    Args:
        path: the file.
        **options: those of :func:`iter_kaldi_map`.

    Raises:
        FileNotFoundError, KaldiFileError: see :func:`iter_kaldi_map`.
    """
    return {line.key: line.value for line in iter_kaldi_map(path, **options)}


def iter_kaldi_text(path: PathLike) -> Iterator[KaldiLine]:
    """Lines of a Kaldi ``text`` file: ``<utt-id> <transcript>``, transcripts may be empty.

    Blank lines, lines starting with whitespace, bytes that are not UTF-8 and
    repeated ids are errors (the rules of ``text_to_phones``).
    """
    return iter_kaldi_map(
        path, what="text", key_name="utterance id", value_name="transcript", allow_empty_value=True
    )


def read_kaldi_text(path: PathLike) -> Dict[str, str]:
    """``{utt-id: transcript}`` of a Kaldi ``text`` file in file order (see :func:`iter_kaldi_text`).

    Raises:
        FileNotFoundError: missing file.
        KaldiFileError (a ValueError): a bad line, naming the file and line.
    """
    return {line.key: line.value for line in iter_kaldi_text(path)}
