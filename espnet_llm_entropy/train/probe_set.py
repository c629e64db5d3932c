"""A fixed probe subset of utterances on which encoder versions are compared.

The probe set is a list of utterance ids of a Kaldi data dir (given
explicitly, or the first ``num_utts`` ids in sorted order). Waveforms are
read once; when the encoder's frontend has no trainable parameters (fbank)
its features are cached too, so every check encodes exactly the same
input. Encoder outputs of all valid frames are concatenated into one
(N, D) matrix, the unit of comparison of linear CKA.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Mapping, Optional, Sequence

import torch
from torch import nn

from espnet_llm_entropy.config_options import dataclass_from_mapping
from espnet_llm_entropy.metrics.cka import linear_cka
from espnet_llm_entropy.models.module_modes import eval_mode


@dataclass(frozen=True)
class ProbeConfig:
    """``--probe_conf``: which utterances form the probe set.

    Attributes:
        data_dir: Kaldi data dir with ``wav.scp`` (None: the training job's
            validation ``wav.scp``).
        utt_ids: explicit utterance ids (each must be in ``wav.scp``).
        num_utts: otherwise the first ``num_utts`` ids in sorted order.
        batch_size: utterances encoded at once.
    """

    data_dir: Optional[str] = None
    utt_ids: Optional[Sequence[str]] = None
    num_utts: int = 8
    batch_size: int = 8

    @classmethod
    def from_dict(cls, conf: Mapping, option: str = "--probe_conf") -> "ProbeConfig":
        return dataclass_from_mapping(cls, conf, option)


class ProbeSet:
    """Cached probe utterances and the encoder outputs on them.

    Args:
        conf: a :class:`ProbeConfig`.
        default_wav_scp: used when ``conf.data_dir`` is None.
    """

    def __init__(self, conf: ProbeConfig, default_wav_scp: Optional[str] = None):
        from espnet2.fileio.sound_scp import SoundScpReader

        if conf.data_dir is None and default_wav_scp is None:
            raise ValueError("probe set: give probe_conf.data_dir=<Kaldi data dir with wav.scp>")
        wav_scp = Path(conf.data_dir) / "wav.scp" if conf.data_dir is not None else Path(default_wav_scp)
        if not wav_scp.is_file():
            raise FileNotFoundError(f"probe set: {wav_scp} not found (probe_conf.data_dir)")
        reader = SoundScpReader(str(wav_scp), dtype="float32")
        available = sorted(reader.keys())
        if conf.utt_ids:
            unknown = [u for u in conf.utt_ids if u not in reader.data]
            if unknown:
                raise ValueError(f"probe set: utterance ids {unknown[:5]} are not in {wav_scp}")
            ids = list(conf.utt_ids)
        else:
            if conf.num_utts < 1:
                raise ValueError(f"probe_conf.num_utts must be >= 1, got {conf.num_utts}")
            ids = available[: conf.num_utts]
        if not ids:
            raise ValueError(f"probe set: {wav_scp} is empty")
        self.utt_ids: List[str] = ids
        self.batch_size = max(1, int(conf.batch_size))
        self._waves = [torch.from_numpy(reader[u][1]).float() for u in ids]
        self._feats = None  # list of (feats (B, T, F), lengths (B,)) per batch
        self._feats_key = None  # fingerprint of the frontend buffers the cache was made with

    def _batches(self):
        for start in range(0, len(self._waves), self.batch_size):
            chunk = self._waves[start : start + self.batch_size]
            lengths = torch.tensor([len(w) for w in chunk])
            speech = torch.zeros(len(chunk), int(lengths.max()))
            for i, w in enumerate(chunk):
                speech[i, : len(w)] = w
            yield speech, lengths

    @torch.no_grad()
    def encoder_outputs(self, speech_encoder: nn.Module) -> torch.Tensor:
        """Encoder outputs of all valid probe frames.

        Args:
            speech_encoder: a ``SpeechEncoder`` (run in eval mode, its mode is restored).

        Returns:
            (N, D) float32 on the CPU, N = total encoder frames of the probe set.
        """
        device = next(speech_encoder.parameters()).device
        frontend = getattr(speech_encoder, "frontend", None)
        cacheable = frontend is None or not any(True for _ in frontend.parameters())
        key = _frontend_fingerprint(frontend)
        outputs = []
        with eval_mode(speech_encoder):
            if self._feats is None or not cacheable or key != self._feats_key:
                feats = [
                    speech_encoder.extract_feats(s.to(device), n.to(device)) for s, n in self._batches()
                ]
                if cacheable:
                    self._feats = [(f.cpu(), n.cpu()) for f, n in feats]
                    self._feats_key = key
            else:
                feats = self._feats
            for f, n in feats:
                # a copy: ESPnet's utterance_mvn normalises its input in place under no_grad
                out, out_lengths = speech_encoder.encode_feats(f.to(device).clone(), n.to(device), augment=False)
                for row, length in zip(out, out_lengths.tolist()):
                    outputs.append(row[:length].float().cpu())
        return torch.cat(outputs, 0)


def _frontend_fingerprint(frontend: Optional[nn.Module]):
    """Cheap identity of a frontend's buffers (e.g. a mel matrix): cached features stay valid while equal."""
    if frontend is None:
        return None
    return tuple((k, tuple(v.shape), float(v.double().sum())) for k, v in frontend.state_dict().items())


def probe_cka(reference_outputs: torch.Tensor, outputs: torch.Tensor) -> float:
    """Linear CKA between two encoders' outputs on the same probe frames ((N, D1), (N, D2))."""
    return float(linear_cka(reference_outputs, outputs))
