"""Hot-swap consumer of the alignment / IA-SFT jobs: load newer encoder versions into the frozen encoder.

Modes (``--hot_swap_conf mode=...``):

* ``fixed``: load ``initial_version`` at the start and keep it (alignment);
* ``replay``: pretraining has finished; version k is swapped in at the IA-SFT
  step :func:`replay_swap_steps` gives (by default proportional to the
  pretraining steps between versions, the last one at
  ``replay_final_fraction`` of the run);
* ``live``: pretraining runs at the same time; every ``check_interval``
  steps the newest complete version newer than the current one is loaded
  (which versions a run sees depends on the speed of the two jobs);
* ``lockstep``: pretraining runs at the same time, and the swaps are those
  of ``replay`` with ``replay_scale`` or ``replay_steps``, which need no
  knowledge of versions still to come. At a decision step the consumer
  waits until the next version is published or the publisher's
  ``writer.json`` shows (``next_check_step`` or ``checked_step``,
  ``finished``) that it cannot be due yet. The history is the one replay mode gives after pretraining has
  finished, however fast either job runs: a reproducible run that overlaps
  IA-SFT with pretraining, as the method intends.

``cpu_threads_after_final`` (CPU runs that share the machine with the
publisher): once the final version is in, the publisher has finished, and
the consumer raises its torch threads to that number. The step is the
final version's swap step, so a lockstep run stays reproducible.

Decisions are taken at step 0 and at multiples of ``check_interval`` by
rank 0 and broadcast, so every rank swaps at the same step. Each swap is
appended to ``<exp>/swap_history.jsonl`` (rewritten atomically): step,
version, previous version, CKA between old and new encoder on the probe
set, checksum. A resumed job re-applies the version current at its
checkpoint step and replays the recorded swaps of the steps it re-runs, so
the history of a killed-and-resumed run equals an uninterrupted one.

Damaged versions. Weights are written before their record, so a record
whose weights are missing or fail its sha256 is damaged, not half-written:

* ``fixed`` / ``replay`` (pretraining has finished): an immediate
  :class:`~espnet_llm_entropy.train.encoder_versions.EncoderVersionChecksumError`
  naming the file, the recorded and the actual sha256 and the way out;
* ``live``: the consumer keeps waiting (start) or retries at the next
  decision step only while the record is younger than ``corrupt_grace_s``
  and the publishing job is alive (``writer.json``); then the same error.

A record that cannot be parsed is skipped with a warning (it may be one a
tool is rewriting) and retried.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

import torch
from torch import nn

from espnet_llm_entropy.config_options import dataclass_from_mapping
from espnet_llm_entropy.fileio.jsonl import append_jsonl, read_jsonl, write_jsonl_atomic
from espnet_llm_entropy.models.encoder_checkpoint import check_encoder_state
from espnet_llm_entropy.train.encoder_versions import (
    EncoderVersion,
    EncoderVersionChecksumError,
    earliest_unpublished_step,
    load_encoder_version,
    read_published_versions,
    read_writer_status,
    record_age_s,
    writer_is_alive,
)
from espnet_llm_entropy.train.probe_set import ProbeSet, probe_cka
from espnet_llm_entropy.train.rank_zero_decisions import broadcast_from_rank0, is_distributed, is_rank0

HISTORY_FILE = "swap_history.jsonl"
MODES = ("fixed", "replay", "live", "lockstep")
#: Modes in which the publishing job may still be running.
CONCURRENT_MODES = ("live", "lockstep")


@dataclass(frozen=True)
class HotSwapConfig:
    """``--hot_swap_conf``.

    Attributes:
        publish_dir: the pretraining job's publication directory.
        mode: fixed | replay | live | lockstep.
        initial_version: version loaded at step 0.
        check_interval: M, steps between decisions.
        replay_steps: explicit swap steps of versions initial+1, initial+2, ...
        replay_scale: otherwise IA-SFT steps per pretraining step.
        replay_final_fraction: otherwise the last version is swapped in at
            this fraction of the run's total steps.
        wait_timeout_s: how long to wait for ``initial_version`` to appear.
        poll_s: polling period while waiting.
        corrupt_grace_s: live mode only: how long after its publication a
            version whose weights fail the checksum may still be waited for
            (while the publishing job is alive); replay and fixed modes fail
            at once.
        writer_stale_s: live mode, publisher on another host: its
            ``writer.json`` heartbeat older than this means it is gone.
        cpu_threads_after_final: torch CPU threads from the swap of the final
            version on (0: unchanged).
    """

    publish_dir: str
    mode: str = "replay"
    initial_version: int = 1
    check_interval: int = 10
    replay_steps: Optional[Sequence[int]] = None
    replay_scale: Optional[float] = None
    replay_final_fraction: float = 0.5
    wait_timeout_s: float = 3600.0
    poll_s: float = 1.0
    corrupt_grace_s: float = 60.0
    writer_stale_s: float = 900.0
    cpu_threads_after_final: int = 0

    @classmethod
    def from_dict(cls, conf: Mapping) -> "HotSwapConfig":
        if "publish_dir" not in conf:
            raise ValueError("--hot_swap_conf: publish_dir=<the pretraining job's publication dir> is required")
        out = dataclass_from_mapping(cls, conf, "--hot_swap_conf")
        if out.mode not in MODES:
            raise ValueError(f"--hot_swap_conf.mode must be one of {MODES}, got {out.mode!r}")
        if out.check_interval < 1:
            raise ValueError(f"--hot_swap_conf.check_interval must be >= 1, got {out.check_interval}")
        if out.corrupt_grace_s < 0 or out.writer_stale_s <= 0:
            raise ValueError(f"--hot_swap_conf.corrupt_grace_s must be >= 0 and writer_stale_s > 0, "
                             f"got {out.corrupt_grace_s} and {out.writer_stale_s}")
        if out.mode == "lockstep" and out.replay_scale is None and out.replay_steps is None:
            raise ValueError("--hot_swap_conf mode=lockstep needs replay_scale (IA-SFT steps per pretraining "
                             "step) or replay_steps: the final fraction needs the whole chain of versions")
        if out.cpu_threads_after_final < 0:
            raise ValueError(f"--hot_swap_conf.cpu_threads_after_final must be >= 0, got {out.cpu_threads_after_final}")
        if not 0.0 < out.replay_final_fraction <= 1.0:
            raise ValueError(f"--hot_swap_conf.replay_final_fraction must be in (0, 1], got {out.replay_final_fraction}")
        return out


def replay_swap_steps(
    pretrain_steps: Sequence[int],
    total_steps: int,
    final_fraction: float = 0.5,
    scale: Optional[float] = None,
    explicit: Optional[Sequence[int]] = None,
) -> List[int]:
    """IA-SFT steps at which versions 2..N (relative to the initial one) are swapped in.

    Args:
        pretrain_steps: pretraining step of each version from the initial one
            on, ascending (``[p_1, ..., p_N]``).
        total_steps: total optimizer steps of the IA-SFT run.
        final_fraction: with neither ``scale`` nor ``explicit``: version N
            comes at ``final_fraction * total_steps``, the others in proportion
            to ``p_k - p_1`` (so with 3 versions at 1M/2M/3M pretraining steps,
            v1 trains for a quarter of the run, v2 a quarter, v3 the last half).
        scale: IA-SFT steps per pretraining step.
        explicit: the N-1 swap steps themselves.

    Returns:
        N-1 non-decreasing steps.
    """
    n = len(pretrain_steps)
    if n <= 1:
        return []
    if explicit is not None:
        if len(explicit) < n - 1:
            raise ValueError(f"replay_steps gives {len(explicit)} steps, {n - 1} versions need one each")
        steps = [int(s) for s in explicit[: n - 1]]
        if any(b < a for a, b in zip(steps, steps[1:])) or steps[0] < 0:
            raise ValueError(f"replay_steps must be non-negative and non-decreasing, got {list(explicit)}")
        return steps
    span = pretrain_steps[-1] - pretrain_steps[0]
    if scale is None:
        scale = final_fraction * total_steps / span if span > 0 else 0.0
    return [int(round((p - pretrain_steps[0]) * scale)) for p in pretrain_steps[1:]]


class HotSwapConsumer:
    """The consumer-side hook (one instance per training run, on every rank).

    Args:
        conf: the options.
        probe: probe set for the old-vs-new CKA of each swap (None: not measured).
        output_dir: the ESPnet exp dir (the history lives there).
        speech_encoder: the model's ``speech_encoder`` (not the DDP wrapper).
        device: "cpu" or "cuda" (for broadcasts).
    """

    def __init__(self, conf: HotSwapConfig, probe: Optional[ProbeSet], output_dir: Path,
                 speech_encoder: nn.Module, device: str = "cpu"):
        self.conf = conf
        self.probe = probe
        self.output_dir = Path(output_dir)
        self.publish_dir = Path(conf.publish_dir)
        self.encoder = speech_encoder
        self.device = device
        self.history: List[Dict] = read_jsonl(self.output_dir / HISTORY_FILE) if is_rank0() else []
        self.current: int = 0
        self.total_steps: Optional[int] = None
        self._warned: set = set()

    # ----------------------------------------------------------- helpers
    def _records(self) -> Dict[int, EncoderVersion]:
        records, problems = read_published_versions(self.publish_dir, verify=False)
        for p in problems:
            if p not in self._warned:
                logging.warning("hot swap: skipping incomplete candidate (will retry): %s", p)
                self._warned.add(p)
        return {r.version: r for r in records}

    def _load(self, record: EncoderVersion):
        state = load_encoder_version(self.publish_dir, record)
        check_encoder_state(self.encoder, state, str(self.publish_dir / record.weights))
        return state

    def _apply(self, version: int, state=None) -> None:
        records = self._records()
        if state is None:
            state = self._load(records[version])
        self.encoder.load_state_dict(state, strict=True)
        self.current = version
        threads = self.conf.cpu_threads_after_final
        if threads and self.device == "cpu" and version in records and records[version].final:
            if torch.get_num_threads() != threads:
                logging.info("hot swap: final encoder v%d in (the publisher has finished): %d -> %d CPU threads",
                             version, torch.get_num_threads(), threads)
                torch.set_num_threads(threads)

    def _log_applied(self, step: int, version: int) -> None:
        """Under DDP, every rank notes what it applied (``swap_applied_rank<r>.jsonl``)."""
        if not is_distributed():
            return
        rank = torch.distributed.get_rank()
        checksum = float(sum(float(p.detach().double().sum()) for p in self.encoder.parameters()))
        append_jsonl(self.output_dir / f"swap_applied_rank{rank}.jsonl",
                     {"step": step, "version": version, "param_sum": checksum})

    def _encoder_trains(self) -> bool:
        return any(p.requires_grad for p in self.encoder.parameters())

    def _may_still_complete(self, record: EncoderVersion) -> bool:
        """Whether a version that fails its checksum may still become good (see the module docstring)."""
        if self.conf.mode not in CONCURRENT_MODES:
            return False
        return (record_age_s(self.publish_dir, record) < self.conf.corrupt_grace_s
                and writer_is_alive(self.publish_dir, self.conf.writer_stale_s))

    def _checked_load(self, record: EncoderVersion):
        """``_load``, or None while a damaged version may still complete; raises once it cannot."""
        try:
            return self._load(record)
        except EncoderVersionChecksumError as e:
            if not self._may_still_complete(record):
                raise
            warning = f"v{record.version} fails its checksum; the live publisher may still fix it: {e}"
            if warning not in self._warned:
                logging.warning("hot swap: %s", warning)
                self._warned.add(warning)
            return None

    def _wait_for(self, version: int) -> None:
        """Rank 0: block until ``version`` is published completely (checksum verified)."""
        deadline = time.monotonic() + self.conf.wait_timeout_s
        while True:
            record = self._records().get(version)
            if record is not None:
                try:
                    if self._checked_load(record) is not None:
                        return
                except EncoderVersionChecksumError:
                    raise
                except ValueError as e:
                    logging.warning("hot swap: v%d not loadable yet (will retry): %s", version, e)
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"hot swap: encoder version {version} did not appear complete in {self.publish_dir} "
                    f"within {self.conf.wait_timeout_s} s (hot_swap_conf.wait_timeout_s)"
                )
            time.sleep(self.conf.poll_s)

    # ------------------------------------------------------------- start
    def start(self, start_step: int) -> None:
        """Load the version current at ``start_step`` (all ranks)."""
        version = 0
        if is_rank0():
            past = [h for h in self.history if h["step"] <= start_step]
            if past:
                version = int(past[-1]["version"])
                logging.info("hot swap: resuming at step %d with encoder v%d (from %s)",
                             start_step, version, HISTORY_FILE)
            else:
                version = self.conf.initial_version
                self._wait_for(version)
        version = int(broadcast_from_rank0([version], self.device)[0])
        if is_rank0() and not any(h["step"] <= start_step for h in self.history):
            if not self._swap_to(version, start_step, reason="initial"):
                raise RuntimeError(f"hot swap: initial encoder v{version} could not be loaded")
            self._log_applied(start_step, version)
            return
        if self._encoder_trains():
            logging.warning("hot swap: the encoder trains in this stage; keeping the checkpoint's weights")
            self.current = version
        else:
            self._apply(version)
        self._log_applied(start_step, version)

    # ------------------------------------------------------------ decide
    def _decide(self, step: int) -> int:
        """Rank 0: the version to swap to at ``step`` (0 = none)."""
        recorded = [h for h in self.history if h["step"] == step]
        if recorded:
            return int(recorded[-1]["version"]) if int(recorded[-1]["version"]) != self.current else 0
        if self.history and step <= self.history[-1]["step"]:
            return 0  # the interrupted run decided "no swap" here
        if self.conf.mode == "fixed":
            return 0
        if self.conf.mode == "lockstep":
            return self._decide_lockstep(step)
        records = self._records()
        if self.conf.mode == "live":
            newer = [v for v in records if v > self.current]
            return max(newer) if newer else 0
        nxt = self.current + 1
        if nxt not in records:
            return 0
        return nxt if step >= self._swap_step(records, nxt) else 0

    def _swap_step(self, records: Mapping[int, EncoderVersion], version: int) -> int:
        """The step at which ``version`` (published) is swapped in by the replay schedule."""
        chain = [records[v].pretrain_step for v in sorted(records) if self.conf.initial_version <= v <= version]
        if self.conf.replay_scale is None and self.conf.replay_steps is None:  # needs the whole chain
            chain = [records[v].pretrain_step for v in sorted(records) if v >= self.conf.initial_version]
        steps = replay_swap_steps(chain, self.total_steps or 0, self.conf.replay_final_fraction,
                                  self.conf.replay_scale, self.conf.replay_steps)
        index = version - self.conf.initial_version - 1
        return steps[index] if 0 <= index < len(steps) else math.inf

    def _may_be_due(self, records: Mapping[int, EncoderVersion], version: int, step: int,
                    earliest: Optional[int]) -> bool:
        """Lockstep: whether ``version``, not yet published, could be due at ``step`` given that it
        cannot be published before pretraining step ``earliest`` (None: not known)."""
        if self.conf.replay_steps is not None:
            index = version - self.conf.initial_version - 1
            return index < len(self.conf.replay_steps) and step >= int(self.conf.replay_steps[index])
        if earliest is None:
            return True
        first = records[self.conf.initial_version].pretrain_step
        return int(round((earliest - first) * self.conf.replay_scale)) <= step

    def _decide_lockstep(self, step: int) -> int:
        """Rank 0, lockstep mode: replay's decision, waiting for the publisher where it must."""
        nxt = self.current + 1
        deadline = time.monotonic() + self.conf.wait_timeout_s
        waited = False
        while True:
            # the status first: it is written after the versions it vouches for, so the
            # records read after it hold every version up to its checked_step
            status = read_writer_status(self.publish_dir) or {}
            records = self._records()
            if nxt in records:
                return nxt if step >= self._swap_step(records, nxt) else 0
            if status.get("finished", True) or not self._may_be_due(records, nxt, step,
                                                                    earliest_unpublished_step(status)):
                return 0  # no more versions, or the next one comes after this step
            if not writer_is_alive(self.publish_dir, self.conf.writer_stale_s):
                raise RuntimeError(
                    f"hot swap (lockstep): the pretraining job publishing to {self.publish_dir} stopped "
                    f"(writer.json: checked_step {status.get('checked_step')}, not finished) before it "
                    f"could say whether v{nxt} is due at step {step}; restart it (it resumes) and this job"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"hot swap (lockstep): waited {self.conf.wait_timeout_s} s at step {step} for pretraining "
                    f"({self.publish_dir}) to publish v{nxt} or to pass the step it maps to "
                    "(hot_swap_conf.wait_timeout_s)"
                )
            if not waited:
                logging.info("hot swap (lockstep): step %d waits for pretraining (v%d or checked_step)", step, nxt)
                waited = True
            time.sleep(self.conf.poll_s)

    def _swap_to(self, version: int, step: int, reason: str) -> bool:
        """Rank 0: verify, measure, load, record. False when the candidate is bad."""
        records = self._records()
        record = records.get(version)
        try:
            if record is None:
                raise ValueError(f"version {version} has no complete record in {self.publish_dir}")
            state = self._checked_load(record)
        except EncoderVersionChecksumError:
            raise
        except ValueError as e:
            logging.warning("hot swap: candidate v%d skipped at step %d (will retry): %s", version, step, e)
            return False
        if state is None:
            return False
        old_out = self.probe.encoder_outputs(self.encoder) if self.probe is not None and self.current else None
        previous = self.current
        self._apply(version, state)
        cka = None
        if old_out is not None:
            cka = probe_cka(old_out, self.probe.encoder_outputs(self.encoder))
        if not any(h["step"] == step and h["version"] == version for h in self.history):
            self.history.append({
                "step": step, "version": version, "previous_version": previous or None,
                "cka_old_new": cka, "pretrain_step": record.pretrain_step, "sha256": record.sha256,
                "reason": reason, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            })
            write_jsonl_atomic(self.output_dir / HISTORY_FILE, self.history)
        logging.info("hot swap: step %d: encoder v%s -> v%d (CKA old/new on probe: %s)", step,
                     previous or "-", version, "n/a" if cka is None else f"{cka:.4f}")
        return True

    def before_step(self, step: int, reporter, iterations_per_epoch: Optional[int], max_epoch: int) -> None:
        """Called before the forward pass of every training step (all ranks)."""
        if self.total_steps is None and iterations_per_epoch:
            self.total_steps = iterations_per_epoch * max_epoch
        if step % self.conf.check_interval:
            return
        version = 0
        if is_rank0():
            version = self._decide(step)
            if version and not self._swap_to(version, step, reason=self.conf.mode):
                version = 0
        version = int(broadcast_from_rank0([version], self.device)[0])
        if version and not is_rank0():
            self._apply(version)
        if version:
            self._log_applied(step, version)
        reporter.register({"encoder_version": float(self.current)})
