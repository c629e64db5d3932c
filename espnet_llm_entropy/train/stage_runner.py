"""The one runner of multi-stage trainings: a :class:`MethodSpec` in, ESPnet trainings out.

``train_method`` (and through it the demo and recipe stage 11) and the
paradigm comparison all run their specs here. Each stage is one
``llm_asr_train`` run in ``<exp_dir>/<stage>`` (or a directory the caller
names, e.g. the comparison's shared pretraining) with ``--resume true``, so
running a spec again continues where it stopped. Its command line is, in
order:

1. the options every training shares (:func:`espnet_commands.training_args`):
   config, token list, exp dir, data and shape files, and the devices of
   ``train/device_policy.py``;
2. the run's options: ``--probe_conf data_dir``, ``--use_matplotlib false``,
   and when given ``--seed``, ``--max_epoch`` (the stage's epochs),
   ``--num_iters_per_epoch`` and ``--phonemizer_conf unit=char``;
3. the stage's contributors (``train/stage_contributors.py``): publication,
   LLM, hot-swap, ``--init_param`` from the previous stage, the
   pretraining's CTC head;
4. the stage's own ``args``.

**replay** runs the stages one after the other. **live** and **lockstep**
start the publishing stage (pretraining) as a separate process, wait for
encoder version 1, run the stages that go alongside it (alignment, IA-SFT)
on the SFT share of the GPUs (or CPU threads), wait for pretraining, then
run the rest. In lockstep mode IA-SFT swaps versions at the steps replay
mode would (``hot_swap.py``), so the run is reproducible.

With ``mark_done`` (the comparison) a finished stage leaves
``stage_done.json`` (wall time, update steps) and is skipped next time; a
record with another step budget is an error.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from espnet_llm_entropy.fileio.atomic import write_json_atomic, write_text_atomic
from espnet_llm_entropy.fileio.jsonl import read_jsonl
from espnet_llm_entropy.train import espnet_commands
from espnet_llm_entropy.train.device_policy import DevicePlan, DevicePolicy, ProcessDevices
from espnet_llm_entropy.train.encoder_versions import process_is_running, read_published_versions
from espnet_llm_entropy.train.hot_swap import CONCURRENT_MODES, HISTORY_FILE
from espnet_llm_entropy.train.method_spec import MODES, MethodSpec, MethodSpecError
from espnet_llm_entropy.train.stage_contributors import PUBLISH_SUBDIR, StageContext, stage_role, with_llm

DONE_FILE = "stage_done.json"
#: Log of a stage run as a subprocess, in its exp dir.
STAGE_LOG = "train.log"
TRAIN_ENTRY_POINT = "llm_asr_train"
#: Lines of a stage's log (run as a subprocess) echoed to the console: its progress.
STAGE_PROGRESS = r"epoch results|published encoder|hot swap: step|waits for pretraining|Error"


@dataclass
class RunInputs:
    """Everything a spec's stages share.

    Attributes:
        exp_dir: parent of the stage exp dirs.
        token_list: phone (or character) inventory.
        train_dir, valid_dir: Kaldi data dirs.
        stats_dir: ESPnet collect-stats output (shape files).
        llm_dir: local Hugging Face causal LM directory.
        probe_dir: Kaldi dir of the CKA probe subset (default ``valid_dir``).
        mode: replay | live | lockstep.
        devices: the device policy (default: CPU).
        seed: ``--seed`` of every stage (None: the configs').
        steps_per_epoch: ``--num_iters_per_epoch`` of every stage (None: whole epochs).
        stage_dirs: stage -> exp dir, where it is not ``<exp_dir>/<stage>``.
        in_process: run CPU stages in this process (no ESPnet re-import);
            a stage with its own devices always runs as a subprocess.
        mark_done: write and honour ``stage_done.json``.
        llm_builder_pid: a process still writing ``llm_dir`` (it appears
            complete, renamed into place): stages that load the LLM wait for
            it, and fail if the process ends without it (None: it is there).
    """

    exp_dir: Path
    token_list: Path
    train_dir: Path
    valid_dir: Path
    stats_dir: Path
    llm_dir: Path
    probe_dir: Optional[Path] = None
    mode: str = "replay"
    devices: DevicePolicy = field(default_factory=DevicePolicy)
    seed: Optional[int] = None
    steps_per_epoch: Optional[int] = None
    stage_dirs: Dict[str, Path] = field(default_factory=dict)
    in_process: bool = True
    mark_done: bool = False
    llm_builder_pid: Optional[int] = None

    def stage_dir(self, stage: str) -> Path:
        return Path(self.stage_dirs.get(stage, Path(self.exp_dir) / stage))


@dataclass(frozen=True)
class StageCommand:
    """One stage's training: the ``llm_asr_train`` options, its devices and how it runs."""

    stage: str
    args: List[str]
    devices: ProcessDevices
    exp_dir: Path

    def shell(self) -> str:
        """The command as one shell line (environment prefix included)."""
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.devices.env_changes().items())
        cmd = shlex.join(espnet_commands.entry_point_command(TRAIN_ENTRY_POINT, self.args))
        return f"{env} {cmd}" if env else cmd


def stage_done(stage_dir: Path) -> Optional[Dict]:
    """The ``stage_done.json`` record of a finished stage, or None."""
    path = Path(stage_dir) / DONE_FILE
    return json.loads(path.read_text()) if path.exists() else None


class StageRunner:
    """Builds and runs the stage commands of one spec (see the module docstring)."""

    def __init__(self, spec: MethodSpec, inputs: RunInputs):
        if inputs.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {inputs.mode!r}")
        self.spec = spec
        self.inputs = inputs
        self._plan: Optional[DevicePlan] = None

    # ------------------------------------------------------------ commands
    @property
    def plan(self) -> DevicePlan:
        if self._plan is None:
            self._plan = self.inputs.devices.plan(self.inputs.mode)
        return self._plan

    def stage_dirs(self) -> Dict[str, Path]:
        return {s: self.inputs.stage_dir(s) for s in self.spec.stage_names}

    def device_role(self, stage: str) -> str:
        """``publisher`` / ``alongside`` / ``alone``: which share of the devices ``stage`` runs on."""
        role = stage_role(stage)
        if self.inputs.mode not in CONCURRENT_MODES or self.spec.pretrain is None:
            return "alone"
        if role.publishes:
            return "publisher"
        return "alongside" if role.alongside_publisher else "alone"

    def run_options(self, stage: str) -> List[str]:
        """Options of the run that every stage gets (probe set, seed, epochs, units)."""
        run = self.spec.stage(stage)
        inputs = self.inputs
        opts = ["--probe_conf", f"data_dir={inputs.probe_dir or inputs.valid_dir}", "--use_matplotlib", "false"]
        if inputs.seed is not None:
            opts += ["--seed", str(inputs.seed)]
        if run.epochs is not None:
            opts += ["--max_epoch", str(run.epochs)]
        if inputs.steps_per_epoch is not None:
            opts += ["--num_iters_per_epoch", str(inputs.steps_per_epoch)]
        if self.spec.units != "phone":
            opts += ["--phonemizer_conf", f"unit={self.spec.units}"]
        return opts

    def stage_options(self, stage: str, dry_run: bool = False) -> List[str]:
        """The options that chain ``stage`` into its spec: run options, contributors, the stage's args."""
        run = self.spec.stage(stage)
        if run is None:
            raise MethodSpecError(f"{self.spec.source}: no stage {stage!r} (stages: {list(self.spec.stage_names)})")
        if "--ngpu" in run.args:
            raise MethodSpecError(
                f"{self.spec.source}: {stage} args set --ngpu; devices come from the device policy "
                "(train_method --ngpu / --pretrain_gpus, asr.sh --ngpu)"
            )
        ctx = StageContext(self.spec, run, self.inputs, self.stage_dirs(), dry_run=dry_run)
        opts = self.run_options(stage)
        for contribute in stage_role(stage).contributors:
            opts += contribute(ctx)
        return opts + list(run.args)

    def command(self, stage: str, dry_run: bool = False) -> StageCommand:
        """The whole ``llm_asr_train`` command of ``stage``."""
        chain = self.stage_options(stage, dry_run)  # first: it names a stage the spec lacks
        devices = self.plan.for_role(self.device_role(stage))
        exp_dir = self.inputs.stage_dir(stage)
        inputs = self.inputs
        args = espnet_commands.training_args(
            self.spec.stage(stage).config, inputs.token_list, exp_dir, inputs.train_dir, inputs.valid_dir,
            inputs.stats_dir, devices.args(),
        )
        return StageCommand(stage, args + chain, devices, exp_dir)

    # ----------------------------------------------------------------- run
    def check(self, stages: Sequence[str]) -> None:
        """Refuse stages the spec does not have or whose config is missing (before anything runs)."""
        unknown = [s for s in stages if self.spec.stage(s) is None]
        if unknown:
            raise MethodSpecError(f"{self.spec.source}: unknown stages {unknown}; the spec has "
                                  f"{list(self.spec.stage_names)}")
        missing = [s for s in stages if not Path(self.spec.stage(s).config).is_file()]
        if missing:
            raise FileNotFoundError(
                f"no config file for stages {missing}: {[str(self.spec.stage(s).config) for s in missing]}")
        self.plan  # device errors before anything runs

    def _skip(self, stage: str) -> Optional[Dict]:
        if not self.inputs.mark_done:
            return None
        done = stage_done(self.inputs.stage_dir(stage))
        if done is not None:
            expected = self._steps(stage)
            if done.get("steps") != expected:
                run = self.spec.stage(stage)
                raise ValueError(
                    f"{self.inputs.stage_dir(stage)} was trained for {done.get('steps')} update steps; this run "
                    f"asks for {run.epochs} epochs x {self.inputs.steps_per_epoch} = {expected}: "
                    "use another --out_dir (or the settings of the first run) to compare like with like"
                )
        return done

    def _steps(self, stage: str) -> Optional[int]:
        run = self.spec.stage(stage)
        if run.epochs is None or self.inputs.steps_per_epoch is None:
            return None
        return run.epochs * self.inputs.steps_per_epoch

    def run_stage(self, stage: str) -> Dict:
        """Train one stage in the foreground (resumable); returns its record."""
        done = self._skip(stage)
        if done is not None:
            return done
        cmd = self.command(stage)
        cmd.exp_dir.mkdir(parents=True, exist_ok=True)
        logging.info("%s: training %s in %s", self.spec.name, stage, cmd.exp_dir)
        start = time.time()
        own_env = bool(cmd.devices.env_changes())
        if self.inputs.in_process and not own_env:
            espnet_commands.run_entry_point(TRAIN_ENTRY_POINT, cmd.args, in_process=True)
        else:
            espnet_commands.run_entry_point(TRAIN_ENTRY_POINT, cmd.args, in_process=False,
                                            log_file=cmd.exp_dir / STAGE_LOG, echo=STAGE_PROGRESS,
                                            echo_tag=stage, env=cmd.devices.env() if own_env else None)
        return self._finish(stage, start)

    def _finish(self, stage: str, start: float) -> Dict:
        run = self.spec.stage(stage)
        record = {"stage": stage, "wall_s": round(time.time() - start, 1), "steps": self._steps(stage),
                  "epochs": run.epochs}
        if self.inputs.mark_done:
            write_text_atomic(self.inputs.stage_dir(stage) / DONE_FILE, json.dumps(record, indent=1))
        return record

    def start_stage(self, stage: str) -> subprocess.Popen:
        """Start ``stage`` as a background ``llm_asr_train`` process (log in its exp dir)."""
        cmd = self.command(stage)
        cmd.exp_dir.mkdir(parents=True, exist_ok=True)
        return espnet_commands.start_entry_point(TRAIN_ENTRY_POINT, cmd.args, cmd.exp_dir / STAGE_LOG,
                                                 env=cmd.devices.env())

    def run(self, stages: Optional[Sequence[str]] = None) -> Dict[str, Dict]:
        """Run (or resume) ``stages`` (default: all of the spec) in spec order.

        Returns:
            stage -> record (``wall_s``, ``steps``, ``epochs``).
        """
        stages = list(self.spec.stage_names if stages is None else stages)
        self.check(stages)
        stages = [s for s in self.spec.stage_names if s in stages]
        records: Dict[str, Dict] = {}
        publisher = None
        try:
            for stage in stages:
                role = self.device_role(stage)
                if role == "publisher":
                    records[stage] = self._skip(stage)
                    if records[stage] is None:
                        publisher = (stage, self.start_stage(stage), time.time())
                        wait_for_version(self.inputs.stage_dir(stage) / PUBLISH_SUBDIR, 1, publisher[1])
                    continue
                if role == "alone" and publisher is not None:
                    records[publisher[0]] = self._wait(*publisher)
                    publisher = None
                if with_llm in stage_role(stage).contributors:
                    wait_for_llm(self.inputs.llm_dir, self.inputs.llm_builder_pid)
                records[stage] = self.run_stage(stage)
            if publisher is not None:
                records[publisher[0]] = self._wait(*publisher)
                publisher = None
        finally:
            if publisher is not None and publisher[1].poll() is None:
                os.killpg(publisher[1].pid, signal.SIGTERM)
                publisher[1].wait()
        return records

    def _wait(self, stage: str, process: subprocess.Popen, start: float) -> Dict:
        code = process.wait()
        if code != 0:
            raise RuntimeError(f"{stage} process failed ({code}); see {self.inputs.stage_dir(stage) / STAGE_LOG}")
        return self._finish(stage, start)


def wait_for_version(publish_dir: Path, version: int, process: Optional[subprocess.Popen],
                     timeout_s: float = 3600.0, poll_s: float = 1.0) -> None:
    """Block until ``version`` is published (raise if the publishing process dies first)."""
    deadline = time.monotonic() + timeout_s
    while True:
        records, _ = read_published_versions(publish_dir)
        if any(r.version >= version for r in records):
            return
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"pretraining exited ({process.returncode}) before publishing v{version}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"encoder v{version} not published in {publish_dir} after {timeout_s} s")
        time.sleep(poll_s)


def wait_for_llm(llm_dir: Path, builder_pid: Optional[int], poll_s: float = 1.0) -> None:
    """Block while process ``builder_pid`` is still building ``llm_dir`` (no-op when it is None or
    the directory is complete; raise when the builder ended without writing it)."""
    if builder_pid is None:
        return
    logged = False
    while not (Path(llm_dir) / "config.json").is_file():
        if not process_is_running(builder_pid):
            raise RuntimeError(f"the LLM builder (pid {builder_pid}) ended without writing {llm_dir} "
                               "(see its log)")
        if not logged:
            logging.info("waiting for the LLM builder (pid %d) to write %s", builder_pid, llm_dir)
            logged = True
        time.sleep(poll_s)


def write_run_summary(spec: MethodSpec, inputs: RunInputs) -> Dict[str, Path]:
    """``<exp_dir>/swap_history.json`` and ``<exp_dir>/cka_trace.json``.

    swap_history.json: the mode and the swap history of every stage that
    loads published versions (step, version, CKA old vs new encoder on the
    probe set, pretraining step). cka_trace.json: the published records and
    every stage's traces (``<stage>_<key>``: the pretraining checks, the
    IA-SFT swaps, the joint-SFT drift per epoch).
    """
    pre = spec.pretrain
    records, problems = ([], []) if pre is None else read_published_versions(
        inputs.stage_dir(pre.stage) / PUBLISH_SUBDIR)
    history = {s: read_jsonl(inputs.stage_dir(s) / HISTORY_FILE)
               for s in spec.stage_names if stage_role(s).consumes_versions}
    trace: Dict[str, object] = {"publications": [r.__dict__ for r in records], "incomplete_publications": problems}
    for stage in spec.stage_names:
        for key, name in stage_role(stage).trace_files().items():
            trace[f"{stage}_{key}"] = read_jsonl(inputs.stage_dir(stage) / name)
    trace["mode"] = inputs.mode
    out = {"swap_history": Path(inputs.exp_dir) / "swap_history.json",
           "cka_trace": Path(inputs.exp_dir) / "cka_trace.json"}
    write_json_atomic(out["swap_history"], {"mode": inputs.mode, **history})
    write_json_atomic(out["cka_trace"], trace)
    return out


def dry_run_lines(spec: MethodSpec, inputs: RunInputs, stages: Optional[Sequence[str]] = None) -> List[str]:
    """The commands :meth:`StageRunner.run` would run, one shell line per stage (nothing runs)."""
    runner = StageRunner(spec, inputs)
    stages = list(spec.stage_names if stages is None else stages)
    runner.check(stages)
    lines = []
    for stage in (s for s in spec.stage_names if s in stages):
        how = {"publisher": "in the background", "alongside": "alongside pretraining",
               "alone": "in the foreground"}[runner.device_role(stage)]
        lines.append(f"# {stage} ({how})")
        lines.append(runner.command(stage, dry_run=True).shell())
    return lines

