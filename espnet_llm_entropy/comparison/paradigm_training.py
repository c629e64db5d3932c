"""Train one paradigm for one seed: its stages as ``llm_asr_train`` runs, in order.

Layout (``run_dir`` = ``<out>/runs/<paradigm>/seed<k>``)::

    <out>/pretrain/seed<k>_<key>/      pretraining, shared by paradigms with the same key
        encoder_versions/              its published encoder versions
    <run_dir>/pretrain -> the shared pretraining dir
    <run_dir>/align/ ia_sft/ joint_sft/

How the stages are chained (on top of the stage's config and ``args``):

* every stage: ``--seed``, ``--max_epoch`` = epochs, ``--num_iters_per_epoch``
  = the comparison's steps per epoch, the paradigm's token list and shape
  statistics, ``--phonemizer_conf unit=char`` for character units;
* pretrain: publishes encoder versions (``--cka_monitor_conf publish_dir``);
* align: loads the first or the final published version (fixed hot-swap);
* ia_sft: replays the later versions (``mode=replay``), from the aligned model;
* joint_sft: from the previous stage's model, or from scratch when it is
  the paradigm's only stage.

A finished stage leaves ``stage_done.json`` (wall time, update steps) and is
skipped when the run is resumed; an unfinished one resumes from ESPnet's
checkpoint.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Dict, List, Optional

from espnet_llm_entropy.comparison.paradigm_spec import ParadigmSpec, StageRun
from espnet_llm_entropy.comparison.workspace import ComparisonWorkspace
from espnet_llm_entropy.pipeline import espnet_steps
from espnet_llm_entropy.text.atomic_file import atomic_write_text
from espnet_llm_entropy.train.encoder_versions import read_published_versions

DONE_FILE = "stage_done.json"
PROGRESS_LINES = r"epoch results|published encoder|swapped in|Error"


def pretrain_dir(out_root: Path, seed: int, spec: ParadigmSpec) -> Optional[Path]:
    """The shared pretraining directory of ``spec`` for ``seed`` (None without pretraining)."""
    key = spec.pretrain_key()
    return None if key is None else Path(out_root) / "pretrain" / f"seed{seed}_{key}"


def stage_done(stage_dir: Path) -> Optional[Dict]:
    """The ``stage_done.json`` record of a finished stage, or None."""
    path = Path(stage_dir) / DONE_FILE
    return json.loads(path.read_text()) if path.exists() else None


def _last_version(publish_dir: Path) -> int:
    records, _ = read_published_versions(publish_dir)
    if not records:
        raise RuntimeError(f"pretraining published no encoder version in {publish_dir}")
    return max(r.version for r in records)


def stage_options(
    ws: ComparisonWorkspace, spec: ParadigmSpec, run: StageRun, seed: int, steps_per_epoch: int,
    publish_dir: Optional[Path], previous_dir: Optional[Path],
) -> List[str]:
    """The ``llm_asr_train`` options that chain ``run`` into its paradigm (see module doc)."""
    opts = ["--seed", str(seed), "--max_epoch", str(run.epochs), "--num_iters_per_epoch",
            str(steps_per_epoch), "--probe_conf", f"data_dir={ws.valid_dir}", "--use_matplotlib", "false"]
    if spec.units != "phone":
        opts += ["--phonemizer_conf", f"unit={spec.units}"]
    if run.stage == "pretrain":
        opts += ["--cka_monitor_conf", f"publish_dir={publish_dir}"]
    else:
        opts += ["--llm_conf", f"path={ws.llm_dir}"]
    if run.stage == "align":
        version = 1 if run.encoder == "first" else _last_version(publish_dir)
        opts += ["--hot_swap_conf", f"publish_dir={publish_dir}", "--hot_swap_conf", "mode=fixed",
                 "--hot_swap_conf", f"initial_version={version}"]
    if run.stage == "ia_sft":
        opts += ["--hot_swap_conf", f"publish_dir={publish_dir}", "--hot_swap_conf", "mode=replay"]
    if run.stage in ("ia_sft", "joint_sft") and previous_dir is not None:
        opts += ["--init_param", str(previous_dir / "latest.pth")]
    return opts + list(run.args)


def train_stage(
    ws: ComparisonWorkspace, spec: ParadigmSpec, run: StageRun, seed: int, steps_per_epoch: int,
    stage_dir: Path, publish_dir: Optional[Path], previous_dir: Optional[Path],
) -> Dict:
    """Train one stage into ``stage_dir`` (skipped when already done); returns its done record."""
    done = stage_done(stage_dir)
    if done is not None:
        if done.get("steps") != run.epochs * steps_per_epoch:
            raise ValueError(
                f"{stage_dir} was trained for {done.get('steps')} update steps; this run asks for "
                f"{run.epochs} epochs x {steps_per_epoch} = {run.epochs * steps_per_epoch}: "
                "use another --out_dir (or the settings of the first run) to compare like with like"
            )
        return done
    stage_dir.mkdir(parents=True, exist_ok=True)
    args = [
        "--config", run.config, "--token_list", ws.token_lists[spec.units], "--output_dir", stage_dir,
        "--ngpu", "0", "--resume", "true", "--use_preprocessor", "true",
        *espnet_steps.data_options("train", ws.train_dir, ws.stats_dirs[spec.units]),
        *espnet_steps.data_options("valid", ws.valid_dir, ws.stats_dirs[spec.units]),
        *stage_options(ws, spec, run, seed, steps_per_epoch, publish_dir, previous_dir),
    ]
    logging.info("%s seed %d: training %s in %s", spec.name, seed, run.stage, stage_dir)
    start = time.time()
    espnet_steps.run_entry_point("llm_asr_train", args, in_process=False, log_file=stage_dir / "train.log")
    record = {"stage": run.stage, "wall_s": round(time.time() - start, 1),
              "steps": run.epochs * steps_per_epoch, "epochs": run.epochs}
    atomic_write_text(stage_dir / DONE_FILE, json.dumps(record, indent=1))
    return record


def train_pretraining(ws: ComparisonWorkspace, spec: ParadigmSpec, seed: int, steps_per_epoch: int,
                      out_root: Path) -> Dict:
    """The (shared) pretraining of ``spec`` for ``seed``."""
    directory = pretrain_dir(out_root, seed, spec)
    return train_stage(ws, spec, spec.pretrain, seed, steps_per_epoch, directory,
                       directory / "encoder_versions", None)


def _link(link: Path, target: Path) -> None:
    if link.is_symlink() or link.exists():
        if link.resolve() == target.resolve():
            return
        raise FileExistsError(f"{link} exists and is not a link to {target}")
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(target, link.parent), target_is_directory=True)


def train_paradigm(ws: ComparisonWorkspace, spec: ParadigmSpec, seed: int, steps_per_epoch: int,
                   out_root: Path, run_dir: Path) -> Dict[str, Dict]:
    """Every stage of ``spec`` for ``seed`` (pretraining must be done or is done here).

    Returns:
        stage name -> done record (``wall_s``, ``steps``, ``epochs``).
    """
    records: Dict[str, Dict] = {}
    publish_dir = None
    previous = None
    for run in spec.stages:
        if run.stage == "pretrain":
            records["pretrain"] = train_pretraining(ws, spec, seed, steps_per_epoch, out_root)
            shared = pretrain_dir(out_root, seed, spec)
            _link(run_dir / "pretrain", shared)
            publish_dir = shared / "encoder_versions"
            previous = run_dir / "pretrain"
            continue
        stage_dir = run_dir / run.stage
        # alignment starts from the published encoder, not from the pretraining model
        prev = None if run.stage == "align" else previous
        records[run.stage] = train_stage(ws, spec, run, seed, steps_per_epoch, stage_dir, publish_dir, prev)
        previous = stage_dir
    return records


def final_model(run_dir: Path, spec: ParadigmSpec) -> Path:
    """The checkpoint that is decoded: the last stage's best by validation accuracy."""
    return espnet_steps.decoding_checkpoint(Path(run_dir) / spec.stages[-1].stage)
