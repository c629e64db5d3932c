"""Joint CTC/LLM decoding: the LLM's n-best rescored by the phone-CTC head.

The LLM proposes transcripts; the phone-CTC head that the encoder was
pretrained with says how well each one's phones fit the audio. Decoding with
``ctc_weight`` w > 0 keeps the candidate with the best

    (1 - w) * log P_LLM(y | speech) + w * log P_CTC(phones(y) | speech)

where ``phones(y)`` is the transcript read by the same
:class:`~espnet_llm_entropy.text.phonemizer.Phonemizer` that made the
pretraining targets, and ``log P_CTC`` sums over all CTC alignments of those
phones to the encoder frames (``torch.nn.functional.ctc_loss``). This is
ESPnet's joint CTC/attention score applied to n-best lists: the LLM's prior
cannot fill a slot with a word whose phones the audio does not carry, and a
repeated or dropped word costs the CTC term.

A candidate whose phones cannot fit the frames (more phones than CTC can
place) gets ``-inf`` from CTC; when every candidate does, the LLM's order
decides. The candidates of one utterance are scored against that
utterance's frames only, so the choice is the same alone or in a batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import torch

from espnet_llm_entropy.text.phone_inventory import UNK


def check_ctc_weight(weight: float) -> float:
    """Return ``weight`` as a float; ValueError naming ``ctc_weight`` unless 0 <= weight <= 1."""
    weight = float(weight)
    if not 0.0 <= weight <= 1.0 or math.isnan(weight):
        raise ValueError(f"ctc_weight must be in [0, 1] (0: the LLM alone), got {weight}")
    return weight


class TranscriptPhones:
    """Transcript -> phone ids of the CTC head's inventory.

    Args:
        token_list: the CTC head's symbols (``<blank>`` first); phones the
            inventory lacks become ``<unk>`` where it has one and are left
            out otherwise, as unreadable symbols are.
    """

    def __init__(self, token_list: Sequence[str]):
        from espnet_llm_entropy.text.phonemizer import Phonemizer

        self.index: Dict[str, int] = {symbol: i for i, symbol in enumerate(token_list)}
        self.unk: Optional[int] = self.index.get(UNK)
        self.phonemizer = Phonemizer(on_unknown="drop")

    def __call__(self, text: str) -> List[int]:
        ids = []
        for phone in self.phonemizer(text) if text.strip() else []:
            found = self.index.get(phone, self.unk)
            if found is not None and found != 0:
                ids.append(found)
        return ids


def ctc_log_likelihoods(log_probs: torch.Tensor, phone_seqs: Sequence[Sequence[int]]) -> torch.Tensor:
    """log P_CTC(phones | frames) of each candidate, against one utterance's frames.

    Args:
        log_probs: (T, V) log-softmax of the CTC head over the utterance's
            T valid frames, blank id 0.
        phone_seqs: N candidate phone-id sequences (an empty one is the
            all-blank path).

    Returns:
        (N,) float64 log-likelihoods in nats; ``-inf`` where a sequence
        cannot be aligned to T frames.
    """
    count = len(phone_seqs)
    if count == 0:
        return torch.zeros(0, dtype=torch.float64)
    frames = log_probs.size(0)
    lengths = torch.tensor([len(s) for s in phone_seqs], dtype=torch.long)
    targets = torch.zeros(count, max(1, int(lengths.max())), dtype=torch.long)
    for i, seq in enumerate(phone_seqs):
        if len(seq):
            targets[i, : len(seq)] = torch.as_tensor(list(seq), dtype=torch.long)
    batch = log_probs.double().unsqueeze(1).expand(frames, count, log_probs.size(1))
    nll = torch.nn.functional.ctc_loss(
        batch, targets, torch.full((count,), frames, dtype=torch.long), lengths,
        blank=0, reduction="none", zero_infinity=False,
    )
    return -nll


@dataclass
class RescoredCandidate:
    """One n-best entry with both scores (nats).

    Attributes:
        index: its position in the LLM's n-best list.
        llm_score: log P_LLM of its tokens and EOS.
        ctc_score: log P_CTC of its phones (``-inf``: cannot be aligned).
        score: the weighted sum that ranks the candidates.
    """

    index: int
    llm_score: float
    ctc_score: float
    score: float


def rank_candidates(llm_scores: Sequence[float], ctc_scores: Sequence[float], weight: float) -> List[RescoredCandidate]:
    """The candidates best first by ``(1 - weight) * llm + weight * ctc``.

    Ties, and candidates CTC cannot align, keep the LLM's order; when no
    candidate can be aligned the LLM's scores alone decide.
    """
    weight = check_ctc_weight(weight)
    if len(llm_scores) != len(ctc_scores):
        raise ValueError(f"{len(llm_scores)} LLM scores but {len(ctc_scores)} CTC scores")
    alignable = any(math.isfinite(c) for c in ctc_scores)
    ranked = []
    for i, (llm, ctc) in enumerate(zip(llm_scores, ctc_scores)):
        if not alignable or weight == 0.0:
            total = float(llm)
        else:
            total = (1.0 - weight) * float(llm) + weight * float(ctc)
        ranked.append(RescoredCandidate(i, float(llm), float(ctc), total))
    return sorted(ranked, key=lambda c: (-c.score if math.isfinite(c.score) else math.inf, c.index))
