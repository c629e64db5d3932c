"""Which parameter groups train in each training stage (the four of the method, then GRPO).

The schedule is data (YAML under the task option ``--stage_schedule``)::

    pretrain:  {trainable: [speech_encoder, ctc_head]}
    align:     {trainable: [adaptor]}
    ia_sft:    {trainable: [adaptor, llm]}
    joint_sft: {trainable: [speech_encoder, adaptor, llm], trainable_if_present: [ctc_head]}
    grpo:      {trainable: [adaptor, llm]}

A parameter trains in a stage when its name starts with one of the stage's
``trainable`` prefixes (``p`` matches ``p`` itself and ``p.*``) and with none
of its ``frozen`` prefixes (which carve frozen parts out of a trainable
group, e.g. ``speech_encoder.frontend``). Everything else is frozen. The
model's own choice wins inside a trainable group: the base weights of a LoRA
LLM stay frozen when ``llm`` is trainable. A prefix in ``trainable`` or
``frozen`` that matches no parameter is an error (a typo would otherwise
silently freeze or train the wrong thing); ``trainable_if_present`` is for
groups that only some models have (the optional auxiliary CTC head).

:func:`stage_trainable_flags` is the pure function that decides;
:func:`apply_training_stage` applies it to a module.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from torch import nn

STAGES: Tuple[str, ...] = ("pretrain", "align", "ia_sft", "joint_sft", "grpo")
#: The method's default run: the paper's four stages (GRPO is opt-in, ``--stages ... grpo``).
METHOD_STAGES: Tuple[str, ...] = STAGES[:4]

DEFAULT_STAGE_SCHEDULE: Dict[str, Dict[str, List[str]]] = {
    "pretrain": {"trainable": ["speech_encoder", "ctc_head"]},
    "align": {"trainable": ["adaptor"]},
    "ia_sft": {"trainable": ["adaptor", "llm"]},
    "joint_sft": {"trainable": ["speech_encoder", "adaptor", "llm"], "trainable_if_present": ["ctc_head"]},
    # reinforcement learning after joint SFT (espnet_llm_entropy.models.grpo_step): the encoder stays put
    "grpo": {"trainable": ["adaptor", "llm"]},
}

_STAGE_KEYS = ("trainable", "trainable_if_present", "frozen")


@dataclass(frozen=True)
class StageSpec:
    """Parameter-name prefixes of one stage.

    Attributes:
        name: stage name (e.g. ``ia_sft``).
        trainable: prefixes of groups that train; each must match a parameter.
        trainable_if_present: like ``trainable`` but may match nothing.
        frozen: prefixes frozen even inside a trainable group; each must match.
    """

    name: str
    trainable: Tuple[str, ...] = ()
    trainable_if_present: Tuple[str, ...] = ()
    frozen: Tuple[str, ...] = field(default=())


def _prefix_list(value, where: str) -> Tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValueError(f"{where}: expected a list of parameter-name prefixes, got {value!r}")
    for p in value:
        if not isinstance(p, str) or not p or p.startswith(".") or p.endswith("."):
            raise ValueError(f"{where}: {p!r} is not a parameter-name prefix like 'speech_encoder'")
    return tuple(value)


def parse_stage_schedule(schedule: Optional[Mapping]) -> Dict[str, StageSpec]:
    """Validate a ``--stage_schedule`` mapping (None: :data:`DEFAULT_STAGE_SCHEDULE`).

    Stages not given keep their default entry, so a config may override
    one stage only. Unknown keys inside a stage are errors.
    """
    merged: Dict[str, Mapping] = dict(DEFAULT_STAGE_SCHEDULE)
    if schedule is not None:
        if not isinstance(schedule, Mapping):
            raise ValueError(f"--stage_schedule: expected a mapping stage -> {{trainable: [...]}}, got {schedule!r}")
        merged.update(schedule)
    specs = {}
    for name, entry in merged.items():
        if not isinstance(entry, Mapping):
            raise ValueError(f"--stage_schedule.{name}: expected a mapping with {list(_STAGE_KEYS)}, got {entry!r}")
        unknown = sorted(set(entry) - set(_STAGE_KEYS))
        if unknown:
            raise ValueError(f"--stage_schedule.{name}: unknown keys {unknown}; expected some of {list(_STAGE_KEYS)}")
        specs[name] = StageSpec(
            name=str(name),
            trainable=_prefix_list(entry.get("trainable"), f"--stage_schedule.{name}.trainable"),
            trainable_if_present=_prefix_list(
                entry.get("trainable_if_present"), f"--stage_schedule.{name}.trainable_if_present"
            ),
            frozen=_prefix_list(entry.get("frozen"), f"--stage_schedule.{name}.frozen"),
        )
    return specs


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def stage_trainable_flags(built_flags: Mapping[str, bool], spec: StageSpec) -> Dict[str, bool]:
    """Decide ``requires_grad`` of every parameter for one stage (pure function).

    Args:
        built_flags: parameter name -> ``requires_grad`` as the model was
            built (False for e.g. the frozen base of a LoRA LLM).
        spec: the stage.

    Returns:
        parameter name -> whether it trains in this stage.

    Raises:
        ValueError: a ``trainable`` or ``frozen`` prefix matches no parameter
            (the message names the stage, the prefix and the top-level groups).
    """
    names = list(built_flags)
    for key in ("trainable", "frozen"):
        for prefix in getattr(spec, key):
            if not any(_matches(n, prefix) for n in names):
                groups = sorted({n.split(".", 1)[0] for n in names})
                raise ValueError(
                    f"stage {spec.name!r}: {key} prefix {prefix!r} matches no parameter "
                    f"(the model's parameter groups are {groups})"
                )
    allowed = spec.trainable + spec.trainable_if_present
    return {
        n: bool(flag)
        and any(_matches(n, p) for p in allowed)
        and not any(_matches(n, p) for p in spec.frozen)
        for n, flag in built_flags.items()
    }


def apply_training_stage(model: nn.Module, spec: StageSpec) -> Dict[str, int]:
    """Set ``requires_grad`` of ``model``'s parameters for the stage.

    Returns:
        top-level group -> number of trainable parameter elements (logged).
    """
    params = dict(model.named_parameters())
    flags = stage_trainable_flags({n: p.requires_grad for n, p in params.items()}, spec)
    counts: Dict[str, int] = {}
    for name, p in params.items():
        p.requires_grad_(flags[name])
        group = name.split(".", 1)[0]
        counts[group] = counts.get(group, 0) + (p.numel() if flags[name] else 0)
    logging.info("training stage %s: trainable elements per group %s", spec.name, counts)
    return counts


def freeze_running_statistics(model: nn.Module) -> int:
    """Put normalisation layers whose parameters are all frozen into eval mode.

    A frozen encoder in ESPnet's ``model.train()`` still updates BatchNorm
    running statistics, so its outputs (and a published version loaded into
    it) would drift. Called at the start of every training epoch, after
    ESPnet's ``model.train()``; SpecAugment and dropout are unaffected.

    Returns:
        number of layers switched to eval mode.
    """
    count = 0
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._NormBase) and module.track_running_stats:
            params = list(module.parameters())
            if not any(p.requires_grad for p in params):
                module.eval()
                count += 1
    return count
