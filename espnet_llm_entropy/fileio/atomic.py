"""Files and directories written under a temporary name and renamed into place.

A reader never sees a half-written file: the data goes to a temporary file in
the destination's folder (same file system, so the rename is atomic), is
flushed and fsynced, and only then ``os.replace``-d onto the final name. On
any error the temporary file is removed and the destination is left as it was.

Permissions follow the umask, as for a file opened with ``open(path, "w")``:
``mkstemp`` creates its file private (0600), so the mode is set to
``0666 & ~umask`` before the rename (0644 under umask 022, 0600 under 077).
Directories built with :func:`make_temporary_sibling_dir` get ``0777 & ~umask``.

Temporaries start with ``.tmp-`` so that :func:`remove_stale_temporaries`
can clean up after an interrupted run.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator, Union

PathLike = Union[str, Path]
TMP_PREFIX = ".tmp-"


def current_umask() -> int:
    """The process umask (read without changing it for longer than one call)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Mode of a newly created regular file: ``0666`` minus the umask."""
    return 0o666 & ~current_umask()


@contextlib.contextmanager
def atomic_writer(path: PathLike, mode: str = "w", encoding: str = "utf-8") -> Iterator[IO]:
    """Context manager yielding a stream that becomes ``path`` when the block ends.

    Args:
        path: the destination; its folder is created if missing.
        mode: ``"w"`` (text, ``\\n`` line ends) or ``"wb"`` (bytes).
        encoding: text encoding (text mode only).

    Yields:
        A writable stream on a temporary file next to ``path``. If the
        ``with`` block raises, the temporary file is removed and ``path`` is
        left as it was.

    Raises:
        ValueError: for a mode other than ``"w"`` or ``"wb"``.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_writer: mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{path.name}-", dir=path.parent)
    try:
        text_options = {"encoding": encoding, "newline": "\n"} if mode == "w" else {}
        with os.fdopen(fd, mode, **text_options) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_writer(path, "w", encoding) as stream:
        stream.write(text)


def write_bytes_atomic(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_writer(path, "wb") as stream:
        stream.write(data)


def write_json_atomic(path: PathLike, obj: Any, **dumps_options: Any) -> None:
    """Write one JSON document (and a final newline) atomically.

    Args:
        path: destination.
        obj: the document.
        **dumps_options: passed to :func:`json.dumps`; the default is
            ``indent=1, sort_keys=True``.
    """
    options = {"indent": 1, "sort_keys": True, **dumps_options}
    write_text_atomic(path, json.dumps(obj, **options) + "\n")


def torch_save_atomic(obj: Any, path: PathLike) -> None:
    """``torch.save(obj, path)``, atomically: the object is serialized first, then written."""
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_bytes_atomic(path, buffer.getvalue())


def sha256_of(path: PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def make_temporary_sibling_dir(final: Path) -> Path:
    """Create an empty directory next to ``final`` (same parent), mode ``0777`` minus the umask."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{final.name}-", dir=final.parent))
    path.chmod(0o777 & ~current_umask())  # mkdtemp makes it private (0700)
    return path


def install_directory(tmp_dir: Path, final: Path) -> None:
    """Move a completed ``tmp_dir`` to ``final``, replacing what was there.

    The old directory is first renamed aside, so ``final`` is at every
    moment either absent, the complete old one or the complete new one.
    """
    final = Path(final)
    old = None
    if final.exists() or final.is_symlink():
        old = final.parent / f"{TMP_PREFIX}{final.name}-old-{os.getpid()}"
        if old.exists():
            shutil.rmtree(old)
        os.replace(final, old)
    os.replace(tmp_dir, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def remove_stale_temporaries(directory: Path) -> None:
    """Delete ``.tmp-*`` leftovers of interrupted runs directly in ``directory``."""
    directory = Path(directory)
    if not directory.is_dir():
        return
    for entry in directory.iterdir():
        if entry.name.startswith(TMP_PREFIX):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
