"""A multi-stage run as data: which stages train, with which config, for how long.

A :class:`MethodSpec` is the only description of a multi-stage run. It is
read from a paradigm file (``comparison/paradigm_spec.py``) or built from
``train_method``'s options (:func:`spec_from_stage_configs`), and
``train/stage_runner.py`` turns it into ESPnet ``llm_asr_train`` commands.

Stage names come from :data:`~espnet_llm_entropy.train.stage_schedule.STAGES`
(their order is the order they run in); what a stage needs from the stages
before it is its entry in
:data:`~espnet_llm_entropy.train.stage_contributors.STAGE_ROLES`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence, Tuple

from espnet_llm_entropy.train.stage_contributors import stage_role
from espnet_llm_entropy.train.stage_schedule import METHOD_STAGES, STAGES

UNITS = ("phone", "char")
ALIGN_ENCODERS = ("first", "final")
MODES = ("replay", "live", "lockstep")


class MethodSpecError(ValueError):
    """A spec that cannot be run; the message names the file (or option) and the key."""


@dataclass(frozen=True)
class StageRun:
    """One ESPnet training of a spec.

    Attributes:
        stage: a name of :data:`STAGES`.
        config: the stage's ESPnet YAML config.
        epochs: training epochs (``--max_epoch``); None keeps the config's.
        args: extra ``llm_asr_train`` options (last on the command line, so they win).
        encoder: for stages that load one published encoder version
            (``align``): the ``first`` or the ``final`` one.
    """

    stage: str
    config: Path
    epochs: Optional[int] = None
    args: Tuple[str, ...] = ()
    encoder: str = "final"


@dataclass(frozen=True)
class MethodSpec:
    """A multi-stage run: its stages and the CTC target units they share.

    Attributes:
        name: identifier (directory names, table rows).
        label: one-line description for reports.
        units: ``phone`` or ``char``.
        stages: the trainings, in :data:`STAGES` order.
        source: the file (or command) it was read from, for error messages.
    """

    name: str
    label: str
    units: str
    stages: Tuple[StageRun, ...]
    source: Path = field(default=Path("<memory>"))

    @property
    def stage_names(self) -> Tuple[str, ...]:
        return tuple(s.stage for s in self.stages)

    @property
    def total_epochs(self) -> int:
        """The step budget in epochs (every epoch is ``steps_per_epoch`` updates)."""
        missing = [s.stage for s in self.stages if s.epochs is None]
        if missing:
            raise MethodSpecError(f"{self.source}: stages {missing} give no epochs; the budget is unknown")
        return sum(s.epochs for s in self.stages)

    def stage(self, name: str) -> Optional[StageRun]:
        """The :class:`StageRun` called ``name``, or None."""
        return next((s for s in self.stages if s.stage == name), None)

    def previous(self, name: str) -> Optional[StageRun]:
        """The stage that runs before ``name`` in this spec, or None for the first."""
        names = self.stage_names
        index = names.index(name)
        return self.stages[index - 1] if index > 0 else None

    @property
    def pretrain(self) -> Optional[StageRun]:
        """The stage that publishes encoder versions (``pretrain``), or None."""
        return next((s for s in self.stages if stage_role(s.stage).publishes), None)

    def pretrain_key(self) -> Optional[str]:
        """Identity of the pretraining: specs with equal keys can share one run.

        Built from the units, the config's content, the epochs and the extra
        options, so two specs share a pretrained encoder exactly when they
        would train the same one.
        """
        pre = self.pretrain
        if pre is None:
            return None
        digest = hashlib.sha1()
        for part in (self.units, pre.config.read_text(encoding="utf-8"), str(pre.epochs), *pre.args):
            digest.update(part.encode("utf-8") + b"\0")
        return f"{self.units}_{digest.hexdigest()[:10]}"


def check_stage_order(names: Sequence[str], where: str) -> None:
    """Raise :class:`MethodSpecError` (prefixed with ``where``) unless ``names`` can run as a spec.

    Rules: known names, each once, in :data:`STAGES` order, every stage's
    ``needs`` (its role in ``STAGE_ROLES``) present, and at least one stage
    that yields an LLM-ASR model.
    """
    unknown = [n for n in names if n not in STAGES]
    if unknown:
        raise MethodSpecError(f"{where}: unknown stages {unknown}; expected some of {STAGES}")
    if not names:
        raise MethodSpecError(f"{where}: at least one stage is needed")
    if len(set(names)) != len(names):
        raise MethodSpecError(f"{where}: a stage appears twice: {list(names)}")
    if list(names) != sorted(names, key=STAGES.index):
        raise MethodSpecError(f"{where}: stages must run in the order {STAGES}, got {list(names)}")
    for name in names:
        for needed, why in stage_role(name).needs:
            if needed not in names:
                article = "an" if needed[0] in "aeiou" else "a"
                raise MethodSpecError(f"{where}: {name} {why}: {article} {needed} stage is needed")
    if all(stage_role(n).publishes for n in names):
        raise MethodSpecError(f"{where}: pretraining alone gives no LLM-ASR model to decode")


def spec_from_stage_configs(
    configs: Mapping[str, Path],
    stage_args: Optional[Mapping[str, Sequence[str]]] = None,
    stages: Sequence[str] = METHOD_STAGES,
    name: str = "method",
    source: str = "train_method",
) -> MethodSpec:
    """The spec of ``train_method``: ``stages`` (default: the four of :data:`METHOD_STAGES`) with their configs and options.

    Epochs stay the configs' (``--max_epoch`` in the stage options overrides
    them); alignment loads the first published version, as the paper does.

    Raises:
        MethodSpecError: a stage without a config (the message names the
            option) or stages that cannot run as a spec.
    """
    stage_args = stage_args or {}
    missing = [s for s in stages if s not in configs]
    if missing:
        raise MethodSpecError(f"{source}: no --{missing[0]}_config given (stages {missing} have no config)")
    check_stage_order(list(stages), source)
    runs = tuple(
        StageRun(stage=s, config=Path(configs[s]), args=tuple(stage_args.get(s, ())), encoder="first")
        for s in stages
    )
    return MethodSpec(name=name, label="the method's stages", units="phone", stages=runs, source=Path(source))
