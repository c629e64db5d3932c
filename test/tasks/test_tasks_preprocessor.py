import numpy as np
import pytest

from espnet_llm_entropy.augment import RobustnessAugmentation
from espnet_llm_entropy.tasks.preprocessor import LLMASRPreprocessor
from espnet_llm_entropy.testing.tiny_components import make_tiny_llm_dir
from espnet_llm_entropy.text import Phonemizer, PhoneInventory
from espnet_llm_entropy.text.llm_tokenizer import load_llm_tokenizer


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return load_llm_tokenizer(make_tiny_llm_dir(tmp_path_factory.mktemp("llm") / "lm"))


def _inventory(texts):
    ph = Phonemizer()
    return PhoneInventory.build([ph(t) for t in texts])


def test_one_transcript_gives_phone_ids_and_llm_ids(tokenizer):
    inv = _inventory(["你好 hello"])
    pre = LLMASRPreprocessor(train=False, token_list=inv.symbols, llm_tokenizer=tokenizer)
    out = pre("u1", {"speech": np.zeros(1600), "text": "你好 hello"})
    assert inv.decode(out["text"]) == Phonemizer()("你好 hello")
    assert tokenizer.decode(out["llm_tokens"]) == "你好 hello"
    assert out["speech"].dtype == np.float32


def test_unknown_phones_are_counted_not_dropped(tokenizer, caplog):
    inv = _inventory(["hello"])
    pre = LLMASRPreprocessor(train=False, token_list=inv.symbols, llm_tokenizer=tokenizer)
    out = pre("u2", {"text": "hello world"})
    n_world = len(Phonemizer()("world"))
    assert len(out["text"]) == len(Phonemizer()("hello world"))
    assert (out["text"] == inv.unk_id).sum() >= 1
    assert pre.inventory.num_unknown >= 1 and "not in the phone inventory" in caplog.text
    assert n_world > 0


def test_empty_transcript_is_a_clear_error(tokenizer):
    pre = LLMASRPreprocessor(train=True, token_list=_inventory(["a"]).symbols, llm_tokenizer=tokenizer)
    with pytest.raises(ValueError, match="utt9: empty transcript"):
        pre("utt9", {"text": "  "})


def test_augmentation_runs_in_training_only_and_is_reproducible():
    aug = RobustnessAugmentation(prob=1.0)
    inv = _inventory(["a"]).symbols
    wave = np.sin(np.arange(16000) / 10.0)
    train = LLMASRPreprocessor(train=True, token_list=inv, augmentation=aug, seed=3)
    valid = LLMASRPreprocessor(train=False, token_list=inv, augmentation=aug, seed=3)
    assert np.array_equal(valid("u", {"speech": wave.copy()})["speech"], wave.astype(np.float32))
    first = train("u", {"speech": wave.copy()})["speech"]
    again = LLMASRPreprocessor(train=True, token_list=inv, augmentation=aug, seed=3)(
        "u", {"speech": wave.copy()})["speech"]
    assert len(first) >= len(wave) and not np.array_equal(first[: len(wave)], wave)
    assert np.array_equal(first, again)  # same seed, same utterance, same epoch
    second_epoch = train("u", {"speech": wave.copy()})["speech"]
    assert not np.array_equal(first, second_epoch)

