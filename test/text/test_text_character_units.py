"""CharacterUnits (character-level CTC targets) and build_unit_reader."""

import pickle

import pytest

from espnet_llm_entropy.text.character_units import (
    WORD_BOUNDARY,
    CharacterUnits,
    build_unit_reader,
)
from espnet_llm_entropy.text.english_numbers import spell_number_en
from espnet_llm_entropy.text.mandarin_numbers import spell_number_zh
from espnet_llm_entropy.text.phonemizer import Phonemizer, UnknownSymbolError

SP = WORD_BOUNDARY


def _letters(*words):
    """Units of consecutive English words: letters, <space> between words."""
    units = []
    for i, word in enumerate(words):
        if i:
            units.append(SP)
        units.extend(word)
    return units


def test_word_boundary_is_espnets_space_symbol():
    assert SP == "<space>"


def test_chinese_characters_are_one_unit_each():
    assert CharacterUnits()("我喜欢语音识别") == list("我喜欢语音识别")


def test_whitespace_between_chinese_characters_gives_no_unit():
    assert CharacterUnits()("你好 世界") == ["你", "好", "世", "界"]


def test_english_words_are_lower_case_letters_with_space_between():
    assert CharacterUnits()("Hello World") == _letters("hello", "world")
    assert CharacterUnits()("ESPnet") == list("espnet")


def test_apostrophes_inside_words_are_kept():
    units = CharacterUnits()("Don't STOP")
    assert units == ["d", "o", "n", "'", "t", SP, "s", "t", "o", "p"]
    # curly apostrophes are normalised to "'"
    assert CharacterUnits()("it\u2019s") == ["i", "t", "'", "s"]


def test_space_only_between_consecutive_english_words():
    units = CharacterUnits()("我喜欢 speech recognition 和 deep learning")
    assert units == (
        list("我喜欢")
        + _letters("speech", "recognition")
        + ["和"]
        + _letters("deep", "learning")
    )
    # no boundary next to a Chinese character, even without spaces in the text
    assert CharacterUnits()("用ESPnet训练") == ["用"] + list("espnet") + ["训", "练"]
    assert SP not in CharacterUnits()("你好 hello 世界")


def test_no_leading_or_trailing_boundary():
    units = CharacterUnits()("  hello  ")
    assert units == list("hello")
    units = CharacterUnits()("hello 你好 world")
    assert units[0] != SP and units[-1] != SP and units.count(SP) == 0


def test_number_in_chinese_context_is_spelled_in_chinese():
    units = CharacterUnits()("我有3个苹果")
    three = spell_number_zh("3", next_char="个")
    assert units == list("我有") + list(three) + list("个苹果")
    assert three == "三"  # guard: the expected form is not empty / the digit


def test_two_before_a_measure_word_and_after_di():
    assert CharacterUnits()("2个") == list(spell_number_zh("2", next_char="个")) + ["个"]
    assert CharacterUnits()("2个")[0] == "两"
    # 第 keeps the ordinal reading (as the phonemizer reads it)
    assert CharacterUnits()("第2个") == ["第", spell_number_zh("2", next_char="个", prev_char="第"), "个"]
    assert CharacterUnits()("第2个") == ["第", "二", "个"]


def test_multi_digit_chinese_number_is_one_unit_per_character():
    units = CharacterUnits()("我有 21 个")
    spelled = spell_number_zh("21", next_char="个")
    assert len(spelled) > 1
    assert units == list("我有") + list(spelled) + ["个"]
    assert all(u not in "0123456789" for u in units)


def test_number_in_english_context_is_spelled_in_english_words():
    units = CharacterUnits()("21 models")
    words = spell_number_en("21")
    assert len(words) >= 2  # "twenty one": a boundary inside the number, too
    assert units == _letters(*words, "models")


def test_number_between_english_words_keeps_word_boundaries():
    units = CharacterUnits()("I trained 21 models")
    assert units == _letters("i", "trained", *spell_number_en("21"), "models")


def test_ordinal_and_clock_in_english():
    assert CharacterUnits()("the 21st") == _letters("the", *spell_number_en("21st"))
    # "o'clock" keeps its apostrophe
    units = CharacterUnits()("at 10:00")
    assert units == _letters("at", *spell_number_en("10:00"))
    assert "'" in units


@pytest.mark.parametrize(
    "text, expected",
    [
        # digits touching Chinese characters are read in Chinese
        ("买了3个apple", list("买了") + list(spell_number_zh("3", next_char="个")) + ["个"] + list("apple")),
        # after an English word they are read in English
        ("iPhone 15 很贵", _letters("iphone", *spell_number_en("15")) + list("很贵")),
        # the nearest word before decides, even with an English word after
        ("我有 21 models", list("我有") + list(spell_number_zh("21")) + list("models")),
        # a number alone: Chinese only when the text has Chinese in it
        ("42", _letters(*spell_number_en("42"))),
        ("你好 42", list("你好") + list(spell_number_zh("42"))),
        # full-width digits are normalised
        ("\uff12\uff15个", list(spell_number_zh("25", next_char="个")) + ["个"]),
    ],
)
def test_digit_language_follows_context(text, expected):
    units = CharacterUnits()(text)
    assert units == expected
    assert not any(u.isdigit() for u in units)


def test_punctuation_is_dropped():
    assert CharacterUnits()("你好，世界！") == list("你好世界")
    assert CharacterUnits()("Hello, world.") == _letters("hello", "world")
    result = CharacterUnits(on_unknown="error").phonemize("，。!?...—「」")
    assert result.phones == [] and result.unknown == []


def test_unknown_symbols_drop():
    result = CharacterUnits().phonemize("ok カナ 😀 你好")
    assert result.phones == ["o", "k", "你", "好"]
    assert result.unknown == ["カ", "ナ", "😀"]


def test_unknown_symbols_unk():
    units = CharacterUnits(on_unknown="unk")("ok カナ 😀 你好")
    assert units == ["o", "k", "<unk>", "<unk>", "<unk>", "你", "好"]


def test_unknown_symbols_error_lists_the_symbol():
    with pytest.raises(UnknownSymbolError, match="カ") as info:
        CharacterUnits(on_unknown="error")("你好 カ")
    assert info.value.symbols == ["カ"]
    assert "cannot read 1 symbol" in str(info.value)
    # readable text does not raise
    assert CharacterUnits(on_unknown="error")("你好 hello 3个") != []


def test_language_zh_treats_latin_words_as_unknown():
    result = CharacterUnits(language="zh").phonemize("你好 hello 12")
    assert result.unknown == ["hello"]  # the whole word
    assert result.phones == list("你好") + list(spell_number_zh("12"))
    assert CharacterUnits(language="zh", on_unknown="unk")("你好 hello") == ["你", "好", "<unk>"]
    with pytest.raises(UnknownSymbolError, match="hello"):
        CharacterUnits(language="zh", on_unknown="error")("你好 hello")


def test_language_en_treats_chinese_characters_as_unknown():
    result = CharacterUnits(language="en").phonemize("你好 hello 12")
    assert result.unknown == ["你", "好"]
    assert result.phones == _letters("hello", *spell_number_en("12"))
    assert CharacterUnits(language="en", on_unknown="unk")("你好 hello") == [
        "<unk>", "<unk>", "h", "e", "l", "l", "o"]


def test_forced_language_reads_digits_in_that_language():
    # with the context alone the number would be read the other way round
    en = CharacterUnits(language="en").phonemize("你好 12")
    assert en.phones == _letters(*spell_number_en("12")) and en.unknown == ["你", "好"]
    zh = CharacterUnits(language="zh").phonemize("hello 12")
    assert zh.phones == list(spell_number_zh("12")) and zh.unknown == ["hello"]


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="language must be one of"):
        CharacterUnits(language="fr")
    with pytest.raises(ValueError, match="on_unknown must be one of"):
        CharacterUnits(on_unknown="ignore")


def test_phonemize_result_matches_call():
    reader = CharacterUnits(on_unknown="unk")
    text = "我用ESPnet训练了3个模型 カ"
    assert reader(text) == reader.phonemize(text).phones


def test_build_unit_reader_default_and_phone():
    for conf in (None, {}, {"unit": "phone"}):
        reader = build_unit_reader(conf)
        assert type(reader) is Phonemizer, conf


def test_build_unit_reader_char():
    reader = build_unit_reader({"unit": "char"})
    assert type(reader) is CharacterUnits
    assert reader("你好 hello") == ["你", "好", "h", "e", "l", "l", "o"]


def test_build_unit_reader_passes_options_through():
    reader = build_unit_reader({"unit": "char", "language": "zh", "on_unknown": "unk"})
    assert isinstance(reader, CharacterUnits)
    assert (reader.language, reader.on_unknown) == ("zh", "unk")
    # the phone-only option is accepted (and ignored) for characters
    reader = build_unit_reader({"unit": "char", "use_neural_oov": False})
    assert isinstance(reader, CharacterUnits)
    phones = build_unit_reader({"unit": "phone", "language": "en", "on_unknown": "error", "use_neural_oov": False})
    assert isinstance(phones, Phonemizer)
    assert (phones.language, phones.on_unknown, phones.use_neural_oov) == ("en", "error", False)
    with pytest.raises(ValueError, match="on_unknown must be one of"):
        build_unit_reader({"unit": "char", "on_unknown": "nope"})


def test_build_unit_reader_does_not_modify_the_conf():
    conf = {"unit": "char", "language": "en", "use_neural_oov": True}
    build_unit_reader(conf)
    assert conf == {"unit": "char", "language": "en", "use_neural_oov": True}


def test_build_unit_reader_rejects_unknown_unit():
    with pytest.raises(ValueError, match="unit") as info:
        build_unit_reader({"unit": "bpe"})
    message = str(info.value)
    assert "--phonemizer_conf unit=" in message and "bpe" in message
    assert "char" in message and "phone" in message


def test_reader_is_picklable():
    reader = CharacterUnits(language="auto", on_unknown="unk")
    text = "我用ESPnet训练了3个模型 カ"
    expected = reader(text)
    clone = pickle.loads(pickle.dumps(reader))
    assert isinstance(clone, CharacterUnits)
    assert (clone.language, clone.on_unknown) == ("auto", "unk")
    assert clone(text) == expected
    built = pickle.loads(pickle.dumps(build_unit_reader({"unit": "char", "language": "zh"})))
    assert built.language == "zh" and built("hello 你") == ["你"]


def test_repr_names_the_options():
    assert repr(CharacterUnits(language="en", on_unknown="unk")) == (
        "CharacterUnits(language='en', on_unknown='unk')")
