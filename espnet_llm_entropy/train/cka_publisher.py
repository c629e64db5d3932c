"""CKA monitor of the pretraining job: publishes encoder versions when the encoder has moved.

Every ``check_interval`` optimizer steps the encoder's outputs on the probe
set are compared by linear CKA with the current reference. The first
reference is a snapshot taken at the first check at or after
``reference_step``; when CKA falls below ``threshold`` the current encoder
is published as the next version and becomes the reference. When training
ends, a final version is published regardless of CKA (unless the newest
version was taken at that very step).

State on disk (so a resumed job neither repeats nor loses a publication):

* the publication directory (versions are never retracted; the newest one
  is the reference after a restart);
* ``<exp>/cka_reference_snapshot.pth``: the initial reference before v1;
* ``<exp>/cka_trace.jsonl``: one row per check (step, cka, reference
  version, published version);
* ``writer.json`` in the publication directory, rewritten at every check:
  the job's heartbeat, ``checked_step``, the step up to which every
  version is on disk, and ``next_check_step``, the earliest step at which
  the next one can appear (what a ``lockstep`` consumer waits for).

Checks at steps up to the newest publication are skipped after a restart,
since ESPnet resumes from the last epoch checkpoint and re-runs steps that
already led to a publication.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional

import torch
from torch import nn

from espnet_llm_entropy.config_options import dataclass_from_mapping
from espnet_llm_entropy.fileio.atomic import torch_save_atomic
from espnet_llm_entropy.fileio.jsonl import read_jsonl, write_jsonl_atomic
from espnet_llm_entropy.train.checkpoint_files import load_checkpoint
from espnet_llm_entropy.train.encoder_versions import (
    EncoderVersion,
    load_encoder_version,
    publish_encoder_version,
    read_published_versions,
    write_writer_status,
)
from espnet_llm_entropy.train.probe_set import ProbeSet, probe_cka
from espnet_llm_entropy.train.rank_zero_decisions import broadcast_from_rank0, is_rank0

TRACE_FILE = "cka_trace.jsonl"
SNAPSHOT_FILE = "cka_reference_snapshot.pth"


@dataclass(frozen=True)
class CKAMonitorConfig:
    """``--cka_monitor_conf``.

    Attributes:
        publish_dir: where ``encoder_v<N>.pth/.json`` go (None:
            ``<exp>/encoder_versions``).
        check_interval: K, optimizer steps between checks.
        reference_step: the initial reference is taken at the first check at
            or after this step (default: the first check).
        threshold: publish when CKA to the reference drops below it.
        publish_final: publish a final version when training ends.
    """

    publish_dir: Optional[str] = None
    check_interval: int = 100
    reference_step: Optional[int] = None
    threshold: float = 0.975
    publish_final: bool = True

    @classmethod
    def from_dict(cls, conf: Mapping) -> "CKAMonitorConfig":
        out = dataclass_from_mapping(cls, conf, "--cka_monitor_conf")
        if out.check_interval < 1:
            raise ValueError(f"--cka_monitor_conf.check_interval must be >= 1, got {out.check_interval}")
        if not 0.0 < out.threshold <= 1.0:
            raise ValueError(f"--cka_monitor_conf.threshold must be in (0, 1], got {out.threshold}")
        return out


class CKAPublisher:
    """The pretraining-side hook (one instance per training run, on every rank).

    Args:
        conf: the monitor options.
        probe: the probe set (used on rank 0 only).
        output_dir: the ESPnet exp dir of the pretraining job.
        speech_encoder: the model's ``speech_encoder`` (not the DDP wrapper).
        start_step: optimizer steps already done (ESPnet's resumed reporter).
    """

    def __init__(self, conf: CKAMonitorConfig, probe: Optional[ProbeSet], output_dir: Path,
                 speech_encoder: nn.Module, start_step: int, device: str = "cpu"):
        self.conf = conf
        self.probe = probe
        self.output_dir = Path(output_dir)
        self.encoder = speech_encoder
        self.device = device
        self.publish_dir = Path(conf.publish_dir or self.output_dir / "encoder_versions")
        self.reference_step = conf.reference_step if conf.reference_step is not None else conf.check_interval
        self.reference_outputs: Optional[torch.Tensor] = None
        self.reference_version: Optional[int] = None
        self.skip_until = -1
        self.versions: List[EncoderVersion] = []
        if is_rank0():
            self._restore(start_step)
            write_writer_status(self.publish_dir)

    # ---------------------------------------------------------------- state
    def _restore(self, start_step: int) -> None:
        self.versions, problems = read_published_versions(self.publish_dir)
        for p in problems:
            logging.warning("CKA monitor: ignoring incomplete publication: %s", p)
        trace = read_jsonl(self.output_dir / TRACE_FILE)
        if self.versions:
            newest = self.versions[-1]
            self.skip_until = newest.pretrain_step
            state = load_encoder_version(self.publish_dir, newest)
            self.reference_outputs = self._outputs_of_state(state)
            self.reference_version = newest.version
            logging.info("CKA monitor: resuming with reference v%d (published at step %d)",
                         newest.version, newest.pretrain_step)
        elif (self.output_dir / SNAPSHOT_FILE).exists():
            snap = load_checkpoint(self.output_dir / SNAPSHOT_FILE, "the CKA reference snapshot",
                                   map_location="cpu", weights_only=True)
            self.reference_outputs = self._outputs_of_state(snap["state"])
            self.reference_version = 0
            self.skip_until = int(snap["step"])
        keep_until = max(start_step, self.skip_until)
        kept = [r for r in trace if r["step"] <= keep_until]
        if len(kept) != len(trace):
            write_jsonl_atomic(self.output_dir / TRACE_FILE, kept)

    def _outputs_of_state(self, state: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Probe outputs of the encoder with ``state`` loaded (own weights restored after)."""
        own = {k: v.detach().clone() for k, v in self.encoder.state_dict().items()}
        self.encoder.load_state_dict(state, strict=True)
        try:
            return self.probe.encoder_outputs(self.encoder)
        finally:
            self.encoder.load_state_dict(own, strict=True)

    def _append_trace(self, row: Dict) -> None:
        rows = read_jsonl(self.output_dir / TRACE_FILE)
        rows.append(row)
        write_jsonl_atomic(self.output_dir / TRACE_FILE, rows)

    def _next_version(self) -> int:
        return (self.versions[-1].version + 1) if self.versions else 1

    def _publish(self, step: int, cka: Optional[float], final: bool) -> EncoderVersion:
        record = publish_encoder_version(
            self.publish_dir, self.encoder.state_dict(), self._next_version(), step, cka,
            self.reference_version, final=final,
        )
        self.versions.append(record)
        logging.info("CKA monitor: published encoder v%d at step %d (CKA %s, final=%s)",
                     record.version, step, "n/a" if cka is None else f"{cka:.4f}", final)
        return record

    # ---------------------------------------------------------------- hooks
    def before_step(self, step: int, reporter, total_steps: Optional[int] = None) -> None:
        """Called before the forward pass of every training step (all ranks).

        ``total_steps``: the step training will end at (its final version's step), when it is
        known not to stop earlier; it lets the heartbeat vouch that no version comes before the
        next check (what a lockstep consumer needs to go on without waiting).
        """
        if step == 0 or step % self.conf.check_interval:
            return
        cka, published = math.nan, 0
        if is_rank0():
            if step > self.skip_until:
                cka, published = self._check(step)
            # heartbeat: every version up to this step is on disk, and none comes before the next
            # check or the final publication (lockstep consumers read it)
            next_check = None
            if total_steps is not None:
                next_check = min(step + self.conf.check_interval, max(int(total_steps), step + 1))
            write_writer_status(self.publish_dir, checked_step=step, next_check_step=next_check)
        cka, published = broadcast_from_rank0([cka, published], self.device)
        if not math.isnan(cka):
            reporter.register({"cka_to_reference": cka})
        if published:
            reporter.register({"published_encoder_version": published})

    def _check(self, step: int):
        outputs = self.probe.encoder_outputs(self.encoder)
        if self.reference_outputs is None:
            if step < self.reference_step:
                return math.nan, 0
            buffer_state = {k: v.detach().cpu().clone() for k, v in self.encoder.state_dict().items()}
            torch_save_atomic({"state": buffer_state, "step": step}, self.output_dir / SNAPSHOT_FILE)
            self.reference_outputs, self.reference_version = outputs, 0
            self._append_trace({"step": step, "cka": None, "reference_version": None,
                                "published_version": None, "event": "reference"})
            logging.info("CKA monitor: reference snapshot taken at step %d", step)
            return math.nan, 0
        cka = probe_cka(self.reference_outputs, outputs)
        published = 0
        ref_version = self.reference_version
        if cka < self.conf.threshold:
            published = self._publish(step, cka, final=False).version
            self.reference_outputs, self.reference_version = outputs, published
        self._append_trace({"step": step, "cka": cka, "reference_version": ref_version,
                            "published_version": published or None, "event": "check"})
        return cka, published

    def on_training_end(self, step: int) -> Optional[EncoderVersion]:
        """Publish the final version (rank 0).

        Skipped when the newest published version was taken at ``step``
        already (a finished run started again publishes nothing new); a run
        resumed with more epochs publishes a new final version.
        """
        if not is_rank0():
            return None
        if not self.conf.publish_final or (self.versions and self.versions[-1].pretrain_step >= step):
            write_writer_status(self.publish_dir, finished=True, checked_step=step)
            return None
        cka = None
        if self.reference_outputs is not None:
            cka = probe_cka(self.reference_outputs, self.probe.encoder_outputs(self.encoder))
        record = self._publish(step, cka, final=True)
        self._append_trace({"step": step, "cka": cka, "reference_version": record.reference_version,
                            "published_version": record.version, "event": "final"})
        write_writer_status(self.publish_dir, finished=True, checked_step=step)
        return record
