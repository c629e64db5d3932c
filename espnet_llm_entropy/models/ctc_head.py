"""The phoneme CTC head: an MLP over encoder frames, and its CTC loss."""

from __future__ import annotations

import torch
from torch import nn


class MLPCTCHead(nn.Module):
    """``num_layers``-layer MLP from encoder frames to phone logits (incl. blank).

    Args:
        input_size: encoder output size D.
        vocab_size: number of phone symbols V (``<blank>`` at index 0).
        hidden_size: hidden width of the MLP.
        num_layers: total linear layers (the paper uses 3).
        dropout: dropout before each hidden linear layer.
    """

    def __init__(
        self,
        input_size: int,
        vocab_size: int,
        hidden_size: int = 256,
        num_layers: int = 3,
        dropout: float = 0.1,
    ):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"ctc head num_layers must be >= 1, got {num_layers}")
        layers = []
        size = input_size
        for _ in range(num_layers - 1):
            layers += [nn.Dropout(dropout), nn.Linear(size, hidden_size), nn.GELU()]
            size = hidden_size
        layers += [nn.Dropout(dropout), nn.Linear(size, vocab_size)]
        self.net = nn.Sequential(*layers)
        self.vocab_size = vocab_size

    def forward(self, hs: torch.Tensor) -> torch.Tensor:
        """hs: (B, T, D) -> logits (B, T, V)."""
        return self.net(hs)


def ctc_loss_from_logits(
    logits: torch.Tensor,
    logit_lengths: torch.Tensor,
    targets: torch.Tensor,
    target_lengths: torch.Tensor,
) -> torch.Tensor:
    """Summed CTC loss divided by the batch size (ESPnet's convention).

    Args:
        logits: (B, T, V) unnormalised scores, blank id 0.
        logit_lengths: (B,) valid frames.
        targets: (B, L) padded with -1.
        target_lengths: (B,).
    """
    log_probs = logits.float().log_softmax(-1).transpose(0, 1)  # (T, B, V)
    valid = torch.arange(targets.size(1), device=targets.device)[None] < target_lengths[:, None]
    flat = targets[valid]  # row-major: the concatenation of the B target sequences
    loss = nn.functional.ctc_loss(
        log_probs,
        flat,
        logit_lengths,
        target_lengths,
        blank=0,
        reduction="sum",
        zero_infinity=True,
    )
    return loss / logits.size(0)


def greedy_ctc_decode(logits: torch.Tensor, lengths: torch.Tensor) -> list:
    """Best-path CTC decoding: argmax per frame, merge repeats, drop blanks.

    Args:
        logits: (B, T, V); lengths: (B,).

    Returns:
        A list of B lists of phone ids.
    """
    best = logits.argmax(-1)  # (B, T)
    keep = torch.ones_like(best, dtype=torch.bool)
    keep[:, 1:] = best[:, 1:] != best[:, :-1]
    keep &= best != 0
    keep &= torch.arange(best.size(1), device=best.device)[None] < lengths[:, None]
    return [best[i][keep[i]].tolist() for i in range(best.size(0))]


def greedy_ctc_lengths(logits: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(B,) long: how many phones best-path decoding finds in each of the B utterances.

    Args:
        logits: (B, T, V) scores or log-posteriors (the argmax is the same); lengths: (B,).
    """
    return torch.tensor([len(h) for h in greedy_ctc_decode(logits, lengths)], dtype=torch.long)
