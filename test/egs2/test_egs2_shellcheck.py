"""All recipe shell scripts pass shellcheck (as ESPnet's CI checks its recipes).

Needs the ``shellcheck`` binary (Debian/Ubuntu: ``apt-get install shellcheck``);
skips with that reason where it is absent.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def recipe_scripts():
    """Every shell script we own under egs2/ plus tools/link_recipe.sh (symlinks once)."""
    files = {p.resolve() for p in REPO.glob("egs2/**/*.sh")}
    files.add((REPO / "tools" / "link_recipe.sh").resolve())
    return sorted(files)


def test_scripts_are_found_and_executable():
    scripts = recipe_scripts()
    names = {str(p.relative_to(REPO)) for p in scripts}
    for corpus in ("aishell", "wenetspeech", "librispeech", "mini_bilingual"):
        assert f"egs2/{corpus}/llm_asr1/run.sh" in names
        assert f"egs2/{corpus}/llm_asr1/local/data.sh" in names
    for path in scripts:
        text = path.read_text()
        if text.startswith("#!"):  # sourced files (cmd.sh, path.sh) need no bit
            assert path.stat().st_mode & 0o111, f"{path} has a shebang but is not executable"


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed (apt-get install shellcheck)")
def test_shellcheck_clean():
    scripts = [str(p) for p in recipe_scripts()]
    res = subprocess.run(["shellcheck", "-x", "--severity=info", *scripts], capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 0, res.stdout + res.stderr
