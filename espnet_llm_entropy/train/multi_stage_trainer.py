"""ESPnet trainer for the four training stages (the GAN-trainer pattern: options dataclass + overrides).

Options (YAML keys or command-line flags of ``llm_asr_train``):

* ``--training_stage {pretrain,align,ia_sft,joint_sft}`` and
  ``--stage_schedule`` (see :mod:`.stage_schedule`): which parameter groups
  train; applied before ESPnet wraps the model in DDP, so frozen parameters
  never reach DDP's reducer;
* ``--probe_conf``: the fixed probe subset for every CKA measurement;
* ``--cka_monitor_conf``: pretraining publishes encoder versions
  (:mod:`.cka_publisher`);
* ``--hot_swap_conf``: alignment / IA-SFT load published versions
  (:mod:`.hot_swap`);
* ``--drift_conf``: joint SFT measures encoder drift each epoch
  (:mod:`.encoder_drift`).

The per-step hooks run when ESPnet's training loop fetches a batch, before
its forward pass; the step number is ESPnet's own (restored on resume).
Decisions are taken by rank 0 and broadcast, so under DDP every rank
swaps at the same step. ESPnet's DeepSpeed path accepts only its default
trainer: ``--use_deepspeed`` with this trainer is refused with a clear error.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterable, Optional, Sequence

import torch
from espnet2.train.trainer import Trainer, TrainerOptions
from espnet2.utils.build_dataclass import build_dataclass
from espnet2.utils.nested_dict_action import NestedDictAction
from espnet2.utils.types import str_or_none

from espnet_llm_entropy.train.checkpoint_files import check_checkpoint_file, load_checkpoint
from espnet_llm_entropy.train.cka_publisher import CKAMonitorConfig, CKAPublisher
from espnet_llm_entropy.train.encoder_drift import DriftConfig, EncoderDriftMonitor
from espnet_llm_entropy.train.hot_swap import HotSwapConfig, HotSwapConsumer
from espnet_llm_entropy.train.probe_set import ProbeConfig, ProbeSet
from espnet_llm_entropy.train.rank_zero_decisions import is_rank0
from espnet_llm_entropy.train.stage_schedule import (
    STAGES,
    apply_training_stage,
    freeze_running_statistics,
    parse_stage_schedule,
)


@dataclass
class MultiStageTrainerOptions(TrainerOptions):
    """ESPnet's trainer options plus the stage options (see the module docstring)."""

    training_stage: Optional[str]
    stage_schedule: Optional[Dict]
    probe_conf: Optional[Dict]
    cka_monitor_conf: Optional[Dict]
    hot_swap_conf: Optional[Dict]
    drift_conf: Optional[Dict]
    valid_data_path_and_name_and_type: Sequence  # the default probe set is the validation wav.scp


def check_trainer_compatibility(args: argparse.Namespace) -> None:
    """Refuse option combinations this trainer cannot honour (before any work starts)."""
    if getattr(args, "use_deepspeed", False):
        raise ValueError(
            "--use_deepspeed is not supported by espnet_llm_entropy's MultiStageTrainer: ESPnet's "
            "DeepSpeed path only runs its default Trainer, so stage schedules, CKA publication and "
            "encoder hot-swapping would be lost. Train with DDP (--ngpu N / --multiprocessing_distributed) "
            "instead."
        )
    stage = getattr(args, "training_stage", None)
    if stage is not None and stage not in parse_stage_schedule(getattr(args, "stage_schedule", None)):
        raise ValueError(
            f"--training_stage {stage!r} is not in the stage schedule "
            f"({sorted(parse_stage_schedule(getattr(args, 'stage_schedule', None)))})"
        )


def resumed_step(output_dir: Path, resume: bool) -> int:
    """Optimizer steps already done according to ``checkpoint.pth`` (0 for a fresh run)."""
    ckpt = Path(output_dir) / "checkpoint.pth"
    if not resume or not ckpt.exists():
        return 0
    # ESPnet's own checkpoint of this output dir (it pickles the reporter, so not weights-only;
    # ESPnet's Trainer.resume loads it the same way)
    states = load_checkpoint(ckpt, "the checkpoint to resume from (--resume true)", map_location="cpu",
                             weights_only=False)
    stats = states["reporter"]["stats"]
    if not stats:
        return 0
    return int(stats[max(stats)]["train"]["total_count"])


def validation_wav_scp(options) -> Optional[str]:
    """The ``speech`` file of ``--valid_data_path_and_name_and_type`` (None if absent)."""
    for entry in options.valid_data_path_and_name_and_type or ():
        path, name = (entry.split(",")[:2] if isinstance(entry, str) else entry[:2])
        if name == "speech":
            return path
    return None


class _StepHookIterable:
    """Iterate ``iterable`` and call ``hook()`` before handing out each batch (keeps ``len``)."""

    def __init__(self, iterable: Iterable, hook: Callable[[], None], stop: bool = False):
        self.iterable = iterable
        self.hook = hook
        self.stop = stop

    def __len__(self) -> int:
        return 0 if self.stop else len(self.iterable)

    def __iter__(self):
        if self.stop:
            return
        for item in self.iterable:
            self.hook()
            yield item


class StageHooks:
    """Everything one stage's training run adds to ESPnet's loop (built once per run).

    Args:
        model: the unwrapped ESPnet model (holds ``speech_encoder``).
        optimizers: the run's optimizers.
        options: :class:`MultiStageTrainerOptions`.
    """

    def __init__(self, model: torch.nn.Module, optimizers: Sequence[torch.optim.Optimizer],
                 options: MultiStageTrainerOptions):
        self.model = model
        self.options = options
        self.output_dir = Path(options.output_dir)
        self.device = "cuda" if options.ngpu > 0 else "cpu"
        self.step = resumed_step(self.output_dir, options.resume)
        self.iterations_per_epoch: Optional[int] = None
        self._train_reporter = None
        if options.training_stage is not None:
            spec = parse_stage_schedule(options.stage_schedule)[options.training_stage]
            apply_training_stage(model, spec)
        needs_probe = options.cka_monitor_conf or options.hot_swap_conf or options.drift_conf
        probe = None
        if needs_probe and is_rank0():
            probe = ProbeSet(ProbeConfig.from_dict(options.probe_conf), validation_wav_scp(options))
        encoder = getattr(model, "speech_encoder", None)
        if needs_probe and encoder is None:
            raise ValueError(f"{type(model).__name__} has no speech_encoder; CKA hooks need one")
        self.publisher = self.consumer = self.drift = None
        if options.cka_monitor_conf:
            self.publisher = CKAPublisher(CKAMonitorConfig.from_dict(options.cka_monitor_conf), probe,
                                          self.output_dir, encoder, self.step, self.device)
        if options.hot_swap_conf:
            self.consumer = HotSwapConsumer(HotSwapConfig.from_dict(options.hot_swap_conf), probe,
                                            self.output_dir, encoder, self.device)
            self.consumer.start(self.step)
        if options.drift_conf:
            self.drift = EncoderDriftMonitor(DriftConfig.from_dict(options.drift_conf), probe,
                                             self.output_dir, model, optimizers, self.device)
            self.drift.start()

    def steps_done(self) -> int:
        """Optimizer steps completed so far (ESPnet's count; also after the last step)."""
        if self._train_reporter is not None:
            return self._train_reporter.get_total_count()
        return self.step

    def planned_total_steps(self) -> Optional[int]:
        """The step training ends at, when nothing can end it earlier: the epoch length times
        ``max_epoch`` without early stopping (``patience``) or a drift guard (None otherwise)."""
        if self.iterations_per_epoch is None or self.options.patience is not None or self.drift is not None:
            return None
        return self.iterations_per_epoch * self.options.max_epoch

    def wrap_train_iterator(self, iterator: Iterable, reporter) -> Iterable:
        """The epoch's batches, with the per-step hooks run before each one is handed out."""
        self._train_reporter = reporter
        first = [True]
        if self.iterations_per_epoch is None:
            try:
                self.iterations_per_epoch = len(iterator)
            except TypeError:
                self.iterations_per_epoch = None

        def hook():
            if first[0] and self.options.training_stage is not None:
                # after ESPnet's model.train(): frozen BatchNorm layers keep their statistics
                freeze_running_statistics(self.model)
                first[0] = False
            self.step = reporter.get_total_count()
            if self.publisher is not None:
                self.publisher.before_step(self.step, reporter, self.planned_total_steps())
            if self.consumer is not None:
                self.consumer.before_step(self.step, reporter, self.iterations_per_epoch,
                                          self.options.max_epoch)

        stop = self.drift is not None and self.drift.stops_epoch(reporter.epoch)
        if stop:
            logging.warning("drift guard: stopping before epoch %d", reporter.epoch)
        return _StepHookIterable(iterator, hook, stop)

    def before_validation(self, reporter) -> None:
        """End of a training epoch: drift measurement (into the validation reporter)."""
        if self.drift is not None:
            self.drift.end_of_epoch(reporter.epoch, self.steps_done(), reporter)

    def on_training_end(self) -> None:
        """ESPnet's loop returned normally: the final encoder publication."""
        if self.publisher is not None:
            self.publisher.on_training_end(self.steps_done())


class MultiStageTrainer(Trainer):
    """ESPnet ``Trainer`` with stage schedules, CKA publication, hot-swapping and drift."""

    _hooks: Optional[StageHooks] = None

    @classmethod
    def build_options(cls, args: argparse.Namespace) -> MultiStageTrainerOptions:
        check_trainer_compatibility(args)
        return build_dataclass(MultiStageTrainerOptions, args)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser):
        group = parser.add_argument_group("multi-stage training (espnet_llm_entropy.train)")
        group.add_argument("--training_stage", type=str_or_none, default=None,
                           help=f"Stage whose stage_schedule entry decides which parameters train "
                           f"(default schedule: {', '.join(STAGES)}; None: no schedule)")
        group.add_argument("--stage_schedule", action=NestedDictAction, default=None,
                           help="stage -> {trainable: [prefixes], trainable_if_present: [...], frozen: [...]}; "
                           "stages not given keep the defaults")
        group.add_argument("--probe_conf", action=NestedDictAction, default=None,
                           help="Probe subset for CKA: data_dir, utt_ids or num_utts, batch_size")
        group.add_argument("--cka_monitor_conf", action=NestedDictAction, default=None,
                           help="Pretraining: publish_dir, check_interval, reference_step, threshold, publish_final")
        group.add_argument("--hot_swap_conf", action=NestedDictAction, default=None,
                           help="Alignment/IA-SFT: publish_dir, mode (fixed|replay|live), initial_version, "
                           "check_interval, replay_steps, replay_scale, replay_final_fraction, wait_timeout_s, poll_s, "
                           "corrupt_grace_s, writer_stale_s")
        group.add_argument("--drift_conf", action=NestedDictAction, default=None,
                           help="Joint SFT: reference_encoder, floor, action (none|lower_lr|stop), lr_factor")

    @classmethod
    def run(cls, model, optimizers, schedulers, train_iter_factory, valid_iter_factory,
            plot_attention_iter_factory, trainer_options, distributed_option) -> None:
        hooks = StageHooks(model, optimizers, trainer_options)
        cls._hooks = hooks
        try:
            super().run(
                model=model, optimizers=optimizers, schedulers=schedulers,
                train_iter_factory=train_iter_factory, valid_iter_factory=valid_iter_factory,
                plot_attention_iter_factory=plot_attention_iter_factory,
                trainer_options=trainer_options, distributed_option=distributed_option,
            )
        finally:
            cls._hooks = None
        hooks.on_training_end()

    @staticmethod
    def resume(checkpoint, *args, **kwargs):
        """ESPnet's resume, after checking that ``checkpoint`` is a complete file (the error names it)."""
        check_checkpoint_file(checkpoint, "the checkpoint to resume from (--resume true)")
        return Trainer.resume(checkpoint, *args, **kwargs)

    @classmethod
    def train_one_epoch(cls, model, iterator, optimizers, schedulers, scaler, reporter, summary_writer,
                        options, distributed_option) -> bool:
        if cls._hooks is not None:
            iterator = cls._hooks.wrap_train_iterator(iterator, reporter)
        return super().train_one_epoch(
            model=model, iterator=iterator, optimizers=optimizers, schedulers=schedulers, scaler=scaler,
            reporter=reporter, summary_writer=summary_writer, options=options,
            distributed_option=distributed_option,
        )

    @classmethod
    def validate_one_epoch(cls, model, iterator, reporter, options, distributed_option) -> None:
        if cls._hooks is not None:
            cls._hooks.before_validation(reporter)
        return super().validate_one_epoch(
            model=model, iterator=iterator, reporter=reporter, options=options,
            distributed_option=distributed_option,
        )
