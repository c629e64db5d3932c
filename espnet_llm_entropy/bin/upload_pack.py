"""Prepare ESPnet's Hugging Face model repository for a pack and upload it (llm_asr.sh stage 15).

Writes ``<expdir>/hf_<hf_repo with / as _>`` (asr.sh's folder): the pack's
files with ``meta.yaml`` at the top and a README.md model card (recipe,
how to load it, the base LLM's identity, RESULTS.md, the config), then
uploads it with ``huggingface_hub``. Without a network the upload fails
within seconds (exit status 1) naming the prepared folder, which stays for
the user to push.

Example::

    python -m espnet_llm_entropy.bin.upload_pack \\
        --pack exp/llm_asr_method/llm_asr_method_valid.acc.ave.zip \\
        --hf_repo me/mini_bilingual_llm_asr --expdir exp
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import List, Optional

from espnet2.utils.types import str2bool

logger = logging.getLogger("upload_pack")


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="ESPnet Hugging Face model repository for an LLM-ASR pack, and its upload",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--pack", required=True, help="the pack of stage 14")
    parser.add_argument("--hf_repo", required=True, help="<user>/<name> on huggingface.co")
    parser.add_argument("--expdir", default="exp", help="the repository folder goes to <expdir>/hf_<hf_repo>")
    parser.add_argument("--lang", default="noinfo", help="language tag of the model card")
    parser.add_argument("--push", type=str2bool, default=True, help="false: prepare the folder only")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the hub")
    return parser


def main(cmd: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(sys.argv[1:] if cmd is None else cmd)
    logging.basicConfig(level="INFO", format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    from espnet_llm_entropy.packing import hf_upload

    if args.hf_repo.count("/") != 1 or not all(args.hf_repo.split("/")):
        raise SystemExit(f"upload_pack: error: --hf_repo {args.hf_repo!r}: expected <user>/<name>")
    pack = Path(args.pack)
    if not pack.is_file():
        raise SystemExit(f"upload_pack: error: --pack {pack}: no such file (run stage 14 first)")
    repo_dir = hf_upload.repo_dir_for(Path(args.expdir), args.hf_repo)
    try:
        hf_upload.prepare_repository(pack, repo_dir, hf_upload.card_info_here(args.hf_repo, args.lang))
    except (ValueError, OSError) as exc:
        raise SystemExit(f"upload_pack: error: preparing {repo_dir} from {pack}: {exc}") from exc
    logger.info("prepared %s", hf_upload.read_identity_summary(repo_dir))
    if not args.push:
        return
    try:
        hf_upload.upload_repository(repo_dir, args.hf_repo, args.timeout)
    except hf_upload.UploadError as exc:
        logger.error("%s", exc)
        raise SystemExit(1) from exc
    logger.info("uploaded %s to https://huggingface.co/%s", repo_dir, args.hf_repo)


if __name__ == "__main__":
    main()
