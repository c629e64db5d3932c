"""Deprecated: use :mod:`espnet_llm_entropy.fileio.atomic` (kept until the last importers move)."""

from espnet_llm_entropy.fileio.atomic import atomic_writer as atomic_text_writer  # noqa: F401
from espnet_llm_entropy.fileio.atomic import write_text_atomic as atomic_write_text  # noqa: F401
