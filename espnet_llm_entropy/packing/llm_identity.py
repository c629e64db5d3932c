"""Which base LLM a packed model needs, and whether a directory is that LLM.

Our checkpoints leave the frozen base LLM out; they store its fingerprint
instead (:func:`espnet_llm_entropy.models.hf_causal_lm.base_model_reference`,
kept as the ``llm._extra_state`` entry of the state dict). A pack carries
that fingerprint, with the LLM's path as it was written in the training
config, in ``llm_identity.yaml``; loading a pack elsewhere checks the LLM
directory it is given against it *before* building anything, so a wrong
directory is one clear error naming both sides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Union

import torch

from espnet_llm_entropy.models.hf_causal_lm import config_sha256, weight_file_bytes

#: Name of the identity file inside a pack.
IDENTITY_FILE = "llm_identity.yaml"

#: File names a Hugging Face tokenizer may be saved as (copied into a pack).
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "vocab.txt",
    "merges.txt",
    "tokenizer.model",
    "spiece.model",
    "chat_template.jinja",
)


class LLMIdentityError(ValueError):
    """The base LLM a pack needs is missing or is not the one it was trained on."""


def reference_from_checkpoint(model_file: Union[str, Path]) -> Dict[str, object]:
    """The base-LLM fingerprint stored in a checkpoint (``<name>._extra_state``).

    Raises:
        ValueError: the checkpoint holds no LLM fingerprint (not an LLM-ASR
            checkpoint), naming the file.
    """
    state = torch.load(str(model_file), map_location="cpu", weights_only=True)
    found = [
        value for key, value in state.items()
        if key.endswith("_extra_state") and isinstance(value, dict) and "config_sha256" in value
    ]
    if len(found) != 1:
        raise ValueError(
            f"{model_file}: expected one base-LLM fingerprint (an '*._extra_state' entry with "
            f"config_sha256), found {len(found)}; is this an LLM-ASR checkpoint?"
        )
    return dict(found[0])


def make_identity(
    reference: Dict[str, object], path_as_trained: str, gguf_file: Optional[str], packed_path: Optional[str]
) -> Dict[str, object]:
    """The content of ``llm_identity.yaml``.

    Args:
        reference: the checkpoint's fingerprint (:func:`reference_from_checkpoint`).
        path_as_trained: ``llm_conf.path`` as the training config wrote it.
        gguf_file: ``llm_conf.gguf_file`` (None for plain weights).
        packed_path: the LLM directory's name inside the pack, None when the
            pack does not hold the LLM.
    """
    return {
        "path_as_trained": str(path_as_trained),
        "resolved_path_as_trained": str(reference.get("path")),
        "config_sha256": reference.get("config_sha256"),
        "num_parameters": reference.get("num_parameters"),
        "weight_file_bytes": dict(reference.get("weight_file_bytes") or {}),
        "train_mode": reference.get("train_mode"),
        "gguf_file": gguf_file,
        "packed_path": packed_path,
    }


def describe(identity: Dict[str, object]) -> str:
    """One line naming the LLM a pack was trained on."""
    return (
        f"{identity.get('path_as_trained')} (as trained; resolved "
        f"{identity.get('resolved_path_as_trained')}, config sha256 "
        f"{str(identity.get('config_sha256'))[:12]}..., weights {identity.get('weight_file_bytes')})"
    )


def identity_mismatches(llm_dir: Path, identity: Dict[str, object]) -> List[str]:
    """What differs between ``llm_dir`` and the fingerprint (empty: it is the same LLM).

    The config hash always counts; the weight-file sizes count unless the LLM
    was trained fully (then the checkpoint holds every weight and only the
    architecture must match). The parameter count is checked again when the
    model is built.
    """
    if not (llm_dir / "config.json").is_file():
        return [f"{llm_dir} has no config.json (not a Hugging Face model directory)"]
    problems = []
    found_sha = config_sha256(llm_dir)
    if found_sha != identity.get("config_sha256"):
        problems.append(f"config.json sha256 {found_sha[:12]}... != {str(identity.get('config_sha256'))[:12]}...")
    if identity.get("train_mode") != "full":
        found_bytes = weight_file_bytes(llm_dir)
        if found_bytes != identity.get("weight_file_bytes"):
            problems.append(f"weight files {found_bytes} != {identity.get('weight_file_bytes')}")
    return problems


def check_llm_dir(llm_dir: Union[str, Path], identity: Dict[str, object], pack: Union[str, Path]) -> Path:
    """Return ``llm_dir`` when it is the LLM the pack was trained on.

    Raises:
        LLMIdentityError: naming ``llm_dir``, the LLM of the pack and what differs.
    """
    llm_dir = Path(llm_dir)
    if not llm_dir.is_dir():
        raise LLMIdentityError(
            f"llm_dir {llm_dir} does not exist; the pack {pack} was trained on {describe(identity)}"
        )
    problems = identity_mismatches(llm_dir, identity)
    if problems:
        raise LLMIdentityError(
            f"llm_dir {llm_dir} is not the base LLM the pack {pack} was trained on "
            f"({describe(identity)}): {'; '.join(problems)}"
        )
    return llm_dir


def tokenizer_mismatches(packed_tokenizer: Path, llm_dir: Path) -> List[str]:
    """Tokenizer files present in both the pack and ``llm_dir`` whose contents differ."""
    from espnet_llm_entropy.fileio.atomic import sha256_of

    return [
        name for name in TOKENIZER_FILES
        if (packed_tokenizer / name).is_file() and (llm_dir / name).is_file()
        and sha256_of(packed_tokenizer / name) != sha256_of(llm_dir / name)
    ]
