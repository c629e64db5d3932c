"""Which devices each ESPnet process of a multi-stage run gets (the only owner of ``--ngpu``).

``--ngpu N`` (``train_method``, asr.sh's ``--ngpu`` in recipe stage 11) asks
for N GPUs; the default 0 trains on the CPU. The GPUs are taken from the
visible ones, in order: ``CUDA_VISIBLE_DEVICES`` when it is set, otherwise
``torch.cuda.device_count()``.

* **replay** (one training at a time): every stage gets ``--ngpu N`` on the
  first N visible GPUs.
* **live** / **lockstep**: pretraining (the publishing process) and the
  stages that run alongside it (alignment, IA-SFT) are two processes at once.
  On the CPU they split the threads (``OMP_NUM_THREADS``, default: the
  CPUs this process may use): pretraining gets half, rounded down, the SFT
  process the rest, and once the final encoder version is in (pretraining
  has finished) the SFT process takes all of them
  (``--hot_swap_conf cpu_threads_after_final``). The N GPUs
  are split: the first ``pretrain_gpus`` go to pretraining, the rest to the
  SFT process (default: half each, pretraining gets the smaller half when N
  is odd). With N = 1 both processes share the one GPU (logged). Stages
  after pretraining has finished (joint SFT) get all N again.

Each process gets ``CUDA_VISIBLE_DEVICES`` set to its share, and
``--ngpu`` its size; a process with more than one GPU also gets
``--multiprocessing_distributed true`` (ESPnet's DDP spawner, what asr.sh's
launcher passes). Per-stage ``--<stage>_args`` come after these options and
may still override ``--multiprocessing_distributed``, never ``--ngpu``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

logger = logging.getLogger(__name__)

#: Which share of the plan a stage runs on.
ROLES = ("publisher", "alongside", "alone")


def visible_gpus(environ: Optional[Mapping[str, str]] = None, device_count: Optional[int] = None) -> Tuple[str, ...]:
    """The GPU ids this process may use, as ``CUDA_VISIBLE_DEVICES`` would name them.

    Args:
        environ: environment to read (default ``os.environ``).
        device_count: number of devices CUDA reports when
            ``CUDA_VISIBLE_DEVICES`` is unset (default: ask torch).
    """
    environ = os.environ if environ is None else environ
    value = environ.get("CUDA_VISIBLE_DEVICES")
    if value is not None:
        ids = tuple(v.strip() for v in value.split(",") if v.strip())
        # CUDA stops at the first invalid id ("-1" is the usual way to hide every GPU)
        valid = []
        for v in ids:
            if v.startswith("-") or v.lower() == "nodevfiles":
                break
            valid.append(v)
        return tuple(valid)
    if device_count is None:
        import torch

        device_count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return tuple(str(i) for i in range(device_count))


@dataclass(frozen=True)
class ProcessDevices:
    """The devices of one training process.

    Attributes:
        gpus: the GPU ids it may see (empty: CPU).
        set_visible: whether to set ``CUDA_VISIBLE_DEVICES`` for it.
        threads: CPU threads (``OMP_NUM_THREADS``; None: the default).
        threads_after_final: CPU threads from the final encoder version's
            swap on (None: unchanged).
    """

    gpus: Tuple[str, ...] = ()
    set_visible: bool = False
    threads: Optional[int] = None
    threads_after_final: Optional[int] = None

    @property
    def ngpu(self) -> int:
        return len(self.gpus)

    def args(self) -> List[str]:
        """``llm_asr_train`` options: ``--ngpu`` (+ DDP with more than one GPU)."""
        opts = ["--ngpu", str(self.ngpu)]
        if self.ngpu > 1:
            opts += ["--multiprocessing_distributed", "true"]
        if self.threads_after_final:
            opts += ["--hot_swap_conf", f"cpu_threads_after_final={self.threads_after_final}"]
        return opts

    def env_changes(self) -> Dict[str, str]:
        """Environment variables to set for the process (empty: none)."""
        changes = {"CUDA_VISIBLE_DEVICES": ",".join(self.gpus)} if self.set_visible and self.gpus else {}
        if self.threads:
            changes.update(OMP_NUM_THREADS=str(self.threads), MKL_NUM_THREADS=str(self.threads))
        return changes

    def env(self, base: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
        """``base`` (default ``os.environ``) with :meth:`env_changes` applied."""
        env = dict(os.environ if base is None else base)
        env.update(self.env_changes())
        return env


CPU = ProcessDevices()


@dataclass(frozen=True)
class DevicePlan:
    """The devices of every kind of process of a run (see :data:`ROLES`)."""

    publisher: ProcessDevices
    alongside: ProcessDevices
    alone: ProcessDevices

    def for_role(self, role: str) -> ProcessDevices:
        if role not in ROLES:
            raise ValueError(f"device role {role!r}: expected one of {ROLES}")
        return getattr(self, role)


@dataclass(frozen=True)
class DevicePolicy:
    """GPUs asked for and how live mode splits them.

    Attributes:
        ngpu: GPUs of the run (0: CPU).
        pretrain_gpus: live mode: GPUs of the pretraining process (None:
            half, rounded down). Ignored in replay mode.
        cpu_threads: CPU runs: threads of the whole run (None:
            :func:`available_cpu_threads`); used in live and lockstep modes.
    """

    ngpu: int = 0
    pretrain_gpus: Optional[int] = None
    cpu_threads: Optional[int] = None

    def plan(self, mode: str, visible: Optional[Sequence[str]] = None) -> DevicePlan:
        """The devices of each process for ``mode`` (replay | live).

        Args:
            visible: the visible GPU ids (default :func:`visible_gpus`).

        Raises:
            ValueError: naming ``--ngpu`` / ``--pretrain_gpus`` and the visible GPUs.
        """
        if self.ngpu < 0:
            raise ValueError(f"--ngpu {self.ngpu}: expected 0 (CPU) or a number of GPUs")
        if self.pretrain_gpus is not None and self.pretrain_gpus < 1:
            raise ValueError(f"--pretrain_gpus {self.pretrain_gpus}: expected at least 1 (or leave it unset)")
        if self.ngpu == 0:
            if self.pretrain_gpus is not None and mode != "replay":
                raise ValueError(f"--pretrain_gpus {self.pretrain_gpus} needs --ngpu >= 2 (the run is on the CPU)")
            return cpu_plan(mode, self.cpu_threads)
        visible = tuple(visible_gpus() if visible is None else visible)
        if self.ngpu > len(visible):
            raise ValueError(
                f"--ngpu {self.ngpu}: only {len(visible)} GPU(s) visible {list(visible)} "
                "(CUDA_VISIBLE_DEVICES or torch.cuda.device_count())"
            )
        gpus = visible[: self.ngpu]
        alone = ProcessDevices(gpus, set_visible=True)
        if mode != "live":
            return DevicePlan(alone, alone, alone)
        if self.ngpu == 1:
            if self.pretrain_gpus not in (None, 1):
                raise ValueError(f"--pretrain_gpus {self.pretrain_gpus} with --ngpu 1: nothing left for SFT")
            logger.warning("live mode with one GPU: pretraining and SFT share GPU %s", gpus[0])
            return DevicePlan(alone, alone, alone)
        split = self.ngpu // 2 if self.pretrain_gpus is None else self.pretrain_gpus
        if split >= self.ngpu:
            raise ValueError(
                f"--pretrain_gpus {split} of --ngpu {self.ngpu}: the SFT process needs at least one GPU "
                f"(expected 1..{self.ngpu - 1})"
            )
        publisher = ProcessDevices(gpus[:split], set_visible=True)
        alongside = ProcessDevices(gpus[split:], set_visible=True)
        logger.info("live mode: pretraining on GPU(s) %s, SFT on GPU(s) %s", publisher.gpus, alongside.gpus)
        return DevicePlan(publisher, alongside, alone)


def available_cpu_threads(environ: Optional[Mapping[str, str]] = None) -> int:
    """``OMP_NUM_THREADS`` when set, else the CPUs this process may run on."""
    environ = os.environ if environ is None else environ
    value = environ.get("OMP_NUM_THREADS", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def cpu_plan(mode: str, threads: Optional[int] = None) -> DevicePlan:
    """The CPU plan of ``mode``: in live and lockstep modes the publisher gets half of
    ``threads`` (rounded down, at least one), the SFT process the rest and all of them once
    the final version is in; with one thread both share it (logged)."""
    if mode == "replay":
        return DevicePlan(CPU, CPU, CPU)
    threads = available_cpu_threads() if threads is None else threads
    if threads < 2:
        logger.warning("%s mode on one CPU thread: pretraining and SFT share it", mode)
        return DevicePlan(ProcessDevices(threads=1), ProcessDevices(threads=1), CPU)
    publisher = threads // 2
    logger.info("%s mode on the CPU: pretraining on %d thread(s), SFT on %d (all %d after the final version)",
                mode, publisher, threads - publisher, threads)
    return DevicePlan(ProcessDevices(threads=publisher),
                      ProcessDevices(threads=threads - publisher, threads_after_final=threads), CPU)


def decoding_args(ngpu: int = 0) -> List[str]:
    """``--ngpu`` of a decoding run (``llm_asr_inference`` and friends decode on one device)."""
    if ngpu not in (0, 1):
        raise ValueError(f"--ngpu {ngpu}: decoding runs on the CPU (0) or one GPU (1); split the data for more")
    return ["--ngpu", str(ngpu)]


def training_args(ngpu: int = 0) -> List[str]:
    """``--ngpu`` of a single training run in this process's environment (statistics, one-stage tests)."""
    return DevicePolicy(ngpu).plan("replay").alone.args()
