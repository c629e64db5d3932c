"""Mandarin front-end: pinyin initials/finals with tone, hand-checked readings."""

import pytest

from espnet_llm_entropy.text.mandarin_phones import ERHUA_PHONE, MandarinPhonemizer
from espnet_llm_entropy.text.phonemizer import Phonemizer

pytest.importorskip("pypinyin", reason="the Mandarin front-end needs pypinyin")


@pytest.fixture(scope="module")
def zh():
    return Phonemizer(language="zh")


@pytest.mark.parametrize(
    "text, phones",
    [
        ("你好", "n i3 h ao3"),
        ("中国", "zh ong1 g uo2"),
        # pypinyin's phrase dictionary records the spoken yí of 一 before a
        # fourth tone; no further sandhi rules are applied.
        ("一个", "i2 g e4"),
        ("一", "i1"),
        # zero-initial syllables: only the final; ü written v.
        ("月", "ve4"),
        ("玩", "uan2"),
        ("去", "q v4"),
        ("女", "n v3"),
        ("对", "d uei4"),
        ("六", "l iou4"),
        ("十", "sh i2"),
        # neutral tone = 5
        ("桌子", "zh uo1 z i5"),
        ("我的", "uo3 d e5"),
        ("妈妈", "m a1 m a5"),
        ("东西", "d ong1 x i5"),
        ("谢谢", "x ie4 x ie5"),
        # erhua: r-colouring 儿 -> er5; full-syllable 儿 keeps er2
        ("一点儿", "i4 d ian3 er5"),
        ("哪儿", "n a3 er5"),
        ("玩儿", "uan2 er5"),
        ("女儿", "n v3 er2"),
        ("儿子", "er2 z i5"),
        ("婴儿", "ing1 er2"),
        # Chinese numerals stay characters
        ("三十五", "s an1 sh i2 u3"),
        ("〇", "l ing2"),
    ],
)
def test_known_mandarin_readings(zh, text, phones):
    assert zh(text) == phones.split()


@pytest.mark.parametrize(
    "text, phones",
    [
        ("2024年", "er4 l ing2 er4 s i4 n ian2"),
        ("1999 年", "i1 j iou3 j iou3 j iou3 n ian2"),
        ("25个", "er4 sh i2 u3 g e4"),
        ("2个", "l iang3 g e4"),
        ("第2个", "d i4 er4 g e4"),
        ("2月", "er4 ve4"),
        ("25年", "er4 sh i2 u3 n ian2"),
        ("第3名", "d i4 s an1 m ing2"),
        ("3.5", "s an1 d ian3 u3"),
        ("50%", "b ai3 f en1 zh i1 u3 sh i2"),
    ],
)
def test_digits_read_in_chinese(zh, text, phones):
    assert zh(text) == phones.split()


def test_erhua_phone_is_documented_constant():
    assert ERHUA_PHONE == "er5"
    assert MandarinPhonemizer()("这儿")[0][-1] == ERHUA_PHONE


def test_character_without_reading_is_reported_in_place():
    # U+9FFF is inside the CJK block but has no pinyin reading.
    phones, unknown = MandarinPhonemizer()("你\u9fff好")
    assert unknown == ["\u9fff"]
    assert phones == ["n", "i3", "<unk>", "h", "ao3"]


def test_run_cache_gives_same_result_and_copies():
    mandarin = MandarinPhonemizer(cache_size=2)
    first, _ = mandarin("中国")
    first.append("x")  # the caller's list must not alias the cache
    assert mandarin("中国")[0] == ["zh", "ong1", "g", "uo2"]
    for text in ("你好", "世界", "中国"):
        mandarin(text)
    assert len(mandarin._cache) <= 2
