"""egs2/TEMPLATE/llm_asr1/llm_asr.sh hands asr.sh the options our recipes rely on.

asr.sh is replaced by a stub that records its arguments, so this runs
without an ESPnet checkout.
"""

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DRIVER = REPO / "egs2" / "TEMPLATE" / "llm_asr1" / "llm_asr.sh"


@pytest.fixture
def recipe(tmp_path) -> Path:
    """A recipe dir whose asr.sh writes one argument per line to asr_args.txt."""
    d = tmp_path / "recipe"
    d.mkdir()
    stub = d / "asr.sh"
    stub.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@" > asr_args.txt\n')
    stub.chmod(0o755)
    return d


def run_driver(recipe, *args):
    return subprocess.run(
        ["bash", str(DRIVER), *args], cwd=recipe, capture_output=True, text=True,
        env={**os.environ, "LC_ALL": "C"},
    )


def asr_sh_options(recipe) -> dict:
    lines = (recipe / "asr_args.txt").read_text().split("\n")[:-1]
    assert len(lines) % 2 == 0, lines
    pairs = list(zip(lines[::2], lines[1::2]))
    opts = dict(pairs)
    assert len(opts) == len(pairs), f"an option reached asr.sh twice: {pairs}"
    return opts


def test_options_given_to_asr_sh(recipe):
    method = recipe / "method.yaml"
    method.write_text("mode: replay\n")
    res = run_driver(
        recipe, "--stop_stage", "12", "--lang", "zh", "--llm_dir", "llm", "--method_config", str(method),
        "--asr_config", "conf/train_llm_asr.yaml", "--asr_args", "--max_epoch 3",
        "--skip_stages", "2", "--valid_set", "dev", "--test_sets", "test", "--ngpu", "0",
    )
    assert res.returncode == 0, res.stderr + res.stdout
    opts = asr_sh_options(recipe)
    assert opts["--python"] == f"python3 -m espnet_llm_entropy.bin.asr_sh_python --method_config {method}"
    assert opts["--token_type"] == "word" and opts["--use_lm"] == "false"
    assert opts["--skip_stages"].split() == ["5", "2"]
    # the phone inventory is written where asr.sh looks for a word token list of --lang zh
    post = opts["--post_process_local_data_opts"].split()
    assert post[post.index("--token_list") + 1] == "data/zh_token_list/word/tokens.txt"
    assert post[post.index("--valid_set") + 1] == "dev" and post[post.index("--llm_dir") + 1] == "llm"
    assert opts["--asr_args"].split() == ["--llm_conf", "path=llm", "--max_epoch", "3"]
    assert opts["--asr_exp"] == "exp/llm_asr_method"
    assert opts["--ngpu"] == "0" and opts["--lang"] == "zh" and opts["--stop_stage"] == "12"


def test_without_method_config_one_training_and_default_paths(recipe):
    res = run_driver(recipe, "--stop_stage", "12", "--asr_config", "conf/x.yaml", "--test_sets", "t")
    assert res.returncode == 0, res.stderr
    opts = asr_sh_options(recipe)
    assert opts["--python"] == "python3 -m espnet_llm_entropy.bin.asr_sh_python"
    assert opts["--asr_exp"] == "exp/llm_asr_x"
    assert "data/token_list/word/tokens.txt" in opts["--post_process_local_data_opts"]
    assert "--valid_set" not in opts["--post_process_local_data_opts"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--token_type", "bpe"], "--token_type is set by"),
        (["--python", "python3"], "--python is set by"),
        (["--feats_type", "fbank"], "use --feats_type raw"),
        (["--method_config", "missing.yaml"], "no such file"),
        (["--stage", "10", "--llm_dir", "no_such_dir"], "config.json"),
        (["--stop_stage"], "needs a value"),
        (["positional"], "unexpected positional argument"),
    ],
)
def test_bad_options_stop_before_asr_sh(recipe, args, message):
    res = run_driver(recipe, *args)
    assert res.returncode == 2
    assert message in res.stdout + res.stderr
    assert not (recipe / "asr_args.txt").exists()
