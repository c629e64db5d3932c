"""Streaming statistics of one experiment's representations over a data set.

:class:`ExperimentStatistics` takes the :class:`BatchRepresentations` of
successive batches and keeps only bounded state:

* one float64 :class:`CovarianceAccumulator` per representation (spectral
  metrics: NSE, effective rank, RankMe), O(D^2) each;
* up to ``probe_max_frames`` labelled frames of the encoder output and of the
  adaptor output for the phone probes (the only frames kept in memory);
* per-utterance transcript NLL with and without speech (one float each).

``max_frames`` caps the frames that enter the frame-level statistics, per
stream (encoder rate, adaptor rate, transcript tokens): the first frames in
data order are used. The cap is applied identically in every experiment, so
two experiments with the same frame counts select the same frames (needed
for CKA between them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import torch

from espnet_llm_entropy.metrics.covariance import CovarianceAccumulator
from espnet_llm_entropy.metrics.frame_phone_labels import IGNORE_LABEL

STREAMS = ("encoder", "adaptor", "transcript")


@dataclass
class BatchRepresentations:
    """Representations of one batch, valid frames only.

    Filled by :func:`espnet_llm_entropy.analysis.extract.extract_batch` (the
    model side); only its shapes matter here.

    Attributes:
        encoder_layers: one (N_enc, D) tensor per encoder block.
        encoder_out: (N_enc, D) encoder output.
        encoder_lengths: (B,) encoder frames per utterance.
        ctc_log_probs: (N_enc, V) CTC log-probabilities, or None.
        adaptor_out: (N_ad, H) adaptor output, or None.
        adaptor_lengths: (B,) adaptor frames per utterance, or None.
        llm_speech_layers: one (N_ad, H) tensor per LLM layer (speech positions).
        llm_transcript_layers: one (N_tok, H) tensor per LLM layer (inputs at the
            transcript token positions).
        token_lengths: (B,) transcript tokens per utterance, or None.
        nll_with_speech: (B,) summed NLL in nats of transcript + EOS, or None.
        nll_without_speech: (B,) the same with an empty speech segment, or None.
        num_scored_tokens: (B,) scored tokens per utterance (transcript + EOS), or None.
    """

    encoder_layers: List[torch.Tensor]
    encoder_out: torch.Tensor
    encoder_lengths: torch.Tensor
    ctc_log_probs: Optional[torch.Tensor] = None
    adaptor_out: Optional[torch.Tensor] = None
    adaptor_lengths: Optional[torch.Tensor] = None
    llm_speech_layers: List[torch.Tensor] = field(default_factory=list)
    llm_transcript_layers: List[torch.Tensor] = field(default_factory=list)
    token_lengths: Optional[torch.Tensor] = None
    nll_with_speech: Optional[torch.Tensor] = None
    nll_without_speech: Optional[torch.Tensor] = None
    num_scored_tokens: Optional[torch.Tensor] = None

    def encoder_representations(self) -> Dict[str, torch.Tensor]:
        """Encoder-rate representations by name (``encoder_layer_<i>`` 1-based, ``encoder_output``)."""
        out = {f"encoder_layer_{i + 1}": x for i, x in enumerate(self.encoder_layers)}
        out["encoder_output"] = self.encoder_out
        return out


class FrameBudget:
    """How many of the next frames may still be used under a cap.

    Args:
        max_frames: cap (None: unlimited).
    """

    def __init__(self, max_frames: Optional[int] = None) -> None:
        if max_frames is not None and max_frames < 1:
            raise ValueError(f"max_frames must be >= 1 or None, got {max_frames}")
        self.max_frames = max_frames
        self.used = 0

    def take(self, available: int) -> int:
        """Reserve up to ``available`` frames; returns how many to keep (a prefix)."""
        keep = available if self.max_frames is None else max(0, min(available, self.max_frames - self.used))
        self.used += keep
        return keep


class LabelledFrames:
    """Labelled frames (features, labels, utterance ids) kept for a probe, up to a cap.

    Args:
        max_frames: most frames kept (the first ones offered).
    """

    def __init__(self, max_frames: int) -> None:
        self.max_frames = max_frames
        self.features: List[torch.Tensor] = []
        self.labels: List[torch.Tensor] = []
        self.groups: List[torch.Tensor] = []
        self.count = 0

    def add(self, features: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor) -> None:
        """Keep the labelled rows of features (C, D), labels (C,), groups (C,) while room is left."""
        keep = labels != IGNORE_LABEL
        features, labels, groups = features[keep], labels[keep], groups[keep]
        room = self.max_frames - self.count
        if room <= 0 or labels.numel() == 0:
            return
        self.features.append(features[:room].clone())
        self.labels.append(labels[:room].clone())
        self.groups.append(groups[:room].clone())
        self.count += min(room, labels.numel())

    def tensors(self):
        """(features (N, D), labels (N,), groups (N,)), or None when empty."""
        if not self.count:
            return None
        return torch.cat(self.features), torch.cat(self.labels), torch.cat(self.groups)


def utterance_ids(lengths: torch.Tensor, offset: int) -> torch.Tensor:
    """(sum(lengths),) running utterance index of each frame, starting at ``offset``."""
    return torch.repeat_interleave(torch.arange(offset, offset + lengths.numel()), lengths.long())


class ExperimentStatistics:
    """Bounded-memory statistics of one experiment (see the module docstring).

    Args:
        max_frames: per-stream cap on frames entering the statistics.
        probe_max_frames: labelled frames kept per probed representation.
        llm_layer_stride: keep LLM layers k, 2k, ... and the last one (1: every
            layer); each kept layer costs two D x D float64 sums.
    """

    def __init__(self, max_frames: Optional[int] = None, probe_max_frames: int = 20000,
                 llm_layer_stride: int = 1) -> None:
        if llm_layer_stride < 1:
            raise ValueError(f"llm_layer_stride must be >= 1, got {llm_layer_stride}")
        self.llm_layer_stride = llm_layer_stride
        self.budgets = {stream: FrameBudget(max_frames) for stream in STREAMS}
        self.covariances: Dict[str, CovarianceAccumulator] = {}
        self.probe_frames = {
            "encoder_output": LabelledFrames(probe_max_frames),
            "adaptor_output": LabelledFrames(probe_max_frames),
        }
        self.nll_with_speech: List[float] = []
        self.nll_without_speech: List[float] = []
        self.scored_tokens: List[int] = []
        self.num_phones = 0
        self.num_utterances = 0

    def _accumulate(self, name: str, chunk: torch.Tensor) -> None:
        if name not in self.covariances:
            self.covariances[name] = CovarianceAccumulator(int(chunk.shape[1]))
        self.covariances[name].update(chunk)

    def _llm_layer_kept(self, index: int, num_layers: int) -> bool:
        return (index + 1) % self.llm_layer_stride == 0 or index == num_layers - 1

    def update(
        self,
        reps: BatchRepresentations,
        encoder_labels: Optional[torch.Tensor] = None,
        adaptor_labels: Optional[torch.Tensor] = None,
        num_phones: int = 0,
    ) -> Dict[str, object]:
        """Add one batch.

        Args:
            reps: the batch's representations.
            encoder_labels: (N_enc,) phone labels of the encoder frames, or None.
            adaptor_labels: (N_ad,) phone labels of the adaptor frames, or None.
            num_phones: phones in the batch's transcripts (for the allocation).

        Returns:
            The frames that were used, for CKA: ``encoder`` (dict name ->
            (C, D), encoder rate) and ``adaptor_output`` ((C', H) or None).
        """
        offset = self.num_utterances
        self.num_utterances += int(reps.encoder_lengths.numel())
        self.num_phones += int(num_phones)

        keep = self.budgets["encoder"].take(int(reps.encoder_out.shape[0]))
        encoder = {name: x[:keep] for name, x in reps.encoder_representations().items()}
        for name, chunk in encoder.items():
            self._accumulate(name, chunk)
        if encoder_labels is not None:
            groups = utterance_ids(reps.encoder_lengths, offset)
            self.probe_frames["encoder_output"].add(encoder["encoder_output"], encoder_labels[:keep], groups[:keep])

        adaptor = None
        if reps.adaptor_out is not None:
            keep_ad = self.budgets["adaptor"].take(int(reps.adaptor_out.shape[0]))
            adaptor = reps.adaptor_out[:keep_ad]
            self._accumulate("adaptor_output", adaptor)
            for i, layer in enumerate(reps.llm_speech_layers):
                if self._llm_layer_kept(i, len(reps.llm_speech_layers)):
                    self._accumulate(f"llm_layer_{i + 1}_speech", layer[:keep_ad])
            if adaptor_labels is not None:
                groups = utterance_ids(reps.adaptor_lengths, offset)
                self.probe_frames["adaptor_output"].add(adaptor, adaptor_labels[:keep_ad], groups[:keep_ad])
        if reps.llm_transcript_layers:
            keep_tok = self.budgets["transcript"].take(int(reps.llm_transcript_layers[0].shape[0]))
            for i, layer in enumerate(reps.llm_transcript_layers):
                if self._llm_layer_kept(i, len(reps.llm_transcript_layers)):
                    self._accumulate(f"llm_layer_{i + 1}_transcript", layer[:keep_tok])
        if reps.nll_with_speech is not None:
            self.nll_with_speech.extend(reps.nll_with_speech.tolist())
            self.nll_without_speech.extend(reps.nll_without_speech.tolist())
            self.scored_tokens.extend(int(n) for n in reps.num_scored_tokens.tolist())
        return {"encoder": encoder, "adaptor_output": adaptor}
