"""One entry point from a transcript to a phone sequence (Mandarin + English).

``Phonemizer()(text)`` returns the phones of a Mandarin, English or
code-switched transcript in text order:

>>> Phonemizer()("我用ESPnet训练了3个模型")  # doctest: +SKIP
['uo3', 'iong4', 'EH1', 'S', ...]

How each piece is read (details in the modules named):

* Chinese characters -> pinyin initials and tonal finals, neutral tone 5,
  erhua as ``er5`` (:mod:`~espnet_llm_entropy.text.mandarin_phones`);
* English words -> stressed ARPAbet from CMUdict, OOV words through g2p_en's
  neural predictor (:mod:`~espnet_llm_entropy.text.english_phones`); a
  single Latin letter written against Chinese characters (A股, T恤) is read
  as its letter name;
* Arabic digits -> read in Chinese or English words, depending on the
  script around them (:mod:`~espnet_llm_entropy.text.script_segments`,
  :mod:`~espnet_llm_entropy.text.mandarin_numbers`,
  :mod:`~espnet_llm_entropy.text.english_numbers`);
* punctuation and whitespace -> nothing;
* anything else (other scripts, symbols, emoji) is *unknown*: dropped,
  replaced by ``<unk>`` or an error, as ``on_unknown`` says; the unknown
  pieces are reported by :meth:`Phonemizer.phonemize`.

Mandarin phones are lower case (``zh``, ``ong1``) and ARPAbet phones upper
case (``CH``, ``OW1``), so the two sets never share a symbol.

``language`` selects the readers: ``"auto"`` (default) reads each segment
by its script; ``"zh"`` reads Chinese characters and digits (in Chinese) and
treats Latin words as unknown; ``"en"`` reads Latin words and digits (in
English) and treats Chinese characters as unknown.

The object is picklable (ESPnet data-loader workers); dictionary lookups
are cached per instance and the heavy resources (pypinyin, CMUdict, the
neural predictor) load lazily, once per process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List

from espnet_llm_entropy.text.english_numbers import spell_number_en
from espnet_llm_entropy.text.english_phones import EnglishPhonemizer
from espnet_llm_entropy.text.mandarin_numbers import spell_number_zh
from espnet_llm_entropy.text.mandarin_phones import UNK_PLACEHOLDER, MandarinPhonemizer
from espnet_llm_entropy.text.script_segments import (
    Segment,
    normalize_text,
    number_languages,
    split_segments,
)

LANGUAGES = ("auto", "zh", "en")
ON_UNKNOWN = ("drop", "unk", "error")
UNK_SYMBOL = UNK_PLACEHOLDER
# A transcript with at least this many Latin words, all in capitals, is an
# all-capital transcript (LibriSpeech style): no acronym detection there.
ALL_CAPS_MIN_WORDS = 3


def check_reader_options(language: str, on_unknown: str) -> None:
    """Raise ValueError unless ``language`` and ``on_unknown`` are known values."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, got {language!r}")
    if on_unknown not in ON_UNKNOWN:
        raise ValueError(f"on_unknown must be one of {ON_UNKNOWN}, got {on_unknown!r}")


class UnknownSymbolError(ValueError):
    """Raised with ``on_unknown="error"`` when a transcript has unreadable symbols."""

    def __init__(self, symbols: List[str], text: str):
        self.symbols = symbols
        super().__init__(
            f"cannot read {len(symbols)} symbol(s) {symbols[:10]!r} in {text!r}: "
            "expected Chinese characters, English words, digits or punctuation"
        )


@dataclass
class PhonemizeResult:
    """Phones of a transcript and what could not be read.

    Attributes:
        phones: the phone sequence.
        unknown: unreadable pieces, in text order (characters, or whole
            words when a Latin word is read with ``language="zh"``).
    """

    phones: List[str] = field(default_factory=list)
    unknown: List[str] = field(default_factory=list)


class Phonemizer:
    """Transcript -> phone sequence for Mandarin, English and code-switched text.

    Args:
        language: ``"auto"`` (per-segment script detection), ``"zh"`` or
            ``"en"``; see the module docstring.
        on_unknown: what unreadable symbols become: ``"drop"`` (nothing),
            ``"unk"`` (one ``<unk>`` each) or ``"error"`` (raise
            :class:`UnknownSymbolError`).
        use_neural_oov: predict English OOV words with g2p_en's neural
            model (else spell them as letter names).

    Raises:
        ValueError: on an unknown ``language`` or ``on_unknown`` value.
    """

    def __init__(self, language: str = "auto", on_unknown: str = "drop", use_neural_oov: bool = True):
        check_reader_options(language, on_unknown)
        self.language = language
        self.on_unknown = on_unknown
        self.use_neural_oov = use_neural_oov
        self.mandarin = MandarinPhonemizer()
        self.english = EnglishPhonemizer(use_neural_oov=use_neural_oov)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(language={self.language!r}, on_unknown={self.on_unknown!r}, "
            f"use_neural_oov={self.use_neural_oov})"
        )

    def __call__(self, text: str) -> List[str]:
        """Phone sequence of ``text`` (see :meth:`phonemize`)."""
        return self.phonemize(text).phones

    def phonemize(self, text: str) -> PhonemizeResult:
        """Phones of ``text`` and the pieces that could not be read.

        Args:
            text: a transcript in any mix of Chinese, English, digits and
                punctuation.

        Returns:
            The phones and the unknown pieces.

        Raises:
            UnknownSymbolError: with ``on_unknown="error"`` when a piece
                cannot be read.
        """
        segments = split_segments(normalize_text(text))
        languages = number_languages(segments)
        if self.language != "auto":
            languages = [self.language if lang else None for lang in languages]
        latin = [s.text for s in segments if s.kind == "latin"]
        allow_acronym = not (len(latin) >= ALL_CAPS_MIN_WORDS and all(w.isupper() for w in latin))

        result = PhonemizeResult()
        han_buffer: List[str] = []  # Chinese text waiting to be read as one run

        def flush_han() -> None:
            if han_buffer:
                phones, unknown = self.mandarin("".join(han_buffer))
                result.unknown.extend(unknown)
                if unknown and self.on_unknown != "unk":
                    phones = [p for p in phones if p != UNK_SYMBOL]
                result.phones.extend(phones)
                han_buffer.clear()

        for index, seg in enumerate(segments):
            reader = self._reader_of(seg, languages[index])
            if reader == "zh":
                han_buffer.append(self._as_chinese(seg, segments, index))
                continue
            flush_han()
            if reader == "en":
                if self._is_letter_by_han(segments, index):
                    result.phones.extend(self.english.spell_letters(seg.text))
                    continue
                words = spell_number_en(seg.text) if seg.kind == "number" else [seg.text]
                for word in words:
                    result.phones.extend(self.english(word, allow_acronym=allow_acronym))
            elif reader == "unknown":
                self._add_unknown(result, list(seg.text) if seg.kind == "han" else [seg.text])
        flush_han()
        if result.unknown and self.on_unknown == "error":
            raise UnknownSymbolError(result.unknown, text)
        return result

    def _reader_of(self, seg: Segment, number_language) -> str:
        """``"zh"``, ``"en"``, ``"unknown"`` or ``"none"`` (punctuation)."""
        if seg.kind == "number":
            return number_language
        if seg.kind == "break":
            return "none"
        if seg.kind == "han":
            return "zh" if self.language in ("auto", "zh") else "unknown"
        if seg.kind == "latin":
            return "en" if self.language in ("auto", "en") else "unknown"
        return "unknown"

    @staticmethod
    def _is_letter_by_han(segments: List[Segment], index: int) -> bool:
        """A single Latin letter touching Chinese text (A股, T恤) is a letter name."""
        seg = segments[index]
        if seg.kind != "latin" or len(seg.text) != 1:
            return False
        prev_seg = segments[index - 1] if index > 0 else None
        next_seg = segments[index + 1] if index + 1 < len(segments) else None
        return (prev_seg is not None and prev_seg.kind == "han" and prev_seg.end == seg.start) or (
            next_seg is not None and next_seg.kind == "han" and next_seg.start == seg.end
        )

    @staticmethod
    def _as_chinese(seg: Segment, segments: List[Segment], index: int) -> str:
        if seg.kind != "number":
            return seg.text
        following = segments[index + 1] if index + 1 < len(segments) else None
        previous = segments[index - 1] if index > 0 else None
        # Whitespace may separate a number from its 年 or measure word ("1999 年").
        next_char = following.text[0] if following and following.kind == "han" else ""
        prev_char = previous.text[-1] if previous and previous.kind == "han" else ""
        return spell_number_zh(seg.text, next_char=next_char, prev_char=prev_char)

    def _add_unknown(self, result: PhonemizeResult, pieces: List[str]) -> None:
        result.unknown.extend(pieces)
        if self.on_unknown == "unk":
            result.phones.extend([UNK_SYMBOL] * len(pieces))
