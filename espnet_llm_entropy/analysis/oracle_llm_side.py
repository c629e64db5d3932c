"""The LLM side alone with a perfect encoder: the oracle of the error diagnosis.

Which side limits an LLM-ASR model? Measure the speech side alone (greedy CTC
phone error rate, :mod:`phone_error_rate`), the full model, and, here, the
adaptor + LLM given a perfect encoder. The oracle encoder emits the
reference phones as one-hot frames, spread evenly over the number of frames
the real encoder would produce for the utterance (``duration x frame_rate``).
The adaptor and the LLM are those of an LLM-ASR experiment (same LLM
directory, LoRA settings, frame stacking and prompts), trained from scratch
on the training set for a given number of updates, then decoded greedily on
the test set with the full model's decoding guards (length bounds, loop stop). A high error here means the LLM side cannot turn even perfect
phones into text within that budget; a low one puts the blame on the encoder.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from espnet_llm_entropy.models.adaptor import FrameStackMLPAdaptor
from espnet_llm_entropy.text.token_text import text_from_token_ids

if TYPE_CHECKING:
    from espnet_llm_entropy.decoding.guard_config import DecodingGuardConfig


class OraclePhoneFrames(nn.Module):
    """Stands in for the speech encoder: frame phone ids -> one-hot frames.

    Args:
        num_phones: phone inventory size V.
    """

    def __init__(self, num_phones: int):
        super().__init__()
        self.num_phones = num_phones

    def output_size(self) -> int:
        return self.num_phones

    def forward(self, frame_phones: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """frame_phones (B, T) ids padded with -1 -> (B, T, V) one-hot, lengths (B,)."""
        one_hot = nn.functional.one_hot(frame_phones.clamp(min=0), self.num_phones).float()
        return one_hot * (frame_phones >= 0).unsqueeze(-1).float(), lengths


def uniform_phone_frames(phones: Sequence[int], num_frames: int) -> List[int]:
    """Spread ``phones`` (length L) evenly over ``max(L, num_frames)`` frames.

    Frame ``t`` gets phone ``floor(t * L / T)``: every phone appears, in
    order, for ``T / L`` frames (rounded), like a perfectly timed encoder.
    """
    count = len(phones)
    frames = max(count, int(num_frames))
    return [phones[t * count // frames] for t in range(frames)]


@dataclass
class OracleItem:
    """One utterance: oracle frames, the LLM token ids of its transcript, and what the decoder's
    length guards see: its duration and its phone count (a perfect CTC head's)."""

    utt_id: str
    frames: List[int]
    llm_tokens: List[int]
    duration_s: float
    num_phones: int


def _pad(rows: Sequence[Sequence[int]]) -> Tuple[torch.Tensor, torch.Tensor]:
    """Id lists -> (B, max len) padded with -1 (ESPnet's convention), lengths (B,)."""
    from espnet.nets.pytorch_backend.nets_utils import pad_list

    padded = pad_list([torch.tensor(r, dtype=torch.long) for r in rows], -1)
    return padded, torch.tensor([len(r) for r in rows], dtype=torch.long)


def build_oracle_model(args, num_phones: int):
    """An LLM-ASR model of the experiment's LLM, adaptor stack and prompts, over oracle frames.

    Args:
        args: the experiment's training namespace (``config.yaml``).
        num_phones: phone inventory size (one-hot width).
    """
    from espnet_llm_entropy.models.hf_causal_lm import HFCausalLM
    from espnet_llm_entropy.models.llm_asr import LLMASRModel
    from espnet_llm_entropy.text.llm_tokenizer import load_llm_tokenizer

    llm = HFCausalLM(**args.llm_conf)
    stack = int((args.adaptor_conf or {}).get("stack", 4))
    adaptor = FrameStackMLPAdaptor(num_phones, llm.hidden_size, stack=stack)
    model_conf = {k: v for k, v in (args.model_conf or {}).items() if k.startswith("prompt") or k == "language"}
    return LLMASRModel(
        vocab_size=num_phones, token_list=[str(i) for i in range(num_phones)],
        speech_encoder=OraclePhoneFrames(num_phones), adaptor=adaptor, llm=llm,
        tokenizer=load_llm_tokenizer(args.llm_conf["path"]), ctc_weight=0.0, **model_conf,
    )


def train_oracle(
    model, items: Sequence[OracleItem], steps: int, batch_size: int = 16, lr: float = 3e-3,
    warmup: int = 100, seed: int = 0, progress: bool = True,
) -> List[float]:
    """Train the adaptor and the LLM's trainable weights on oracle frames.

    Returns:
        the per-step training loss (nats per utterance).
    """
    from tqdm import tqdm

    torch.manual_seed(seed)
    rng = random.Random(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, math.sqrt(warmup / (s + 1)))
    )
    model.train()
    losses = []
    for _ in tqdm(range(steps), desc="oracle LLM side", disable=not progress, leave=False):
        batch = [items[rng.randrange(len(items))] for _ in range(batch_size)]
        frames, frame_lengths = _pad([b.frames for b in batch])
        tokens, token_lengths = _pad([b.llm_tokens for b in batch])
        emb, emb_lengths, _, _ = model.speech_embeddings(frames, frame_lengths)
        nll, _, _ = model.transcript_nll(emb, emb_lengths, tokens, token_lengths)
        loss = nll.sum() / len(batch)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses


@torch.no_grad()
def decode_oracle(model, items: Sequence[OracleItem], batch_size: int = 16,
                  guard: Optional["DecodingGuardConfig"] = None) -> Dict[str, str]:
    """Greedy decoding of oracle frames: {utt_id: text}.

    With ``guard`` (the full model's decoding guards) each output is bounded as the decoder
    bounds it (by the duration and by the phones a CTC head hears, here the reference's), stops
    on a repetition loop and has a final loop trimmed, so that the oracle and the full model are
    decoded alike; without it, up to 64 new tokens and nothing else.
    """
    from espnet_llm_entropy.decoding import build_logits_processors, build_stopping_criteria

    out = {}
    for start in range(0, len(items), batch_size):
        batch = items[start : start + batch_size]
        frames, frame_lengths = _pad([b.frames for b in batch])
        if guard is None:
            ids, _ = model.generate(frames, frame_lengths, max_new_tokens=64)
        else:
            budgets = guard.token_budgets([b.duration_s for b in batch], torch.tensor([b.num_phones for b in batch]))
            ids, _ = model.generate(frames, frame_lengths, max_new_tokens=int(budgets.max()),
                                    stopping_criteria=build_stopping_criteria(guard, 0, budgets),
                                    logits_processor=build_logits_processors(guard))
            ids = [guard.postprocess(row) for row in ids]
        for item, row in zip(batch, ids):
            out[item.utt_id] = text_from_token_ids(model.tokenizer, row, item.utt_id)
    return out
