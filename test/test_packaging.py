"""The presets ship in the wheel; package code finds them inside the package and never reaches above it."""

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

import espnet_llm_entropy
from espnet_llm_entropy.conf import CONF_ROOT, paradigm_dir, preset_dir, presets, stage_config

REPO = Path(__file__).resolve().parents[1]
PACKAGE = Path(espnet_llm_entropy.__file__).resolve().parent


def _shipped_yaml():
    return sorted(str(p.relative_to(PACKAGE.parent)) for p in CONF_ROOT.rglob("*.yaml"))


def test_wheel_holds_every_preset(tmp_path):
    """Build the wheel offline (setuptools, no isolation, all outputs under tmp_path)."""
    cmd = [sys.executable, "setup.py", "-q", "egg_info", "--egg-base", str(tmp_path),
           "build", "--build-base", str(tmp_path / "build"),
           "bdist_wheel", "--bdist-dir", str(tmp_path / "bdist"), "--dist-dir", str(tmp_path / "dist")]
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("espnet_llm_entropy-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = _shipped_yaml()
    assert len(shipped) >= 12 and "espnet_llm_entropy/conf/tiny/joint_sft.yaml" in shipped
    assert sorted(n for n in names if n.endswith(".yaml")) == shipped
    assert "espnet_llm_entropy/conf/__init__.py" in names


def test_repository_conf_is_a_link_to_the_package_presets():
    link = REPO / "conf"
    assert link.is_symlink() and link.resolve() == CONF_ROOT


def test_preset_lookup():
    assert presets() == ["smollm2", "tiny"]
    assert stage_config("pretrain") == CONF_ROOT / "tiny" / "pretrain_phoneme_ctc.yaml"
    assert stage_config("ia_sft", "smollm2") == CONF_ROOT / "smollm2" / "ia_sft.yaml"
    assert yaml.safe_load(stage_config("align").read_text())["training_stage"] == "align"
    assert sorted(p.stem for p in paradigm_dir().glob("*.yaml")) == [
        "char_ctc", "full_method", "phoneme_ctc", "single_stage"]
    try:
        preset_dir("huge")
    except FileNotFoundError as err:
        assert "huge" in str(err) and "tiny" in str(err)
    else:
        raise AssertionError("an unknown preset must be refused")


def test_package_code_never_reaches_above_its_folder():
    """No ``Path(__file__).parents[k]`` that leaves the package, and no ``shared/`` paths."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        depth = len(path.relative_to(PACKAGE).parts) - 1  # parents[depth] is the package folder
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute)
                    and node.value.attr == "parents" and isinstance(node.slice, ast.Constant)
                    and node.slice.value > depth):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
            if isinstance(node, ast.Constant) and node.value == "shared":
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} ('shared')")
    assert offenders == []

