"""Text normalisation and splitting into scoring units (mixed CJK / words).

Normalisation (:func:`normalize_text`), applied to references and hypotheses
alike before any metric:

1. Unicode NFKC: full-width letters, digits, punctuation and spaces become
   their half-width forms (``ＡＢＣ１２３`` -> ``ABC123``, ``，`` -> ``,``),
   half-width katakana become full-width;
2. tags in angle brackets without spaces are dropped (``<unk>``,
   ``<sos/eos>``, ``<|endoftext|>``), since decoders emit them, not speakers;
3. lower case (``str.casefold``);
4. every punctuation or symbol character (Unicode categories P* and S*)
   becomes a space, except an apostrophe between two letters or digits
   (``don't`` stays one word);
5. runs of white space collapse to one space; leading/trailing space goes.

Units (:func:`text_to_units`):

- ``"mixed"``: each CJK character (Han ideographs, kana, Hangul syllables) is
  one unit; each maximal run of other non-space characters (Latin letters,
  digits, apostrophes, other alphabets) is one word unit. So Chinese is
  scored by character and English by word, also inside one code-switched
  sentence: ``"我喜欢 deep learning"`` -> ``我 喜 欢 deep learning`` (5 units).
- ``"char"``: every non-space character is a unit (CER).
- ``"word"``: white-space separated words (WER).
"""

from __future__ import annotations

import re
import unicodedata
from typing import List

UNIT_TYPES = ("mixed", "char", "word")

_CJK_RANGES = (
    "\u3040-\u309f"  # Hiragana
    "\u30a0-\u30ff"  # Katakana
    "\u3400-\u4dbf"  # CJK Unified Ideographs Extension A
    "\u4e00-\u9fff"  # CJK Unified Ideographs
    "\uac00-\ud7af"  # Hangul syllables
    "\uf900-\ufaff"  # CJK Compatibility Ideographs
    "\U00020000-\U0002ebef"  # Extensions B-F
    "\U00030000-\U0003134f"  # Extension G
)
_MIXED_UNIT = re.compile(f"[{_CJK_RANGES}]|[^\\s{_CJK_RANGES}]+")
_CJK_CHAR = re.compile(f"[{_CJK_RANGES}]")
_TAG = re.compile(r"<[^<>\s]+>")
_SPACES = re.compile(r"\s+")


def is_cjk_char(char: str) -> bool:
    """True when ``char`` is scored as one unit of its own in ``"mixed"`` mode."""
    return _CJK_CHAR.fullmatch(char) is not None


def _keep_apostrophe(text: str, i: int) -> bool:
    return 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()


def normalize_text(text: str) -> str:
    """Normalise ``text`` for scoring (see the module docstring for the steps)."""
    text = unicodedata.normalize("NFKC", text)
    text = _TAG.sub(" ", text)
    text = text.casefold()
    chars = []
    for i, char in enumerate(text):
        if char == "'" and _keep_apostrophe(text, i):
            chars.append(char)
        elif unicodedata.category(char)[0] in ("P", "S"):
            chars.append(" ")
        else:
            chars.append(char)
    return _SPACES.sub(" ", "".join(chars)).strip()


def text_to_units(text: str, unit: str = "mixed", normalize: bool = True) -> List[str]:
    """Split ``text`` into scoring units.

    Args:
        text: one transcript.
        unit: ``"mixed"``, ``"char"`` or ``"word"`` (see the module docstring).
        normalize: apply :func:`normalize_text` first.

    Returns:
        the units in order (empty for an empty transcript).
    """
    if unit not in UNIT_TYPES:
        raise ValueError(f"unit: expected one of {UNIT_TYPES}, got {unit!r}")
    if normalize:
        text = normalize_text(text)
    if unit == "word":
        return text.split()
    if unit == "char":
        return [c for c in text if not c.isspace()]
    return _MIXED_UNIT.findall(text)
