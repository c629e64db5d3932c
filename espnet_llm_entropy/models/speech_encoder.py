"""The speech encoder shared by every model: frontend -> SpecAugment -> normalize -> encoder.

Both the phoneme-CTC model and the LLM-ASR model hold one of these under
the attribute ``speech_encoder``, so an encoder pretrained with phoneme CTC
is moved into an LLM-ASR model (or hot-swapped during IA-SFT) by copying one
sub-state-dict with the same keys.

In eval mode an utterance's encoder output and length do not depend on
the batch it is padded into (see :mod:`padding_invariance`).
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import nn

from espnet_llm_entropy.models.padding_invariance import (
    install_padding_invariance,
    reflect_pad_ends,
    stft_end_padding,
    zero_past_lengths,
)


class SpeechEncoder(nn.Module):
    """ESPnet frontend + optional SpecAugment + optional normalization + any ESPnet encoder.

    Args:
        frontend: an ``AbsFrontend`` (e.g. ``DefaultFrontend`` fbank) or None
            when the input is already features.
        specaug: an ``AbsSpecAug`` applied in training only (or None).
        normalize: an ``AbsNormalize`` (e.g. ``GlobalMVN``) or None.
        encoder: an ``AbsEncoder`` (conformer, e_branchformer, transformer ...).
        padding_invariant: make each utterance's encoding independent of the
            padding of its batch (reflect each utterance's own end for the
            STFT, exact subsampled lengths, padded frames zeroed before
            every time convolution); adds hooks only, no parameters.
    """

    def __init__(self, frontend, specaug, normalize, encoder, padding_invariant: bool = True):
        super().__init__()
        self.frontend = frontend
        self.specaug = specaug
        self.normalize = normalize
        self.encoder = encoder
        self.padding_invariant = padding_invariant and install_padding_invariance(encoder)
        self._stft_pad = stft_end_padding(frontend) if padding_invariant else 0

    def output_size(self) -> int:
        return self.encoder.output_size()

    def extract_feats(
        self, speech: torch.Tensor, speech_lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """speech: (B, S) waveform (or (B, T, F) features) -> feats (B, T, F), (B,)."""
        speech = speech[:, : speech_lengths.max()]
        if self.frontend is None:
            return speech, speech_lengths
        if self._stft_pad:
            speech = reflect_pad_ends(speech, speech_lengths, self._stft_pad)
            feats, feats_lengths = self.frontend(speech, speech_lengths)
            return feats[:, : feats_lengths.max()], feats_lengths
        return self.frontend(speech, speech_lengths)

    def encode_feats(
        self, feats: torch.Tensor, feats_lengths: torch.Tensor, augment: bool
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(augment) -> normalize -> encoder. feats (B, T, F) -> (B, T', D), (B,)."""
        if augment and self.specaug is not None:
            feats, feats_lengths = self.specaug(feats, feats_lengths)
        if self.normalize is not None:
            feats, feats_lengths = self.normalize(feats, feats_lengths)
        out, out_lengths, _ = self.encoder(feats, feats_lengths)
        if isinstance(out, tuple):  # encoders with intermediate CTC outputs
            out = out[0]
        if self.padding_invariant:
            out = zero_past_lengths(out, out_lengths)
        return out, out_lengths

    def forward(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        augment: Optional[bool] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """speech (B, S), speech_lengths (B,) -> encoder_out (B, T', D), lengths (B,).

        ``augment`` defaults to ``self.training``.
        """
        feats, feats_lengths = self.extract_feats(speech, speech_lengths)
        if augment is None:
            augment = self.training
        return self.encode_feats(feats, feats_lengths, augment)


def check_min_length(
    speech_lengths: torch.Tensor, encoder_out_lengths: torch.Tensor, what: str = "audio"
) -> None:
    """Raise a clear error when an utterance is too short for the subsampling."""
    if bool((encoder_out_lengths < 1).any()):
        bad = int(speech_lengths[encoder_out_lengths < 1].min())
        raise ValueError(
            f"{what} of {bad} samples is shorter than the encoder's subsampling "
            "needs (it produced 0 frames); filter such utterances out "
            "(asr.sh --min_wav_duration) or lower the subsampling"
        )
