"""The corpus-matched small LLM of the demo and the mini recipe (one builder, one preset).

Real LLM-ASR systems start from an LLM that has read far more text than the
speech data holds; that language prior is what the LLM contributes to
recognition, and what the entropy-allocation analysis measures. A randomly
initialised LM of a few hundred thousand parameters has no such prior, so
:func:`make_template_lm` gives it one:

1. text: the training transcripts plus ``template_sentences`` sentences
   drawn from the corpus' own templates
   (:func:`~espnet_llm_entropy.corpus.lm_text.sample_lm_sentences`), with
   every held-out (dev/test) transcript kept out;
2. a byte-level BPE tokenizer trained on that text (large enough that every
   template character and word is one or a few whole tokens);
3. a small Qwen2-architecture causal LM, pretrained by next-token prediction;
4. ``lm_report.json``: sizes, losses and the held-out perplexity.

The directory is a plain Hugging Face model directory (``--llm_dir``),
written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Union

from espnet_llm_entropy.corpus.lm_text import sample_lm_sentences
from espnet_llm_entropy.fileio.kaldi_map import read_kaldi_text
from espnet_llm_entropy.llm.tiny_lm import TinyLMConfig, build_tiny_llm, pretrain_causal_lm, text_perplexity

PathLike = Union[str, Path]
REPORT_NAME = "lm_report.json"


@dataclass
class TemplateLMConfig:
    """Size and training of the corpus-matched LLM (defaults: the demo's and the mini recipe's).

    Attributes:
        vocab_size: BPE vocabulary size.
        hidden_size: model width.
        num_layers: decoder blocks.
        num_heads: attention heads.
        num_kv_heads: key/value heads (grouped-query attention).
        template_sentences: sentences drawn from the corpus templates on top
            of the training transcripts (0: the transcripts only). The
            default is 100 times the 600 transcripts of the first demo corpus
            and 6 times the 10,000 of the current one.
        steps: next-token training steps.
        batch_size: sentences per step.
        lr: peak learning rate (AdamW, warmup then cosine decay).
        seed: seed of the text sampling, initialisation and batch order.
    """

    vocab_size: int = 1500
    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    template_sentences: int = 60000
    steps: int = 1500
    batch_size: int = 64
    lr: float = 3e-3
    seed: int = 0

    def validate(self) -> None:
        """Raise ValueError naming the field that is out of range."""
        for name in ("vocab_size", "hidden_size", "num_layers", "num_heads", "num_kv_heads", "steps", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}: expected an integer >= 1, got {getattr(self, name)!r}")
        if self.template_sentences < 0:
            raise ValueError(f"template_sentences: expected an integer >= 0, got {self.template_sentences!r}")
        if self.hidden_size % self.num_heads or self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"hidden_size={self.hidden_size}, num_heads={self.num_heads}, num_kv_heads={self.num_kv_heads}: "
                "expected num_heads to divide hidden_size and num_kv_heads to divide num_heads"
            )
        if not self.lr > 0:
            raise ValueError(f"lr: expected a positive number, got {self.lr!r}")


def read_kaldi_transcripts(path: PathLike) -> List[str]:
    """Transcripts of a Kaldi ``text`` file in file order; lines with only an id (non-speech) are skipped.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an utterance id occurs twice.
    """
    return [t.strip() for t in read_kaldi_text(path).values() if t.strip()]


def make_template_lm(
    train_text: PathLike,
    heldout_texts: Sequence[PathLike],
    out_dir: PathLike,
    conf: TemplateLMConfig = TemplateLMConfig(),
) -> Dict:
    """Build the corpus-matched LLM into ``out_dir`` (see the module docstring).

    Args:
        train_text: Kaldi ``text`` of the training set.
        heldout_texts: Kaldi ``text`` files whose sentences the LM must never
            see (dev, test); the first one also gives the reported perplexity.
        out_dir: model directory to write (replaced if it exists).
        conf: sizes and training.

    Returns:
        The report also written to ``out_dir/lm_report.json``.
    """
    conf.validate()
    start = time.time()
    out_dir = Path(out_dir)
    transcripts = read_kaldi_transcripts(train_text)
    if not transcripts:
        raise ValueError(f"{train_text}: no transcripts to train the LLM on")
    heldout = {str(p): read_kaldi_transcripts(p) for p in heldout_texts}
    excluded = {t for texts in heldout.values() for t in texts}
    template_text = sample_lm_sentences(conf.template_sentences, excluded, seed=conf.seed)
    texts = transcripts + template_text
    logging.info("LLM text: %d transcripts + %d template sentences (%d held-out sentences excluded)",
                 len(transcripts), len(template_text), len(excluded))
    partial = out_dir.parent / f"{out_dir.name}.partial"
    if partial.exists():
        shutil.rmtree(partial)
    size = TinyLMConfig(
        hidden_size=conf.hidden_size, num_layers=conf.num_layers, num_heads=conf.num_heads,
        num_kv_heads=conf.num_kv_heads, intermediate_size=2 * conf.hidden_size,
    )
    build_tiny_llm(partial, texts, size, vocab_size=conf.vocab_size, seed=conf.seed, split_cjk=True)
    losses = pretrain_causal_lm(partial, texts, steps=conf.steps, batch_size=conf.batch_size,
                                lr=conf.lr, seed=conf.seed)
    report = {
        "config": asdict(conf),
        "num_transcripts": len(transcripts),
        "num_template_sentences": len(template_text),
        "num_excluded_sentences": len(excluded),
        "train_loss_first": losses[0],
        "train_loss_last": sum(losses[-20:]) / len(losses[-20:]),
        "heldout_perplexity": {
            name: text_perplexity(partial, texts_) for name, texts_ in heldout.items() if texts_
        },
        "elapsed_s": round(time.time() - start, 1),
    }
    (partial / REPORT_NAME).write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    partial.rename(out_dir)
    return report
