"""The comparison's task graph: dependency order, parallelism limit, failures, validation."""

import threading
import time

import pytest

from espnet_llm_entropy.comparison.task_graph import Task, TaskOutcome, run_task_graph


class Recorder:
    """Thread-safe log of start/finish events and of how many tasks run at once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.events = []
        self.running = 0
        self.max_running = 0

    def task(self, name, sleep=0.0, result=None, error=None):
        def fn():
            with self.lock:
                self.events.append(("start", name))
                self.running += 1
                self.max_running = max(self.max_running, self.running)
            try:
                time.sleep(sleep)
                if error is not None:
                    raise error
                return result if result is not None else f"result of {name}"
            finally:
                with self.lock:
                    self.running -= 1
                    self.events.append(("finish", name))
        return fn

    def index(self, kind, name):
        return self.events.index((kind, name))


def _run_bounded(*args, timeout=10, **kwargs):
    """run_task_graph in a thread, so a hang fails the test instead of blocking it."""
    box = {}

    def target():
        try:
            box["value"] = run_task_graph(*args, **kwargs)
        except BaseException as err:  # handed to the test
            box["error"] = err

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "run_task_graph did not return"
    if "error" in box:
        raise box["error"]
    return box["value"]


@pytest.mark.parametrize("jobs", [1, 3])
def test_dependencies_finish_before_dependents_start(jobs):
    rec = Recorder()
    tasks = [
        Task("c", rec.task("c", 0.02), deps=["b"]),
        Task("b", rec.task("b", 0.05), deps=["a"]),
        Task("a", rec.task("a", 0.05)),
        Task("d", rec.task("d", 0.01), deps=["a"]),
        Task("e", rec.task("e", 0.01), deps=["c", "d"]),
        Task("free", rec.task("free", 0.01)),
    ]
    outcomes = _run_bounded(tasks, jobs=jobs)
    assert set(outcomes) == {t.name for t in tasks}
    assert all(o.status == "done" and o.error == "" for o in outcomes.values())
    assert outcomes["e"].result == "result of e"
    for task in tasks:
        for dep in task.deps:
            assert rec.index("finish", dep) < rec.index("start", task.name), (task.name, dep, rec.events)
    assert len(rec.events) == 2 * len(tasks)


def test_jobs_one_runs_in_list_order_when_free():
    rec = Recorder()
    names = ["x", "y", "z", "w"]
    _run_bounded([Task(n, rec.task(n)) for n in names], jobs=1)
    assert [n for kind, n in rec.events if kind == "start"] == names
    assert rec.max_running == 1


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_at_most_jobs_tasks_run_at_once(jobs):
    rec = Recorder()
    tasks = [Task(f"t{i}", rec.task(f"t{i}", 0.08)) for i in range(6)]
    start = time.time()
    outcomes = _run_bounded(tasks, jobs=jobs)
    assert all(o.status == "done" for o in outcomes.values())
    assert rec.max_running == jobs
    # they did run in parallel: 6 tasks of 0.08 s take about 6/jobs * 0.08 s, not 6 * 0.08 s
    if jobs == 3:
        assert time.time() - start < 6 * 0.08


def test_failure_skips_dependents_and_others_go_on():
    rec = Recorder()
    finished = []
    tasks = [
        Task("a", rec.task("a", 0.02, error=RuntimeError("boom"))),
        Task("b", rec.task("b"), deps=["a"]),
        Task("c", rec.task("c"), deps=["b"]),
        Task("d", rec.task("d", 0.05)),
        Task("e", rec.task("e"), deps=["d"]),
        Task("f", rec.task("f"), deps=["d", "a"]),
    ]
    outcomes = _run_bounded(tasks, jobs=2, on_finish=finished.append)
    status = {name: o.status for name, o in outcomes.items()}
    assert status == {"a": "failed", "b": "skipped", "c": "skipped", "d": "done", "e": "done", "f": "skipped"}
    assert outcomes["a"].error == "RuntimeError: boom"
    assert "a" in outcomes["b"].error
    assert "b" in outcomes["c"].error
    assert "a" in outcomes["f"].error
    assert outcomes["a"].result is None and outcomes["e"].result == "result of e"
    started = {n for kind, n in rec.events if kind == "start"}
    assert started == {"a", "d", "e"}
    # on_finish: once per task, with the same outcome objects
    assert sorted(o.name for o in finished) == sorted(t.name for t in tasks)
    assert all(isinstance(o, TaskOutcome) for o in finished)
    assert {o.name: o.status for o in finished} == status


def test_on_finish_called_once_per_task_in_completion_order():
    rec = Recorder()
    finished = []
    tasks = [Task("slow", rec.task("slow", 0.1)), Task("fast", rec.task("fast", 0.0)),
             Task("after", rec.task("after"), deps=["slow", "fast"])]
    _run_bounded(tasks, jobs=2, on_finish=lambda o: finished.append(o.name))
    assert finished == ["fast", "slow", "after"]


def test_empty_graph():
    assert _run_bounded([], jobs=2) == {}


def test_duplicate_names_raise():
    with pytest.raises(ValueError, match="duplicate"):
        run_task_graph([Task("a", lambda: 1), Task("a", lambda: 2)])


def test_unknown_dependency_raises_before_running():
    ran = []
    with pytest.raises(ValueError, match="ghost"):
        run_task_graph([Task("a", lambda: ran.append("a")), Task("b", lambda: 1, deps=["ghost"])])
    assert ran == []


@pytest.mark.parametrize("jobs", [0, -1])
def test_jobs_below_one_raise(jobs):
    with pytest.raises(ValueError, match="jobs"):
        run_task_graph([Task("a", lambda: 1)], jobs=jobs)


def test_cycle_raises():
    with pytest.raises(ValueError, match="cycle"):
        _run_bounded([Task("a", lambda: 1, deps=["b"]), Task("b", lambda: 2, deps=["a"])], jobs=2)


def test_cycle_next_to_runnable_tasks_raises_and_names_the_cycle():
    ran = []
    tasks = [Task("ok", lambda: ran.append("ok")),
             Task("x", lambda: ran.append("x"), deps=["y"]),
             Task("y", lambda: ran.append("y"), deps=["x"]),
             Task("self", lambda: ran.append("self"), deps=["self"])]
    with pytest.raises(ValueError) as err:
        _run_bounded(tasks, jobs=1)
    assert "cycle" in str(err.value)
    for name in ("x", "y", "self"):
        assert repr(name) in str(err.value)
    assert "x" not in ran and "y" not in ran and "self" not in ran
