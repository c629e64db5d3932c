"""Checkpoint files that fail name themselves.

``torch.load`` of a truncated file fails with ``PytorchStreamReader failed
reading zip archive: failed finding central directory`` and no file name.
:func:`check_checkpoint_file` finds a truncated or damaged ``torch.save``
file before it is loaded (cheaply: the zip central directory sits at the
end of the file, so a cut file has none), and :func:`load_checkpoint` loads
one with an error that names the file, the option it came from and what
was expected.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Union

import torch

ZIP_MAGIC = b"PK\x03\x04"


class CheckpointFileError(ValueError):
    """A checkpoint file is missing, truncated or not loadable; the message names it."""


def _complaint(path: Path, what: str, reason: str) -> CheckpointFileError:
    size = path.stat().st_size if path.exists() else 0
    return CheckpointFileError(
        f"{path}: {what} is not a loadable PyTorch checkpoint ({size} bytes; {reason}); the file is "
        "truncated or corrupted (e.g. an interrupted copy). Expected a complete file written by "
        "torch.save: copy it again, or use another checkpoint"
    )


def check_checkpoint_file(path: Union[str, Path], what: str) -> None:
    """Raise :class:`CheckpointFileError` when ``path`` is missing or a cut/damaged zip checkpoint.

    Files in PyTorch's legacy (non-zip) format are not inspected here.

    Args:
        path: the file.
        what: the option or role, e.g. ``"--speech_encoder_init"``.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointFileError(f"{path}: {what} not found (expected a checkpoint file written by torch.save)")
    with open(path, "rb") as stream:
        magic = stream.read(len(ZIP_MAGIC))
    if magic != ZIP_MAGIC:
        if len(magic) < len(ZIP_MAGIC):
            raise _complaint(path, what, "empty or shorter than a header")
        return
    try:
        with zipfile.ZipFile(path) as archive:
            archive.infolist()
    except (zipfile.BadZipFile, OSError) as err:
        raise _complaint(path, what, f"zip archive unreadable: {err}") from None


def load_checkpoint(path: Union[str, Path], what: str, **torch_load_kwargs):
    """``torch.load(path, **torch_load_kwargs)`` whose failure names ``path`` and ``what``.

    Raises:
        CheckpointFileError: missing, truncated or unloadable file.
    """
    check_checkpoint_file(path, what)
    try:
        return torch.load(path, **torch_load_kwargs)
    except (RuntimeError, EOFError, pickle.UnpicklingError) as err:
        message = str(err).strip()
        if "Weights only load failed" in message:
            raise  # a complete file with content weights_only refuses: torch's own message says why
        raise _complaint(Path(path), what, message.splitlines()[0] if message else type(err).__name__) from err
