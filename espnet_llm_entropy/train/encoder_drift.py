"""Late joint SFT: encoder drift from the version it started with, and an optional guard.

Each epoch (before validation) the encoder's outputs on the probe set are
compared by linear CKA with the reference encoder's (the encoder at the
start of the job, saved to ``<exp>/drift_reference_encoder.pth`` so a resumed
job keeps the same reference, or a given encoder file). The value goes to
the validation reporter (``encoder_drift_cka``) and to
``<exp>/drift_trace.jsonl``. When it falls below ``floor`` the guard acts:

* ``lower_lr``: every later optimizer update of the encoder's parameters
  is scaled by ``lr_factor`` (exact for any optimizer: the update is
  measured around ``optimizer.step()``);
* ``stop``: later epochs train no step, which makes ESPnet end the run.

The trigger is stored in ``<exp>/drift_guard.json`` and re-applied on resume.
"""

from __future__ import annotations

import copy
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

import torch
from torch import nn

from espnet_llm_entropy.config_options import dataclass_from_mapping
from espnet_llm_entropy.fileio.atomic import torch_save_atomic, write_json_atomic
from espnet_llm_entropy.fileio.jsonl import read_jsonl, write_jsonl_atomic
from espnet_llm_entropy.models.encoder_checkpoint import load_speech_encoder
from espnet_llm_entropy.train.checkpoint_files import load_checkpoint
from espnet_llm_entropy.train.probe_set import ProbeSet, probe_cka
from espnet_llm_entropy.train.rank_zero_decisions import broadcast_from_rank0, is_rank0

REFERENCE_FILE = "drift_reference_encoder.pth"
TRACE_FILE = "drift_trace.jsonl"
GUARD_FILE = "drift_guard.json"
ACTIONS = ("none", "lower_lr", "stop")


@dataclass(frozen=True)
class DriftConfig:
    """``--drift_conf``.

    Attributes:
        reference_encoder: encoder weights to compare with (a published
            ``encoder_v<N>.pth`` or a model checkpoint); None: the encoder
            at the start of this job.
        floor: the guard acts when drift CKA < floor (0 disables it).
        action: none | lower_lr | stop.
        lr_factor: encoder update scale after ``lower_lr`` triggers.
    """

    reference_encoder: Optional[str] = None
    floor: float = 0.0
    action: str = "none"
    lr_factor: float = 0.1

    @classmethod
    def from_dict(cls, conf: Mapping) -> "DriftConfig":
        out = dataclass_from_mapping(cls, conf, "--drift_conf")
        if out.action not in ACTIONS:
            raise ValueError(f"--drift_conf.action must be one of {ACTIONS}, got {out.action!r}")
        if not 0.0 < out.lr_factor <= 1.0:
            raise ValueError(f"--drift_conf.lr_factor must be in (0, 1], got {out.lr_factor}")
        return out


class EncoderUpdateScaler:
    """Scale the optimizer updates of some parameters by ``factor`` (step pre/post hooks)."""

    def __init__(self, optimizers: Sequence[torch.optim.Optimizer], params: List[nn.Parameter], factor: float):
        self.params = [p for p in params if p.requires_grad]
        self.factor = factor
        self._before: Dict[int, torch.Tensor] = {}
        self.handles = []
        for opt in optimizers:
            self.handles.append(opt.register_step_pre_hook(self._pre))
            self.handles.append(opt.register_step_post_hook(self._post))

    def _pre(self, optimizer, args, kwargs):
        self._before = {id(p): p.detach().clone() for p in self.params}

    @torch.no_grad()
    def _post(self, optimizer, args, kwargs):
        for p in self.params:
            before = self._before.get(id(p))
            if before is not None:
                p.copy_(before + self.factor * (p - before))
        self._before = {}

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


class EncoderDriftMonitor:
    """Drift measurement and guard (one instance per training run, on every rank).

    Args:
        conf: the options.
        probe: the probe set (rank 0).
        output_dir: ESPnet exp dir.
        model: the unwrapped model (``model.speech_encoder`` is measured).
        optimizers: the run's optimizers (for ``lower_lr``).
    """

    def __init__(self, conf: DriftConfig, probe: Optional[ProbeSet], output_dir: Path, model: nn.Module,
                 optimizers: Sequence[torch.optim.Optimizer], device: str = "cpu"):
        self.conf = conf
        self.probe = probe
        self.output_dir = Path(output_dir)
        self.model = model
        self.optimizers = optimizers
        self.device = device
        self.reference_outputs: Optional[torch.Tensor] = None
        self.triggered_epoch: Optional[int] = None
        self.scaler: Optional[EncoderUpdateScaler] = None
        guard = self.output_dir / GUARD_FILE
        if guard.exists():
            self.triggered_epoch = int(json.loads(guard.read_text())["epoch"])

    def start(self) -> None:
        """Fix the reference (rank 0) and re-install a guard triggered before a restart."""
        if is_rank0():
            ref_file = self.output_dir / REFERENCE_FILE
            if not ref_file.exists():
                source = self.model.speech_encoder.state_dict()
                if self.conf.reference_encoder:
                    holder = _EncoderHolder(copy.deepcopy(self.model.speech_encoder))
                    load_speech_encoder(holder, self.conf.reference_encoder)
                    source = holder.speech_encoder.state_dict()
                torch_save_atomic({k: v.detach().cpu().clone() for k, v in source.items()}, ref_file)
            state = load_checkpoint(ref_file, "the drift reference encoder", map_location="cpu", weights_only=True)
            own = {k: v.detach().clone() for k, v in self.model.speech_encoder.state_dict().items()}
            self.model.speech_encoder.load_state_dict(state, strict=True)
            try:
                self.reference_outputs = self.probe.encoder_outputs(self.model.speech_encoder)
            finally:
                self.model.speech_encoder.load_state_dict(own, strict=True)
        if self.triggered_epoch is not None and self.conf.action == "lower_lr":
            self._install_scaler()

    def _install_scaler(self) -> None:
        if self.scaler is None:
            self.scaler = EncoderUpdateScaler(
                self.optimizers, list(self.model.speech_encoder.parameters()), self.conf.lr_factor
            )
            logging.info("drift guard: encoder updates scaled by %g", self.conf.lr_factor)

    def stops_epoch(self, epoch: int) -> bool:
        """True when the ``stop`` guard fired in an earlier epoch."""
        return self.conf.action == "stop" and self.triggered_epoch is not None and epoch > self.triggered_epoch

    def end_of_epoch(self, epoch: int, step: int, reporter) -> float:
        """Measure drift (rank 0), broadcast, report, and maybe trigger the guard."""
        cka = math.nan
        if is_rank0():
            cka = probe_cka(self.reference_outputs, self.probe.encoder_outputs(self.model.speech_encoder))
        cka = broadcast_from_rank0([cka], self.device)[0]
        reporter.register({"encoder_drift_cka": cka})
        if is_rank0():
            rows = [r for r in read_jsonl(self.output_dir / TRACE_FILE) if r["epoch"] < epoch]
            rows.append({"epoch": epoch, "step": step, "cka": cka})
            write_jsonl_atomic(self.output_dir / TRACE_FILE, rows)
        logging.info("encoder drift after epoch %d: CKA to the starting encoder %.4f", epoch, cka)
        if self.conf.floor > 0 and cka < self.conf.floor and self.triggered_epoch is None:
            self.triggered_epoch = epoch
            logging.warning("drift guard: CKA %.4f < floor %.4f after epoch %d -> %s",
                            cka, self.conf.floor, epoch, self.conf.action)
            if is_rank0():
                write_json_atomic(self.output_dir / GUARD_FILE,
                                  {"epoch": epoch, "step": step, "cka": cka, "action": self.conf.action})
            if self.conf.action == "lower_lr":
                self._install_scaler()
        return cka


class _EncoderHolder(nn.Module):
    """Wraps an encoder under the attribute ``speech_encoder`` for :func:`load_speech_encoder`."""

    def __init__(self, speech_encoder: nn.Module):
        super().__init__()
        self.speech_encoder = speech_encoder
