"""JSON-lines logs (one JSON object per line): swap history, CKA trace, drift log.

Logs are small; :func:`write_jsonl_atomic` rewrites one whole and atomically,
:func:`append_jsonl` adds one row to a per-process log nobody else writes.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Union

from espnet_llm_entropy.fileio.atomic import write_text_atomic

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)


def _line(row: Mapping) -> str:
    return json.dumps(row, sort_keys=True) + "\n"


def write_jsonl_atomic(path: PathLike, rows: Iterable[Mapping]) -> None:
    """Write one JSON object per line, replacing ``path`` atomically."""
    write_text_atomic(path, "".join(_line(row) for row in rows))


def append_jsonl(path: PathLike, row: Mapping) -> None:
    """Append one row to ``path`` (created if missing, with its folder).

    For a log that only the calling process writes: the row is written with
    one ``write`` call and flushed when the file is closed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as stream:
        stream.write(_line(row))


def read_jsonl(path: PathLike) -> List[Dict]:
    """Rows of a JSON-lines file ([] when it does not exist); blank lines are skipped.

    Raises:
        ValueError: a line is not a JSON object (names the file and the line).
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
            raise ValueError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
        rows.append(row)
    logger.debug("read %d rows from %s", len(rows), path)
    return rows
