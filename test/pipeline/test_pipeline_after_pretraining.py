"""A job that waits for the end of pretraining (the demo's diagnosis beside IA-SFT)."""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from espnet_llm_entropy.pipeline.after_pretraining import JobAfterPretraining, pretraining_finished


def _writer(publish_dir, pid, finished):
    publish_dir.mkdir(parents=True, exist_ok=True)
    (publish_dir / "writer.json").write_text(json.dumps({"pid": pid, "host": socket.gethostname(),
                                                         "finished": finished, "checked_step": 10}))


def test_finished_means_marked_finished_and_its_process_gone(tmp_path):
    pub = tmp_path / "versions"
    assert not pretraining_finished(pub, training_ended=False)  # no writer.json yet
    _writer(pub, os.getpid(), finished=False)
    assert not pretraining_finished(pub, training_ended=True)
    _writer(pub, os.getpid(), finished=True)  # marked, but its process (this one) still runs
    assert not pretraining_finished(pub, training_ended=False)
    assert pretraining_finished(pub, training_ended=True)  # the run has ended: a live pid is another process
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    _writer(pub, done.pid, finished=True)
    assert pretraining_finished(pub, training_ended=False)


def test_the_job_starts_only_after_pretraining_and_its_inputs(tmp_path):
    pub, need = tmp_path / "versions", tmp_path / "ia_sft" / "config.yaml"
    ran = []
    job = JobAfterPretraining(lambda: ran.append(time.time()), pub, needs=[need], poll_s=0.02).start()
    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.6)"])
    _writer(pub, writer.pid, finished=True)  # finished, but the process is still writing checkpoints
    time.sleep(0.2)
    assert ran == []
    writer.wait()
    time.sleep(0.2)
    assert ran == []  # the SFT stage's config is not there yet
    need.parent.mkdir()
    need.write_text("x")
    ready = time.time()
    for _ in range(100):
        if ran:
            break
        time.sleep(0.02)
    assert len(ran) == 1 and ran[0] >= ready
    job.training_ended(True)
    job.join(timeout=5)
    assert job.ran


def test_a_failed_training_never_starts_the_job_and_nothing_hangs(tmp_path):
    ran = []
    job = JobAfterPretraining(lambda: ran.append(1), tmp_path / "versions", poll_s=0.02).start()
    job.training_ended(False)
    job.join(timeout=5)
    assert ran == [] and not job.ran


def test_a_training_that_ended_without_finished_pretraining_is_an_error_naming_it(tmp_path):
    pub = tmp_path / "versions"
    _writer(pub, os.getpid(), finished=False)
    job = JobAfterPretraining(lambda: None, pub, needs=[tmp_path / "missing.yaml"], poll_s=0.02).start()
    job.training_ended(True)
    with pytest.raises(RuntimeError, match=r"ended without pretraining in .*versions marked finished .*missing.yaml"):
        job.join(timeout=5)


def test_the_jobs_own_error_comes_back_from_join(tmp_path):
    pub = tmp_path / "versions"
    _writer(pub, -1, finished=True)

    def fail():
        raise ValueError("diagnosis broke")

    job = JobAfterPretraining(fail, pub, poll_s=0.02).start()
    job.training_ended(True)
    with pytest.raises(ValueError, match="diagnosis broke"):
        job.join(timeout=5)
    assert job.ran


def test_a_job_when_ready_waits_for_its_condition_and_names_it_when_the_training_ends_without_it(tmp_path):
    from espnet_llm_entropy.pipeline.after_pretraining import JobWhenReady

    flag, ran = tmp_path / "llm" / "config.json", []
    job = JobWhenReady(lambda: ran.append(flag.is_file()), lambda ended: flag.is_file(), "the LLM",
                       poll_s=0.02).start()
    assert not job.ran
    flag.parent.mkdir()
    flag.write_text("{}")
    job.training_ended(True)
    job.join(timeout=5)
    assert ran == [True]
    never = JobWhenReady(lambda: None, lambda ended: False, "the LLM", poll_s=0.02).start()
    never.training_ended(True)
    with pytest.raises(RuntimeError, match="ended without the LLM"):
        never.join(timeout=5)


def test_the_diagnosis_cli_names_the_same_parts_as_the_library():
    from espnet_llm_entropy.analysis.error_diagnosis import PARTS
    from espnet_llm_entropy.bin import diagnose_errors

    assert diagnose_errors.PARTS == PARTS
