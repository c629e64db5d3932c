"""The demo's groups of steps that run at the same time (``ParallelSteps``)."""

import json
import threading
import time

import pytest

from espnet_llm_entropy.pipeline.demo_pipeline import ONE_THREAD, Demo, DemoConfig, ParallelSteps


def _demo(tmp_path, steps):
    demo = Demo(DemoConfig(out_dir=tmp_path / "out"))
    demo.steps = steps
    return demo


def test_members_run_at_the_same_time_with_one_thread_each(tmp_path):
    started, seen = threading.Barrier(3, timeout=30), {}

    def member(name):
        def run():
            started.wait()  # deadlocks (BrokenBarrierError after 30 s) unless all three run at once
            seen[name] = dict(demo._member.env)
            time.sleep(0.05)
        return run

    joined = []
    group = ParallelSteps(tuple((n, member(n)) for n in ("a", "b", "c")), then=lambda: joined.append(sorted(seen)))
    demo = _demo(tmp_path, [("group", group), ("after", lambda: None)])
    demo.run()
    assert joined == [["a", "b", "c"]]
    for env in seen.values():
        assert {k: env[k] for k in ONE_THREAD} == ONE_THREAD
    timings = json.loads((tmp_path / "out" / "timings.json").read_text())
    assert {"group", "group/a", "group/b", "group/c", "after"} <= set(timings)
    assert timings["group"] < timings["group/a"] + timings["group/b"] + timings["group/c"]
    # the main thread's subprocesses keep the demo's own environment
    assert getattr(demo._member, "env", None) is None


def test_a_failing_member_lets_the_others_finish_then_names_it(tmp_path):
    finished = []

    def slow():
        time.sleep(0.2)
        finished.append("slow")

    def bad():
        raise ValueError("broken member")

    group = ParallelSteps((("slow", slow), ("bad", bad)), then=lambda: finished.append("then"))
    demo = _demo(tmp_path, [("group", group)])
    with pytest.raises(RuntimeError, match=r"group: bad failed .*broken member"):
        demo.run()
    assert finished == ["slow"]  # the join step does not run on a failed group
    done = tmp_path / "out" / ".done"
    assert (done / "group.slow").exists() and not (done / "group.bad").exists() and not (done / "group").exists()

    # a rerun redoes only the member that failed
    calls = []
    group = ParallelSteps((("slow", lambda: calls.append("slow")), ("bad", lambda: calls.append("bad"))),
                          then=lambda: calls.append("then"))
    _demo(tmp_path, [("group", group)]).run()
    assert calls == ["bad", "then"]
    assert (done / "group").exists()
