#!/usr/bin/env python3
"""Build the mini recipe's LLM: a small causal LM pretrained on the training transcripts.

The mini corpus is synthetic and tiny; a real LLM would dominate a CPU run.
This trains a byte-level BPE tokenizer on the transcripts of a Kaldi ``text``
file, creates a small Qwen2-architecture model and gives it language
knowledge by next-token training on the same sentences. The directory is a
regular Hugging Face model directory (``config.json``, weights, tokenizer):
pass it to the recipe as ``--llm_dir``. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path
from typing import List, Optional


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--text", type=Path, required=True, help="Kaldi text file ('<utt-id> <transcript>')")
    parser.add_argument("--out_dir", type=Path, required=True, help="model directory to write")
    parser.add_argument("--vocab_size", type=int, default=600, help="tokenizer vocabulary size")
    parser.add_argument("--hidden_size", type=int, default=64)
    parser.add_argument("--num_layers", type=int, default=2)
    parser.add_argument("--steps", type=int, default=300, help="next-token training steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log_level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return parser


def read_transcripts(path: Path) -> List[str]:
    """Transcripts of a Kaldi text file (lines with only an id are skipped)."""
    texts = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            parts = line.rstrip("\n").split(maxsplit=1)
            if not parts:
                raise ValueError(f"{path}:{lineno}: blank line; expected '<utt-id> <transcript>'")
            if len(parts) == 2 and parts[1].strip():
                texts.append(parts[1].strip())
    if not texts:
        raise ValueError(f"{path}: no transcripts")
    return texts


def main(cmd: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=args.log_level, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    if (args.out_dir / "config.json").is_file():
        logging.info("%s already holds a model; nothing to do", args.out_dir)
        return
    from espnet_llm_entropy.llm.tiny_lm import TinyLMConfig, build_causal_lm, pretrain_causal_lm
    from espnet_llm_entropy.text.llm_tokenizer import train_bpe_tokenizer

    texts = read_transcripts(args.text)
    tok_dir = args.out_dir.parent / f"{args.out_dir.name}_tokenizer"
    logging.info("tokenizer: %d sentences -> %s", len(texts), tok_dir)
    train_bpe_tokenizer(texts, tok_dir, vocab_size=args.vocab_size, min_frequency=2)
    conf = TinyLMConfig(
        hidden_size=args.hidden_size, num_layers=args.num_layers,
        intermediate_size=2 * args.hidden_size,
    )
    # built and trained under a temporary name, renamed when complete
    partial = args.out_dir.parent / f"{args.out_dir.name}.partial"
    if partial.exists():
        shutil.rmtree(partial)
    build_causal_lm(tok_dir, partial, conf, seed=args.seed)
    losses = pretrain_causal_lm(partial, texts, steps=args.steps, seed=args.seed)
    logging.info("LM pretraining loss: first %.3f, last %.3f nats/token", losses[0], losses[-1])
    if args.out_dir.exists():
        shutil.rmtree(args.out_dir)
    partial.rename(args.out_dir)
    logging.info("wrote %s", args.out_dir)


if __name__ == "__main__":
    sys.exit(main())
