"""Build the small corpus-matched LLM of the demo and the mini recipe.

Example::

    python -m espnet_llm_entropy.bin.make_tiny_llm \\
        --text data/train/text --heldout_text data/dev/text data/test/text \\
        --out_dir data/local/tiny_llm
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import fields
from pathlib import Path
from typing import List, Optional

from espnet_llm_entropy.llm.template_lm import TemplateLMConfig, make_template_lm

EPILOG = """\
The LLM reads the training transcripts plus --template_sentences sentences
drawn from the mini corpus' templates; no sentence of a
--heldout_text file is ever drawn. It gets a byte-level BPE tokenizer
trained on that text and a small Qwen2-architecture model pretrained by
next-token prediction. Output: a Hugging Face model directory (pass it as
--llm_dir / llm_conf.path) with lm_report.json (sizes, losses, held-out
perplexity), written under a temporary name and renamed when complete.
An existing complete directory is kept unless --overwrite.
"""


def get_parser() -> argparse.ArgumentParser:
    """Command-line options (defaults: :class:`TemplateLMConfig`)."""
    parser = argparse.ArgumentParser(
        prog="python -m espnet_llm_entropy.bin.make_tiny_llm",
        description="Build the small corpus-matched LLM (tokenizer + pretrained causal LM).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--text", type=Path, required=True, help="Kaldi text of the training set")
    parser.add_argument("--heldout_text", type=Path, nargs="*", default=[],
                        help="Kaldi text files never to train on (dev first: its perplexity is reported)")
    parser.add_argument("--out_dir", type=Path, required=True, help="model directory to write")
    parser.add_argument("--overwrite", action="store_true", help="rebuild even if --out_dir holds a model")
    defaults = TemplateLMConfig()
    for f in fields(TemplateLMConfig):
        value = getattr(defaults, f.name)
        parser.add_argument(f"--{f.name}", type=type(value), default=value, help=f"(default: {value})")
    parser.add_argument("--log_level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return parser


def main(cmd: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=args.log_level, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    if (args.out_dir / "config.json").is_file() and not args.overwrite:
        logging.info("%s already holds a model; nothing to do (--overwrite rebuilds it)", args.out_dir)
        return
    conf = TemplateLMConfig(**{f.name: getattr(args, f.name) for f in fields(TemplateLMConfig)})
    try:
        report = make_template_lm(args.text, args.heldout_text, args.out_dir, conf)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"make_tiny_llm: {e}")
    logging.info("wrote %s: %s", args.out_dir, json.dumps(
        {k: report[k] for k in ("num_transcripts", "num_template_sentences", "train_loss_last", "elapsed_s")}))


if __name__ == "__main__":
    main()
