"""Run tasks with dependencies on a few worker threads (each task launches its own processes).

The comparison's work is a small graph: each seed's pretrainings, then the
paradigms that use them. :func:`run_task_graph` starts, in list order, every
task whose dependencies have finished, keeping at most ``jobs`` running. A
failed task does not stop the others; the tasks that depend on it are
skipped, and the outcome of every task is returned.
"""

from __future__ import annotations

import logging
import traceback
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Sequence


@dataclass
class Task:
    """A unit of work: ``fn()`` runs once every task named in ``deps`` succeeded."""

    name: str
    fn: Callable[[], object]
    deps: Sequence[str] = field(default_factory=tuple)


@dataclass
class TaskOutcome:
    """``status`` is ``done``, ``failed`` or ``skipped``; ``error`` says why for the last two."""

    name: str
    status: str
    error: str = ""
    result: object = None


def run_task_graph(tasks: Sequence[Task], jobs: int = 1,
                   on_finish: Callable[[TaskOutcome], None] = lambda outcome: None) -> Dict[str, TaskOutcome]:
    """Run ``tasks`` respecting their dependencies, ``jobs`` at a time.

    Raises:
        ValueError: duplicate names, an unknown dependency, a cycle or ``jobs`` < 1.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate task names in {names}")
    unknown = sorted({d for t in tasks for d in t.deps} - set(names))
    if unknown:
        raise ValueError(f"unknown dependencies {unknown}")
    pending: List[Task] = list(tasks)
    outcomes: Dict[str, TaskOutcome] = {}
    running = {}

    def finish(outcome: TaskOutcome) -> None:
        outcomes[outcome.name] = outcome
        on_finish(outcome)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        while pending or running:
            before = len(pending)
            for task in list(pending):
                failed = [d for d in task.deps if d in outcomes and outcomes[d].status != "done"]
                if failed:
                    pending.remove(task)
                    finish(TaskOutcome(task.name, "skipped", f"dependency {failed[0]} did not finish"))
                elif len(running) < jobs and all(d in outcomes for d in task.deps):
                    pending.remove(task)
                    running[pool.submit(task.fn)] = task.name
            if not running:
                if len(pending) == before:
                    raise ValueError(f"dependency cycle among {[t.name for t in pending]}")
                continue
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in finished:
                name = running.pop(future)
                try:
                    outcome = TaskOutcome(name, "done", result=future.result())
                except Exception as err:  # reported in the outcome; other tasks go on
                    logging.error("task %s failed:\n%s", name, traceback.format_exc())
                    outcome = TaskOutcome(name, "failed", f"{type(err).__name__}: {err}")
                finish(outcome)
    return outcomes
