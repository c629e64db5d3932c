"""Build and pretrain small Hugging Face causal LMs from a config, offline.

The demo and the tests need a real ``AutoModelForCausalLM`` directory with a
real tokenizer but cannot download one. :func:`build_tiny_llm` is the one
build sequence (a byte-level BPE tokenizer trained on text, then
:func:`build_causal_lm`: a Qwen2 or Llama model of a chosen size from its
config, saved with the tokenizer) used by the demo and the mini recipe
(through ``llm/template_lm.py``), the tests (``testing/``) and the
benchmarks (``bench/``); :func:`pretrain_causal_lm` gives a model language
knowledge by next-token training on text (the corpus' training transcripts
in the demo).
"""

from __future__ import annotations

import logging
import math
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import List, Sequence, Union

import torch

from espnet_llm_entropy.text.llm_tokenizer import load_llm_tokenizer, save_atomically, train_bpe_tokenizer

ARCHITECTURES = {
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM"),
    "llama": ("LlamaConfig", "LlamaForCausalLM"),
}


@dataclass
class TinyLMConfig:
    """Size of a locally built causal LM."""

    arch: str = "qwen2"
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int = 128
    max_position_embeddings: int = 512
    tie_word_embeddings: bool = True


def build_causal_lm(
    tokenizer_dir: Union[str, Path],
    out_dir: Union[str, Path],
    conf: TinyLMConfig = TinyLMConfig(),
    seed: int = 0,
):
    """Create a randomly initialised causal LM sized by ``conf`` and save it.

    Args:
        tokenizer_dir: local tokenizer directory; copied into ``out_dir``.
        out_dir: model directory (config.json, model.safetensors, tokenizer).
        conf: architecture and size.
        seed: initialisation seed.

    Returns:
        The model (float32, eval mode).
    """
    import transformers

    if conf.arch not in ARCHITECTURES:
        raise ValueError(f"arch={conf.arch!r}: expected one of {sorted(ARCHITECTURES)}")
    config_cls_name, model_cls_name = ARCHITECTURES[conf.arch]
    tok = load_llm_tokenizer(tokenizer_dir)
    config = getattr(transformers, config_cls_name)(
        vocab_size=len(tok),
        hidden_size=conf.hidden_size,
        intermediate_size=conf.intermediate_size,
        num_hidden_layers=conf.num_layers,
        num_attention_heads=conf.num_heads,
        num_key_value_heads=conf.num_kv_heads,
        max_position_embeddings=conf.max_position_embeddings,
        tie_word_embeddings=conf.tie_word_embeddings,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(seed)
    model = getattr(transformers, model_cls_name)(config)
    save_model_dir(model, tok, out_dir)
    return model.eval()


def build_tiny_llm(
    out_dir: Union[str, Path],
    texts: Sequence[str],
    conf: TinyLMConfig = TinyLMConfig(),
    vocab_size: int = 1000,
    seed: int = 0,
    min_frequency: int = 2,
    split_cjk: bool = False,
):
    """Train a byte-level BPE tokenizer on ``texts`` and save a random causal LM with it.

    The tokenizer is trained in a temporary sibling of ``out_dir`` (removed
    afterwards; the model directory holds its own copy).

    Args:
        out_dir: model directory to write (config.json, weights, tokenizer).
        texts: tokenizer training text.
        conf: architecture and size.
        vocab_size: BPE vocabulary size (special tokens included).
        seed: initialisation seed.
        min_frequency, split_cjk: see :func:`~espnet_llm_entropy.text.llm_tokenizer.train_bpe_tokenizer`.

    Returns:
        The model (float32, eval mode).
    """
    out_dir = Path(out_dir)
    tok_dir = out_dir.parent / f"{out_dir.name}.tokenizer.partial"
    if tok_dir.exists():
        shutil.rmtree(tok_dir)
    train_bpe_tokenizer(texts, tok_dir, vocab_size=vocab_size, min_frequency=min_frequency, split_cjk=split_cjk)
    try:
        return build_causal_lm(tok_dir, out_dir, conf, seed=seed)
    finally:
        shutil.rmtree(tok_dir, ignore_errors=True)


def save_model_dir(model, tokenizer, out_dir: Union[str, Path]) -> None:
    """Save model and tokenizer into one directory atomically."""

    class _Both:
        def save_pretrained(self, path):
            model.save_pretrained(path)
            tokenizer.save_pretrained(path)

    save_atomically(_Both(), out_dir)


def sentence_ids(tok, text: str) -> List[int]:
    """``bos + text + eos`` token ids (bos is the eos token for the tokenizers built here)."""
    start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    return [start] + tok(text, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]


def right_padded(seqs: Sequence[Sequence[int]], pad_id: int):
    """Id lists -> ``input_ids`` (B, L) padded with ``pad_id`` and ``attention_mask`` (B, L)."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
    return ids, mask


def pretrain_causal_lm(
    model_dir: Union[str, Path],
    texts: Sequence[str],
    steps: int = 300,
    batch_size: int = 16,
    lr: float = 3e-3,
    seed: int = 0,
    log_every: int = 50,
) -> List[float]:
    """Next-token training of the LM in ``model_dir`` on ``texts``; saves in place.

    Each sentence is ``bos + text + eos`` (bos is the eos token for the
    tokenizers built here), so the first word is learned too; batches are
    right-padded and the padding is excluded from the loss.

    Returns:
        The training loss (nats/token) at every step.
    """
    from tqdm import tqdm
    from transformers import AutoModelForCausalLM

    texts = [t for t in texts if t.strip()]
    if not texts:
        raise ValueError("pretrain_causal_lm: no training text")
    tok = load_llm_tokenizer(model_dir)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), local_files_only=True)
    model.train()
    encoded = [sentence_ids(tok, t) for t in texts]
    rng = random.Random(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 20) * 0.5 * (1 + math.cos(math.pi * s / steps))
    )
    losses = []
    for step in tqdm(range(steps), desc="pretrain LLM", leave=False):
        batch = [encoded[rng.randrange(len(encoded))] for _ in range(batch_size)]
        ids, mask = right_padded(batch, tok.pad_token_id)
        labels = ids.masked_fill(mask == 0, -100)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if log_every and (step + 1) % log_every == 0:
            logging.info("LLM pretraining step %d: loss %.3f", step + 1, losses[-1])
    model.eval()
    save_model_dir(model, tok, model_dir)
    return losses


@torch.no_grad()
def text_perplexity(model_dir: Union[str, Path], texts: Sequence[str], batch_size: int = 64) -> dict:
    """Text-only perplexity of the causal LM in ``model_dir`` on ``texts``.

    Each sentence is scored as ``text + eos`` with no prompt: the first token
    is predicted from the BOS (= EOS) token.

    Returns:
        ``{"num_sentences", "num_tokens", "nll_per_token" (nats),
        "perplexity", "bits_per_sentence"}``.
    """
    from transformers import AutoModelForCausalLM

    texts = [t for t in texts if t.strip()]
    if not texts:
        raise ValueError("text_perplexity: no text given")
    tok = load_llm_tokenizer(model_dir)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), local_files_only=True).eval()
    total_nll = 0.0
    total_tokens = 0
    for i in range(0, len(texts), batch_size):
        ids, mask = right_padded([sentence_ids(tok, t) for t in texts[i : i + batch_size]], tok.pad_token_id)
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
        targets = ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
        nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, ignore_index=-100, reduction="sum")
        total_nll += float(nll)
        total_tokens += int((targets != -100).sum())
    per_token = total_nll / total_tokens
    return {
        "num_sentences": len(texts),
        "num_tokens": total_tokens,
        "nll_per_token": per_token,
        "perplexity": math.exp(per_token),
        "bits_per_sentence": total_nll / math.log(2) / len(texts),
    }
