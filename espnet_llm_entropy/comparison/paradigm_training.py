"""Train one paradigm for one seed through the stage runner (``train/stage_runner.py``).

Layout (``run_dir`` = ``<out>/runs/<paradigm>/seed<k>``)::

    <out>/pretrain/seed<k>_<key>/      pretraining, shared by paradigms with the same key
        encoder_versions/              its published encoder versions
    <run_dir>/pretrain -> the shared pretraining dir
    <run_dir>/align/ ia_sft/ joint_sft/

The stages are chained by the runner, as for ``train_method``; what the
comparison adds is the run's options: ``--seed``, ``--max_epoch`` = the
stage's epochs, ``--num_iters_per_epoch`` = the comparison's steps per
epoch, the paradigm's token list and shape statistics (``--phonemizer_conf
unit=char`` for character units), replay mode (IA-SFT replays the published
versions; alignment loads the first or the final one), and every stage as a
subprocess with its log in ``<stage dir>/train.log``.

A finished stage leaves ``stage_done.json`` (wall time, update steps) and is
skipped when the run is resumed; an unfinished one resumes from ESPnet's
checkpoint.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Dict, List, Optional

from espnet_llm_entropy.comparison.workspace import ComparisonWorkspace
from espnet_llm_entropy.pipeline import espnet_steps
from espnet_llm_entropy.train.method_spec import MethodSpec
from espnet_llm_entropy.train.stage_runner import DONE_FILE, RunInputs, StageRunner, stage_done

__all__ = ["DONE_FILE", "stage_done", "pretrain_dir", "run_inputs", "stage_options", "train_pretraining",
           "train_paradigm", "final_model"]


def pretrain_dir(out_root: Path, seed: int, spec: MethodSpec) -> Optional[Path]:
    """The shared pretraining directory of ``spec`` for ``seed`` (None without pretraining)."""
    key = spec.pretrain_key()
    return None if key is None else Path(out_root) / "pretrain" / f"seed{seed}_{key}"


def run_inputs(ws: ComparisonWorkspace, spec: MethodSpec, seed: int, steps_per_epoch: int,
               out_root: Path, run_dir: Path) -> RunInputs:
    """The runner's inputs for ``spec`` and ``seed`` (the pretraining in its shared directory)."""
    shared = pretrain_dir(out_root, seed, spec)
    return RunInputs(
        exp_dir=Path(run_dir), token_list=ws.token_lists[spec.units], train_dir=ws.train_dir,
        valid_dir=ws.valid_dir, stats_dir=ws.stats_dirs[spec.units], llm_dir=ws.llm_dir, mode="replay",
        seed=seed, steps_per_epoch=steps_per_epoch, in_process=False, mark_done=True,
        stage_dirs={} if shared is None else {spec.pretrain.stage: shared},
    )


def stage_options(ws: ComparisonWorkspace, spec: MethodSpec, stage: str, seed: int, steps_per_epoch: int,
                  out_root: Path, run_dir: Path) -> List[str]:
    """The ``llm_asr_train`` options that chain ``stage`` into its paradigm (see the module doc)."""
    runner = StageRunner(spec, run_inputs(ws, spec, seed, steps_per_epoch, out_root, run_dir))
    return runner.stage_options(stage)


def train_pretraining(ws: ComparisonWorkspace, spec: MethodSpec, seed: int, steps_per_epoch: int,
                      out_root: Path) -> Dict:
    """The (shared) pretraining of ``spec`` for ``seed``."""
    inputs = run_inputs(ws, spec, seed, steps_per_epoch, out_root, pretrain_dir(out_root, seed, spec).parent)
    return StageRunner(spec, inputs).run_stage(spec.pretrain.stage)


def _link(link: Path, target: Path) -> None:
    if link.is_symlink() or link.exists():
        if link.resolve() == target.resolve():
            return
        raise FileExistsError(f"{link} exists and is not a link to {target}")
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(target, link.parent), target_is_directory=True)


def train_paradigm(ws: ComparisonWorkspace, spec: MethodSpec, seed: int, steps_per_epoch: int,
                   out_root: Path, run_dir: Path) -> Dict[str, Dict]:
    """Every stage of ``spec`` for ``seed`` (pretraining must be done or is done here).

    Returns:
        stage name -> done record (``wall_s``, ``steps``, ``epochs``).
    """
    inputs = run_inputs(ws, spec, seed, steps_per_epoch, out_root, run_dir)
    runner = StageRunner(spec, inputs)
    records: Dict[str, Dict] = {}
    for stage in spec.stage_names:
        logging.info("%s seed %d: %s", spec.name, seed, stage)
        records[stage] = runner.run_stage(stage)
        if stage == getattr(spec.pretrain, "stage", None):
            _link(Path(run_dir) / stage, inputs.stage_dir(stage))
    return records


def final_model(run_dir: Path, spec: MethodSpec) -> Path:
    """The checkpoint that is decoded: the last stage's best by validation accuracy."""
    return espnet_steps.decoding_checkpoint(Path(run_dir) / spec.stages[-1].stage)
