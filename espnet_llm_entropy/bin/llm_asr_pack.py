"""Pack an LLM-ASR model for sharing; asr.sh stage 14 compatible.

Takes the arguments of ``python -m espnet2.bin.pack asr`` (what asr.sh's
stage 14 passes: ``--asr_train_config``, ``--asr_model_file``, ``--option``
files, ``--outpath``) and writes ESPnet's pack format with what an LLM-ASR
model needs besides (see :mod:`espnet_llm_entropy.packing.pack_model`): the
config rewritten to point into the pack, the phone inventory, the LLM
tokenizer, the base LLM's identity, and with ``--include_llm true`` the
base LLM itself. asr.sh reaches it through the ``--python`` prefix
(``espnet_llm_entropy.bin.asr_sh_python`` routes ``espnet2.bin.pack`` here).

A missing ``<exp>/images`` option (asr.sh always packs it; our multi-stage
trainings do not plot into the experiment folder) is produced from the
training's learning curves first. Configs of other models (phoneme CTC)
and other pack tasks go to ESPnet's ``pack`` unchanged.

Example::

    python -m espnet_llm_entropy.bin.llm_asr_pack asr \\
        --asr_train_config exp/llm_asr_method/config.yaml \\
        --asr_model_file exp/llm_asr_method/valid.acc.ave.pth \\
        --option exp/llm_asr_method/RESULTS.md --include_llm true \\
        --outpath exp/llm_asr_method/llm_asr_method_valid.acc.ave.zip
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import List, Optional

from espnet2.utils.types import str2bool

logger = logging.getLogger("llm_asr_pack")


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Pack an LLM-ASR model (ESPnet's pack format; asr.sh stage 14 compatible)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("task", choices=["asr"], help="ESPnet's pack task (only asr is LLM-ASR)")
    parser.add_argument("--outpath", required=True, help="the pack: .zip, .tar, .tgz, .tar.gz ...")
    parser.add_argument("--asr_train_config", required=True, help="the training config.yaml")
    parser.add_argument("--asr_model_file", required=True, help="the checkpoint to pack")
    parser.add_argument("--lm_train_config", default=None, help="not supported (the LLM is the LM)")
    parser.add_argument("--lm_file", default=None, help="not supported (the LLM is the LM)")
    parser.add_argument("--option", action="append", default=[], help="more files or folders to pack")
    parser.add_argument("--include_llm", type=str2bool, default=False,
                        help="also pack the base LLM directory (llm_conf.path)")
    return parser


def is_llm_asr_config(config: str) -> bool:
    """Whether a training config describes an LLM-ASR model (``llm_conf.path`` set)."""
    from espnet_llm_entropy.packing.pack_model import read_config

    conf = read_config(config)
    return bool(conf.get("llm")) and bool((conf.get("llm_conf") or {}).get("path"))


def make_missing_images(options: List[str], model_file: str) -> None:
    """Produce ``images`` options that do not exist (see the module docstring)."""
    from espnet_llm_entropy.packing.pack_model import ensure_images

    for option in options:
        path = Path(option)
        if path.name == "images" and not path.exists():
            ensure_images(path, model_file)
            logger.info("wrote the learning curves into %s (asr.sh packs it)", path)


def espnet_pack_args(args: argparse.Namespace) -> List[str]:
    """The same request as ESPnet's ``pack asr`` arguments."""
    out = ["asr", "--outpath", args.outpath, "--asr_train_config", args.asr_train_config,
           "--asr_model_file", args.asr_model_file]
    for option in args.option:
        out += ["--option", option]
    return out


def main(cmd: Optional[List[str]] = None) -> None:
    argv = sys.argv[1:] if cmd is None else list(cmd)
    if argv and not argv[0].startswith("-") and argv[0] != "asr":
        from espnet2.bin.pack import main as espnet_pack  # other tasks: ESPnet's pack as is

        espnet_pack(argv)
        return
    args = get_parser().parse_args(argv)
    logging.basicConfig(level="INFO", format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    try:
        if args.lm_train_config or args.lm_file:
            raise ValueError("--lm_train_config/--lm_file: LLM-ASR packs hold no external LM (use_lm false)")
        make_missing_images(args.option, args.asr_model_file)
        if not is_llm_asr_config(args.asr_train_config):
            from espnet2.bin.pack import main as espnet_pack

            logger.info("%s is not an LLM-ASR config: ESPnet's pack as is", args.asr_train_config)
            espnet_pack(espnet_pack_args(args))
            return
        from espnet_llm_entropy.packing.pack_model import describe_pack, pack_llm_asr

        out = pack_llm_asr(args.asr_train_config, args.asr_model_file, args.outpath, args.option,
                           include_llm=args.include_llm)
        logger.info("Generate: %s", describe_pack(out, args.include_llm))
    except (ValueError, FileNotFoundError, OSError) as exc:
        logger.error("%s", exc)
        raise SystemExit(f"llm_asr_pack: error: {exc}") from exc


if __name__ == "__main__":
    main()
