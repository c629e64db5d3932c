"""Phone inventory: the token list of a phone CTC model.

File format (an ESPnet ``token_list`` text file): one symbol per line, UTF-8,
no blank lines, no whitespace inside a symbol, no duplicates:

* line 1: ``<blank>`` (CTC blank, id 0, as ESPnet's CTC expects);
* line 2: ``<unk>`` (id 1, what unknown phones are encoded as; the same
  position ESPnet's ``tokenize_text --add_symbol '<blank>:0' '<unk>:1'``
  gives it);
* then the phones. :meth:`PhoneInventory.build` sorts them by code point
  (ARPAbet's upper-case phones come before the lower-case pinyin
  initials/finals), so the order depends only on the set of phones, never
  on the order in which data was read; a hand-made file may use any order;
* optionally a last line ``<sos/eos>``, as ESPnet's token lists for
  attention decoders end; a CTC-only phone list leaves it out.

:meth:`PhoneInventory.from_file` checks all of this and names the file and
line of the first problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Union

from espnet_llm_entropy.fileio.atomic import write_text_atomic

BLANK = "<blank>"
UNK = "<unk>"
SOS_EOS = "<sos/eos>"
SPECIAL_SYMBOLS = (BLANK, UNK, SOS_EOS)


class PhoneInventoryError(ValueError):
    """A phone inventory file or symbol list breaks the format."""


class PhoneInventory:
    """Bidirectional phone <-> id mapping with ``<blank>`` = 0 and ``<unk>`` = 1.

    Args:
        symbols: the full symbol list in id order (``<blank>``, ``<unk>``,
            phones..., optionally ``<sos/eos>`` last).
        source: where the list came from, used in error messages.

    Attributes:
        num_unknown: phones mapped to ``<unk>`` by :meth:`encode` so far.
        num_encoded: phones encoded by :meth:`encode` so far.

    Raises:
        PhoneInventoryError: if the list breaks the format.
    """

    blank_id = 0
    unk_id = 1

    def __init__(self, symbols: Sequence[str], source: str = "<symbols>"):
        self.symbols: List[str] = list(symbols)
        self.source = source
        _validate(self.symbols, source)
        self._ids: Dict[str, int] = {s: i for i, s in enumerate(self.symbols)}
        self.num_unknown = 0
        self.num_encoded = 0

    @classmethod
    def build(cls, phone_sequences: Iterable[Iterable[str]], sos_eos: bool = False) -> "PhoneInventory":
        """Collect the phones of ``phone_sequences`` into an inventory.

        Args:
            phone_sequences: e.g. the phone lists of a training set.
            sos_eos: add ``<sos/eos>`` as the last symbol.

        Returns:
            ``<blank>``, ``<unk>``, the sorted distinct phones (special
            symbols in the data are not repeated), [``<sos/eos>``].
        """
        phones = set()
        for seq in phone_sequences:
            phones.update(seq)
        phones.difference_update(SPECIAL_SYMBOLS)
        symbols = [BLANK, UNK] + sorted(phones) + ([SOS_EOS] if sos_eos else [])
        return cls(symbols, source="<built from data>")

    @classmethod
    def from_file(cls, path: Union[str, Path]) -> "PhoneInventory":
        """Read and validate an inventory file (format in the module docstring).

        Raises:
            FileNotFoundError: if the file is missing.
            PhoneInventoryError: naming ``path`` and the line of the problem.
        """
        path = Path(path)
        text = path.read_text(encoding="utf-8")
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()  # the final newline
        return cls(lines, source=str(path))

    def save(self, path: Union[str, Path]) -> None:
        """Write the inventory, one symbol per line, atomically."""
        write_text_atomic(path, "".join(s + "\n" for s in self.symbols))

    def __len__(self) -> int:
        return len(self.symbols)

    def __contains__(self, symbol: str) -> bool:
        return symbol in self._ids

    def __eq__(self, other) -> bool:
        return isinstance(other, PhoneInventory) and self.symbols == other.symbols

    @property
    def phones(self) -> List[str]:
        """The phones without the special symbols."""
        return [s for s in self.symbols if s not in SPECIAL_SYMBOLS]

    def reset_counts(self) -> None:
        """Set :attr:`num_unknown` and :attr:`num_encoded` back to 0."""
        self.num_unknown = 0
        self.num_encoded = 0

    def encode(self, phones: Iterable[str]) -> List[int]:
        """Ids of ``phones``; a phone not in the inventory becomes ``<unk>``.

        Updates :attr:`num_unknown` and :attr:`num_encoded`.
        """
        phones = list(phones)
        ids = [self._ids.get(p, self.unk_id) for p in phones]
        self.num_encoded += len(ids)
        # An explicit "<unk>" in the input is not a phone that *became* <unk>.
        self.num_unknown += sum(1 for p in phones if p not in self._ids)
        return ids

    def decode(self, ids: Iterable[int]) -> List[str]:
        """Symbols of ``ids``.

        Raises:
            IndexError: naming the id when one is outside ``[0, len)``.
        """
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.symbols):
                raise IndexError(f"phone id {i} is outside [0, {len(self.symbols)}) of {self.source}")
            out.append(self.symbols[i])
        return out


def _validate(symbols: List[str], source: str) -> None:
    """Raise PhoneInventoryError naming ``source`` and the 1-based line."""

    def fail(line: int, message: str) -> None:
        raise PhoneInventoryError(f"{source}:{line}: {message}")

    if len(symbols) < 2:
        fail(len(symbols) + 1, f"a phone inventory starts with {BLANK!r} and {UNK!r}; the list is too short")
    for expected_line, expected in ((1, BLANK), (2, UNK)):
        if symbols[expected_line - 1] != expected:
            fail(expected_line, f"expected {expected!r}, found {symbols[expected_line - 1]!r}")
    seen: Dict[str, int] = {}
    for line, symbol in enumerate(symbols, start=1):
        if symbol == "":
            fail(line, "empty line (one symbol per line expected)")
        if symbol != symbol.strip() or any(c.isspace() for c in symbol):
            fail(line, f"symbol {symbol!r} contains whitespace")
        if symbol in seen:
            fail(line, f"duplicate symbol {symbol!r} (first on line {seen[symbol]})")
        seen[symbol] = line
        if symbol == SOS_EOS and line != len(symbols):
            fail(line, f"{SOS_EOS!r} may only be the last symbol")
