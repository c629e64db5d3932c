"""Stage-1 model: speech encoder + MLP phoneme CTC head, trained with CR-CTC.

CR-CTC (consistency-regularized CTC, Yao et al. 2024): each batch is encoded
twice with independently drawn SpecAugment masks; CTC is applied to both
views and a symmetric consistency term pulls each view's frame posteriors
towards the other's (detached) posteriors:

    loss = (ctc_1 + ctc_2) / 2 + cr_weight * (KL(sg(p_2) || p_1) + KL(sg(p_1) || p_2)) / 2

with KL summed over valid frames and divided by the batch size.
``cr_weight = 0`` is plain CTC on a single view.
"""

from __future__ import annotations

from typing import Dict, Tuple

import editdistance
import torch
from espnet2.torch_utils.device_funcs import force_gatherable
from espnet2.train.abs_espnet_model import AbsESPnetModel
from torch import nn

from espnet_llm_entropy.models.ctc_head import (
    MLPCTCHead,
    ctc_loss_from_logits,
    greedy_ctc_decode,
)
from espnet_llm_entropy.models.speech_encoder import SpeechEncoder, check_min_length


def consistency_loss(
    logits_a: torch.Tensor, logits_b: torch.Tensor, lengths: torch.Tensor
) -> torch.Tensor:
    """Symmetric KL between two views' frame posteriors, each against the detached other.

    Args:
        logits_a, logits_b: (B, T, V) logits of the two views.
        lengths: (B,) valid frames.

    Returns:
        0-dim tensor: (KL(sg(p_b)||p_a) + KL(sg(p_a)||p_b)) / 2, summed over
        valid frames and divided by B. Zero when the views are identical.
    """
    lp_a = logits_a.float().log_softmax(-1)
    lp_b = logits_b.float().log_softmax(-1)
    kl_ab = (lp_b.detach().exp() * (lp_b.detach() - lp_a)).sum(-1)  # (B, T)
    kl_ba = (lp_a.detach().exp() * (lp_a.detach() - lp_b)).sum(-1)
    valid = torch.arange(lp_a.size(1), device=lp_a.device)[None] < lengths[:, None]
    return ((kl_ab + kl_ba) * valid).sum() / (2 * lp_a.size(0))


def phone_error_counts(hyps, targets: torch.Tensor, target_lengths: torch.Tensor):
    """(edit errors, reference length) of greedy hypotheses against padded targets."""
    errors = 0
    total = 0
    for hyp, ref, n in zip(hyps, targets.tolist(), target_lengths.tolist()):
        errors += editdistance.eval(hyp, ref[:n])
        total += n
    return errors, total


class PhonemeCTCModel(AbsESPnetModel):
    """Speech encoder + 3-layer MLP CTC head over a phone inventory.

    Args:
        vocab_size: phone inventory size (``<blank>`` = 0).
        token_list: the inventory (kept for decoding).
        speech_encoder: a :class:`SpeechEncoder`.
        cr_weight: weight of the CR-CTC consistency term (0 = plain CTC).
        head_hidden_size, head_layers, head_dropout: MLP head shape.
    """

    def __init__(
        self,
        vocab_size: int,
        token_list,
        speech_encoder: SpeechEncoder,
        cr_weight: float = 0.2,
        head_hidden_size: int = 256,
        head_layers: int = 3,
        head_dropout: float = 0.1,
    ):
        super().__init__()
        if cr_weight < 0:
            raise ValueError(f"model_conf.cr_weight must be >= 0, got {cr_weight}")
        self.vocab_size = vocab_size
        self.token_list = list(token_list)
        self.speech_encoder = speech_encoder
        self.ctc_head = MLPCTCHead(
            speech_encoder.output_size(), vocab_size, head_hidden_size, head_layers, head_dropout
        )
        self.cr_weight = cr_weight

    def encode(self, speech: torch.Tensor, speech_lengths: torch.Tensor):
        """speech (B, S) -> encoder_out (B, T, D), lengths (B,), no augmentation."""
        return self.speech_encoder(speech, speech_lengths, augment=False)

    def forward(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        **kwargs,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:
        """speech (B, S), text: phone ids (B, L) padded with -1."""
        batch_size = speech.size(0)
        text = text[:, : text_lengths.max()]
        feats, feats_lengths = self.speech_encoder.extract_feats(speech, speech_lengths)
        two_views = self.training and self.cr_weight > 0
        if two_views:
            feats2 = torch.cat([feats, feats], 0)
            lengths2 = torch.cat([feats_lengths, feats_lengths], 0)
            enc, enc_lengths = self.speech_encoder.encode_feats(feats2, lengths2, augment=True)
        else:
            enc, enc_lengths = self.speech_encoder.encode_feats(
                feats, feats_lengths, augment=self.training
            )
        check_min_length(speech_lengths, enc_lengths[:batch_size])
        logits = self.ctc_head(enc)
        stats: Dict[str, torch.Tensor] = {}
        if two_views:
            targets = torch.cat([text, text], 0)
            target_lengths = torch.cat([text_lengths, text_lengths], 0)
            loss_ctc = ctc_loss_from_logits(logits, enc_lengths, targets, target_lengths)
            loss_cr = consistency_loss(
                logits[:batch_size], logits[batch_size:], enc_lengths[:batch_size]
            )
            loss = loss_ctc + self.cr_weight * loss_cr
            stats["loss_cr"] = loss_cr.detach()
        else:
            loss_ctc = ctc_loss_from_logits(logits, enc_lengths, text, text_lengths)
            loss = loss_ctc
        stats["loss_ctc"] = loss_ctc.detach()
        stats["loss"] = loss.detach()
        if not self.training:
            hyps = greedy_ctc_decode(logits, enc_lengths)
            errors, total = phone_error_counts(hyps, text, text_lengths)
            stats["per"] = torch.tensor(errors / max(total, 1))
        loss, stats, weight = force_gatherable((loss, stats, batch_size), loss.device)
        return loss, stats, weight

    def collect_feats(
        self, speech: torch.Tensor, speech_lengths: torch.Tensor, **kwargs
    ) -> Dict[str, torch.Tensor]:
        feats, feats_lengths = self.speech_encoder.extract_feats(speech, speech_lengths)
        return {"feats": feats, "feats_lengths": feats_lengths}

    @torch.no_grad()
    def recognize_phones(self, speech: torch.Tensor, speech_lengths: torch.Tensor):
        """Greedy CTC phone decoding. Returns B lists of phone strings."""
        enc, enc_lengths = self.encode(speech, speech_lengths)
        hyps = greedy_ctc_decode(self.ctc_head(enc), enc_lengths)
        return [[self.token_list[i] for i in h] for h in hyps]
