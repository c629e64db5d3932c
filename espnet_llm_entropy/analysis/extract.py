"""Representations of one batch from our models, captured with forward hooks.

For a :class:`~espnet_llm_entropy.models.phoneme_ctc.PhonemeCTCModel` or an
:class:`~espnet_llm_entropy.models.llm_asr.LLMASRModel` in eval mode, one
call of :func:`extract_batch` gives, as (N, D) matrices of *valid* frames
(padding removed, utterances concatenated in batch order):

* the output of every block of the ESPnet encoder
  (``speech_encoder.encoder.encoders[i]``, before the encoder's final
  LayerNorm), and the encoder output itself;
* the CTC head's log-probabilities on the encoder output (if there is a head);
* the adaptor output (LLM-ASR only);
* the output of every LLM decoder layer at the speech positions and at the
  transcript positions of the prompted sequence
  ``[prompt_before][speech][prompt_after][transcript]`` (teacher forcing);
* per-utterance transcript NLL (nats, transcript tokens + EOS) with the
  speech in the prompt and without it (speech length 0: the text prior).

Hooks are registered only for the duration of one forward pass and removed
even when it raises (:func:`capture_outputs`), so the model is left as it was.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, List, Optional, Sequence

import torch
from torch import nn

from espnet_llm_entropy.metrics.representation_stats import BatchRepresentations


@contextmanager
def capture_outputs(modules: Sequence[nn.Module]) -> Iterator[List[Optional[torch.Tensor]]]:
    """Record the output tensor of each module during the ``with`` block.

    Modules returning tuples (ESPnet encoder blocks return ``((x, pos), mask)``,
    some HF layers ``(hidden, ...)``) contribute their first tensor. A
    module called several times keeps its last output.

    Args:
        modules: modules to watch.

    Yields:
        A list, filled in place: entry i is the detached output of
        ``modules[i]`` (None until it runs).
    """
    captured: List[Optional[torch.Tensor]] = [None] * len(modules)
    handles = []

    def make_hook(index: int):
        def hook(module, inputs, output):
            while isinstance(output, (tuple, list)):
                output = output[0]
            captured[index] = output.detach()

        return hook

    try:
        for index, module in enumerate(modules):
            handles.append(module.register_forward_hook(make_hook(index)))
        yield captured
    finally:
        for handle in handles:
            handle.remove()


def encoder_blocks(model: nn.Module) -> List[nn.Module]:
    """The blocks of the ESPnet encoder inside ``model.speech_encoder``.

    Raises:
        ValueError: if the model has no ``speech_encoder.encoder.encoders``.
    """
    encoder = getattr(getattr(model, "speech_encoder", None), "encoder", None)
    blocks = getattr(encoder, "encoders", None)
    if blocks is None:
        raise ValueError(
            f"{type(model).__name__}: expected an ESPnet encoder with a block list at "
            "speech_encoder.encoder.encoders (conformer, e_branchformer, transformer ...)"
        )
    return list(blocks)


def llm_blocks(model: nn.Module) -> List[nn.Module]:
    """The decoder layers of ``model.llm`` (empty list for a model without LLM)."""
    llm = getattr(model, "llm", None)
    if llm is None:
        return []
    body = llm.model.get_decoder()
    layers = getattr(body, "layers", None)
    if layers is None:
        raise ValueError(f"LLM body {type(body).__name__} has no `layers` list to hook")
    return list(layers)


def valid_frames(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Concatenate the valid frames of a padded batch.

    Args:
        x: (B, T, D) padded features.
        lengths: (B,) valid frames per utterance.

    Returns:
        (sum(lengths), D) float32 CPU tensor, utterance after utterance.
    """
    mask = torch.arange(x.size(1), device=x.device)[None, :] < lengths[:, None].to(x.device)
    return x[mask].float().cpu()


def span_mask(starts: torch.Tensor, counts: torch.Tensor, width: int) -> torch.Tensor:
    """(B, width) bool mask of positions ``starts[b] <= p < starts[b] + counts[b]``."""
    pos = torch.arange(width, device=starts.device)[None, :]
    return (pos >= starts[:, None]) & (pos < (starts + counts)[:, None])


def _per_utterance_sum(values: torch.Tensor, rows: torch.Tensor, batch_size: int) -> torch.Tensor:
    return torch.zeros(batch_size, dtype=torch.float64).index_add_(
        0, rows.cpu(), values.detach().double().cpu()
    )


def _llm_side(model: nn.Module, out: BatchRepresentations, emb, emb_lengths, tokens, token_lengths) -> None:
    """Fill the LLM fields of ``out`` (teacher forcing with and without speech)."""
    batch_size = emb.size(0)
    tokens = tokens[:, : max(int(token_lengths.max()), 1)]
    with capture_outputs(llm_blocks(model)) as hidden:
        nll, _, rows = model.transcript_nll(emb, emb_lengths, tokens, token_lengths)
    nll_prior, _, rows_prior = model.transcript_nll(
        emb, torch.zeros_like(emb_lengths), tokens, token_lengths
    )
    prefix = int(model.prompt_before_ids.numel())
    suffix = int(model.prompt_after_ids.numel())
    speech_start = torch.full_like(emb_lengths, prefix)
    text_start = speech_start + emb_lengths + suffix
    for layer_out in hidden:
        width = layer_out.size(1)
        speech_mask = span_mask(speech_start, emb_lengths, width).to(layer_out.device)
        text_mask = span_mask(text_start, token_lengths.to(emb_lengths.device), width).to(layer_out.device)
        out.llm_speech_layers.append(layer_out[speech_mask].float().cpu())
        out.llm_transcript_layers.append(layer_out[text_mask].float().cpu())
    out.token_lengths = token_lengths.cpu()
    out.nll_with_speech = _per_utterance_sum(nll, rows, batch_size)
    out.nll_without_speech = _per_utterance_sum(nll_prior, rows_prior, batch_size)
    out.num_scored_tokens = (token_lengths + 1).cpu()


@torch.no_grad()
def extract_batch(
    model: nn.Module,
    speech: torch.Tensor,
    speech_lengths: torch.Tensor,
    llm_tokens: Optional[torch.Tensor] = None,
    llm_tokens_lengths: Optional[torch.Tensor] = None,
) -> BatchRepresentations:
    """Run one batch through a model in eval mode and collect its representations.

    Args:
        model: PhonemeCTCModel or LLMASRModel (anything with ``speech_encoder``;
            ``adaptor``/``llm``/``ctc_head`` are used when present).
        speech: (B, S) waveforms.
        speech_lengths: (B,).
        llm_tokens: (B, U) transcript ids padded with -1 (LLM side only; None
            skips the LLM).
        llm_tokens_lengths: (B,).

    Returns:
        :class:`BatchRepresentations` (CPU float32 features).

    Raises:
        ValueError: for a model whose encoder has no block list, or audio too
            short for the encoder's subsampling.
    """
    from espnet_llm_entropy.models.speech_encoder import check_min_length

    was_training = model.training
    model.eval()
    try:
        with capture_outputs(encoder_blocks(model)) as layers:
            enc, enc_lengths = model.speech_encoder(speech, speech_lengths, augment=False)
        check_min_length(speech_lengths, enc_lengths)
        out = BatchRepresentations(
            encoder_layers=[valid_frames(x, enc_lengths) for x in layers],
            encoder_out=valid_frames(enc, enc_lengths),
            encoder_lengths=enc_lengths.cpu(),
        )
        head = getattr(model, "ctc_head", None)
        if head is not None:
            out.ctc_log_probs = valid_frames(head(enc).float().log_softmax(-1), enc_lengths)
        adaptor = getattr(model, "adaptor", None)
        if adaptor is not None:
            emb, emb_lengths = adaptor(enc, enc_lengths)
            out.adaptor_out = valid_frames(emb, emb_lengths)
            out.adaptor_lengths = emb_lengths.cpu()
            if getattr(model, "llm", None) is not None and llm_tokens is not None:
                if llm_tokens_lengths is None:
                    raise ValueError("llm_tokens given without llm_tokens_lengths")
                _llm_side(model, out, emb, emb_lengths, llm_tokens, llm_tokens_lengths)
        return out
    finally:
        model.train(was_training)
