"""Character units of a transcript: the targets of character-level CTC pretraining.

The paradigm comparison contrasts phoneme-level with character-level CTC
pretraining; both read the same transcripts, so this reader has the
interface of :class:`~espnet_llm_entropy.text.phonemizer.Phonemizer`
(``reader(text) -> list``, ``reader.phonemize(text) -> PhonemizeResult``)
and is chosen with ``--phonemizer_conf unit=char`` (see
:func:`build_unit_reader`).

Units, in text order:

* a Chinese character is one unit (``我``);
* an English word is its lower-case letters and inner apostrophes
  (``don't`` -> ``d o n ' t``), and consecutive English words are
  separated by ``<space>`` (ESPnet's word-boundary symbol for char tokens);
* a number is spelled out the way the phonemizer reads it (``3个`` ->
  ``三 个``, ``3 models`` -> ``t h r e e <space> m o d e l s``);
* punctuation and whitespace give nothing; unreadable symbols are dropped,
  become ``<unk>`` or raise, as ``on_unknown`` says.
"""

from __future__ import annotations

from typing import Dict, List, Mapping, Optional

from espnet_llm_entropy.text.english_numbers import spell_number_en
from espnet_llm_entropy.text.mandarin_numbers import spell_number_zh
from espnet_llm_entropy.text.phonemizer import (
    UNK_SYMBOL,
    Phonemizer,
    PhonemizeResult,
    UnknownSymbolError,
    check_reader_options,
)
from espnet_llm_entropy.text.script_segments import normalize_text, number_languages, split_segments

WORD_BOUNDARY = "<space>"
UNITS = ("phone", "char")


class CharacterUnits:
    """Transcript -> character units (Chinese characters, English letters).

    Args:
        language: ``"auto"``, ``"zh"`` (Latin words are unknown) or ``"en"``
            (Chinese characters are unknown), as for the phonemizer.
        on_unknown: ``"drop"``, ``"unk"`` or ``"error"``.

    Raises:
        ValueError: on an unknown ``language`` or ``on_unknown`` value.
    """

    def __init__(self, language: str = "auto", on_unknown: str = "drop"):
        check_reader_options(language, on_unknown)
        self.language = language
        self.on_unknown = on_unknown

    def __repr__(self) -> str:
        return f"{type(self).__name__}(language={self.language!r}, on_unknown={self.on_unknown!r})"

    def __call__(self, text: str) -> List[str]:
        """Character units of ``text`` (see :meth:`phonemize`)."""
        return self.phonemize(text).phones

    def phonemize(self, text: str) -> PhonemizeResult:
        """Units of ``text`` (in ``.phones``) and the pieces that could not be read.

        Raises:
            UnknownSymbolError: with ``on_unknown="error"``.
        """
        segments = split_segments(normalize_text(text))
        languages = number_languages(segments)
        if self.language != "auto":
            # as the phonemizer: digits are read in the one language chosen
            languages = [self.language if lang else None for lang in languages]
        result = PhonemizeResult()
        last_was_word = False
        for index, seg in enumerate(segments):
            if seg.kind == "break":
                continue
            words: List[str] = []
            chinese = ""
            if seg.kind == "han":
                chinese = seg.text
            elif seg.kind == "latin":
                words = [seg.text]
            elif seg.kind == "number":
                if languages[index] == "zh":
                    following = segments[index + 1] if index + 1 < len(segments) else None
                    previous = segments[index - 1] if index > 0 else None
                    next_char = following.text[0] if following is not None and following.kind == "han" else ""
                    prev_char = previous.text[-1] if previous is not None and previous.kind == "han" else ""
                    chinese = spell_number_zh(seg.text, next_char=next_char, prev_char=prev_char)
                else:
                    words = spell_number_en(seg.text)
            if chinese and self.language != "en":
                result.phones.extend(chinese)
                last_was_word = False
            elif words and self.language != "zh":
                for word in words:
                    if last_was_word:
                        result.phones.append(WORD_BOUNDARY)
                    result.phones.extend(word.lower())
                    last_was_word = True
            else:
                pieces = list(chinese) if chinese else (words or list(seg.text))
                result.unknown.extend(pieces)
                if self.on_unknown == "unk":
                    result.phones.extend([UNK_SYMBOL] * len(pieces))
        if result.unknown and self.on_unknown == "error":
            raise UnknownSymbolError(result.unknown, text)
        return result


def build_unit_reader(conf: Optional[Mapping] = None):
    """The transcript reader that ``--phonemizer_conf`` describes.

    Args:
        conf: ``unit`` (``"phone"``, the default, or ``"char"``) and the
            keyword arguments of that reader (:class:`Phonemizer` or
            :class:`CharacterUnits`).

    Returns:
        A callable ``text -> list of units`` with a ``phonemize`` method.

    Raises:
        ValueError: on an unknown unit, naming the option.
    """
    options: Dict = dict(conf or {})
    unit = options.pop("unit", "phone")
    if unit not in UNITS:
        raise ValueError(f"--phonemizer_conf unit={unit!r}: expected one of {UNITS}")
    if unit == "char":
        options.pop("use_neural_oov", None)
        return CharacterUnits(**options)
    return Phonemizer(**options)
