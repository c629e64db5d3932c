"""A job that starts once pretraining has finished, while the SFT stages still train.

In the demo's lockstep mode pretraining ends well before IA-SFT does. The
error diagnosis (which needs the finished pretraining and nothing the SFT
stages produce later) then runs on the thread pretraining leaves, instead
of as a third job beside joint SFT and the robustness retraining on two
cores. IA-SFT keeps one thread; what that costs it is measured in
``docs/demo.md`` ("Time").

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


class JobAfterPretraining:
    """Run ``job`` in a thread once pretraining has finished and ``needs`` exist.

    Call :meth:`start`, run the training, call :meth:`training_ended` (also
    when it failed), then :meth:`join`.

    Args:
        job: what to run (in the thread).
        publish_dir: the pretraining's encoder-version directory.
        needs: further files the job reads (e.g. an SFT stage's ``config.yaml``).
        poll_s: seconds between checks.
    """

    def __init__(self, job: Callable[[], None], publish_dir: Union[str, Path],
                 needs: Iterable[Union[str, Path]] = (), poll_s: float = 2.0):
        self.job = job
        self.publish_dir = Path(publish_dir)
        self.needs = [Path(p) for p in needs]
        self.poll_s = poll_s
        self.ran = False
        self.error: Optional[BaseException] = None
        self._ended = threading.Event()
        self._succeeded = False
        self._thread = threading.Thread(target=self._wait_then_run, name="after-pretraining", daemon=True)

    def start(self) -> "JobAfterPretraining":
        self._thread.start()
        return self

    def training_ended(self, succeeded: bool) -> None:
        """The training has ended (``succeeded`` False: it failed, so the job will not start)."""
        self._succeeded = succeeded
        self._ended.set()

    def _ready(self, ended: bool) -> bool:
        return pretraining_finished(self.publish_dir, ended) and all(p.exists() for p in self.needs)

    def _wait_then_run(self) -> None:
        try:
            while not self._ready(False):
                if self._ended.wait(self.poll_s):
                    if not self._succeeded:
                        return
                    if not self._ready(True):
                        missing = [str(p) for p in self.needs if not p.exists()]
                        raise RuntimeError(
                            f"the training ended, but pretraining in {self.publish_dir} is not marked finished "
                            f"(writer.json) or these files are missing: {missing}")
                    break
            self.ran = True
            self.job()
        except BaseException as exc:  # reported by join()
            self.error = exc

    def join(self, timeout: Optional[float] = None) -> None:
        """Wait for the job (call after :meth:`training_ended`); re-raise its error."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the job after pretraining ({self.publish_dir}) is still running")
        if self.error is not None:
            raise self.error

