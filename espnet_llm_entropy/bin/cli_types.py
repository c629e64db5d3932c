"""Argument types shared by the command-line tools."""

import argparse


def positive_int(text: str) -> int:
    """An ``argparse`` type: an integer of at least 1 (the error names the value given)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value
