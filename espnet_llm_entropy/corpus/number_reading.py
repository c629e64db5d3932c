"""Numbers written out as words: Chinese characters and lowercase English.

The mini corpus never puts Arabic digits in a transcript. Every number is
written the way it is spoken, so that the reference is unambiguous and the
text that espeak-ng reads is exactly the transcript:

* Mandarin uses Chinese numerals (``二十三``, ``一百零五``), ``两`` before a
  measure (``两点`` = two o'clock, ``两杯``) and digit-by-digit reading for
  phone numbers and years (``一三八``, ``二零二六年``);
* English uses lowercase words without hyphens (``twenty three``), ordinals
  for days of the month (``twenty first``) and "oh" for a leading zero in
  clock minutes (``seven oh five``).
"""

from typing import List

ZH_DIGITS = "零一二三四五六七八九"

EN_ONES = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
    "seventeen", "eighteen", "nineteen",
]
EN_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy",
           "eighty", "ninety"]
EN_ORDINAL_ONES = {
    "one": "first", "two": "second", "three": "third", "four": "fourth",
    "five": "fifth", "six": "sixth", "seven": "seventh", "eight": "eighth",
    "nine": "ninth", "ten": "tenth", "eleven": "eleventh", "twelve": "twelfth",
    "thirteen": "thirteenth", "fourteen": "fourteenth", "fifteen": "fifteenth",
    "sixteen": "sixteenth", "seventeen": "seventeenth", "eighteen": "eighteenth",
    "nineteen": "nineteenth", "twenty": "twentieth", "thirty": "thirtieth",
    "forty": "fortieth", "fifty": "fiftieth", "sixty": "sixtieth",
    "seventy": "seventieth", "eighty": "eightieth", "ninety": "ninetieth",
}


def _check_range(value: int, low: int, high: int, what: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what}: expected an int, got {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{what}: expected {low} <= n <= {high}, got {value}")


def zh_cardinal(value: int) -> str:
    """Chinese numeral for 0 <= value <= 99999, as spoken.

    Examples: 10 -> 十, 15 -> 十五, 20 -> 二十, 105 -> 一百零五,
    110 -> 一百一十, 2000 -> 两千, 30005 -> 三万零五.
    """
    _check_range(value, 0, 99999, "zh_cardinal")
    if value == 0:
        return "零"
    units = [(10000, "万"), (1000, "千"), (100, "百"), (10, "十"), (1, "")]
    out: List[str] = []
    pending_zero = False
    for unit, name in units:
        digit = (value // unit) % 10
        if digit == 0:
            if out:
                pending_zero = True
            continue
        if pending_zero:
            out.append("零")
            pending_zero = False
        if unit == 10 and digit == 1 and not out:
            out.append("十")  # 十五, not 一十五, at the start of a number
        elif digit == 2 and unit >= 1000 and not out:
            out.append("两" + name)
        else:
            out.append(ZH_DIGITS[digit] + name)
    return "".join(out)


def zh_digit_string(digits: str) -> str:
    """Digit-by-digit reading: "1385" -> 一三八五 (phone numbers, years)."""
    if not digits or not digits.isascii() or not digits.isdigit():
        raise ValueError(f"zh_digit_string: expected ASCII digits, got {digits!r}")
    return "".join(ZH_DIGITS[int(d)] for d in digits)


def en_cardinal(value: int) -> str:
    """English words for 0 <= value <= 9999: 23 -> "twenty three"."""
    _check_range(value, 0, 9999, "en_cardinal")
    if value < 20:
        return EN_ONES[value]
    if value < 100:
        tens, ones = divmod(value, 10)
        return EN_TENS[tens] + ("" if ones == 0 else " " + EN_ONES[ones])
    if value < 1000:
        hundreds, rest = divmod(value, 100)
        head = EN_ONES[hundreds] + " hundred"
        return head if rest == 0 else head + " " + en_cardinal(rest)
    thousands, rest = divmod(value, 1000)
    head = EN_ONES[thousands] + " thousand"
    return head if rest == 0 else head + " " + en_cardinal(rest)


def en_ordinal(value: int) -> str:
    """English ordinal words for 1 <= value <= 99: 21 -> "twenty first"."""
    _check_range(value, 1, 99, "en_ordinal")
    words = en_cardinal(value).split()
    words[-1] = EN_ORDINAL_ONES[words[-1]]
    return " ".join(words)


def en_digit_string(digits: str) -> str:
    """Digit-by-digit reading: "1385" -> "one three eight five"."""
    if not digits or not digits.isascii() or not digits.isdigit():
        raise ValueError(f"en_digit_string: expected ASCII digits, got {digits!r}")
    return " ".join(EN_ONES[int(d)] for d in digits)


def en_year(year: int) -> str:
    """Year as spoken: 1998 -> "nineteen ninety eight", 2005 -> "two
    thousand five", 2026 -> "twenty twenty six"."""
    _check_range(year, 1100, 2099, "en_year")
    if 2000 <= year <= 2009:
        return en_cardinal(year)
    century, rest = divmod(year, 100)
    if rest == 0:
        return en_cardinal(century) + " hundred"
    if rest < 10:
        return en_cardinal(century) + " oh " + EN_ONES[rest]
    return en_cardinal(century) + " " + en_cardinal(rest)


def en_clock_time(hour: int, minute: int) -> str:
    """Clock time as spoken: (7, 5) -> "seven oh five", (10, 30) -> "ten
    thirty", (3, 0) -> "three"."""
    _check_range(hour, 1, 12, "en_clock_time hour")
    _check_range(minute, 0, 59, "en_clock_time minute")
    if minute == 0:
        return en_cardinal(hour)
    if minute < 10:
        return f"{en_cardinal(hour)} oh {EN_ONES[minute]}"
    return f"{en_cardinal(hour)} {en_cardinal(minute)}"


def zh_clock_time(hour: int, minute: int) -> str:
    """Clock time as spoken: (2, 0) -> 两点, (3, 30) -> 三点半,
    (7, 5) -> 七点零五分, (10, 15) -> 十点十五分."""
    _check_range(hour, 1, 12, "zh_clock_time hour")
    _check_range(minute, 0, 59, "zh_clock_time minute")
    head = ("两" if hour == 2 else zh_cardinal(hour)) + "点"
    if minute == 0:
        return head
    if minute == 30:
        return head + "半"
    if minute < 10:
        return head + "零" + zh_cardinal(minute) + "分"
    return head + zh_cardinal(minute) + "分"
