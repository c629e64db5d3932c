"""Text normalisation and mixed-granularity units."""

import pytest

from espnet_llm_entropy.evaluation import normalize_text, text_to_units


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Hello, World!", "hello world"),
        ("ＡＢＣ　１２３", "abc 123"),  # full-width letters, digits, space
        ("你好，世界。", "你好 世界"),
        ("Don't STOP -- 'now'", "don't stop now"),
        ("<unk> yes <sos/eos>", "yes"),
        ("  a\tb \n", "a b"),
        ("", ""),
    ],
)
def test_normalize_text(text, expected):
    assert normalize_text(text) == expected


def test_mixed_units_chinese_english_and_both():
    assert text_to_units("今天天气很好") == list("今天天气很好")
    assert text_to_units("Turn LEFT, at the light.") == ["turn", "left", "at", "the", "light"]
    assert text_to_units("我喜欢deep learning和NLP") == ["我", "喜", "欢", "deep", "learning", "和", "nlp"]
    assert text_to_units("ｶﾀｶﾅ") == list("カタカナ")
    assert text_to_units("") == []


def test_char_and_word_units():
    assert text_to_units("ab c，你好", "char") == ["a", "b", "c", "你", "好"]
    assert text_to_units("ab c，你好", "word") == ["ab", "c", "你好"]
    assert text_to_units("AB", "word", normalize=False) == ["AB"]
    with pytest.raises(ValueError, match="unit"):
        text_to_units("x", "phone")
