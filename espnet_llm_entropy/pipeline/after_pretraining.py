"""Jobs that start while the training still runs, once what they read exists.

:class:`JobWhenReady` runs a job in a thread once a condition holds;
:class:`JobAfterPretraining` once pretraining has finished. In the demo's
lockstep mode the error diagnosis runs this way in two parts: its LLM side
(which needs only the LLM) on the thread that waits for encoder v1, its
speech side once pretraining has finished (``docs/demo.md``, "Time").

Pretraining counts as finished when its publisher's ``writer.json`` says
``finished`` and the process that wrote it has exited (so every checkpoint
and symlink it writes after its last check is in place), or when the whole
training has ended with ``finished`` set. The job never starts when the
training ends without that (it failed; its own error says why).
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Callable, Iterable, Optional, Union

from espnet_llm_entropy.train.encoder_versions import process_is_running, read_writer_status


def pretraining_finished(publish_dir: Union[str, Path], training_ended: bool) -> bool:
    """Whether the pretraining that publishes into ``publish_dir`` has finished.

    Args:
        publish_dir: its encoder-version directory (``writer.json`` there).
        training_ended: the run that owns it has ended (its processes are gone).
    """
    status = read_writer_status(publish_dir)
    if status is None or not status.get("finished", False):
        return False
    if training_ended:
        return True
    if status.get("host") != socket.gethostname():  # its pid means nothing here: wait for the run's end
        return False
    try:
        return not process_is_running(int(status.get("pid", -1)))
    except (TypeError, ValueError):
        return True


class JobWhenReady:
    """Run ``job`` in a thread once ``ready(False)`` holds.

    Call :meth:`start`, run the training, call :meth:`training_ended` (also
    when it failed), then :meth:`join`.

    Args:
        job: what to run (in the thread).
        ready: ``ready(training_ended)``: whether the job's inputs are there.
        what: what the job waits for (or a function that says it), for the error when the
            training ended without it.
        poll_s: seconds between checks.
    """

    def __init__(self, job: Callable[[], None], ready: Callable[[bool], bool],
                 what: Union[str, Callable[[], str]], poll_s: float = 2.0):
        self.job = job
        self.ready = ready
        self._what = what
        self.poll_s = poll_s
        self.ran = False
        self.error: Optional[BaseException] = None
        self._ended = threading.Event()
        self._succeeded = False
        self._thread = threading.Thread(target=self._wait_then_run, name="job-when-ready", daemon=True)

    def what(self) -> str:
        return self._what() if callable(self._what) else self._what

    def start(self) -> "JobWhenReady":
        self._thread.start()
        return self

    def training_ended(self, succeeded: bool) -> None:
        """The training has ended (``succeeded`` False: it failed, so the job will not start)."""
        self._succeeded = succeeded
        self._ended.set()

    def _wait_then_run(self) -> None:
        try:
            while not self.ready(False):
                if self._ended.wait(self.poll_s):
                    if not self._succeeded:
                        return
                    if not self.ready(True):
                        raise RuntimeError(f"the training ended without {self.what()}")
                    break
            self.ran = True
            self.job()
        except BaseException as exc:  # reported by join()
            self.error = exc

    def join(self, timeout: Optional[float] = None) -> None:
        """Wait for the job (call after :meth:`training_ended`); re-raise its error."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the job waiting for {self.what()} is still running")
        if self.error is not None:
            raise self.error


class JobAfterPretraining(JobWhenReady):
    """Run ``job`` in a thread once pretraining has finished and ``needs`` exist.

    Args:
        job: what to run (in the thread).
        publish_dir: the pretraining's encoder-version directory.
        needs: further files the job reads (e.g. an SFT stage's ``config.yaml``).
        poll_s: seconds between checks.
    """

    def __init__(self, job: Callable[[], None], publish_dir: Union[str, Path],
                 needs: Iterable[Union[str, Path]] = (), poll_s: float = 2.0):
        self.publish_dir = Path(publish_dir)
        self.needs = [Path(p) for p in needs]
        super().__init__(job, self._inputs_ready, self._missing, poll_s)

    def _missing(self) -> str:
        missing = [str(p) for p in self.needs if not p.exists()]
        return f"pretraining in {self.publish_dir} marked finished (writer.json) and these files: {missing}"

    def _inputs_ready(self, ended: bool) -> bool:
        return pretraining_finished(self.publish_dir, ended) and all(p.exists() for p in self.needs)
