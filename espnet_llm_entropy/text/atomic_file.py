"""Write a text file so that readers see either nothing or the whole file.

The content goes to a temporary file in the destination's folder, which is
renamed over the destination only after it was completely written and
flushed; on any error the temporary file is removed and the destination is
left as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator, Union


@contextlib.contextmanager
def atomic_text_writer(path: Union[str, Path], encoding: str = "utf-8") -> Iterator[IO[str]]:
    """Context manager yielding a text stream that becomes ``path`` on success.

    Args:
        path: the destination file; its folder is created if missing.
        encoding: text encoding.

    Yields:
        A writable text stream. If the ``with`` block raises, nothing is
        left behind (no partial destination, no temporary file).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="\n") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def atomic_write_text(path: Union[str, Path], text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_text_writer`)."""
    with atomic_text_writer(path, encoding=encoding) as stream:
        stream.write(text)
