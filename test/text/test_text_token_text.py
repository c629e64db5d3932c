"""Token ids -> text without U+FFFD, on the package's byte-level BPE and a SentencePiece-style one."""

import pytest

from espnet_llm_entropy.text.llm_tokenizer import load_llm_tokenizer, train_bpe_tokenizer
from espnet_llm_entropy.text.token_text import (
    byte_level_alphabet,
    is_byte_level,
    text_from_token_ids,
)

TEXTS = ["你好 世界", "今天 天气 很好", "hello world", "打开 the light", "我 有 三 个 apple"] * 4
FFFD = "\ufffd"


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "split_cjk"])
def bpe(request, tmp_path_factory):
    """The package's byte-level BPE, saved and loaded the way the model loads it."""
    out = tmp_path_factory.mktemp("tok") / "bpe"
    train_bpe_tokenizer(TEXTS, out, vocab_size=300, min_frequency=1, split_cjk=request.param)
    return load_llm_tokenizer(out)


def _byte_ids(tok, data: bytes):
    """Ids of the single-byte tokens spelling ``data`` (one token per byte)."""
    inverse = {b: c for c, b in byte_level_alphabet().items()}
    ids = [tok.convert_tokens_to_ids(inverse[b]) for b in data]
    assert None not in ids and tok.unk_token_id not in ids
    return ids


def test_alphabet_is_a_bijection_onto_bytes():
    table = byte_level_alphabet()
    assert sorted(table.values()) == list(range(256))
    assert table["Ġ"] == ord(" ") and table["Ċ"] == ord("\n") and table["a"] == ord("a")


def test_complete_text_round_trips(bpe):
    assert is_byte_level(bpe)
    for text in ("你好 世界", "打开 the light", "hello world"):
        ids = bpe.encode(text)
        assert text_from_token_ids(bpe, ids) == bpe.decode(ids).strip() == text


def test_incomplete_character_at_the_end_is_dropped(bpe):
    hao = "好".encode("utf-8")  # 3 bytes
    ids = bpe.encode("你") + _byte_ids(bpe, hao[:2])
    assert FFFD in bpe.decode(ids)  # the root cause: decode replaces the partial bytes
    assert text_from_token_ids(bpe, ids) == "你"


def test_bytes_in_the_middle_that_form_no_character_are_dropped(bpe):
    hao = "好".encode("utf-8")
    cases = {
        "cut short by the next character": bpe.encode("你") + _byte_ids(bpe, hao[:2]) + bpe.encode(" hello"),
        "stray continuation byte": bpe.encode("你") + _byte_ids(bpe, hao[1:2]) + bpe.encode(" hello"),
        "never valid (0xff)": bpe.encode("你") + _byte_ids(bpe, b"\xff") + bpe.encode(" hello"),
        "encoded surrogate": bpe.encode("你") + _byte_ids(bpe, b"\xed\xa0\x80") + bpe.encode(" hello"),
    }
    for name, ids in cases.items():
        assert text_from_token_ids(bpe, ids) == "你 hello", name


def test_only_partial_bytes_give_empty_text(bpe):
    assert text_from_token_ids(bpe, _byte_ids(bpe, "世".encode("utf-8")[:1])) == ""
    assert text_from_token_ids(bpe, []) == ""


def test_special_and_unknown_ids_are_skipped(bpe):
    ids = [bpe.eos_token_id] + bpe.encode("hello") + [bpe.pad_token_id, len(bpe) + 50, bpe.eos_token_id]
    assert text_from_token_ids(bpe, ids) == "hello"


def test_text_is_one_line(bpe):
    ids = bpe.encode("hello") + _byte_ids(bpe, b"\n\t\x00  ") + bpe.encode("world")
    assert text_from_token_ids(bpe, ids) == "hello world"


def test_tensor_ids_are_accepted(bpe):
    import torch

    assert text_from_token_ids(bpe, torch.tensor(bpe.encode("你好"))) == "你好"


def test_added_non_special_tokens_keep_their_text(tmp_path):
    train_bpe_tokenizer(TEXTS, tmp_path / "bpe", vocab_size=300, min_frequency=1)
    tok = load_llm_tokenizer(tmp_path / "bpe")
    tok.add_tokens(["<speech>"])
    ids = tok.encode("hello") + [tok.convert_tokens_to_ids("<speech>")]
    assert text_from_token_ids(tok, ids) == "hello<speech>"


@pytest.fixture(scope="module")
def sentencepiece_style(tmp_path_factory):
    """A Llama-2-style BPE: metaspace pre-tokenizer, byte fallback pieces ``<0xNN>``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    symbols = ["<unk>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + ["▁"] + list("abcdefghijklmnopqrstuvwxyz")
    tok = Tokenizer(models.BPE(vocab={s: i for i, s in enumerate(symbols)}, merges=[], byte_fallback=True,
                               unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="</s>", unk_token="<unk>")
    out = tmp_path_factory.mktemp("sp") / "tok"
    hf.save_pretrained(out)
    return load_llm_tokenizer(out)


def test_other_tokenizers_use_their_decode_without_replacement_characters(sentencepiece_style):
    tok = sentencepiece_style
    assert not is_byte_level(tok)
    pieces = [tok.convert_tokens_to_ids(f"<0x{b:02X}>") for b in "好".encode("utf-8")]
    ids = tok.encode("hello world", add_special_tokens=False)
    assert text_from_token_ids(tok, ids + [tok.eos_token_id]) == "hello world"
    assert text_from_token_ids(tok, ids + pieces) == "hello world好"
    partial = ids + pieces[:2]
    assert FFFD in tok.decode(partial)
    assert text_from_token_ids(tok, partial) == "hello world"
