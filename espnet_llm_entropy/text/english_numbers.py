"""Spell out Arabic-digit numbers as English words.

Reading rules (what :func:`spell_number_en` does with a number token):

* Integers are read as cardinals: ``42`` -> ``forty two``,
  ``1,000,000`` -> ``one million``, ``105`` -> ``one hundred five`` (no
  "and", as in American English).
* Four-digit integers written without a thousands separator between 1100
  and 2099 are read the way years (and round quantities) are said:
  ``1999`` -> ``nineteen ninety nine``, ``2024`` -> ``twenty twenty four``,
  ``1500`` -> ``fifteen hundred``, ``2005`` -> ``two thousand five``,
  ``2000`` -> ``two thousand``. ``1,999`` keeps the cardinal reading.
* A run starting with ``0`` (``007``) or longer than 15 digits is read digit
  by digit (``zero zero seven``).
* Decimals: ``3.14`` -> ``three point one four``.
* Ordinals: ``1st`` -> ``first``, ``22nd`` -> ``twenty second``.
* A trailing ``%`` adds ``percent``.
* Clock times ``H:MM``: ``10:30`` -> ``ten thirty``, ``9:05`` ->
  ``nine oh five``, ``9:00`` -> ``nine o'clock``.
"""

from __future__ import annotations

import re
from typing import List

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve "
    "thirteen fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))

# Ordinal forms of the words a cardinal can end with.
_ORDINAL_OF = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}

_CLOCK_RE = re.compile(r"^([0-9]{1,2}):([0-9]{2})$")
_ORDINAL_RE = re.compile(r"^([0-9]+)(st|nd|rd|th)$", re.IGNORECASE)
_NUMBER_RE = re.compile(r"^([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.([0-9]+))?(%?)$")


def _below_thousand(n: int) -> List[str]:
    """Words of 0 < n < 1000."""
    words: List[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [_ONES[hundreds], "hundred"]
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(_TENS[tens])
        if ones:
            words.append(_ONES[ones])
    elif rest:
        words.append(_ONES[rest])
    return words


def cardinal_words(n: int) -> List[str]:
    """English cardinal words of a non-negative integer below 10**15.

    Args:
        n: the number, 0 <= n < 10**15.

    Returns:
        The words, e.g. ``[ "forty", "two" ]`` for 42.

    Raises:
        ValueError: if n is negative or too large.
    """
    if n < 0 or n >= 10**15:
        raise ValueError(f"cardinal_words expects 0 <= n < 10**15, got {n}")
    if n == 0:
        return ["zero"]
    words: List[str] = []
    for value, name in _SCALES:
        count, n = divmod(n, value)
        if count:
            words += _below_thousand(count) + [name]
    if n:
        words += _below_thousand(n)
    return words


def ordinal_words(n: int) -> List[str]:
    """English ordinal words of a non-negative integer (``22`` -> twenty second)."""
    words = cardinal_words(n)
    last = words[-1]
    if last in _ORDINAL_OF:
        words[-1] = _ORDINAL_OF[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return words


def digit_words(digits: str) -> List[str]:
    """Read a digit string one digit at a time (``"007"`` -> zero zero seven)."""
    return [_ONES[int(d)] for d in digits]


def year_style_words(n: int) -> List[str]:
    """Words of 1100 <= n <= 2099 as a year is said (``1999`` -> nineteen ninety nine)."""
    if not 1100 <= n <= 2099:
        raise ValueError(f"year_style_words expects 1100..2099, got {n}")
    high, low = divmod(n, 100)
    if 2000 <= n <= 2009:
        return cardinal_words(n)
    if low == 0:
        return _below_thousand(high) + ["hundred"]
    if low < 10:
        return _below_thousand(high) + ["oh", _ONES[low]]
    return _below_thousand(high) + _below_thousand(low)


def _integer_words(text: str) -> List[str]:
    """Words of an integer string that may hold thousands separators."""
    digits = text.replace(",", "")
    if (len(digits) > 1 and digits[0] == "0") or len(digits) > 15:
        return digit_words(digits)
    value = int(digits)
    if "," not in text and len(digits) == 4 and 1100 <= value <= 2099:
        return year_style_words(value)
    return cardinal_words(value)


def is_english_number(token: str) -> bool:
    """True when :func:`spell_number_en` can read ``token``."""
    return bool(_CLOCK_RE.match(token) or _ORDINAL_RE.match(token) or _NUMBER_RE.match(token))


def spell_number_en(token: str) -> List[str]:
    """Spell a number token in English words (rules in the module docstring).

    Args:
        token: e.g. ``"42"``, ``"3.14"``, ``"1,000"``, ``"21st"``, ``"50%"``,
            ``"10:30"``.

    Returns:
        Lower-case English words.

    Raises:
        ValueError: if the token is not a number this speller reads.
    """
    clock = _CLOCK_RE.match(token)
    if clock:
        hours, minutes = int(clock.group(1)), int(clock.group(2))
        words = cardinal_words(hours)
        if minutes == 0:
            return words + ["o'clock"]
        if minutes < 10:
            return words + ["oh", _ONES[minutes]]
        return words + cardinal_words(minutes)
    ordinal = _ORDINAL_RE.match(token)
    if ordinal:
        return ordinal_words(int(ordinal.group(1)))
    number = _NUMBER_RE.match(token)
    if not number:
        raise ValueError(f"not a number token that can be spelled in English: {token!r}")
    integer, fraction, percent = number.groups()
    digits = integer.replace(",", "")
    if fraction and len(digits) <= 15:
        # "2024.5" is a quantity, never a year: always the cardinal reading.
        words = cardinal_words(int(digits))
    else:
        words = _integer_words(integer)
    if fraction:
        words += ["point"] + digit_words(fraction)
    if percent:
        words.append("percent")
    return words
