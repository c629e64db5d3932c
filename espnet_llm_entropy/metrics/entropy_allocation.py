"""How the entropy reduction from speech to transcript splits between encoder and LLM.

Everything here is in **bits per transcript token** (tokens of the LLM's
tokenizer), so that the two sides are on one scale.

Definitions (a design decision; see DESIGN.md, "Metrics"):

* Text prior ``H_prior`` = per-token cross-entropy of the reference
  transcript under the LLM *without* speech in the prompt (teacher forcing,
  same prompt otherwise): what remains uncertain given language knowledge only.
* ``H_speech`` = the same with the speech embeddings in the prompt.
* Total reduction ``R = H_prior - H_speech`` (:func:`llm_entropy_reduction`):
  what the speech contributes, measured end to end by the system itself.
* Encoder side ``E`` = phonetic information accessible before the LLM:
  the held-out frame-level V-information of forced-aligned phone labels
  given encoder (or adaptor) frames with a linear probe
  (:func:`~espnet_llm_entropy.metrics.accessible_info.accessible_information`,
  bits per frame), counted **once per phone** and converted to per token
  with the transcript's phone/token ratio:
  ``E_raw = info_bits_per_frame * phones / tokens``. It is then capped to
  [0, R]: ``E = min(max(E_raw, 0), R)``.
* LLM side ``L = R - E``: the part of the reduction that was not already
  linearly accessible at the encoder output and that the adaptor + LLM had
  to resolve (context, lexical choice, disambiguation of homophones).

So ``E + L = R`` and :func:`allocation_summary` reports ``E / R`` (share
before the LLM) and ``L / R`` (share inside it).

Limits, stated honestly:

1. E and R measure different variables: phones vs. LLM tokens. The phone/token
   ratio only puts them on a common per-token scale; it is not a change of
   variable. Phone information relative to the *unigram phone prior* also
   includes what the text prior already predicts, so ``E_raw`` can exceed R;
   the cap hides that excess (``encoder_capped`` flags it, ``E_raw`` is kept).
2. Counting frame-level information once per phone assumes the frames of a
   segment are redundant; a probe pooling a whole segment could access
   more, a frame-weighted count would access much more (it counts each
   phone once per frame). Long phones weigh more in the frame-level average.
3. Cross-entropies of a probe or of the LLM are upper bounds on the true
   conditional entropies, so both sides are "accessible to this predictor"
   quantities, not Shannon information; a stronger probe raises E.
4. Phone labels come from a CTC forced alignment with the model's own phone
   head, which favours probes on the encoder output that feeds that head.

Use the shares to compare models/checkpoints measured the same way (same
data, probe recipe and prompt), not as absolute truths.
"""

from __future__ import annotations

import math
from typing import Dict, Optional, Sequence, Union

import torch

LN2 = math.log(2.0)

Number = Union[float, int, torch.Tensor, Sequence[float]]


def _as_vector(value: Number, name: str) -> torch.Tensor:
    tensor = torch.as_tensor(value, dtype=torch.float64).reshape(-1)
    if tensor.numel() == 0:
        raise ValueError(f"{name}: expected at least one value, got none")
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name}: contains NaN or inf")
    return tensor


def llm_entropy_reduction(
    nll_with_speech: Number, nll_without_speech: Number, num_tokens: Number
) -> Dict[str, float]:
    """Per-token transcript bits under the LLM with and without speech.

    Args:
        nll_with_speech: summed negative log-likelihood in **nats** of the
            transcript tokens with the speech in the prompt: a scalar (totals)
            or one value per utterance, shape (U,).
        nll_without_speech: the same without the speech (text prior only).
        num_tokens: number of scored transcript tokens, scalar or (U,).

    Returns:
        dict with ``bits_per_token_without_speech`` (H_prior),
        ``bits_per_token_with_speech`` (H_speech),
        ``reduction_bits_per_token`` (R = H_prior - H_speech),
        ``reduction_share`` (R / H_prior, None if H_prior is 0),
        ``num_tokens`` and ``num_utterances``. Per-utterance inputs are pooled
        token-weighted (total nats / total tokens).

    Raises:
        ValueError: for shape mismatches, negative or non-finite NLL, or a
            non-positive token count.
    """
    with_speech = _as_vector(nll_with_speech, "nll_with_speech")
    without = _as_vector(nll_without_speech, "nll_without_speech")
    tokens = _as_vector(num_tokens, "num_tokens")
    if not with_speech.shape == without.shape == tokens.shape:
        raise ValueError(
            "nll_with_speech, nll_without_speech and num_tokens must have the same length: got "
            f"{with_speech.numel()}, {without.numel()}, {tokens.numel()}"
        )
    for name, values in (("nll_with_speech", with_speech), ("nll_without_speech", without)):
        if bool((values < 0).any()):
            raise ValueError(f"{name}: negative log-likelihoods must be >= 0 (nats)")
    if bool((tokens <= 0).any()):
        raise ValueError("num_tokens: every utterance must have at least one scored token")
    total_tokens = float(tokens.sum())
    h_prior = float(without.sum()) / total_tokens / LN2
    h_speech = float(with_speech.sum()) / total_tokens / LN2
    reduction = h_prior - h_speech
    return {
        "bits_per_token_without_speech": h_prior,
        "bits_per_token_with_speech": h_speech,
        "reduction_bits_per_token": reduction,
        "reduction_share": reduction / h_prior if h_prior > 0 else None,
        "num_tokens": int(round(total_tokens)),
        "num_utterances": int(tokens.numel()),
    }


def allocation_summary(encoder_side_bits: float, llm_side_bits: float) -> Dict[str, Optional[float]]:
    """Shares of the entropy reduction before the LLM and inside it.

    Args:
        encoder_side_bits: E, bits per transcript token resolved before the
            LLM (see the module docstring), >= 0.
        llm_side_bits: L, bits per transcript token resolved by adaptor + LLM, >= 0.

    Returns:
        dict with ``encoder_side_bits``, ``llm_side_bits``,
        ``total_reduction_bits`` (E + L), ``encoder_share`` and ``llm_share``
        (None when the total is 0).

    Raises:
        ValueError: for negative or non-finite inputs.
    """
    values = {}
    for name, value in (("encoder_side_bits", encoder_side_bits), ("llm_side_bits", llm_side_bits)):
        value = float(value)
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name}: expected a finite number >= 0 (bits per token), got {value}")
        values[name] = value
    total = values["encoder_side_bits"] + values["llm_side_bits"]
    return {
        "encoder_side_bits": values["encoder_side_bits"],
        "llm_side_bits": values["llm_side_bits"],
        "total_reduction_bits": total,
        "encoder_share": values["encoder_side_bits"] / total if total > 0 else None,
        "llm_share": values["llm_side_bits"] / total if total > 0 else None,
    }


def allocation_from_measurements(
    phone_info_bits_per_frame: float,
    num_phones: int,
    num_tokens: int,
    reduction_bits_per_token: float,
) -> Dict[str, Optional[float]]:
    """Encoder/LLM allocation from a phone probe and the LLM with/without speech.

    Args:
        phone_info_bits_per_frame: ``info_bits`` of
            :func:`~espnet_llm_entropy.metrics.accessible_info.accessible_information`
            on forced-aligned phone labels of encoder/adaptor frames.
        num_phones: phones in the evaluated transcripts (the alignment targets).
        num_tokens: LLM tokens in the same transcripts (as scored by
            :func:`llm_entropy_reduction`).
        reduction_bits_per_token: R from :func:`llm_entropy_reduction`.

    Returns:
        :func:`allocation_summary` output plus ``encoder_accessible_bits_per_token``
        (E_raw, before capping), ``encoder_capped`` (True when E_raw fell
        outside [0, R]) and ``phones_per_token``.

    Raises:
        ValueError: for non-positive counts, non-finite values, or R <= 0
            (speech did not lower the LLM's token entropy: no reduction to split).
    """
    if num_phones <= 0 or num_tokens <= 0:
        raise ValueError(f"num_phones and num_tokens must be > 0, got {num_phones} and {num_tokens}")
    for name, value in (
        ("phone_info_bits_per_frame", phone_info_bits_per_frame),
        ("reduction_bits_per_token", reduction_bits_per_token),
    ):
        if not math.isfinite(float(value)):
            raise ValueError(f"{name}: expected a finite number, got {value}")
    reduction = float(reduction_bits_per_token)
    if reduction <= 0:
        raise ValueError(
            f"reduction_bits_per_token={reduction:.4g}: speech did not lower the LLM's per-token "
            "entropy, so there is no reduction to allocate"
        )
    phones_per_token = num_phones / num_tokens
    raw = float(phone_info_bits_per_frame) * phones_per_token
    encoder_side = min(max(raw, 0.0), reduction)
    summary = allocation_summary(encoder_side, reduction - encoder_side)
    summary.update(
        {
            "encoder_accessible_bits_per_token": raw,
            "encoder_capped": not 0.0 <= raw <= reduction,
            "phones_per_token": phones_per_token,
        }
    )
    return summary
