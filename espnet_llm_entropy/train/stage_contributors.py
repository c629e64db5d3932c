"""What each training stage adds to its ESPnet command line: one small entry per stage.

The runner (``train/stage_runner.py``) builds every stage's command from the
options all stages share (config, data, token list, devices, probe set,
seed, epochs, units) and then asks the stage's :class:`StageRole` for the
rest. A role is data: the stages it needs before it, whether it publishes
encoder versions or runs alongside the publishing process in live mode,
the traces the run summary collects, and a tuple of *contributors*, each a
small function ``(StageContext) -> List[str]`` of ``llm_asr_train`` options:

=====================  ======================================================
contributor            options
=====================  ======================================================
publish_versions       ``--cka_monitor_conf publish_dir=<pretrain>/encoder_versions``
with_llm               ``--llm_conf path=<LLM dir>``
load_published         ``--hot_swap_conf`` fixed version (first or last published)
hot_swap               ``--hot_swap_conf`` publish dir + the run's mode (replay | live)
init_from_previous     ``--init_param <previous stage>/latest.pth``
ctc_head_from_pretrain ``--ctc_head_init <pretrain>/latest.pth`` when the config keeps a CTC head
=====================  ======================================================

A new stage is one name in ``stage_schedule.STAGES`` and one entry in
:data:`STAGE_ROLES` (a spec naming a stage without an entry is refused with
an error that says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import yaml

from espnet_llm_entropy.train.encoder_versions import read_published_versions
from espnet_llm_entropy.train.hot_swap import CONCURRENT_MODES, HISTORY_FILE
from espnet_llm_entropy.train.stage_schedule import STAGES

#: Folder of a publishing stage's encoder versions, inside its exp dir.
PUBLISH_SUBDIR = "encoder_versions"
#: The checkpoint a following stage starts from.
LATEST = "latest.pth"


@dataclass(frozen=True)
class StageContext:
    """What a contributor may read about the stage it contributes to.

    Attributes:
        spec: the :class:`~espnet_llm_entropy.train.method_spec.MethodSpec`.
        run: the stage's :class:`~espnet_llm_entropy.train.method_spec.StageRun`.
        inputs: the run's :class:`~espnet_llm_entropy.train.stage_runner.RunInputs`
            (``llm_dir``, ``mode``, ...).
        stage_dirs: stage name -> exp dir, for every stage of the spec.
        dry_run: True when the command is only printed (nothing has been
            published yet, so a version that depends on the pretraining's
            outcome is shown as a placeholder).
    """

    spec: Any
    run: Any
    inputs: Any
    stage_dirs: Mapping[str, Path]
    dry_run: bool = False

    def stage_dir(self, stage: str) -> Path:
        return Path(self.stage_dirs[stage])

    @property
    def publish_dir(self) -> Optional[Path]:
        """The encoder versions of the spec's publishing stage (None without one)."""
        pre = self.spec.pretrain
        return None if pre is None else self.stage_dir(pre.stage) / PUBLISH_SUBDIR


Contributor = Callable[[StageContext], List[str]]


def config_keeps_ctc_head(config: Path) -> bool:
    """Whether an LLM-ASR training config builds a phone-CTC head (keep_ctc_head or ctc_weight > 0)."""
    conf = yaml.safe_load(Path(config).read_text()) or {}
    model_conf = conf.get("model_conf") or {}
    return bool(model_conf.get("keep_ctc_head")) or float(model_conf.get("ctc_weight") or 0) > 0


def last_published_version(publish_dir: Path) -> int:
    """The newest usable published version (a damaged one does not count)."""
    records, _ = read_published_versions(publish_dir)
    if not records:
        raise RuntimeError(f"pretraining published no encoder version in {publish_dir}")
    return max(r.version for r in records)


# ------------------------------------------------------------- contributors
def publish_versions(ctx: StageContext) -> List[str]:
    """The pretraining publishes encoder versions into its own exp dir."""
    return ["--cka_monitor_conf", f"publish_dir={ctx.stage_dir(ctx.run.stage) / PUBLISH_SUBDIR}"]


def with_llm(ctx: StageContext) -> List[str]:
    """The stage builds the LLM from the run's LLM directory."""
    return ["--llm_conf", f"path={ctx.inputs.llm_dir}"]


def load_published(ctx: StageContext) -> List[str]:
    """One fixed published version: the first, or the last one pretraining published."""
    if ctx.run.encoder == "first":
        version = "1"
    elif ctx.inputs.mode in CONCURRENT_MODES:
        raise ValueError(
            f"{ctx.spec.source}: {ctx.run.stage} loads the final encoder version, but in {ctx.inputs.mode} mode "
            "pretraining is still running; use encoder: first (or mode replay)"
        )
    elif ctx.dry_run:
        version = "<last published version>"
    else:
        version = str(last_published_version(ctx.publish_dir))
    return ["--hot_swap_conf", f"publish_dir={ctx.publish_dir}", "--hot_swap_conf", "mode=fixed",
            "--hot_swap_conf", f"initial_version={version}"]


def hot_swap(ctx: StageContext) -> List[str]:
    """Newer published versions are swapped in: replayed, live or in lockstep while pretraining runs."""
    return ["--hot_swap_conf", f"publish_dir={ctx.publish_dir}", "--hot_swap_conf", f"mode={ctx.inputs.mode}"]


def init_from_previous(ctx: StageContext) -> List[str]:
    """Start from the previous stage's model (from scratch when the stage comes first)."""
    previous = ctx.spec.previous(ctx.run.stage)
    return [] if previous is None else ["--init_param", str(ctx.stage_dir(previous.stage) / LATEST)]


def ctc_head_from_pretrain(ctx: StageContext) -> List[str]:
    """The pretraining's phone-CTC head (speech evidence for decoding's gate), when the config keeps one."""
    pre = ctx.spec.pretrain
    if pre is None or not config_keeps_ctc_head(ctx.run.config):
        return []
    return ["--ctc_head_init", str(ctx.stage_dir(pre.stage) / LATEST)]


# -------------------------------------------------------------------- roles
@dataclass(frozen=True)
class StageRole:
    """What a stage is to the runner.

    Attributes:
        contributors: option builders, applied in order.
        needs: (stage, why) pairs: stages that must come before it in a
            spec, and the reason (for the error when one is missing).
        publishes: it publishes encoder versions (live mode runs it as a
            separate process and waits for version 1).
        alongside_publisher: in live mode it runs while the publishing
            process is still training (on the SFT share of the GPUs).
        consumes_versions: its swap history goes into ``swap_history.json``.
        traces: summary key suffix -> trace file of its exp dir, collected
            into ``cka_trace.json`` as ``<stage>_<suffix>``.
    """

    contributors: Tuple[Contributor, ...]
    needs: Tuple[Tuple[str, str], ...] = ()
    publishes: bool = False
    alongside_publisher: bool = False
    consumes_versions: bool = False
    traces: Mapping[str, str] = None

    def trace_files(self) -> Dict[str, str]:
        return dict(self.traces or {})


STAGE_ROLES: Dict[str, StageRole] = {
    "pretrain": StageRole(
        contributors=(publish_versions,), publishes=True, traces={"checks": "cka_trace.jsonl"},
    ),
    "align": StageRole(
        contributors=(with_llm, load_published), needs=(("pretrain", "loads a published encoder version"),),
        alongside_publisher=True, consumes_versions=True,
    ),
    "ia_sft": StageRole(
        contributors=(with_llm, hot_swap, init_from_previous),
        needs=(("pretrain", "swaps in published encoder versions"), ("align", "starts from the aligned adaptor")),
        alongside_publisher=True, consumes_versions=True, traces={"swaps": HISTORY_FILE},
    ),
    "joint_sft": StageRole(
        contributors=(with_llm, init_from_previous, ctc_head_from_pretrain), traces={"drift": "drift_trace.jsonl"},
    ),
    # reinforcement learning from the joint-SFT model, whose checkpoint carries the CTC head
    "grpo": StageRole(
        contributors=(with_llm, init_from_previous),
        needs=(("joint_sft", "starts from the joint-SFT model"),),
    ),
}



def stage_role(stage: str) -> StageRole:
    """The role of ``stage``.

    Raises:
        ValueError: a name of ``stage_schedule.STAGES`` without an entry here
            (the message says what to add), or an unknown name.
    """
    if stage in STAGE_ROLES:
        return STAGE_ROLES[stage]
    if stage in STAGES:
        raise ValueError(
            f"stage {stage!r} is in stage_schedule.STAGES but has no entry in stage_contributors.STAGE_ROLES: "
            "add one (its contributors: what the stage adds to its llm_asr_train command line)"
        )
    raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")
