"""Read Arabic-digit numbers as Chinese characters (to be romanised later).

Chinese numerals already written as characters (三十五, 〇) are left alone;
this module only rewrites digit tokens, so that pypinyin sees ordinary text
and can use its phrase context. Rules of :func:`spell_number_zh`:

* Integers of at most 9 digits (or with thousands separators) are read as
  quantities: ``25`` -> 二十五, ``105`` -> 一百零五, ``1005`` -> 一千零五,
  ``100005`` -> 十万零五, ``15`` -> 十五 (not 一十五). A 2 directly before
  千, 万 or 亿 is read 两 (``2000`` -> 两千, ``20000`` -> 两万); so is a lone
  ``2`` before a measure word of :data:`MEASURE_WORDS` (``2个`` -> 两个,
  ``2年`` -> 两年) unless 第 precedes it (``第2个`` -> 第二个); elsewhere 二
  (``2月`` -> 二月, ``12个`` -> 十二个).
* A year: four digits followed by 年 (whitespace between allowed) are read
  digit by digit (``2024年`` -> 二零二四年); other lengths before 年 are durations
  (``25年`` -> 二十五年).
* A run starting with ``0`` (``007``) or longer than 9 digits (phone numbers,
  ids) is read digit by digit with 零 for 0.
* Decimals: ``3.14`` -> 三点一四. A trailing ``%``: ``50%`` -> 百分之五十.
* Ordinal suffixes written the English way: ``21st`` -> 第二十一.
* Clock times ``H:MM``: ``10:30`` -> 十点三十分, ``9:05`` -> 九点零五分,
  ``9:00`` -> 九点.
"""

from __future__ import annotations

import re
from typing import List

DIGIT_CHARS = "零一二三四五六七八九"
_SMALL_UNITS = ("", "十", "百", "千")
_BIG_UNITS = ("", "万", "亿", "万亿")

_CLOCK_RE = re.compile(r"^([0-9]{1,2}):([0-9]{2})$")
_ORDINAL_RE = re.compile(r"^([0-9]+)(st|nd|rd|th)$", re.IGNORECASE)
_NUMBER_RE = re.compile(r"^([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.([0-9]+))?(%?)$")
MAX_QUANTITY_DIGITS = 9
# Measure words (and time units) before which a lone 2 is said 两.
MEASURE_WORDS = frozenset(
    "个只位次本张条件天年种台辆块元岁人点倍头匹架封份"
    "把双口间座棵朵片瓶杯碗斤米克周页部首句层场节道门"
)


def digits_zh(digits: str) -> str:
    """Read a digit string one digit at a time (``"2024"`` -> 二零二四)."""
    return "".join(DIGIT_CHARS[int(d)] for d in digits)


def _group_zh(group: int, before_big_unit: bool) -> str:
    """Characters of 0 < group < 10000 (no leading 零)."""
    out: List[str] = []
    digits = f"{group:04d}"
    pending_zero = False
    for pos, ch in enumerate(digits):
        d = int(ch)
        unit = _SMALL_UNITS[3 - pos]
        if d == 0:
            pending_zero = bool(out)
            continue
        if pending_zero:
            out.append("零")
            pending_zero = False
        is_last = pos == 3
        if d == 2 and (unit == "千" or (is_last and before_big_unit and not out)):
            out.append("两")
        else:
            out.append(DIGIT_CHARS[d])
        out.append(unit)
    return "".join(out)


def quantity_zh(n: int) -> str:
    """Chinese characters of a non-negative integer below 10**16.

    Args:
        n: the number.

    Returns:
        e.g. 二十五 for 25, 一百零五 for 105, 十万零五 for 100005.

    Raises:
        ValueError: if n is negative or >= 10**16.
    """
    if n < 0 or n >= 10**16:
        raise ValueError(f"quantity_zh expects 0 <= n < 10**16, got {n}")
    if n == 0:
        return "零"
    groups = []
    while n:
        n, group = divmod(n, 10000)
        groups.append(group)
    out: List[str] = []
    zero_gap = False
    for idx in range(len(groups) - 1, -1, -1):
        group = groups[idx]
        if group == 0:
            zero_gap = bool(out)
            continue
        if out and (group < 1000 or zero_gap):
            out.append("零")
        out.append(_group_zh(group, before_big_unit=idx > 0) + _BIG_UNITS[idx])
        zero_gap = False
    text = "".join(out)
    # 10..19 at the head of a number is said 十X, not 一十X.
    if text.startswith("一十"):
        text = text[1:]
    return text


def _integer_zh(text: str, before_nian: bool) -> str:
    digits = text.replace(",", "")
    if before_nian and len(digits) == 4 and "," not in text:
        return digits_zh(digits)
    if "," not in text and (
        (len(digits) > 1 and digits[0] == "0") or len(digits) > MAX_QUANTITY_DIGITS
    ):
        return digits_zh(digits)
    if len(digits) > 16:
        return digits_zh(digits)
    return quantity_zh(int(digits))


def is_chinese_number(token: str) -> bool:
    """True when :func:`spell_number_zh` can read ``token``."""
    return bool(_CLOCK_RE.match(token) or _ORDINAL_RE.match(token) or _NUMBER_RE.match(token))


def spell_number_zh(token: str, next_char: str = "", prev_char: str = "") -> str:
    """Rewrite a number token as Chinese characters (rules in the module docstring).

    Args:
        token: e.g. ``"25"``, ``"2024"``, ``"3.14"``, ``"50%"``, ``"10:30"``.
        next_char: the character right after the token in the text (a 年
            after four digits makes them a year; a measure word after 2
            makes it 两).
        prev_char: the character right before the token (第 keeps 2 as 二).

    Returns:
        The Chinese reading, e.g. ``"二十五"``.

    Raises:
        ValueError: if the token is not a number this reader handles.
    """
    clock = _CLOCK_RE.match(token)
    if clock:
        hours, minutes = int(clock.group(1)), int(clock.group(2))
        text = quantity_zh(hours) + "点"
        if minutes == 0:
            return text
        if minutes < 10:
            return text + "零" + DIGIT_CHARS[minutes] + "分"
        return text + quantity_zh(minutes) + "分"
    ordinal = _ORDINAL_RE.match(token)
    if ordinal:
        return "第" + _integer_zh(ordinal.group(1), before_nian=False)
    number = _NUMBER_RE.match(token)
    if not number:
        raise ValueError(f"not a number token that can be read in Chinese: {token!r}")
    integer, fraction, percent = number.groups()
    if integer == "2" and not fraction and not percent and next_char in MEASURE_WORDS and prev_char != "第":
        return "两"
    if fraction:
        digits = integer.replace(",", "")
        text = quantity_zh(int(digits)) if len(digits) <= 16 else digits_zh(digits)
        text += "点" + digits_zh(fraction)
    else:
        text = _integer_zh(integer, before_nian=next_char == "年")
    if percent:
        text = "百分之" + text
    return text
