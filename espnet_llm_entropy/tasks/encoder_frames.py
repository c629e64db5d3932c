"""How many encoder output frames an input length gives, measured on the model's own speech encoder.

Every ESPnet frontend and encoder has its own length arithmetic (STFT
centring, conv2d / conv2d6 / conv2d8 subsampling, ...), so instead of
re-deriving it this module asks the encoder: it runs the frontend,
normalization and encoder (eval mode, no SpecAugment, no gradients) on one
low-level noise input of the wanted length and reads the output length.
An input too short for the frontend or the subsampling (ESPnet raises
``TooShortUttError`` or a convolution fails) gives 0 frames.

Output length never decreases with input length, so a question "does an
input of ``n`` samples give at least ``need`` frames?" is usually decided
from lengths already measured around ``n`` (a geometric grid, measured
lazily); only lengths close to the boundary are measured exactly.
"""

from __future__ import annotations

import bisect
import math
from typing import Dict, Optional

import torch
from torch import nn


class EncoderFrameCounter:
    """Encoder output frames for an input of ``n`` samples (or feature frames).

    Args:
        speech_encoder: the model's ``SpeechEncoder`` (frontend -> ... -> encoder).
        feature_dim: for feature input (no frontend): the feature dimension;
            None for waveform input.
        grid_ratio: ratio between neighbouring grid lengths (> 1).
    """

    def __init__(self, speech_encoder: nn.Module, feature_dim: Optional[int] = None, grid_ratio: float = 1.1):
        if grid_ratio <= 1.0:
            raise ValueError(f"grid_ratio must be > 1, got {grid_ratio}")
        self.encoder = speech_encoder
        self.feature_dim = feature_dim
        self.grid_ratio = grid_ratio
        self.measured: Dict[int, int] = {}
        self._sorted: list = []
        self._generator = torch.Generator().manual_seed(0)

    def frames(self, n: int) -> int:
        """Exact encoder output length for an input of length ``n`` (measured once)."""
        n = int(n)
        if n not in self.measured:
            self.measured[n] = self._measure(n)
            bisect.insort(self._sorted, n)
        return self.measured[n]

    def at_least(self, n: int, need: int) -> bool:
        """Whether an input of length ``n`` gives at least ``need`` encoder frames."""
        if need <= 0:
            return True
        if n <= 0:
            return False
        low, high = self._grid_around(n)
        if self.frames(low) >= need:
            return True
        if high is not None and self.frames(high) < need:
            return False
        return self.frames(n) >= need

    def shortest_input(self, need: int = 1, longest: int = 64000) -> int:
        """The shortest input length that gives at least ``need`` frames (binary search).

        Raises:
            ValueError: not even ``longest`` gives ``need`` frames.
        """
        if self.frames(longest) < need:
            raise ValueError(f"the encoder yields fewer than {need} frame(s) even for {longest} samples")
        low, high = 1, longest
        while low < high:
            mid = (low + high) // 2
            if self.frames(mid) >= need:
                high = mid
            else:
                low = mid + 1
        return low

    def _grid_around(self, n: int):
        """The grid lengths ``low <= n <= high`` (``high`` None when ``n`` is on the grid)."""
        k = math.floor(math.log(n) / math.log(self.grid_ratio))
        low = max(1, int(self.grid_ratio ** k))
        while low > n:
            low = max(1, int(low / self.grid_ratio))
        if low == n:
            return low, None
        high = max(n, int(math.ceil(self.grid_ratio ** (k + 1))))
        return low, high

    def _measure(self, n: int) -> int:
        try:
            parameter = next(self.encoder.parameters())
            device, dtype = parameter.device, parameter.dtype
        except StopIteration:
            device, dtype = torch.device("cpu"), torch.float32
        shape = (1, n) if self.feature_dim is None else (1, n, self.feature_dim)
        x = (1e-3 * torch.randn(shape, generator=self._generator)).to(device=device, dtype=dtype)
        lengths = torch.tensor([n], dtype=torch.long, device=device)
        was_training = self.encoder.training
        self.encoder.eval()
        try:
            with torch.no_grad():
                _, out_lengths = self.encoder(x, lengths, augment=False)
            return int(out_lengths[0])
        except Exception:  # noqa: BLE001 - ESPnet's TooShortUttError, a conv longer than its input, ...
            return 0
        finally:
            self.encoder.train(was_training)
