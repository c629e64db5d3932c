"""A training paradigm as data: which stages run, with which config, for how long.

A paradigm file (``conf/paradigms/<name>.yaml``) lists the ESPnet trainings
of one way to build the LLM-ASR model::

    name: phoneme_ctc
    label: phoneme CR-CTC -> align -> joint SFT
    units: phone              # CTC targets of every stage: phone | char
    stages:
      - stage: pretrain       # a name of train/stage_schedule.STAGES, in that order
        config: ../tiny/pretrain_phoneme_ctc.yaml   # relative to this file
        epochs: 16
      - stage: align
        config: ../tiny/align.yaml
        epochs: 2
        encoder: final        # align only: first or final published encoder version
      - stage: joint_sft
        config: ../tiny/joint_sft.yaml
        epochs: 22
        args: --optim_conf lr=0.003   # extra llm_asr_train options

Every epoch of every stage is the same number of update steps (the
comparison's ``--steps_per_epoch``, ESPnet's ``--num_iters_per_epoch``), so
a paradigm's step budget is its total number of epochs, and
:func:`check_equal_budgets` makes a comparison refuse paradigms whose
budgets differ.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Dict, List, Sequence, Union

import yaml

from espnet_llm_entropy.conf import paradigm_dir
from espnet_llm_entropy.train.method_spec import (
    ALIGN_ENCODERS,
    UNITS,
    MethodSpec,
    MethodSpecError,
    StageRun,
    check_stage_order,
)
from espnet_llm_entropy.train.stage_contributors import STAGE_ROLES, load_published
from espnet_llm_entropy.train.stage_schedule import STAGES

PARADIGM_DIR = paradigm_dir()
DEFAULT_PARADIGMS = ("single_stage", "char_ctc", "phoneme_ctc", "full_method")
#: A paradigm is a :class:`~espnet_llm_entropy.train.method_spec.MethodSpec` read from a file.
ParadigmSpec = MethodSpec

__all__ = ["PARADIGM_DIR", "DEFAULT_PARADIGMS", "ParadigmSpec", "ParadigmSpecError", "StageRun", "load_paradigm",
           "load_paradigms", "resolve_paradigm", "check_equal_budgets"]


class ParadigmSpecError(MethodSpecError):
    """A paradigm file that cannot be used; the message names the file and key."""


def _fail(source: Path, key: str, message: str) -> None:
    raise ParadigmSpecError(f"{source}: {key}: {message}")


def _stage_run(entry, index: int, source: Path) -> StageRun:
    where = f"stages[{index}]"
    if not isinstance(entry, dict):
        _fail(source, where, f"expected a mapping with stage/config/epochs, got {entry!r}")
    unknown = sorted(set(entry) - {"stage", "config", "epochs", "args", "encoder"})
    if unknown:
        _fail(source, where, f"unknown keys {unknown}; expected stage, config, epochs, args, encoder")
    stage = entry.get("stage")
    if stage not in STAGES:
        _fail(source, f"{where}.stage", f"expected one of {STAGES}, got {stage!r}")
    if "config" not in entry:
        _fail(source, f"{where}.config", "missing (the stage's ESPnet YAML config)")
    config = (source.parent / str(entry["config"])).resolve()
    if not config.is_file():
        _fail(source, f"{where}.config", f"no such file: {config}")
    epochs = entry.get("epochs")
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
        _fail(source, f"{where}.epochs", f"expected a positive integer, got {epochs!r}")
    args = entry.get("args", ())
    if isinstance(args, str):
        args = shlex.split(args)
    if not isinstance(args, (list, tuple)) or not all(isinstance(a, str) for a in args):
        _fail(source, f"{where}.args", f"expected a string or a list of strings, got {args!r}")
    encoder = entry.get("encoder", "final")
    if encoder not in ALIGN_ENCODERS:
        _fail(source, f"{where}.encoder", f"expected one of {ALIGN_ENCODERS}, got {encoder!r}")
    choosers = [name for name, role in STAGE_ROLES.items() if load_published in role.contributors]
    if "encoder" in entry and stage not in choosers:
        _fail(source, f"{where}.encoder", f"only the {'/'.join(choosers)} stage chooses an encoder version")
    return StageRun(stage=stage, config=config, epochs=epochs, args=tuple(args), encoder=encoder)


def _check_stage_order(stages: Sequence[StageRun], source: Path) -> None:
    try:
        check_stage_order([s.stage for s in stages], f"{source}: stages")
    except MethodSpecError as err:
        raise ParadigmSpecError(str(err)) from None


def load_paradigm(path: Union[str, Path]) -> MethodSpec:
    """Read and validate a paradigm file.

    Raises:
        FileNotFoundError: no such file.
        ParadigmSpecError: a bad key or value, named with the file.
    """
    source = Path(path).resolve()
    if not source.is_file():
        raise FileNotFoundError(f"no paradigm file {source}")
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ParadigmSpecError(f"{source}: not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ParadigmSpecError(f"{source}: expected a mapping with name, label, units, stages")
    unknown = sorted(set(data) - {"name", "label", "units", "stages"})
    if unknown:
        _fail(source, "top level", f"unknown keys {unknown}; expected name, label, units, stages")
    name = data.get("name")
    if not isinstance(name, str) or not name.replace("_", "").isalnum():
        _fail(source, "name", f"expected an identifier (letters, digits, _), got {name!r}")
    units = data.get("units", "phone")
    if units not in UNITS:
        _fail(source, "units", f"expected one of {UNITS}, got {units!r}")
    raw_stages = data.get("stages")
    if not isinstance(raw_stages, list):
        _fail(source, "stages", f"expected a list of stages, got {raw_stages!r}")
    stages = tuple(_stage_run(entry, i, source) for i, entry in enumerate(raw_stages))
    _check_stage_order(stages, source)
    return MethodSpec(name=name, label=str(data.get("label", name)), units=units, stages=stages, source=source)


def resolve_paradigm(name_or_path: str) -> Path:
    """A paradigm file: a path, or the name of one shipped in ``espnet_llm_entropy/conf/paradigms/``."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    candidate = PARADIGM_DIR / f"{name_or_path}.yaml"
    if not candidate.is_file():
        known = sorted(p.stem for p in PARADIGM_DIR.glob("*.yaml"))
        raise FileNotFoundError(f"no paradigm {name_or_path!r}: not a file and not one of {known} in {PARADIGM_DIR}")
    return candidate


def load_paradigms(names_or_paths: Sequence[str]) -> List[MethodSpec]:
    """Load several paradigms; their names must be distinct."""
    specs = [load_paradigm(resolve_paradigm(p)) for p in names_or_paths]
    seen: Dict[str, Path] = {}
    for spec in specs:
        if spec.name in seen:
            raise ParadigmSpecError(f"two paradigms are called {spec.name!r}: {seen[spec.name]} and {spec.source}")
        seen[spec.name] = spec.source
    return specs


def check_equal_budgets(specs: Sequence[MethodSpec]) -> int:
    """The common step budget in epochs; raises when the paradigms' budgets differ."""
    budgets = {spec.name: spec.total_epochs for spec in specs}
    if len(set(budgets.values())) > 1:
        detail = ", ".join(f"{name}: {epochs}" for name, epochs in budgets.items())
        raise ParadigmSpecError(
            f"the paradigms train for different numbers of epochs ({detail}); a fair comparison "
            "gives each the same update budget (fix the files or pass --allow_unequal_budgets)"
        )
    return next(iter(budgets.values()))
