"""Greedy CTC phone error rate of a trained encoder on a Kaldi data dir.

The first number of the error diagnosis (``docs/demo.md``): how well does the
speech side alone recognize phones? Works for any experiment whose model has
a phone CTC head: a phoneme-CTC pretraining run, or an LLM-ASR model trained
with an auxiliary CTC (``model_conf.ctc_weight > 0``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Optional

import torch


@dataclass
class PhoneErrorRate:
    """Result of :func:`phone_error_rate`.

    Attributes:
        per: phone edit errors / reference phones.
        errors: summed edit distance.
        ref_phones: summed reference length.
        num_utts: utterances scored.
        checkpoint: the checkpoint that was evaluated.
    """

    per: float
    errors: int
    ref_phones: int
    num_utts: int
    checkpoint: str

    def to_dict(self) -> Dict:
        return asdict(self)


@torch.no_grad()
def phone_error_rate(
    exp_dir: Path,
    data_dir: Path,
    checkpoint: Optional[str] = None,
    max_utts: Optional[int] = None,
    batch_size: int = 16,
) -> PhoneErrorRate:
    """Greedy CTC phone error rate of ``exp_dir``'s model on ``data_dir``.

    Args:
        exp_dir: ESPnet experiment dir (``config.yaml`` + checkpoints).
        data_dir: Kaldi data dir with ``wav.scp`` and ``text`` (transcripts
            are converted to phones by the experiment's own preprocessor).
        checkpoint: checkpoint file name in ``exp_dir`` (default: the best one).
        max_utts: score only the first ``max_utts`` utterances.
        batch_size: utterances per forward pass (does not change the result:
            the encoder masks padding).

    Raises:
        ValueError: the model has no phone CTC head.
    """
    from espnet_llm_entropy.analysis.data_dir_batches import collate_for_experiment, iterate_raw_batches
    from espnet_llm_entropy.analysis.experiment_loading import load_experiment
    from espnet_llm_entropy.models.ctc_head import greedy_ctc_decode
    from espnet_llm_entropy.models.phoneme_ctc import phone_error_counts

    loaded = load_experiment(Path(exp_dir), checkpoint)
    model = loaded.model
    head = getattr(model, "ctc_head", None)
    if head is None:
        raise ValueError(
            f"{exp_dir}: model {type(model).__name__} has no phone CTC head "
            "(train it as phoneme_ctc, or as llm_asr with model_conf.ctc_weight > 0)"
        )
    errors = total = utts = 0
    for raw in iterate_raw_batches(Path(data_dir), batch_size, max_utts):
        _, batch = collate_for_experiment(raw, loaded.preprocess_fn, loaded.collate_fn)
        enc, enc_lengths = model.encode(batch["speech"], batch["speech_lengths"])
        hyps = greedy_ctc_decode(head(enc), enc_lengths)
        e, n = phone_error_counts(hyps, batch["text"], batch["text_lengths"])
        errors, total, utts = errors + e, total + n, utts + len(hyps)
    return PhoneErrorRate(errors / max(total, 1), errors, total, utts, str(loaded.checkpoint))
