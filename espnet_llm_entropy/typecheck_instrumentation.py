"""Skip typeguard's import-time instrumentation of ESPnet and its text front-ends.

``typeguard.typechecked`` (typeguard 4) re-parses and re-compiles the whole
source module of every function it decorates, at import time. ESPnet
decorates hundreds of functions, and ``inflect`` (imported through
``g2p_en`` by ``espnet2.tasks.asr``) 23 methods of one 4,000-line module:
on the 2-core AMD EPYC VM, importing ``espnet2.tasks.asr`` took 25.1 s, of
which 10.4 s was this instrumentation (``python -X importtime``; 14.7 s
without it). Every training, decoding and diagnosis process pays it again,
about ten times per demo.

The checks it adds only raise on wrongly typed arguments; they compute
nothing. :func:`skip_typeguard_instrumentation` therefore makes
``typechecked`` hand back, unchanged, what is defined in the modules of
:data:`SKIPPED_PACKAGES`, as ``python -O`` does for every module (but
without dropping ``assert`` statements). Everything else, user code
included, is still instrumented. ``ESPNET_LLM_ENTROPY_TYPECHECKS=1`` keeps
every check.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable

from espnet_llm_entropy.import_hooks import patch_when_imported

#: Top-level packages whose ``@typechecked`` functions and classes are left as they are.
SKIPPED_PACKAGES = ("espnet2", "espnet", "inflect", "g2p_en")
#: Set to 1 to keep typeguard's instrumentation everywhere.
KEEP_CHECKS_ENV = "ESPNET_LLM_ENTROPY_TYPECHECKS"


def _in_skipped_package(target: Any) -> bool:
    module = getattr(target, "__module__", None) or ""
    return module.split(".", 1)[0] in SKIPPED_PACKAGES


def _selective(typechecked: Callable) -> Callable:
    """``typechecked`` that returns targets of :data:`SKIPPED_PACKAGES` unchanged."""

    @functools.wraps(typechecked)
    def selective_typechecked(target=None, **options):
        if target is None:  # used as @typechecked(...): decide when the target arrives
            return lambda actual: selective_typechecked(actual, **options)
        if _in_skipped_package(target):
            return target
        return typechecked(target, **options)

    selective_typechecked.__wrapped_typechecked__ = typechecked
    return selective_typechecked


def _install(typeguard_module) -> None:
    if not hasattr(typeguard_module.typechecked, "__wrapped_typechecked__"):
        typeguard_module.typechecked = _selective(typeguard_module.typechecked)


def skip_typeguard_instrumentation() -> bool:
    """Install the selective ``typeguard.typechecked`` (now, or when typeguard is first imported);
    True when it is or will be in place.

    Must run before the skipped packages are imported (``from typeguard import
    typechecked`` binds the function at their import). Does nothing when
    :data:`KEEP_CHECKS_ENV` is 1. Idempotent.
    """
    if os.environ.get(KEEP_CHECKS_ENV) == "1":
        return False
    patch_when_imported("typeguard", _install)  # typeguard imports asyncio and ssl: not before it is needed
    return True
