"""Deprecated: use :mod:`espnet_llm_entropy.fileio` (kept until the last importers move)."""

from espnet_llm_entropy.fileio.atomic import sha256_of, write_bytes_atomic, write_json_atomic  # noqa: F401
from espnet_llm_entropy.fileio.jsonl import read_jsonl, write_jsonl_atomic  # noqa: F401
