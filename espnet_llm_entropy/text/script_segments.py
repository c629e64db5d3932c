"""Split a transcript into script segments: Chinese, Latin words, numbers.

Before splitting, text is NFKC-normalised (full-width letters, digits and
punctuation become their ASCII forms), curly apostrophes become ``'`` and
accents are stripped from Latin letters (``café`` -> ``cafe``).

Segment kinds (:class:`Segment`.kind):

* ``han``: a run of Chinese characters (CJK ideographs, including 〇);
* ``latin``: an English word, ASCII letters with optional inner apostrophes;
* ``number``: a digit token (``25``, ``3.14``, ``1,000``, ``50%``, ``21st``,
  ``10:30``);
* ``break``: punctuation (Unicode category P); it produces no phones but
  ends a run of Chinese text;
* ``unknown``: a character nothing here can read (other scripts such as
  kana, Hangul or Cyrillic, symbols, emoji), one segment per character.

Whitespace is dropped. Each number gets a reading language
(:func:`number_languages`): Chinese when a Chinese character touches it
(``25个``, ``第3``), otherwise the language of the nearest word before it,
then after it, otherwise Chinese when the text has any Chinese character
and English when not.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import List, Optional

HAN_CLASS = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_TOKEN_RE = re.compile(
    r"(?P<number>[0-9]{1,2}:[0-9]{2}(?![0-9])"
    r"|[0-9]+(?:st|nd|rd|th)(?![A-Za-z])"
    r"|[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])(?:\.[0-9]+)?%?"
    r"|[0-9]+(?:\.[0-9]+)?%?)"
    rf"|(?P<han>[{HAN_CLASS}]+)"
    r"|(?P<latin>[A-Za-z]+(?:'[A-Za-z]+)*)"
    r"|(?P<space>\s+)"
    r"|(?P<other>.)",
    re.DOTALL,
)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


@dataclass(frozen=True)
class Segment:
    """One piece of a transcript.

    Attributes:
        kind: ``han``, ``latin``, ``number``, ``break`` or ``unknown``.
        text: the (normalised) characters.
        start: offset in the normalised text.
        end: offset after the last character.
    """

    kind: str
    text: str
    start: int
    end: int


def _strip_latin_accent(char: str) -> str:
    if char.isascii() or not ("\u00c0" <= char <= "\u024f" or "\u1e00" <= char <= "\u1eff"):
        return char
    base = unicodedata.normalize("NFD", char)[0]
    return base if base.isascii() else char


def normalize_text(text: str) -> str:
    """NFKC, ASCII apostrophes and accent-free Latin letters (see module doc)."""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)
    if text.isascii():
        return text
    return "".join(_strip_latin_accent(c) for c in text)


def split_segments(text: str) -> List[Segment]:
    """Split normalised text into segments (whitespace dropped).

    Args:
        text: output of :func:`normalize_text`.

    Returns:
        The segments in text order.
    """
    segments: List[Segment] = []
    for match in _TOKEN_RE.finditer(text):
        kind = match.lastgroup
        if kind == "space":
            continue
        if kind == "other":
            category = unicodedata.category(match.group())
            kind = "break" if category.startswith("P") else "unknown"
        segments.append(Segment(kind, match.group(), match.start(), match.end()))
    return segments


def number_languages(segments: List[Segment]) -> List[Optional[str]]:
    """Reading language of each number segment (None for other segments).

    Args:
        segments: output of :func:`split_segments`.

    Returns:
        ``"zh"`` or ``"en"`` at the index of each number segment, following
        the rule of the module docstring.
    """
    words = [
        ("zh" if s.kind == "han" else "en") if s.kind in ("han", "latin") else None
        for s in segments
    ]
    default = "zh" if any(s.kind == "han" for s in segments) else "en"
    result: List[Optional[str]] = [None] * len(segments)
    for i, seg in enumerate(segments):
        if seg.kind != "number":
            continue
        prev_seg = segments[i - 1] if i > 0 else None
        next_seg = segments[i + 1] if i + 1 < len(segments) else None
        touches_han = (prev_seg is not None and prev_seg.kind == "han" and prev_seg.end == seg.start) or (
            next_seg is not None and next_seg.kind == "han" and next_seg.start == seg.end
        )
        if touches_han:
            result[i] = "zh"
            continue
        before = next((w for w in reversed(words[:i]) if w), None)
        after = next((w for w in words[i + 1 :] if w), None)
        result[i] = before or after or default
    return result
