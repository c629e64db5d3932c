"""tools/link_recipe.sh links our recipes into a (fake) ESPnet checkout."""

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINK = REPO / "tools" / "link_recipe.sh"
TEMPLATE_LINKS = ("asr.sh", "path.sh", "db.sh", "scripts", "pyscripts", "steps", "utils")


@pytest.fixture
def fake_espnet(tmp_path) -> Path:
    """The parts of an ESPnet checkout the script and a recipe rely on."""
    root = tmp_path / "espnet"
    asr1 = root / "egs2" / "TEMPLATE" / "asr1"
    for d in ("scripts", "pyscripts", "steps", "utils"):
        (asr1 / d).mkdir(parents=True)
    for f in ("asr.sh", "path.sh", "db.sh"):
        (asr1 / f).write_text("#!/usr/bin/env bash\n")
    return root


def run_link(*args, check=True):
    return subprocess.run(["bash", str(LINK), *map(str, args)], capture_output=True, text=True, check=check)


def test_links_a_recipe_as_espnet_setup_does(fake_espnet):
    run_link(fake_espnet, "mini_bilingual")
    dst = fake_espnet / "egs2" / "mini_bilingual" / "llm_asr1"
    assert dst.is_dir() and not dst.is_symlink()  # real dir: path.sh finds ESPnet at $PWD/../../..
    for name in TEMPLATE_LINKS:
        assert os.readlink(dst / name) == f"../../TEMPLATE/asr1/{name}"
        assert (dst / name).exists()
    ours = REPO / "egs2" / "mini_bilingual" / "llm_asr1"
    assert (dst / "run.sh").resolve() == (ours / "run.sh").resolve()
    assert (dst / "local" / "data.sh").resolve() == (ours / "local" / "data.sh").resolve()
    # shared scripts: relative link, as in our tree, into the linked TEMPLATE/llm_asr1
    assert os.readlink(dst / "llm_asr.sh") == "../../TEMPLATE/llm_asr1/llm_asr.sh"
    assert (dst / "llm_asr.sh").resolve() == (REPO / "egs2/TEMPLATE/llm_asr1/llm_asr.sh").resolve()
    # configs shared with the top-level conf/ resolve from inside the checkout
    assert (dst / "conf" / "train_llm_asr.yaml").resolve() == (REPO / "conf/tiny/sft_llm_asr.yaml").resolve()
    assert not (fake_espnet / "egs2" / "aishell").exists()


def test_default_links_every_recipe_and_rerun_is_idempotent(fake_espnet):
    run_link(fake_espnet)
    run_link(fake_espnet)
    linked = sorted(p.parent.name for p in (fake_espnet / "egs2").glob("*/llm_asr1") if p.parent.name != "TEMPLATE")
    ours = sorted(p.parent.name for p in (REPO / "egs2").glob("*/llm_asr1") if p.parent.name != "TEMPLATE")
    assert linked == ours and "aishell" in linked
    assert (fake_espnet / "egs2/aishell/llm_asr1/conf/train_llm_asr.yaml").exists()


def test_refuses_a_tree_without_asr_sh_and_unknown_recipes(tmp_path, fake_espnet):
    bad = run_link(tmp_path, check=False)
    assert bad.returncode != 0 and "asr.sh not found" in bad.stderr
    unknown = run_link(fake_espnet, "no_such_corpus", check=False)
    assert unknown.returncode != 0 and "no recipe" in unknown.stderr


def test_never_replaces_a_real_file(fake_espnet):
    dst = fake_espnet / "egs2" / "mini_bilingual" / "llm_asr1"
    dst.mkdir(parents=True)
    (dst / "run.sh").write_text("my own edits\n")
    res = run_link(fake_espnet, "mini_bilingual/llm_asr1", check=False)
    assert res.returncode != 0 and "not a symlink" in res.stderr
    assert (dst / "run.sh").read_text() == "my own edits\n"
