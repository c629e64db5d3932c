"""The presets that ship with the package: ESPnet stage configs and paradigm files.

Layout (package data, installed with the wheel; the repository's top-level
``conf`` is a symbolic link to this folder, so recipes and documents that
name ``conf/tiny/...`` read the same files)::

    tiny/<stage config>.yaml      the CPU-sized stage configs of the demo and tests
    smollm2/<stage>.yaml          the LLM stages with SmolLM2-135M-Instruct
    paradigms/<name>.yaml         paradigm files of the comparison

Every lookup goes through this module, relative to its own folder, so an
installed (non-editable) package finds its presets wherever it lives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence

CONF_ROOT = Path(__file__).resolve().parent

#: Stage config file names that differ from ``<stage>.yaml``.
STAGE_CONFIG_FILES: Dict[str, str] = {"pretrain": "pretrain_phoneme_ctc.yaml"}

#: The preset of the demo, the tests and ``train_method``'s defaults.
DEFAULT_PRESET = "tiny"


def presets() -> List[str]:
    """Names of the shipped presets (folders with stage configs)."""
    return sorted(p.name for p in CONF_ROOT.iterdir() if p.is_dir() and p.name not in ("paradigms", "__pycache__"))


def preset_dir(preset: str = DEFAULT_PRESET) -> Path:
    """The folder of a shipped preset.

    Raises:
        FileNotFoundError: no such preset (the message lists the shipped ones).
    """
    path = CONF_ROOT / preset
    if not path.is_dir() or preset == "paradigms":
        raise FileNotFoundError(f"no preset {preset!r} in {CONF_ROOT}; shipped presets: {presets()}")
    return path


def stage_config_name(stage: str) -> str:
    """File name of ``stage``'s config inside a preset (``<stage>.yaml`` unless renamed)."""
    return STAGE_CONFIG_FILES.get(stage, f"{stage}.yaml")


def stage_config(stage: str, preset: str = DEFAULT_PRESET) -> Path:
    """The shipped config of ``stage`` in ``preset`` (the path; it may not exist for every stage)."""
    return preset_dir(preset) / stage_config_name(stage)


def stage_configs(stages: Sequence[str], preset: str = DEFAULT_PRESET) -> Dict[str, Path]:
    """stage -> shipped config path, for ``stages`` in order."""
    return {stage: stage_config(stage, preset) for stage in stages}


def paradigm_dir() -> Path:
    """The folder of the shipped paradigm files."""
    return CONF_ROOT / "paradigms"
