"""Patching a third-party module the moment it is first imported, without importing it early.

:func:`patch_when_imported` runs ``patch(module)`` right after ``module_name``
executes (before any importer can bind its names), or at once when it is
imported already. Used by :mod:`~espnet_llm_entropy.offline` (nltk) and
:mod:`~espnet_llm_entropy.typecheck_instrumentation` (typeguard).
"""

from __future__ import annotations

import importlib.abc
import sys
from typing import Callable


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Finds ``name`` through the other finders and patches it right after it executes."""

    def __init__(self, name: str, patch: Callable):
        self.name = name
        self.patch = patch

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                exec_module = spec.loader.exec_module

                def exec_and_patch(module, _exec=exec_module):
                    _exec(module)
                    self.patch(module)

                spec.loader.exec_module = exec_and_patch
                return spec
        return None


def patch_when_imported(module_name: str, patch: Callable) -> None:
    """``patch(module)`` now if ``module_name`` is imported, else right after its first import.
    Idempotent per module name."""
    if module_name in sys.modules:
        patch(sys.modules[module_name])
    elif not any(isinstance(f, _PatchOnImport) and f.name == module_name for f in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport(module_name, patch))
