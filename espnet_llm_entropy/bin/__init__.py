"""Command-line entry points: ``python -m espnet_llm_entropy.bin.<tool> --help``."""
