"""Make an utterance's encoding independent of the batch it is padded into.

In eval mode, ESPnet's speech encoders give an utterance a different
encoding alone than inside a padded batch, in three places:

1. **The STFT at the utterance's end.** ``Stft`` (``center=True``) pads the
   *batch tensor* by reflection, so the last frames of a shorter utterance
   see the zeros of the batch padding where, alone, they see the reflected
   signal. Utterance MVN then spreads the difference of those last frames
   over every frame through the mean. :func:`reflect_pad_ends` writes each
   utterance's own reflection right after its end before the STFT.
2. **Subsampled lengths.** ``Conv2dSubsampling`` (and its relatives) derive
   the output mask by slicing the padded input mask (``x_mask[:, :, :-2:2]
   [:, :, :-2:2]``), which counts one or two extra frames whenever enough
   padding follows: those frames' receptive fields reach into the padding.
   :func:`subsampled_lengths` computes the lengths from the convolutions'
   arithmetic instead (the count of output frames that see valid input
   only, which is what the utterance gets alone), and a forward hook on the
   ``embed`` module replaces the mask.
3. **Convolutions over time inside the layers.** The conformer
   ``ConvolutionModule`` runs its depthwise convolution over padded frames
   that are not zero (the pointwise convolution's bias, the GLU, and the
   residual stream of earlier blocks make them non-zero), so the last
   ``kernel // 2`` valid frames mix in padding. Alone, the convolution's own
   zero padding is there instead. A forward pre-hook zeroes the input of
   every time convolution (``nn.Conv1d`` with kernel > 1 inside an encoder
   layer: the conformer depthwise convolution, E-Branchformer's cgMLP and
   fusion convolutions, ``conv1d`` position-wise feed-forwards) at the
   padded frames of the mask that layer was called with.
4. **Legacy relative positions.** ESPnet's default conformer attention
   (``rel_pos_type: legacy``) scores the past with positions that depend on
   the padded length of the batch; :mod:`legacy_rel_attention` gives each
   row the scores of its own length.

Self-attention is otherwise masked, and utterance / global MVN, log-mel,
layer norm, feed-forward and batch norm in eval mode work frame by frame.
Batch norm in *training* mode still pools statistics over the whole batch
(padding included); that is training noise, not a decoding difference.

Not covered: frontends without an ESPnet ``Stft`` (S3PRL, Whisper ...:
their own padding behaviour is kept), encoders without an ``encoders``
layer stack (RNN, Whisper, HuBERT ...: left untouched, logged), and
(B, T, T) attention masks (streaming/chunked encoders: layers called with
them are left alone).

Only hooks are added: no module is replaced, so state-dict keys are
unchanged. The hooks are module-level functions that keep their state on the
hooked modules, so ``copy.deepcopy`` and pickling keep working.
"""

from __future__ import annotations

import logging
from typing import List, Optional, Tuple

import torch
from torch import nn

from espnet_llm_entropy.models.legacy_rel_attention import (
    make_legacy_rel_attention_padding_invariant,
)

_MASK_ATTR = "_padding_invariance_mask"


# --------------------------------------------------------------------- frontend
def stft_end_padding(frontend: Optional[nn.Module]) -> int:
    """Samples a frontend's centered STFT reads past an utterance's end (0 if none).

    ESPnet's ``DefaultFrontend`` (and any frontend with an ``stft``
    attribute of type ``espnet2.layers.stft.Stft`` with ``center=True``)
    pads by ``n_fft // 2`` samples of reflection on each side.
    """
    if frontend is None:
        return 0
    from espnet2.layers.stft import Stft

    stft = getattr(frontend, "stft", None)
    if isinstance(stft, Stft) and stft.center:
        return int(stft.n_fft) // 2
    return 0


def reflect_pad_ends(speech: torch.Tensor, lengths: torch.Tensor, pad: int) -> torch.Tensor:
    """Append ``pad`` samples of each utterance's own reflection after its end.

    Row ``b`` of the result holds ``speech[b, :L_b]`` followed by
    ``speech[b, L_b - 2 - j]`` for ``j = 0 .. pad - 1`` (what
    ``torch.nn.functional.pad(mode="reflect")`` appends to a lone
    utterance), then whatever padding was there. The centered STFT of the
    result then gives every valid frame of every row what it gives the
    utterance alone. Utterances of at most ``pad`` samples (too short for
    the STFT alone) reflect with clamped indices.

    Args:
        speech: (B, S) or (B, S, C) waveforms, padded on the right.
        lengths: (B,) valid samples per row.
        pad: samples to append (``n_fft // 2``).

    Returns:
        (B, S + pad) or (B, S + pad, C).
    """
    if pad <= 0:
        return speech
    bsz, width = speech.shape[:2]
    tail_shape = (bsz, pad) + tuple(speech.shape[2:])
    out = torch.cat([speech, speech.new_zeros(tail_shape)], 1)
    if width == 0:
        return out
    lengths = lengths.to(speech.device).long()
    steps = torch.arange(pad, device=speech.device)[None, :]
    src = (lengths[:, None] - 2 - steps).clamp(min=0)
    dst = lengths[:, None] + steps  # (B, pad), always < S + pad
    if speech.dim() == 3:
        src = src.unsqueeze(-1).expand(-1, -1, speech.size(2))
        dst = dst.unsqueeze(-1).expand(-1, -1, speech.size(2))
    return out.scatter(1, dst, speech.gather(1, src))


# -------------------------------------------------------------------- subsampling
def _time_convs(module: nn.Module) -> List[nn.Module]:
    return [m for m in module.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d))]


def subsampled_lengths(embed: nn.Module, lengths: torch.Tensor) -> torch.Tensor:
    """Output frames of an ESPnet conv subsampling that see valid input only.

    Applies ``L = (L - dilation * (kernel - 1) - 1) // stride + 1`` for each
    convolution of ``embed`` in order (time is the first kernel axis; the
    convolutions have no padding, see :func:`install_padding_invariance`).
    For an utterance alone this equals ESPnet's mask-derived length.

    Args:
        embed: the encoder's input layer (``Conv2dSubsampling`` ...).
        lengths: (B,) input frames.

    Returns:
        (B,) output frames, at least 0.
    """
    out = lengths
    for conv in _time_convs(embed):
        k, s, d = conv.kernel_size[0], conv.stride[0], conv.dilation[0]
        out = torch.div(out - d * (k - 1) - 1, s, rounding_mode="floor") + 1
    return out.clamp(min=0)


def _exact_subsampled_mask(embed: nn.Module, args: Tuple, output):
    """Forward hook on ``embed``: replace the sliced mask by the exact one."""
    if len(args) < 2 or args[1] is None or not isinstance(output, tuple):
        return None
    in_mask = args[1]  # (B, 1, T) True for valid frames
    x, out_mask = output
    if out_mask is None or out_mask.dim() != 3 or in_mask.dim() != 3:
        return None
    lengths = subsampled_lengths(embed, in_mask.sum(-1).squeeze(1).long())
    frames = torch.arange(out_mask.size(-1), device=out_mask.device)
    return x, (frames[None, :] < lengths[:, None]).unsqueeze(1)


# ------------------------------------------------------------------ layer masks
def _remember_layer_mask(layer: nn.Module, args: Tuple, kwargs: dict):
    """Forward pre-hook on an encoder layer: hand its mask to its time convolutions."""
    mask = args[1] if len(args) > 1 else kwargs.get("mask")
    if not (torch.is_tensor(mask) and mask.dim() == 3 and mask.size(1) == 1):
        mask = None  # no mask, or a (B, T, T) attention mask: leave the layer alone
    for conv in layer.modules():
        if hasattr(conv, _MASK_ATTR):
            setattr(conv, _MASK_ATTR, mask)
    return None


def _forget_layer_mask(layer: nn.Module, args: Tuple, output):
    """Forward hook on an encoder layer: no stale mask outlives the call."""
    for conv in layer.modules():
        if hasattr(conv, _MASK_ATTR):
            setattr(conv, _MASK_ATTR, None)
    return None


def _zero_padded_frames(conv: nn.Module, args: Tuple):
    """Forward pre-hook on a time convolution: x (B, C, T) * mask (B, 1, T)."""
    mask = getattr(conv, _MASK_ATTR, None)
    if mask is None:
        return None
    x = args[0]
    if x.size(-1) != mask.size(-1):
        raise RuntimeError(
            f"padding mask has {mask.size(-1)} frames but {type(conv).__name__} "
            f"gets {x.size(-1)}: this encoder layer convolves a sequence other "
            "than the one its mask describes"
        )
    return (x * mask.to(x.dtype),) + tuple(args[1:])


def _pads_in_time(conv: nn.Module) -> bool:
    if isinstance(conv.padding, str):
        return conv.padding != "valid"
    return conv.padding[0] != 0


def _is_time_conv(module: nn.Module) -> bool:
    return isinstance(module, nn.Conv1d) and module.kernel_size[0] > 1


# ------------------------------------------------------------------- installing
def install_padding_invariance(encoder: nn.Module) -> bool:
    """Hook an ESPnet encoder so padding never changes a valid frame or a length.

    Covers the encoders with an ``embed`` input layer (ESPnet conv
    subsampling, linear, or none) and a ``encoders`` stack of layers called
    as ``layer(x, mask)``: conformer, e_branchformer, branchformer,
    transformer. Installing twice is a no-op. Legacy relative-position
    attention modules become :class:`PaddingInvariantLegacyRelAttention`
    (same parameters).

    Args:
        encoder: an ``AbsEncoder``.

    Returns:
        True when the hooks were installed (or already were); False for an
        encoder of another shape (logged; it is left untouched).

    Raises:
        ValueError: a subsampling convolution pads in time (its output
            frames next to the end would mix in padding).
    """
    if getattr(encoder, "_padding_invariance_installed", False):
        return True
    embed = getattr(encoder, "embed", None)
    layers = getattr(encoder, "encoders", None)
    if layers is None or not isinstance(layers, nn.Module):
        logging.info(
            "%s has no `encoders` layer stack: padding invariance hooks not installed",
            type(encoder).__name__,
        )
        return False
    if embed is not None:
        for conv in _time_convs(embed):
            if _pads_in_time(conv):
                raise ValueError(
                    f"{type(embed).__name__} has a convolution that pads in time "
                    f"({conv}); its output lengths cannot be derived exactly"
                )
        embed.register_forward_hook(_exact_subsampled_mask)
    make_legacy_rel_attention_padding_invariant(layers)
    for layer in layers.children():
        convs = [m for m in layer.modules() if _is_time_conv(m)]
        if not convs:
            continue
        for conv in convs:
            setattr(conv, _MASK_ATTR, None)
            conv.register_forward_pre_hook(_zero_padded_frames)
        layer.register_forward_pre_hook(_remember_layer_mask, with_kwargs=True)
        layer.register_forward_hook(_forget_layer_mask)
    encoder._padding_invariance_installed = True
    return True


def zero_past_lengths(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """x (B, T, D), lengths (B,) -> x with frames t >= lengths[b] set to 0."""
    valid = torch.arange(x.size(1), device=x.device)[None, :] < lengths.to(x.device)[:, None]
    return x * valid.unsqueeze(-1).to(x.dtype)
