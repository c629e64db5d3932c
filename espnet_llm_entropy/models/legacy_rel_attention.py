"""ESPnet's legacy relative-position attention, made independent of batch padding.

``LegacyRelPositionMultiHeadedAttention`` (what ESPnet's conformer builds by
default: ``rel_pos_type: legacy``) is not relative in the past. Its
positional table holds ``PE(M - k)`` for ``k = 0 .. T - 1`` (``M`` fixed,
4999), and its ``rel_shift`` on the ``(T, T)`` score matrix gives

- key ``j <= i`` (past and present): ``(q_i + v) . W PE(M - T + 1 + (i - j))``,
  which depends on the padded length ``T`` of the *batch*;
- key ``j = i + 1``: 0;
- key ``j >= i + 2``: ``(q_{i+1} + v) . W PE(M + 2 + i - j)``, independent of ``T``.

So every frame of an utterance shorter than its batch attends to its past
with other positional scores than it gets alone (``T = T_b``, its own
length). :class:`PaddingInvariantLegacyRelAttention` computes the past part
with each row's positional table shifted right by ``T - T_b``, which gives
exactly what the utterance gets alone, and keeps the rest as ESPnet computes
it. The class only overrides ``forward``; parameters and state-dict keys
are the parent's. Installed on existing modules by
:func:`make_legacy_rel_attention_padding_invariant`.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _legacy_class():
    from espnet.nets.pytorch_backend.transformer.attention import (
        LegacyRelPositionMultiHeadedAttention,
    )

    return LegacyRelPositionMultiHeadedAttention


def shift_rows_right(p: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Row b of the result at position k is ``p[.., k - shift[b], :]`` (clamped at 0).

    Args:
        p: (1 or B, H, T, d_k) projected positional table.
        shift: (B,) non-negative shifts.

    Returns:
        (B, H, T, d_k).
    """
    bsz = shift.size(0)
    _, heads, width, d_k = p.shape
    idx = (torch.arange(width, device=p.device)[None, :] - shift[:, None]).clamp(min=0)
    idx = idx[:, None, :, None].expand(bsz, heads, width, d_k)
    return torch.gather(p.expand(bsz, -1, -1, -1), 2, idx)


class PaddingInvariantLegacyRelAttention(_legacy_class()):
    """``LegacyRelPositionMultiHeadedAttention`` whose scores do not depend on padding.

    Same constructor, parameters and outputs as the parent for a batch
    without padding; with padding, each row gets the scores it gets alone.
    """

    def forward(self, query, key, value, pos_emb, mask):
        """Args as the parent: query/key/value (B, T, D), pos_emb (1, T, D),
        mask (B, 1, T) (True = valid) or (B, T, T). Returns (B, T, D)."""
        if mask is None or mask.dim() != 3 or mask.size(1) != 1 or query.size(1) != key.size(1):
            return super().forward(query, key, value, pos_emb, mask)
        width = key.size(1)
        shift = width - mask.sum(-1).squeeze(1).long()  # (B,) T - T_b
        if not bool((shift > 0).any()):
            return super().forward(query, key, value, pos_emb, mask)

        q, k, v = self.forward_qkv(query, key, value)  # (B, H, T, d_k)
        q = q.transpose(1, 2)  # (B, T, H, d_k)
        p = self.linear_pos(pos_emb).view(pos_emb.size(0), -1, self.h, self.d_k).transpose(1, 2)
        q_u = (q + self.pos_bias_u).transpose(1, 2)  # (B, H, T, d_k)
        q_v = (q + self.pos_bias_v).transpose(1, 2)
        matrix_ac = torch.matmul(q_u, k.transpose(-2, -1))  # (B, H, T, T)
        future = self.rel_shift(torch.matmul(q_v, p.transpose(-2, -1)))
        past = self.rel_shift(torch.matmul(q_v, shift_rows_right(p, shift).transpose(-2, -1)))
        pos = torch.arange(width, device=query.device)
        is_past = (pos[None, :] <= pos[:, None])[None, None]  # (1, 1, T, T): key j <= query i
        matrix_bd = torch.where(is_past, past, future)
        scores = (matrix_ac + matrix_bd) / math.sqrt(self.d_k)
        return self.forward_attention(v, scores, mask)


def make_legacy_rel_attention_padding_invariant(module: nn.Module) -> int:
    """Turn every ``LegacyRelPositionMultiHeadedAttention`` under ``module`` into
    :class:`PaddingInvariantLegacyRelAttention` in place (same parameters).

    Returns:
        How many attention modules were converted.
    """
    legacy = _legacy_class()
    count = 0
    for sub in module.modules():
        if type(sub) is legacy:
            sub.__class__ = PaddingInvariantLegacyRelAttention
            count += 1
    return count
