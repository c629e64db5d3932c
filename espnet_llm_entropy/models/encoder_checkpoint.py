"""Strict loading of speech-encoder weights from a checkpoint.

Accepts either a whole-model checkpoint (keys ``speech_encoder.*``, e.g. a
phoneme-CTC ``valid.per.best.pth``) or a bare encoder state dict (a
published ``encoder_v<N>.pth``). Every key must be present with the right
shape; the error lists what is missing, unexpected or mis-shaped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Union

import torch
from torch import nn

PREFIX = "speech_encoder."


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


def load_speech_encoder(model: nn.Module, path: Union[str, Path]) -> None:
    """Load encoder weights from ``path`` into ``model.speech_encoder`` (strict)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"speech encoder checkpoint not found: {path}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # an ESPnet checkpoint.pth
    state = speech_encoder_state(state)
    check_encoder_state(model.speech_encoder, state, str(path))
    model.speech_encoder.load_state_dict(state, strict=True)
