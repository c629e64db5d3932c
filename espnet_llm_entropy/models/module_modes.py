"""Temporarily switching modules to eval mode without losing any submodule's own mode."""

from __future__ import annotations

import contextlib
from typing import Iterator

from torch import nn


@contextlib.contextmanager
def eval_mode(*modules: nn.Module) -> Iterator[None]:
    """Put ``modules`` (and their children) in eval mode for the block (no SpecAugment, no dropout).

    Afterwards every submodule gets back its own flag, so a frozen BatchNorm
    kept in eval mode inside a training encoder stays so.
    """
    saved = [(m, m.training) for module in modules for m in module.modules()]
    try:
        for module in modules:
            module.eval()
        yield
    finally:
        for m, flag in saved:
            m.training = flag
