"""Nothing half-written: a training run that fails before its first epoch leaves no run files behind.

ESPnet writes ``config.yaml`` as soon as the model is built, and the
stage hooks start ``swap_history.jsonl`` and the other traces when the
trainer starts, before any data is read. If the run then fails (bad data,
a damaged encoder version, a wrong option), these files would make the
directory look like a run that started. :func:`remove_startup_files_on_failure`
wraps the run: on an exception, when no checkpoint was written by this run
(``checkpoint.pth`` is absent or unchanged), it removes the run files that
did not exist before the run started. Files of an earlier run (a resumed
directory) are never touched, nor is anything else (logs, data).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, Optional, Union

#: files a run writes into its output directory before (or at) the first step
RUN_FILES = (
    "config.yaml",
    "swap_history.jsonl",
    "cka_trace.jsonl",
    "cka_reference_snapshot.pth",
    "drift_trace.jsonl",
    "drift_guard.json",
    "drift_reference_encoder.pth",
)
RUN_FILE_PATTERNS = ("swap_applied_rank*.jsonl",)
#: the pretraining publisher's directory when it holds only its heartbeat file
PUBLISH_DIR, WRITER_FILE = "encoder_versions", "writer.json"
CHECKPOINT = "checkpoint.pth"


def _run_files(output_dir: Path) -> Dict[Path, float]:
    found = {output_dir / name for name in RUN_FILES}
    for pattern in RUN_FILE_PATTERNS:
        found.update(output_dir.glob(pattern))
    return {p: p.stat().st_mtime for p in found if p.exists()}


def _mtime(path: Path) -> Optional[float]:
    return path.stat().st_mtime if path.exists() else None


@contextmanager
def remove_startup_files_on_failure(output_dir: Union[str, Path], enabled: bool = True) -> Iterator[None]:
    """Run the body; if it raises before this run wrote a checkpoint, remove the run files it created.

    Args:
        output_dir: the run's ``--output_dir``.
        enabled: False on ranks other than 0 (only rank 0 writes run files).
    """
    output_dir = Path(output_dir)
    before = _run_files(output_dir) if enabled else {}
    checkpoint_before = _mtime(output_dir / CHECKPOINT)
    publish_dir_before = (output_dir / PUBLISH_DIR).exists()
    try:
        yield
    except BaseException:
        if enabled and _mtime(output_dir / CHECKPOINT) == checkpoint_before:
            removed = [p for p in _run_files(output_dir) if p not in before]
            for path in removed:
                path.unlink(missing_ok=True)
            publish_dir = output_dir / PUBLISH_DIR
            if not publish_dir_before and publish_dir.is_dir() and \
                    [p.name for p in publish_dir.iterdir()] == [WRITER_FILE]:
                (publish_dir / WRITER_FILE).unlink()
                publish_dir.rmdir()
                removed.append(publish_dir)
            if removed:
                logging.info("the run failed before its first checkpoint: removed %s",
                             ", ".join(str(p) for p in sorted(removed)))
        raise
