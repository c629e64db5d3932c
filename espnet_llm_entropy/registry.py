"""Registration of this package's classes in ESPnet's ``ClassChoices``.

ESPnet has no plugin mechanism: its tasks keep module-level ``ClassChoices``
objects whose ``classes`` dicts are read when a parser is built. Registering
therefore means adding entries to those dicts, before ``get_parser()`` runs.
Each entry is declared once in :data:`REGISTRATIONS` as
``(module, choices attribute, lowercase name, "package.module:Class")``.
"""

from __future__ import annotations

import importlib
from typing import List, Tuple

# (ESPnet module, ClassChoices attribute, name, our class path). Filled in as
# model classes are added; names must be lowercase (ESPnet's get_class looks
# the raw name up in the dict).
REGISTRATIONS: List[Tuple[str, str, str, str]] = [
    ("espnet2.tasks.asr", "model_choices", "llm_asr",
     "espnet_llm_entropy.models.llm_asr:LLMASRModel"),
    ("espnet2.tasks.asr", "model_choices", "phoneme_ctc",
     "espnet_llm_entropy.models.phoneme_ctc:PhonemeCTCModel"),
    ("espnet2.tasks.asr", "encoder_choices", "thin_subsampling_conformer",
     "espnet_llm_entropy.models.thin_subsampling_conformer:ThinSubsamplingConformerEncoder"),
]


def _load(path: str):
    module_name, attr = path.split(":")
    return getattr(importlib.import_module(module_name), attr)


def register() -> None:
    """Add our classes to ESPnet's ClassChoices. Idempotent.

    Raises:
        ValueError: if a name is already taken by a different class.
    """
    for module_name, choices_attr, name, class_path in REGISTRATIONS:
        if name != name.lower():
            raise ValueError(f"ClassChoices names must be lowercase, got {name!r}")
        choices = getattr(importlib.import_module(module_name), choices_attr)
        cls = _load(class_path)
        existing = choices.classes.get(name)
        if existing is not None and existing is not cls:
            raise ValueError(
                f"{module_name}.{choices_attr} already has {name!r} -> {existing}; "
                f"refusing to replace it with {cls}"
            )
        choices.classes[name] = cls
