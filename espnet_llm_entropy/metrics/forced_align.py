"""CTC forced alignment (Viterbi) in pure torch, for frame-level phone labels.

Given a CTC head's log-probabilities (T, V) for one utterance and its target
phone sequence (L,), the best CTC path that collapses to the target is found
by dynamic programming over the usual extended label sequence
``blank, y_1, blank, y_2, ..., y_L, blank`` (S = 2L + 1 states): from state s
a path may stay, move to s + 1, or skip the blank to s + 2 when the two
labels differ. The recursion loops over T only; each step is vectorised over
the S states (O(T S) time, O(T S) int8 back-pointers). k2 is not needed.

The frame-level label sequence comes in three flavours (``blank_handling``):

* ``"keep"``: blank frames keep the blank id; the sequence is the Viterbi
  path itself, a valid CTC path that collapses to the target.
* ``"previous"``: every blank frame takes the phone emitted before it;
  leading blanks take the first phone. Suits "a phone lasts until the next
  one starts" (CTC spikes mark phone onsets).
* ``"nearest"``: a blank run between two phones is split at its midpoint
  (first half to the phone before, second half to the phone after, an odd
  middle frame to the phone before); leading blanks go to the first phone,
  trailing blanks to the last.

With the two filling modes every frame gets a phone label (for frame-level
probes); an empty target leaves all frames blank.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Tuple

import torch


def _check_alignment_inputs(log_probs: torch.Tensor, targets: torch.Tensor, blank: int) -> None:
    if not isinstance(log_probs, torch.Tensor) or log_probs.dim() != 2:
        got = tuple(log_probs.shape) if isinstance(log_probs, torch.Tensor) else type(log_probs).__name__
        raise ValueError(f"log_probs: expected a (T, V) tensor, got {got}")
    if not log_probs.is_floating_point():
        raise TypeError(f"log_probs: expected a floating tensor, got {log_probs.dtype}")
    if bool(torch.isnan(log_probs).any()) or bool((log_probs == float("inf")).any()):
        raise ValueError("log_probs: contains NaN or +inf (log-probabilities must be <= 0 or -inf)")
    vocab = log_probs.shape[1]
    if not 0 <= blank < vocab:
        raise ValueError(f"blank: id {blank} is outside the vocabulary [0, {vocab})")
    if not isinstance(targets, torch.Tensor) or targets.dim() != 1:
        got = tuple(targets.shape) if isinstance(targets, torch.Tensor) else type(targets).__name__
        raise ValueError(f"targets: expected a (L,) integer tensor, got {got}")
    if targets.is_floating_point():
        raise TypeError(f"targets: expected an integer tensor, got {targets.dtype}")
    if targets.numel():
        if int(targets.min()) < 0 or int(targets.max()) >= vocab:
            raise ValueError(
                f"targets: ids must lie in [0, {vocab}), got range "
                f"[{int(targets.min())}, {int(targets.max())}]"
            )
        if bool((targets == blank).any()):
            raise ValueError(f"targets: contains the blank id {blank}; targets must be non-blank")
    if log_probs.shape[0] < 1:
        raise ValueError("log_probs: needs at least one frame (T >= 1)")


def min_frames_for_target(targets: torch.Tensor) -> int:
    """Fewest frames a CTC path for ``targets`` needs: L plus one per repeat."""
    if targets.numel() == 0:
        return 0
    repeats = int((targets[1:] == targets[:-1]).sum())
    return int(targets.numel()) + repeats


def ctc_viterbi_path(
    log_probs: torch.Tensor, targets: torch.Tensor, blank: int = 0
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Best CTC path through the extended target sequence.

    Args:
        log_probs: (T, V) log-probabilities (log-softmax output) of one utterance.
        targets: (L,) non-blank target ids.
        blank: blank id.

    Returns:
        ``(states, labels, score)``: states (T,) long indices into the
        extended sequence (even = blank, odd 2k+1 = targets[k]); labels (T,)
        long label id per frame (blank included); score, the 0-dim path
        log-probability.

    Raises:
        ValueError: for bad shapes/ids, or T too short for the target.
    """
    _check_alignment_inputs(log_probs, targets, blank)
    num_frames = log_probs.shape[0]
    needed = min_frames_for_target(targets)
    if num_frames < needed:
        raise ValueError(
            f"log_probs has T={num_frames} frames but the target of length {targets.numel()} "
            f"needs at least {needed} (one per label plus a blank between repeats)"
        )
    lp = log_probs.detach().to(torch.float64)
    targets = targets.to(device=lp.device, dtype=torch.long)
    num_states = 2 * targets.numel() + 1
    extended = torch.full((num_states,), blank, dtype=torch.long, device=lp.device)
    extended[1::2] = targets
    can_skip = torch.zeros(num_states, dtype=torch.bool, device=lp.device)
    if num_states > 2:
        can_skip[2:] = (extended[2:] != blank) & (extended[2:] != extended[:-2])
    emissions = lp[:, extended]  # (T, S)

    neg_inf = torch.tensor(float("-inf"), dtype=torch.float64, device=lp.device)
    score = torch.full((num_states,), float("-inf"), dtype=torch.float64, device=lp.device)
    score[0] = emissions[0, 0]
    if num_states > 1:
        score[1] = emissions[0, 1]
    back = torch.zeros(num_frames, num_states, dtype=torch.int8, device=lp.device)
    pad1 = neg_inf.expand(1)
    pad2 = neg_inf.expand(2)
    for t in range(1, num_frames):
        from_prev = torch.cat([pad1, score[:-1]])
        from_skip = torch.cat([pad2, score[:-2]])[:num_states]
        from_skip = torch.where(can_skip, from_skip, neg_inf)
        best, arg = torch.stack([score, from_prev, from_skip]).max(dim=0)
        score = best + emissions[t]
        back[t] = arg.to(torch.int8)

    last = num_states - 1
    final = last
    if num_states > 1 and bool(score[last - 1] > score[last]):
        final = last - 1
    total = score[final]
    if not bool(torch.isfinite(total)):
        raise ValueError(
            "no CTC path with non-zero probability collapses to the target "
            "(log_probs give -inf to every valid path)"
        )
    steps = back.cpu().numpy()
    states = [0] * num_frames
    state = final
    for t in range(num_frames - 1, -1, -1):
        states[t] = state
        state -= int(steps[t, state])
    states_t = torch.tensor(states, dtype=torch.long, device=lp.device)
    return states_t, extended[states_t], total


def _fill_previous(labels: List[int], blank: int) -> List[int]:
    phones = [lab for lab in labels if lab != blank]
    if not phones:
        return labels
    out, current = [], phones[0]
    for lab in labels:
        if lab != blank:
            current = lab
        out.append(current)
    return out


def _fill_nearest(labels: List[int], blank: int) -> List[int]:
    out = list(labels)
    num = len(out)
    t = 0
    while t < num:
        if out[t] != blank:
            t += 1
            continue
        start = t
        while t < num and labels[t] == blank:
            t += 1
        before = labels[start - 1] if start > 0 else None
        after = labels[t] if t < num else None
        if before is None and after is None:
            return labels
        length = t - start
        n_before = 0 if before is None else (length if after is None else (length + 1) // 2)
        for k in range(start, t):
            out[k] = before if k - start < n_before else after
    return out


def _keep(labels: List[int], blank: int) -> List[int]:
    return labels


#: Ways to label blank frames of the Viterbi path (see the module docstring).
BLANK_HANDLING: Dict[str, Callable[[List[int], int], List[int]]] = {
    "keep": _keep,
    "previous": _fill_previous,
    "nearest": _fill_nearest,
}


def ctc_forced_align(
    log_probs: torch.Tensor,
    targets: torch.Tensor,
    blank: int = 0,
    blank_handling: str = "keep",
) -> torch.Tensor:
    """Frame-level labels (T,) from a CTC forced alignment.

    Args:
        log_probs: (T, V) CTC log-probabilities of one utterance.
        targets: (L,) target ids (no blanks).
        blank: blank id.
        blank_handling: ``"keep"``, ``"previous"`` or ``"nearest"`` (see the
            module docstring).

    Returns:
        (T,) long tensor of label ids on ``log_probs``'s device.

    Raises:
        ValueError: for bad input, an unknown ``blank_handling``, or an
            infeasible alignment.
    """
    if blank_handling not in BLANK_HANDLING:
        raise ValueError(
            f"blank_handling: unknown mode {blank_handling!r}; choose from {sorted(BLANK_HANDLING)}"
        )
    _, labels, _ = ctc_viterbi_path(log_probs, targets, blank)
    filled = BLANK_HANDLING[blank_handling](labels.tolist(), blank)
    return torch.tensor(filled, dtype=torch.long, device=log_probs.device)


def collapse_ctc_labels(labels: torch.Tensor, blank: int = 0) -> torch.Tensor:
    """Collapse a CTC label path: merge repeats, then drop blanks.

    Args:
        labels: (T,) label ids.
        blank: blank id.

    Returns:
        (L',) collapsed label ids.
    """
    if labels.numel() == 0:
        return labels.clone()
    keep = torch.ones_like(labels, dtype=torch.bool)
    keep[1:] = labels[1:] != labels[:-1]
    merged = labels[keep]
    return merged[merged != blank]


def label_segments(labels: torch.Tensor) -> List[Tuple[int, int, int]]:
    """Runs of equal labels as ``(label, start_frame, end_frame_exclusive)``.

    Args:
        labels: (T,) label ids.

    Returns:
        List of runs in time order.
    """
    runs: List[Tuple[int, int, int]] = []
    values = labels.tolist()
    start = 0
    for t in range(1, len(values) + 1):
        if t == len(values) or values[t] != values[start]:
            runs.append((int(values[start]), start, t))
            start = t
    return runs
