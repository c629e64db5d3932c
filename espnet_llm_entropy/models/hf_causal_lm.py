"""A Hugging Face causal LM loaded from a local directory, trained frozen, LoRA or fully.

Checkpoints never duplicate the base model: unless ``train_mode="full"``,
the base weights are left out of ``state_dict()`` and a reference to the
base directory (path, config hash, parameter count and weight-file sizes) is
stored instead, through ``get_extra_state``. Loading verifies the reference
and raises a clear error when the base model on disk is not the one the
checkpoint was trained on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch
from torch import nn

TRAIN_MODES = ("frozen", "lora", "full")
LORA_MARKER = "lora_"


def config_sha256(path: Path) -> str:
    """sha256 of a model directory's ``config.json`` (keys sorted, so formatting does not count)."""
    config_text = json.dumps(
        json.loads((Path(path) / "config.json").read_text()), sort_keys=True
    )
    return hashlib.sha256(config_text.encode()).hexdigest()


def weight_file_bytes(path: Path) -> Dict[str, int]:
    """Size in bytes of each weight file (``.safetensors``, ``.bin``, ``.gguf``) of a model directory."""
    weight_files = sorted(
        p for p in Path(path).iterdir() if p.suffix in (".safetensors", ".bin", ".gguf")
    )
    return {p.name: p.stat().st_size for p in weight_files}


def base_model_reference(path: Path, model: nn.Module) -> Dict[str, object]:
    """A fingerprint of a local base model: config hash, #params, weight file sizes."""
    return {
        "path": str(path.resolve()),
        "config_sha256": config_sha256(path),
        "num_parameters": int(sum(p.numel() for p in model.parameters())),
        "weight_file_bytes": weight_file_bytes(path),
    }


class HFCausalLM(nn.Module):
    """Wrapper around ``AutoModelForCausalLM`` for speech-prefixed decoding.

    Args:
        path: local model directory (config.json + weights + tokenizer).
        train_mode: "frozen", "lora" (peft LoRA on ``lora_conf.target_modules``)
            or "full".
        lora_conf: ``r``, ``alpha``, ``dropout``, ``target_modules``.
        gguf_file: optional GGUF file name inside ``path`` (e.g. SmolLM2).
    """

    def __init__(
        self,
        path: str,
        train_mode: str = "lora",
        lora_conf: Optional[Dict] = None,
        gguf_file: Optional[str] = None,
    ):
        super().__init__()
        from transformers import AutoConfig, AutoModelForCausalLM

        if train_mode not in TRAIN_MODES:
            raise ValueError(f"llm_conf.train_mode={train_mode!r}: expected one of {TRAIN_MODES}")
        self.path = Path(path)
        if not (self.path / "config.json").exists():
            raise FileNotFoundError(
                f"llm_conf.path={path}: no config.json there (expected a local "
                "Hugging Face model directory saved with save_pretrained)"
            )
        config = AutoConfig.from_pretrained(str(self.path), local_files_only=True)
        kwargs = {"gguf_file": gguf_file} if gguf_file else {}
        try:
            model = AutoModelForCausalLM.from_pretrained(
                str(self.path), local_files_only=True, dtype=torch.float32, **kwargs
            )
        except ValueError as e:
            raise ValueError(
                f"llm_conf.path={path} ({type(config).__name__}) is not a causal LM "
                f"that AutoModelForCausalLM can load: {e}"
            ) from e
        self.train_mode = train_mode
        self.reference = base_model_reference(self.path, model)
        self.hidden_size = int(model.get_input_embeddings().weight.shape[1])
        for p in model.parameters():
            p.requires_grad_(train_mode == "full")
        if train_mode == "lora":
            model = self._wrap_lora(model, lora_conf or {})
        self.model = model
        self._register_state_dict_hook(_drop_base_weights)

    @staticmethod
    def _wrap_lora(model, lora_conf: Dict):
        from peft import LoraConfig, get_peft_model

        from espnet_llm_entropy.config_options import check_known_keys

        check_known_keys(lora_conf, ("r", "alpha", "dropout", "target_modules"), "llm_conf.lora_conf")
        targets: List[str] = list(lora_conf.get("target_modules", ["q_proj", "v_proj"]))
        names = {n.split(".")[-1] for n, _ in model.named_modules()}
        missing = [t for t in targets if t not in names]
        if missing:
            raise ValueError(
                f"llm_conf.lora_conf.target_modules {missing} match no module of the LLM "
                f"(module names include {sorted(n for n in names if n.endswith('proj'))})"
            )
        cfg = LoraConfig(
            r=int(lora_conf.get("r", 8)),
            lora_alpha=int(lora_conf.get("alpha", 16)),
            lora_dropout=float(lora_conf.get("dropout", 0.05)),
            target_modules=targets,
            bias="none",
        )
        return get_peft_model(model, cfg)

    # ------------------------------------------------------------------ access
    def embed_tokens(self, ids: torch.Tensor) -> torch.Tensor:
        """ids: (B, L) -> embeddings (B, L, H)."""
        return self.model.get_input_embeddings()(ids)

    def hidden_states(
        self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor
    ) -> torch.Tensor:
        """Last hidden states (B, L, H) of the transformer body (no LM head)."""
        body = self.model.get_decoder()
        return body(inputs_embeds=inputs_embeds, attention_mask=attention_mask).last_hidden_state

    def lm_head(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden: (..., H) -> logits (..., V)."""
        return self.model.get_output_embeddings()(hidden)

    def generate(self, **kwargs):
        """``transformers`` generation (KV cache, greedy or beam search)."""
        return self.model.generate(**kwargs)

    @contextlib.contextmanager
    def merged_lora(self):
        """Fold the LoRA deltas into the base weights for the duration of the block.

        Unmerged LoRA costs extra small matrix products and kernel launches
        for every targeted projection at every decoding step; merged, a
        step costs what the base model costs. On exit the base weights are
        restored bit for bit from a copy (merging and unmerging alone would
        leave rounding drift). No-op unless ``train_mode="lora"``; use it
        only without autograd (generation).
        """
        if self.train_mode != "lora" or torch.is_grad_enabled():
            yield
            return
        from peft.tuners.lora import LoraLayer

        layers = [m for m in self.model.modules() if isinstance(m, LoraLayer) and not m.merged]
        saved = [m.get_base_layer().weight.detach().clone() for m in layers]
        try:
            for m in layers:
                m.merge()
            yield
        finally:
            for m, weight in zip(layers, saved):
                if m.merged:
                    m.unmerge()
                m.get_base_layer().weight.data.copy_(weight)

    @property
    def config(self):
        return self.model.config

    # -------------------------------------------------------------- checkpoints
    def stores_base_weights(self) -> bool:
        return self.train_mode == "full"

    def is_base_weight(self, name: str) -> bool:
        """True for a parameter/buffer name (relative to this module) of the base LLM."""
        return LORA_MARKER not in name

    def get_extra_state(self) -> Dict[str, object]:
        return dict(self.reference, train_mode=self.train_mode)

    def set_extra_state(self, state: Dict[str, object]) -> None:
        verify_base_reference(state, self.reference, self.train_mode)


def verify_base_reference(saved: Dict, current: Dict, train_mode: str) -> None:
    """Raise ValueError when a checkpoint was trained on another base LLM."""
    if saved.get("train_mode", train_mode) != train_mode:
        raise ValueError(
            f"checkpoint LLM train_mode={saved.get('train_mode')!r} but the model "
            f"is configured with train_mode={train_mode!r}"
        )
    for key in ("config_sha256", "num_parameters", "weight_file_bytes"):
        if key == "weight_file_bytes" and train_mode == "full":
            continue  # full fine-tuning stores every weight; only the shape must match
        if saved.get(key) != current.get(key):
            raise ValueError(
                f"base LLM mismatch: the checkpoint was trained on {saved.get('path')} "
                f"but llm_conf.path now points at {current.get('path')} and its {key} "
                f"differs ({saved.get(key)!r} != {current.get(key)!r}); point "
                "llm_conf.path at the original base model directory"
            )


def _drop_base_weights(module: HFCausalLM, state_dict, prefix: str, local_metadata):
    """state_dict hook: leave the (unchanged, on-disk) base LLM weights out."""
    if module.stores_base_weights():
        return state_dict
    for key in list(state_dict):
        if key.startswith(prefix + "model.") and module.is_base_weight(key[len(prefix):]):
            del state_dict[key]
    return state_dict


def llm_base_keys(model: nn.Module) -> Sequence[str]:
    """Full state-dict names of base LLM weights that checkpoints leave out."""
    keys = []
    for name, sub in model.named_modules():
        if isinstance(sub, HFCausalLM) and not sub.stores_base_weights():
            prefix = f"{name}." if name else ""
            for k in sub.model.state_dict(keep_vars=True):
                if sub.is_base_weight("model." + k):
                    keys.append(f"{prefix}model.{k}")
    return keys


def load_state_dict_without_base(model: nn.Module, state_dict: Dict, strict: bool = True):
    """Load a checkpoint written without base LLM weights.

    Missing base-LLM keys are expected (they were loaded from the base
    directory at construction); any other missing or unexpected key is an
    error when ``strict`` (ESPnet itself loads with ``strict=False``, so our
    models call this with ``strict=True`` to catch mistakes).
    """
    result = nn.Module.load_state_dict(model, state_dict, strict=False)
    base = set(llm_base_keys(model))
    missing = [k for k in result.missing_keys if k not in base]
    unexpected = list(result.unexpected_keys)
    if strict and (missing or unexpected):
        raise RuntimeError(
            "checkpoint does not match the model: "
            f"missing keys {missing[:10]}{' ...' if len(missing) > 10 else ''}, "
            f"unexpected keys {unexpected[:10]}{' ...' if len(unexpected) > 10 else ''}"
        )
    if missing or unexpected:
        logging.warning("non-strict load: missing %s unexpected %s", missing, unexpected)
    return result
