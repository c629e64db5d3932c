"""Adaptors between the speech encoder and the LLM embedding space."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Tuple

import torch
from torch import nn


class AbsAdaptor(nn.Module, ABC):
    """Maps encoder frames (B, T, D_enc) to LLM input embeddings (B, T', D_llm)."""

    @abstractmethod
    def output_size(self) -> int:
        """Size of the produced embeddings (must equal the LLM hidden size)."""

    @abstractmethod
    def forward(
        self, x: torch.Tensor, x_lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Args: x (B, T, D_enc), x_lengths (B,). Returns (B, T', D_out), (B,)."""


class FrameStackMLPAdaptor(AbsAdaptor):
    """Stack ``stack`` consecutive frames, then a 2-layer MLP.

    With a 25 Hz encoder and ``stack=4`` the LLM sees 6.25 speech tokens per
    second (one per 160 ms). The last group is zero-padded; the output length
    is ``ceil(T / stack)``.

    Args:
        input_size: encoder output size D_enc.
        output_size: LLM hidden size D_llm.
        stack: number of frames per output token (k).
        hidden_size: MLP hidden size (default: output_size).
        activation: "gelu" or "relu".
    """

    def __init__(
        self,
        input_size: int,
        output_size: int,
        stack: int = 4,
        hidden_size: int = 0,
        activation: str = "gelu",
    ):
        super().__init__()
        if stack < 1:
            raise ValueError(f"adaptor_conf.stack must be >= 1, got {stack}")
        acts = {"gelu": nn.GELU, "relu": nn.ReLU}
        if activation not in acts:
            raise ValueError(f"adaptor_conf.activation must be one of {sorted(acts)}")
        self.stack = stack
        self._output_size = output_size
        hidden = hidden_size or output_size
        self.mlp = nn.Sequential(
            nn.Linear(input_size * stack, hidden),
            acts[activation](),
            nn.Linear(hidden, output_size),
        )

    def output_size(self) -> int:
        return self._output_size

    def forward(
        self, x: torch.Tensor, x_lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Args: x (B, T, D_enc), x_lengths (B,). Returns (B, ceil(T/k), D_llm), (B,)."""
        b, t, d = x.shape
        pad = (-t) % self.stack
        if pad:
            x = nn.functional.pad(x, (0, 0, 0, pad))
        # zero frames past each utterance's end so they never leak into a group
        valid = torch.arange(t + pad, device=x.device)[None, :] < x_lengths[:, None]
        x = x * valid.unsqueeze(-1).to(x.dtype)
        x = x.reshape(b, (t + pad) // self.stack, d * self.stack)
        out_lengths = torch.div(x_lengths + self.stack - 1, self.stack, rounding_mode="floor")
        return self.mlp(x), out_lengths
