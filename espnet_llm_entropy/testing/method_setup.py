"""A four-stage method run for tests: the runner's inputs plus stage configs and options.

Tests build one :class:`MethodSetup` (tiny corpus, LLM, statistics) and run
single stages of it, or all of them, through ``train/stage_runner.py``;
``dataclasses.replace(setup, exp_dir=...)`` gives a copy in another folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Sequence

from espnet_llm_entropy.train.method_spec import MethodSpec, spec_from_stage_configs
from espnet_llm_entropy.train.stage_contributors import PUBLISH_SUBDIR
from espnet_llm_entropy.train.stage_runner import RunInputs, StageRunner, write_run_summary
from espnet_llm_entropy.train.stage_schedule import METHOD_STAGES

#: The method's stages (the tests never run later stages such as GRPO).


@dataclass
class MethodSetup(RunInputs):
    """The runner's inputs plus every stage's config and extra options."""

    configs: Dict[str, Path] = field(default_factory=dict)
    stage_args: Dict[str, List[str]] = field(default_factory=dict)

    @property
    def inputs(self) -> RunInputs:
        return self

    @property
    def spec(self) -> MethodSpec:
        return spec_from_stage_configs(self.configs, self.stage_args, stages=METHOD_STAGES)

    @property
    def publish_dir(self) -> Path:
        return self.stage_dir("pretrain") / PUBLISH_SUBDIR

    def runner(self) -> StageRunner:
        return StageRunner(self.spec, self.inputs)


def run_stage(setup: MethodSetup, stage: str) -> Dict:
    """One stage in the foreground (in this process on the CPU)."""
    return setup.runner().run_stage(stage)


def run_stages(setup: MethodSetup, stages: Sequence[str] = METHOD_STAGES) -> Dict[str, Path]:
    """``stages`` as ``train_method`` runs them (live mode included); returns the summary files."""
    setup.runner().run(stages)
    return write_run_summary(setup.spec, setup.inputs)
