"""Frame-level phone labels for probes: CTC forced alignment, pooled to the adaptor rate.

Encoder frames get the phone that a CTC forced alignment
(:func:`~espnet_llm_entropy.metrics.forced_align.ctc_forced_align`) of the
utterance's phone transcript assigns to them, with blank frames filled from
the neighbouring phones (``blank_handling``). An adaptor frame that stacks
``k`` encoder frames gets the most frequent label among them (ties go to the
smallest id). Frames of an utterance that cannot be aligned (too short for
its transcript, or every path impossible) get ``IGNORE_LABEL`` so that the
probe drops them.
"""

from __future__ import annotations

from typing import List, Tuple

import torch

from espnet_llm_entropy.metrics.forced_align import ctc_forced_align

#: Label of frames left out of the probe (``accessible_information``'s ignore_index).
IGNORE_LABEL = -100


def split_by_lengths(frames: torch.Tensor, lengths: torch.Tensor) -> List[torch.Tensor]:
    """Split (sum(lengths), ...) rows back into one tensor per utterance."""
    return list(torch.split(frames, [int(n) for n in lengths.tolist()]))


def align_batch_phones(
    log_probs: torch.Tensor,
    frame_lengths: torch.Tensor,
    targets: torch.Tensor,
    target_lengths: torch.Tensor,
    blank: int = 0,
    blank_handling: str = "nearest",
) -> Tuple[torch.Tensor, int]:
    """Phone label per valid encoder frame of a batch.

    Args:
        log_probs: (N, V) CTC log-probabilities of the valid frames,
            utterances concatenated (see ``BatchRepresentations``).
        frame_lengths: (B,) frames per utterance, summing to N.
        targets: (B, L) phone ids padded with -1.
        target_lengths: (B,).
        blank: blank id.
        blank_handling: how blank frames are labelled (see ``forced_align``).

    Returns:
        ``(labels (N,), failed)``: long labels (``IGNORE_LABEL`` for frames of
        utterances that could not be aligned) and the number of such utterances.
    """
    labels, failed = [], 0
    for b, lp in enumerate(split_by_lengths(log_probs, frame_lengths)):
        target = targets[b, : int(target_lengths[b])].long()
        try:
            if target.numel() == 0:
                raise ValueError("empty phone transcript")
            labels.append(ctc_forced_align(lp, target, blank=blank, blank_handling=blank_handling).cpu())
        except ValueError:
            failed += 1
            labels.append(torch.full((lp.shape[0],), IGNORE_LABEL, dtype=torch.long))
    return torch.cat(labels) if labels else torch.zeros(0, dtype=torch.long), failed


def pool_labels(labels: torch.Tensor, frame_lengths: torch.Tensor, stack: int, pooled_lengths: torch.Tensor) -> torch.Tensor:
    """Most frequent label of each group of ``stack`` consecutive frames.

    Args:
        labels: (N,) labels of valid encoder frames, utterances concatenated.
        frame_lengths: (B,) encoder frames per utterance.
        stack: frames per pooled frame (the adaptor's ``stack``).
        pooled_lengths: (B,) pooled frames per utterance (ceil(T_b / stack)).

    Returns:
        (sum(pooled_lengths),) long labels; a group whose frames are all
        ``IGNORE_LABEL`` stays ``IGNORE_LABEL``.

    Raises:
        ValueError: if a pooled length disagrees with ceil(T_b / stack).
    """
    out = []
    for b, lab in enumerate(split_by_lengths(labels, frame_lengths)):
        n_pooled = int(pooled_lengths[b])
        if n_pooled != -(-lab.numel() // stack):
            raise ValueError(
                f"utterance {b}: {lab.numel()} encoder frames and stack {stack} give "
                f"{-(-lab.numel() // stack)} adaptor frames, but the adaptor produced {n_pooled}"
            )
        for g in range(n_pooled):
            group = lab[g * stack : (g + 1) * stack]
            group = group[group != IGNORE_LABEL]
            if group.numel() == 0:
                out.append(IGNORE_LABEL)
            else:
                values, counts = torch.unique(group, return_counts=True)
                out.append(int(values[int(torch.argmax(counts))]))
    return torch.tensor(out, dtype=torch.long)
