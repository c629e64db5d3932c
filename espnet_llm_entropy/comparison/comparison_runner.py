"""The paradigm comparison: train every paradigm with every seed, evaluate, report.

Directory layout of ``out_dir``::

    workspace/                 mini corpus, phone inventory, LLM, statistics
                               (unless the caller gives a workspace)
    pretrain/seed<k>_<key>/    pretrainings, each shared by the paradigms that need it
    runs/<paradigm>/seed<k>/   the paradigm's stages, decode/, analysis/, metrics.json
    comparison.md              the report (tables, claims, plots), comparison.json
    *.png                      the plots

Everything is resumable: run the same command again and finished stages,
decodings and analyses are skipped.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from espnet_llm_entropy.comparison.paradigm_spec import (
    DEFAULT_PARADIGMS,
    ParadigmSpec,
    check_equal_budgets,
    load_paradigms,
)
from espnet_llm_entropy.comparison.paradigm_training import pretrain_dir, train_paradigm, train_pretraining
from espnet_llm_entropy.comparison.run_metrics import evaluate_run_in_worker
from espnet_llm_entropy.comparison.task_graph import Task, TaskOutcome, run_task_graph
from espnet_llm_entropy.comparison.workspace import ComparisonWorkspace, build_mini_workspace, ensure_units
from espnet_llm_entropy.fileio.atomic import write_text_atomic
from espnet_llm_entropy.llm.template_lm import TemplateLMConfig
from espnet_llm_entropy.machine_info import cpu_description
from espnet_llm_entropy.pipeline.demo_pipeline import DEFAULT_NUM_TRAIN

# --quick: one seed, 4 of the 25 updates per epoch, a 2,000-utterance corpus and a tiny LLM
# pretrained for half the steps; 3 jobs, because one seed gives few and uneven tasks (single_stage
# waits for no pretraining) and a third single-thread job keeps both cores of a 2-core machine busy.
# Measured times: docs/paradigm_comparison.md ("Quick mode").
QUICK_STEPS_PER_EPOCH = 4
QUICK_NUM_TRAIN = 2000
QUICK_OPTIONS = {"seeds": [0], "steps_per_epoch": QUICK_STEPS_PER_EPOCH, "num_train": QUICK_NUM_TRAIN,
                 "jobs": 3, "llm_pretrain_steps": TemplateLMConfig.steps // 2}


@dataclass
class ComparisonConfig:
    """Options of a comparison (``python -m espnet_llm_entropy.bin.compare_paradigms --help``).

    Attributes:
        out_dir: where everything goes.
        paradigms: names of shipped paradigm files (``espnet_llm_entropy/conf/paradigms``) or paths.
        seeds: training seeds; every figure is reported as mean and spread over them.
        steps_per_epoch: update steps per epoch of every stage.
        jobs: trainings run at the same time.
        threads_per_job: torch threads of each (default: CPU cores / jobs).
        allow_unequal_budgets: accept paradigms with different step budgets.
        analysis_max_utts: test utterances entering the entropy analysis.
        decode_batch_size: decoding batch size.
        num_train, num_dev, num_test: mini-corpus sizes (built workspace only).
        llm_pretrain_steps: steps of the tiny LLM's pretraining (built workspace only).
        an4_dir: directory of ESPnet's mini_an4 archive (built workspace only; None: no AN4 part).
    """

    out_dir: Path
    paradigms: Sequence[str] = DEFAULT_PARADIGMS
    seeds: Sequence[int] = (0, 1, 2)
    steps_per_epoch: int = 25
    jobs: int = 2
    threads_per_job: Optional[int] = None
    allow_unequal_budgets: bool = False
    analysis_max_utts: int = 60
    decode_batch_size: int = 16
    num_train: int = DEFAULT_NUM_TRAIN
    num_dev: int = 60
    num_test: int = 60
    llm_pretrain_steps: int = TemplateLMConfig.steps
    an4_dir: Optional[Path] = None

    def __post_init__(self):
        self.out_dir = Path(self.out_dir).resolve()
        if not self.seeds:
            raise ValueError("at least one seed is needed")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct, got {list(self.seeds)}")
        if self.steps_per_epoch < 1 or self.jobs < 1:
            raise ValueError("steps_per_epoch and jobs must be >= 1")


def machine_description() -> str:
    """One line about where the comparison ran (for the report)."""
    import torch

    return (f"{cpu_description()}, Python {platform.python_version()}, "
            f"torch {torch.__version__}, {'CUDA available' if torch.cuda.is_available() else 'no GPU used'}")


def scope_notes(conf: ComparisonConfig, built_corpus: bool = True) -> List[str]:
    """What a run smaller than the full comparison can and cannot show (empty for the full run).

    One seed gives each claim a direction but no verdict (there is no seed
    spread to compare the difference with); fewer updates per epoch than
    the default, or a smaller built corpus or shorter LLM pretraining
    (``built_corpus``: the run made the mini corpus and LLM rather than
    taking the caller's), leave the models less trained than the full run's.
    """
    notes = []
    full = ComparisonConfig.steps_per_epoch
    smaller = []
    if conf.steps_per_epoch < full:
        smaller.append(f"{conf.steps_per_epoch} updates per epoch instead of {full}")
    if built_corpus and conf.num_train < ComparisonConfig.num_train:
        smaller.append(f"{conf.num_train} training utterances instead of {ComparisonConfig.num_train}")
    if built_corpus and conf.llm_pretrain_steps < ComparisonConfig.llm_pretrain_steps:
        smaller.append(f"{conf.llm_pretrain_steps} LLM pretraining steps instead of {ComparisonConfig.llm_pretrain_steps}")
    if smaller:
        notes.append(
            f"Less training than the full comparison ({'; '.join(smaller)}): "
            "a check that every paradigm trains, decodes and is analysed, and a first look at the directions. "
            "Encoders and LLM stages are less trained than in the full run; the pretraining dev PER/CER "
            "column and any warning above say how far pretraining got, and figures of an encoder near the "
            "CTC plateau say little about the paper's claims."
        )
    if len(conf.seeds) < 2:
        notes.append(
            "One seed: each claim gets the direction of the difference, not a verdict, because there is no "
            "spread over seeds to compare it with. Run several seeds (the default 0 1 2) for verdicts."
        )
    return notes


def _phone_aligner_spec(specs: Sequence[ParadigmSpec]) -> Optional[ParadigmSpec]:
    """The paradigm whose phoneme pretraining aligns phone labels for every analysis."""
    return next((s for s in specs if s.units == "phone" and s.pretrain is not None), None)


def build_tasks(conf: ComparisonConfig, ws: ComparisonWorkspace, specs: Sequence[ParadigmSpec]) -> List[Task]:
    """Pretrainings first (one per seed and distinct pretraining), then the paradigms."""
    out = conf.out_dir
    aligner = _phone_aligner_spec(specs)
    tasks: List[Task] = []
    for seed in conf.seeds:
        pretrain_tasks: Dict[str, str] = {}
        for spec in specs:
            key = spec.pretrain_key()
            if key is not None and key not in pretrain_tasks:
                pretrain_tasks[key] = f"pretrain/seed{seed}/{key}"
                tasks.append(Task(pretrain_tasks[key], _pretrain_fn(conf, ws, spec, seed)))
        aligner_dir = pretrain_dir(out, seed, aligner) if aligner is not None else None
        for spec in specs:
            deps = {pretrain_tasks[k] for k in (spec.pretrain_key(), aligner.pretrain_key() if aligner else None)
                    if k is not None}
            tasks.append(Task(f"{spec.name}/seed{seed}", _paradigm_fn(conf, ws, spec, seed, aligner_dir),
                              sorted(deps)))
    return tasks


def _pretrain_fn(conf: ComparisonConfig, ws: ComparisonWorkspace, spec: ParadigmSpec, seed: int):
    return lambda: train_pretraining(ws, spec, seed, conf.steps_per_epoch, conf.out_dir)


def _paradigm_fn(conf: ComparisonConfig, ws: ComparisonWorkspace, spec: ParadigmSpec, seed: int,
                 aligner_dir: Optional[Path]):
    def run() -> Dict:
        run_dir = conf.out_dir / "runs" / spec.name / f"seed{seed}"
        train_paradigm(ws, spec, seed, conf.steps_per_epoch, conf.out_dir, run_dir)
        return evaluate_run_in_worker(ws, run_dir, spec, seed, aligner_dir, conf.analysis_max_utts,
                                      conf.decode_batch_size)
    return run


def _progress_printer(total: int, start: float):
    counter = {"n": 0}

    def on_finish(outcome: TaskOutcome) -> None:
        counter["n"] += 1
        note = f": {outcome.error}" if outcome.error else ""
        print(f"[compare {counter['n']}/{total}] {outcome.name} {outcome.status} "
              f"({time.time() - start:.0f} s since start){note}", flush=True)
    return on_finish


def run_comparison(conf: ComparisonConfig, workspace: Optional[ComparisonWorkspace] = None,
                   command: Optional[str] = None) -> Dict:
    """Train, evaluate and report every (paradigm, seed); returns the report dict plus ``outcomes``.

    Raises:
        ParadigmSpecError: bad paradigm files or unequal budgets.
        FileNotFoundError: an incomplete workspace.
    """
    start = time.time()
    specs = load_paradigms(conf.paradigms)
    budget = check_equal_budgets(specs) if not conf.allow_unequal_budgets else None
    conf.out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(conf.out_dir / "comparison_config.json", json.dumps(asdict(conf), indent=1, default=str))
    threads = conf.threads_per_job or max(1, (os.cpu_count() or 1) // conf.jobs)
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    built_corpus = workspace is None
    units = sorted({s.units for s in specs})
    if workspace is None:
        print(f"[compare] preparing the mini corpus, LLM and statistics in {conf.out_dir / 'workspace'}", flush=True)
        workspace = build_mini_workspace(conf.out_dir / "workspace", conf.num_train, conf.num_dev,
                                         conf.num_test, llm_pretrain_steps=conf.llm_pretrain_steps,
                                         an4_dir=conf.an4_dir, units=units)
    for unit in units:  # a built workspace has them already; the caller's may lack character units
        ensure_units(workspace, unit)
    workspace.check()

    tasks = build_tasks(conf, workspace, specs)
    print(f"[compare] {len(specs)} paradigms x {len(conf.seeds)} seeds: {len(tasks)} tasks, "
          f"{conf.jobs} at a time with {threads} thread(s) each", flush=True)
    outcomes = run_task_graph(tasks, conf.jobs, _progress_printer(len(tasks), start))
    from espnet_llm_entropy.comparison.comparison_report import write_comparison_report

    budget_note = (
        f"every paradigm trains {budget} epochs x {conf.steps_per_epoch} updates = "
        f"{budget * conf.steps_per_epoch} update steps" if budget is not None
        else "the paradigms were allowed different step budgets (--allow_unequal_budgets)"
    ) + f"; {conf.jobs} trainings ran at a time with {threads} torch thread(s) each (training times include that sharing)"
    notes = scope_notes(conf, built_corpus)
    report = write_comparison_report(
        conf.out_dir, conf.out_dir / "runs", paradigm_order=[s.name for s in specs],
        command=command, machine=machine_description(), budget_note=budget_note,
        scope_notes=notes,
    )
    report["outcomes"] = {name: {"status": o.status, "error": o.error} for name, o in outcomes.items()}
    report["wall_s"] = round(time.time() - start, 1)
    write_text_atomic(conf.out_dir / "outcomes.json", json.dumps(report["outcomes"], indent=1))
    for note in notes:
        print(f"[compare] note: {note}", flush=True)
    print(f"[compare] report: {conf.out_dir / 'comparison.md'} ({report['wall_s']:.0f} s in all)", flush=True)
    return report


def command_line() -> str:
    """The command that started this process (for the report)."""
    return " ".join([Path(sys.executable).name, "-m", "espnet_llm_entropy.bin.compare_paradigms", *sys.argv[1:]])
