"""Digit reading in Chinese characters and in English words (hand-checked)."""

import pytest

from espnet_llm_entropy.text.english_numbers import cardinal_words, ordinal_words, spell_number_en
from espnet_llm_entropy.text.mandarin_numbers import quantity_zh, spell_number_zh


@pytest.mark.parametrize(
    "token, words",
    [
        ("0", "zero"),
        ("7", "seven"),
        ("13", "thirteen"),
        ("42", "forty two"),
        ("90", "ninety"),
        ("105", "one hundred five"),
        ("1005", "one thousand five"),
        ("1,000,000", "one million"),
        ("12,345", "twelve thousand three hundred forty five"),
        ("1999", "nineteen ninety nine"),
        ("2024", "twenty twenty four"),
        ("2005", "two thousand five"),
        ("1500", "fifteen hundred"),
        ("1905", "nineteen oh five"),
        ("3000", "three thousand"),
        ("007", "zero zero seven"),
        ("3.14", "three point one four"),
        ("0.5", "zero point five"),
        ("50%", "fifty percent"),
        ("1st", "first"),
        ("22nd", "twenty second"),
        ("3rd", "third"),
        ("12th", "twelfth"),
        ("20th", "twentieth"),
        ("10:30", "ten thirty"),
        ("9:05", "nine oh five"),
        ("9:00", "nine o'clock"),
    ],
)
def test_spell_number_en(token, words):
    assert spell_number_en(token) == words.split()


def test_english_cardinal_limits():
    assert cardinal_words(10**15 - 1)[:2] == ["nine", "hundred"]
    with pytest.raises(ValueError, match="10\\*\\*15"):
        cardinal_words(10**15)
    assert ordinal_words(101) == ["one", "hundred", "first"]
    with pytest.raises(ValueError, match="not a number"):
        spell_number_en("12ab")


@pytest.mark.parametrize(
    "token, next_char, chinese",
    [
        ("0", "", "零"),
        ("2", "", "二"),
        ("10", "", "十"),
        ("15", "", "十五"),
        ("25", "", "二十五"),
        ("105", "", "一百零五"),
        ("110", "", "一百一十"),
        ("1005", "", "一千零五"),
        ("2000", "", "两千"),
        ("12000", "", "一万两千"),
        ("20000", "", "两万"),
        ("100005", "", "十万零五"),
        ("10000000", "", "一千万"),
        ("2024", "年", "二零二四"),
        ("25", "年", "二十五"),
        ("007", "", "零零七"),
        ("13812345678", "", "一三八一二三四五六七八"),
        ("3.14", "", "三点一四"),
        ("50%", "", "百分之五十"),
        ("21st", "", "第二十一"),
        ("10:30", "", "十点三十分"),
        ("9:05", "", "九点零五分"),
        ("9:00", "", "九点"),
        ("1,000,000", "", "一百万"),
        ("2", "个", "两"),
        ("2", "月", "二"),
        ("12", "个", "十二"),
    ],
)
def test_spell_number_zh(token, next_char, chinese):
    assert spell_number_zh(token, next_char=next_char) == chinese


def test_two_after_di_stays_er():
    assert spell_number_zh("2", next_char="个", prev_char="第") == "二"


def test_chinese_quantity_limits():
    assert quantity_zh(100010000) == "一亿零一万"
    with pytest.raises(ValueError, match="10\\*\\*16"):
        quantity_zh(10**16)
    with pytest.raises(ValueError, match="not a number"):
        spell_number_zh("1a")
