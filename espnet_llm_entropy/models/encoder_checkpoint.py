"""Strict loading of speech-encoder (and phone-CTC head) weights from a checkpoint.

Accepts either a whole-model checkpoint (keys ``speech_encoder.*``, e.g. a
phoneme-CTC ``valid.per.best.pth``) or a bare encoder state dict (a
published ``encoder_v<N>.pth``). Every key must be present with the right
shape; the error lists what is missing, unexpected or mis-shaped.

:func:`load_ctc_head` takes the phone-CTC head (``ctc_head.*``) of a
phoneme-CTC checkpoint into a model that keeps one (the LLM-ASR model with
``keep_ctc_head``), for the CTC-evidence gate of decoding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Union

import torch
from torch import nn

PREFIX = "speech_encoder."
HEAD_PREFIX = "ctc_head."


def speech_encoder_state(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """The encoder part of a model or encoder state dict, without the prefix."""
    if any(k.startswith(PREFIX) for k in state):
        return {k[len(PREFIX):]: v for k, v in state.items() if k.startswith(PREFIX)}
    return dict(state)


def check_encoder_state(
    module: nn.Module, state: Dict[str, torch.Tensor], source: str
) -> None:
    """Raise ValueError naming ``source`` unless ``state`` matches ``module`` exactly."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in sorted(set(own) & set(state))
        if tuple(own[k].shape) != tuple(state[k].shape)
    ]
    if missing or unexpected or shapes:
        raise ValueError(
            f"speech encoder checkpoint {source} does not match the configured encoder: "
            f"{len(missing)} missing keys {missing[:5]}, {len(unexpected)} unexpected keys "
            f"{unexpected[:5]}, {len(shapes)} mis-shaped {shapes[:5]} (was it trained "
            "with the same --frontend/--normalize/--encoder configuration?)"
        )


def read_model_state(path: Union[str, Path], what: str) -> Dict[str, torch.Tensor]:
    """The state dict in ``path`` (a model ``*.pth`` or an ESPnet ``checkpoint.pth``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} checkpoint not found: {path}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # an ESPnet checkpoint.pth
    return state


def load_ctc_head(model: nn.Module, path: Union[str, Path]) -> None:
    """Load the phone-CTC head of the phoneme-CTC checkpoint ``path`` into ``model.ctc_head``.

    Strict: the head's keys and shapes must match (the error names the
    options to align). Sets ``model.ctc_head_trained`` when the model has it.
    """
    head = getattr(model, "ctc_head", None)
    if head is None:
        raise ValueError(
            f"--ctc_head_init {path}: the model has no CTC head "
            "(set model_conf.keep_ctc_head: true, or ctc_weight > 0)"
        )
    state = read_model_state(path, "CTC head")
    head_state = {k[len(HEAD_PREFIX):]: v for k, v in state.items() if k.startswith(HEAD_PREFIX)}
    if not head_state:
        raise ValueError(
            f"--ctc_head_init {path}: no '{HEAD_PREFIX}*' weights in it "
            "(expected a phoneme-CTC model checkpoint, e.g. <pretrain exp>/latest.pth)"
        )
    own = head.state_dict()
    if set(own) != set(head_state) or any(
        tuple(own[k].shape) != tuple(head_state[k].shape) for k in own
    ):
        theirs = {k: tuple(v.shape) for k, v in head_state.items()}
        ours = {k: tuple(v.shape) for k, v in own.items()}
        raise ValueError(
            f"--ctc_head_init {path}: its CTC head {theirs} does not match the model's {ours}; "
            "set model_conf ctc_head_hidden_size / ctc_head_layers to the pretraining "
            "model's head_hidden_size / head_layers"
        )
    head.load_state_dict(head_state, strict=True)
    flag = getattr(model, "ctc_head_trained", None)
    if flag is not None:
        flag.fill_(True)


def load_speech_encoder(model: nn.Module, path: Union[str, Path]) -> None:
    """Load encoder weights from ``path`` into ``model.speech_encoder`` (strict)."""
    state = speech_encoder_state(read_model_state(path, "speech encoder"))
    check_encoder_state(model.speech_encoder, state, str(path))
    model.speech_encoder.load_state_dict(state, strict=True)
