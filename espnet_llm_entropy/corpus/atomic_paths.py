"""Write outputs under a temporary name and rename them into place.

A reader never sees a half-written file or directory: it is built next to
its final location (same file system, so the rename is atomic) and only
renamed once complete. Leftover temporaries of an interrupted run start
with ``.tmp-`` and are removed by :func:`remove_stale_temporaries`.
"""

import os
import shutil
import tempfile
from pathlib import Path

TMP_PREFIX = ".tmp-"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def make_temporary_sibling_dir(final: Path) -> Path:
    """Create an empty directory next to ``final`` (same parent)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{final.name}-", dir=final.parent))
    path.chmod(0o777 & ~_umask())  # mkdtemp makes it private (0700)
    return path


def install_directory(tmp_dir: Path, final: Path) -> None:
    """Move a completed ``tmp_dir`` to ``final``, replacing what was there.

    The old directory is first renamed aside, so ``final`` is at every
    moment either absent, the complete old one or the complete new one.
    """
    old = None
    if final.exists() or final.is_symlink():
        old = final.parent / f"{TMP_PREFIX}{final.name}-old-{os.getpid()}"
        if old.exists():
            shutil.rmtree(old)
        os.replace(final, old)
    os.replace(tmp_dir, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_text_atomic(path: Path, content: str) -> None:
    """Write a UTF-8 text file via a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(content)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private (0600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def remove_stale_temporaries(directory: Path) -> None:
    """Delete ``.tmp-*`` leftovers of interrupted runs directly in ``directory``."""
    if not directory.is_dir():
        return
    for entry in directory.iterdir():
        if entry.name.startswith(TMP_PREFIX):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
