"""Vectorised assembly of LLM input sequences: [prefix][speech][suffix][transcript].

No Python loop over the batch: every position of the padded output picks its
embedding from one of the four segments by index arithmetic, so building a
batch costs a few gathers whatever the batch size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch


@dataclass
class AssembledBatch:
    """LLM inputs for a batch.

    Attributes:
        inputs_embeds: (B, L, H).
        attention_mask: (B, L) 1 for real positions, 0 for padding.
        text_start: (B,) position of the first transcript token, i.e. the
            position right after the suffix prompt (the length of the
            conditioning part, for each utterance).
        lengths: (B,) number of real positions.
    """

    inputs_embeds: torch.Tensor
    attention_mask: torch.Tensor
    text_start: torch.Tensor
    lengths: torch.Tensor


def _segment_gather(src: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """src (B, S, H), idx (B, L) already clamped to [0, S) -> (B, L, H)."""
    return torch.gather(src, 1, idx.unsqueeze(-1).expand(-1, -1, src.size(-1)))


def assemble_prompted_inputs(
    prefix: torch.Tensor,
    speech: torch.Tensor,
    speech_lengths: torch.Tensor,
    suffix: torch.Tensor,
    text: Optional[torch.Tensor] = None,
    text_lengths: Optional[torch.Tensor] = None,
    left_pad: bool = False,
) -> AssembledBatch:
    """Lay out [prefix][speech_b][suffix][text_b] for each utterance b.

    Args:
        prefix: (P1, H) embeddings of the text before the speech (P1 may be 0).
        speech: (B, S, H) adaptor outputs; only the first speech_lengths[b]
            rows of utterance b are used (speech_lengths[b] may be 0).
        speech_lengths: (B,).
        suffix: (P2, H) embeddings of the text after the speech.
        text: (B, T, H) transcript embeddings (teacher forcing) or None.
        text_lengths: (B,) transcript lengths (required with ``text``).
        left_pad: put padding on the left (batched generation) instead of the
            right (training).
    """
    bsz, _, hidden = speech.shape
    device = speech.device
    p1, p2 = prefix.size(0), suffix.size(0)
    if text is None:
        text = speech.new_zeros(bsz, 1, hidden)
        text_lengths = torch.zeros(bsz, dtype=torch.long, device=device)
    cond_end = p1 + speech_lengths + p2  # (B,) where the transcript starts
    lengths = cond_end + text_lengths
    width = int(lengths.max())
    offset = (width - lengths) if left_pad else torch.zeros_like(lengths)
    rel = torch.arange(width, device=device)[None, :] - offset[:, None]  # (B, L)

    def seg(src: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
        if src.dim() == 2:
            src = src.unsqueeze(0).expand(bsz, -1, -1)
        if src.size(1) == 0:
            return speech.new_zeros(bsz, width, hidden)
        idx = (rel - start[:, None]).clamp(0, src.size(1) - 1)
        return _segment_gather(src, idx)

    zero = torch.zeros_like(lengths)
    s_start = zero + p1
    x_start = s_start + speech_lengths
    out = seg(prefix, zero)
    out = torch.where((rel >= s_start[:, None]).unsqueeze(-1), seg(speech, s_start), out)
    out = torch.where((rel >= x_start[:, None]).unsqueeze(-1), seg(suffix, x_start), out)
    out = torch.where((rel >= cond_end[:, None]).unsqueeze(-1), seg(text, cond_end), out)
    mask = (rel >= 0) & (rel < lengths[:, None])
    out = out * mask.unsqueeze(-1).to(out.dtype)
    return AssembledBatch(out, mask.long(), cond_end + offset, lengths)


def prediction_positions(
    batch: AssembledBatch, num_targets: torch.Tensor
) -> torch.Tensor:
    """Mask (B, L) of the positions whose next-token prediction is a target.

    The hidden state at ``text_start - 1 + k`` predicts target k, for
    k < num_targets[b] (transcript tokens plus EOS). In row-major order the
    selected positions line up with a row-major selection of the targets.
    """
    width = batch.attention_mask.size(1)
    pos = torch.arange(width, device=num_targets.device)[None, :]
    first = batch.text_start[:, None] - 1
    return (pos >= first) & (pos < first + num_targets[:, None])
