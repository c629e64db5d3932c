"""Files written under a temporary name and renamed into place; JSON-lines logs.

A reader never sees a partially written file: data goes to a temporary
sibling, is fsynced and then ``os.replace``-d onto the final name. JSON-lines
logs (swap history, CKA trace) are small and rewritten whole the same way.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Dict, Iterable, List


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary sibling, fsync, rename onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json_atomic(path: Path, obj) -> None:
    """One JSON document, atomically."""
    write_bytes_atomic(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode("utf-8"))


def write_jsonl_atomic(path: Path, rows: Iterable[Dict]) -> None:
    """One JSON object per line, atomically (the whole file is rewritten)."""
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
    write_bytes_atomic(path, text.encode("utf-8"))


def read_jsonl(path: Path) -> List[Dict]:
    """Rows of a JSON-lines file ([] when absent).

    Raises:
        ValueError: a line is not a JSON object (names file and line).
    """
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{lineno}: not valid JSON ({e})") from e
        if not isinstance(row, dict):
            raise ValueError(f"{path}:{lineno}: expected a JSON object")
        rows.append(row)
    logging.debug("read %d rows from %s", len(rows), path)
    return rows
