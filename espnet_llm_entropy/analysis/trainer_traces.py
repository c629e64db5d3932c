"""The multi-stage trainer's JSON-lines traces found in an experiment dir.

Written by :mod:`espnet_llm_entropy.train` (one JSON object per line):

* ``cka_trace.jsonl`` (pretraining CKA monitor): ``step``, ``cka`` to the
  reference encoder, ``reference_version``, ``published_version``,
  ``event`` (``reference`` / ``check`` / ``final``);
* ``swap_history.jsonl`` (alignment / IA-SFT hot swap): ``step``,
  ``version``, ``previous_version``, ``cka_old_new``, ``pretrain_step`` ...;
* ``drift_trace.jsonl`` (late joint SFT): ``epoch``, ``step``, ``cka`` to
  the starting encoder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

from espnet_llm_entropy.fileio.jsonl import read_jsonl

#: trace kind -> file name inside the experiment dir
TRACE_FILES = {
    "cka_trace": "cka_trace.jsonl",
    "swap_history": "swap_history.jsonl",
    "drift_trace": "drift_trace.jsonl",
}


def read_training_traces(exp_dir: Path) -> Dict[str, List[Dict]]:
    """Rows of every trace file present in ``exp_dir`` (absent or empty files are left out).

    Raises:
        ValueError: a line of a trace file is not a JSON object (file and line named).
    """
    traces = {}
    for kind, file_name in TRACE_FILES.items():
        rows = read_jsonl(Path(exp_dir) / file_name)
        if rows:
            traces[kind] = rows
    return traces
