"""LLMASRPreprocessor with phonemizer_conf unit=char: character-unit CTC targets."""

import pickle

import numpy as np
import pytest

from espnet_llm_entropy.tasks.preprocessor import LLMASRPreprocessor
from espnet_llm_entropy.text.character_units import CharacterUnits
from espnet_llm_entropy.text.phone_inventory import PhoneInventory
from espnet_llm_entropy.text.phonemizer import Phonemizer

TRAIN_TEXTS = ["你好 hello", "我有3个 apple", "hello world 你好"]


def _char_inventory(texts=TRAIN_TEXTS) -> PhoneInventory:
    reader = CharacterUnits()
    return PhoneInventory.build([reader(t) for t in texts])


def test_char_units_become_ids_without_llm_tokenizer():
    inv = _char_inventory()
    pre = LLMASRPreprocessor(train=False, token_list=inv.symbols, phonemizer_conf={"unit": "char"})
    assert isinstance(pre.phonemizer, CharacterUnits)
    out = pre("u1", {"speech": np.zeros(1600), "text": "你好 hello"})
    expected = PhoneInventory(inv.symbols).encode(CharacterUnits()("你好 hello"))
    assert out["text"].dtype == np.int64
    assert out["text"].tolist() == expected
    assert inv.decode(out["text"]) == ["你", "好", "h", "e", "l", "l", "o"]
    assert inv.unk_id not in expected
    assert "llm_tokens" not in out  # no LLM tokenizer, no LLM targets
    assert out["speech"].dtype == np.float32


def test_char_word_boundary_is_encoded():
    inv = _char_inventory()
    pre = LLMASRPreprocessor(train=False, token_list=inv.symbols, phonemizer_conf={"unit": "char"})
    out = pre("u2", {"text": "hello world"})
    assert inv.decode(out["text"]) == list("hello") + ["<space>"] + list("world")
    assert out["text"].tolist().count(inv.symbols.index("<space>")) == 1


def test_char_inventory_from_file_and_unknown_units(tmp_path, caplog):
    inv = _char_inventory(["你好 hello"])
    path = tmp_path / "chars.txt"
    inv.save(path)
    pre = LLMASRPreprocessor(train=False, token_list=str(path), phonemizer_conf={"unit": "char"})
    out = pre("u3", {"text": "你们 hello"})
    assert out["text"].tolist() == [inv.symbols.index("你"), inv.unk_id] + [
        inv.symbols.index(c) for c in "hello"]
    assert pre.inventory.num_unknown == 1 and "not in the phone inventory" in caplog.text


def test_char_options_reach_the_reader():
    inv = _char_inventory()
    pre = LLMASRPreprocessor(
        train=False, token_list=inv.symbols,
        phonemizer_conf={"unit": "char", "language": "zh", "on_unknown": "drop"})
    out = pre("u4", {"text": "你好 hello"})
    assert inv.decode(out["text"]) == ["你", "好"]


def test_default_conf_still_uses_the_phonemizer():
    pre = LLMASRPreprocessor(train=False, token_list=_char_inventory().symbols)
    assert isinstance(pre.phonemizer, Phonemizer)


def test_bad_unit_fails_at_construction():
    with pytest.raises(ValueError, match="--phonemizer_conf unit="):
        LLMASRPreprocessor(train=False, token_list=_char_inventory().symbols, phonemizer_conf={"unit": "bpe"})


def test_char_preprocessor_is_picklable():
    inv = _char_inventory()
    pre = LLMASRPreprocessor(train=False, token_list=inv.symbols, phonemizer_conf={"unit": "char"})
    clone = pickle.loads(pickle.dumps(pre))
    assert clone("u5", {"text": "你好 hello"})["text"].tolist() == pre("u5", {"text": "你好 hello"})["text"].tolist()
