"""LLM tokenizer glue: train a small byte-level BPE tokenizer, load any local one.

Real LLMs ship their own tokenizer; for the bundled corpus and the tests we
train a byte-level BPE tokenizer with Hugging Face ``tokenizers`` on the
training transcripts and save it as a ``PreTrainedTokenizerFast`` directory,
so that every consumer loads it the same way as a downloaded model's
tokenizer: ``AutoTokenizer.from_pretrained(local_dir)``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Union

EOS_TOKEN = "<|endoftext|>"
PAD_TOKEN = "<|pad|>"
#: one CJK unified ideograph (basic block and extension A)
CJK_CHARACTER = "[\u3400-\u4dbf\u4e00-\u9fff]"


def train_bpe_tokenizer(
    texts: Iterable[str],
    out_dir: Union[str, Path],
    vocab_size: int = 1000,
    min_frequency: int = 2,
    split_cjk: bool = False,
):
    """Train a byte-level BPE tokenizer on ``texts`` and save it to ``out_dir``.

    Args:
        texts: training sentences (any script; bytes are the base alphabet).
        out_dir: directory written atomically (temporary sibling, then rename).
        vocab_size: target vocabulary size including special tokens.
        min_frequency: minimum pair count for a merge.
        split_cjk: make every CJK character its own pre-token, so merges
            never span two characters: a character is one token (or its
            bytes), never part of a multi-character chunk whose boundaries
            depend on the neighbours (``三四九`` -> ``三``, ``四``, ``九``).
            English words are merged as usual.

    Returns:
        The trained ``PreTrainedTokenizerFast`` (eos = pad-free
        ``<|endoftext|>``, pad = ``<|pad|>``).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    texts = [t for t in texts if t.strip()]
    if not texts:
        raise ValueError("train_bpe_tokenizer: no non-empty training text given")
    tok = Tokenizer(models.BPE())
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False)
    if split_cjk:
        from tokenizers import Regex

        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Split(Regex(CJK_CHARACTER), behavior="isolated"), byte_level]
        )
    else:
        tok.pre_tokenizer = byte_level
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[EOS_TOKEN, PAD_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=EOS_TOKEN,
        bos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        clean_up_tokenization_spaces=False,
    )
    save_atomically(hf_tok, out_dir)
    return hf_tok


def save_atomically(obj, out_dir: Union[str, Path]) -> None:
    """``obj.save_pretrained`` into a temporary sibling of ``out_dir``, then rename."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        obj.save_pretrained(tmp)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def load_llm_tokenizer(path: Union[str, Path]):
    """Load the tokenizer saved in a local model directory, with clear errors.

    Raises:
        FileNotFoundError: the directory does not exist or holds no tokenizer.
        ValueError: the tokenizer has no EOS token (needed to end transcripts).
    """
    from transformers import AutoTokenizer

    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"LLM directory not found: {path}")
    known = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")
    if not any((path / name).exists() for name in known):
        raise FileNotFoundError(
            f"no tokenizer in {path}: expected one of {', '.join(known)} "
            "(save it with tokenizer.save_pretrained(dir))"
        )
    tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    if tok.eos_token_id is None:
        raise ValueError(f"tokenizer in {path} has no eos_token; set one and re-save it")
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok
