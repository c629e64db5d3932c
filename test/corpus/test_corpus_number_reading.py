"""Numbers written out in Chinese characters and English words."""

import pytest

from espnet_llm_entropy.corpus.number_reading import (
    en_cardinal,
    en_clock_time,
    en_digit_string,
    en_ordinal,
    en_year,
    zh_cardinal,
    zh_clock_time,
    zh_digit_string,
)


@pytest.mark.parametrize(
    "value, expected",
    [(0, "零"), (7, "七"), (10, "十"), (15, "十五"), (20, "二十"), (99, "九十九"),
     (100, "一百"), (105, "一百零五"), (110, "一百一十"), (999, "九百九十九"),
     (1005, "一千零五"), (2000, "两千"), (2026, "两千零二十六"), (30005, "三万零五")],
)
def test_zh_cardinal(value, expected):
    assert zh_cardinal(value) == expected


@pytest.mark.parametrize(
    "value, expected",
    [(0, "zero"), (13, "thirteen"), (20, "twenty"), (42, "forty two"),
     (105, "one hundred five"), (999, "nine hundred ninety nine"), (2000, "two thousand")],
)
def test_en_cardinal(value, expected):
    assert en_cardinal(value) == expected


def test_ordinals_years_digits():
    assert en_ordinal(1) == "first"
    assert en_ordinal(12) == "twelfth"
    assert en_ordinal(21) == "twenty first"
    assert en_ordinal(30) == "thirtieth"
    assert en_year(1998) == "nineteen ninety eight"
    assert en_year(2005) == "two thousand five"
    assert en_year(2026) == "twenty twenty six"
    assert en_year(1905) == "nineteen oh five"
    assert zh_digit_string("1385") == "一三八五"
    assert en_digit_string("307") == "three zero seven"


def test_clock_times():
    assert zh_clock_time(2, 0) == "两点"
    assert zh_clock_time(3, 30) == "三点半"
    assert zh_clock_time(7, 5) == "七点零五分"
    assert zh_clock_time(10, 15) == "十点十五分"
    assert en_clock_time(3, 0) == "three"
    assert en_clock_time(7, 5) == "seven oh five"
    assert en_clock_time(10, 30) == "ten thirty"


@pytest.mark.parametrize(
    "call",
    [lambda: zh_cardinal(-1), lambda: zh_cardinal(100000), lambda: en_ordinal(0),
     lambda: zh_clock_time(13, 0), lambda: en_clock_time(1, 60), lambda: zh_digit_string("12a")],
)
def test_out_of_range_is_an_error(call):
    with pytest.raises(ValueError, match="expected"):
        call()
