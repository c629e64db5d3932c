"""Rank 0 decides, every rank applies: broadcasting small decisions under DDP.

Every rank calls :func:`broadcast_from_rank0` at the same training step
with a vector of the same length; rank 0's values come back everywhere.
Without ``torch.distributed`` initialised it returns the input unchanged.
"""

from __future__ import annotations

from typing import Sequence, Tuple

import torch


def is_distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def is_rank0() -> bool:
    return not is_distributed() or torch.distributed.get_rank() == 0


def broadcast_from_rank0(values: Sequence[float], device: str = "cpu") -> Tuple[float, ...]:
    """Rank 0's ``values`` on every rank.

    Args:
        values: the decision as numbers (other ranks pass placeholders of the
            same length).
        device: "cuda" under NCCL, "cpu" under gloo.

    Returns:
        a tuple of floats (float64 transport, exact for integers < 2**53).
    """
    if not is_distributed():
        return tuple(float(v) for v in values)
    tensor = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
    torch.distributed.broadcast(tensor, src=0)
    return tuple(tensor.cpu().tolist())
