"""egs2/TEMPLATE/llm_asr1/llm_asr.sh hands asr.sh the options our recipes rely on.

asr.sh is replaced by a stub that records its arguments, so this runs
without an ESPnet checkout.
"""

import os
import subprocess
import sys
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
    stub.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@" > asr_args.txt\n'
                    'printf "%s\\n" "$@" "----" >> asr_calls.txt\n')
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
    assert opts["--skip_upload_hf"] == "true"  # stage 15 is ours
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


def test_stage16_runs_the_paradigm_comparison_on_the_recipe_data(recipe):
    """Stage 16 calls compare_paradigms with asr.sh's dump dirs, token list and stats dir."""
    fake_python = recipe / "fake_python"
    fake_python.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@" > compare_args.txt\n')
    fake_python.chmod(0o755)
    res = run_driver(
        recipe, "--stage", "16", "--stop_stage", "16", "--lang", "zh", "--llm_dir", "llm",
        "--python_exe", str(fake_python), "--train_set", "train", "--valid_set", "dev",
        "--test_sets", "nonspeech test", "--nonspeech_sets", "nonspeech", "--speed_perturb_factors", "0.9 1.0 1.1",
        "--compare_paradigms", "true", "--compare_paradigms_args", "--quick --jobs 1",
    )
    assert res.returncode == 0, res.stderr + res.stdout
    args = (recipe / "compare_args.txt").read_text().split("\n")[:-1]
    assert args[:2] == ["-m", "espnet_llm_entropy.bin.compare_paradigms"]
    opts = dict(zip(args[2:-3:2], args[3:-3:2]))
    assert opts["--out_dir"] == "exp/paradigm_comparison"
    assert opts["--train_dir"] == "dump/raw/train_sp" and opts["--valid_dir"] == "dump/raw/dev"
    # the first speech set is the test set, the non-speech set is scored for output only
    assert opts["--test_dir"] == "dump/raw/test" and opts["--nonspeech_dir"] == "dump/raw/nonspeech"
    assert opts["--token_list"] == "data/zh_token_list/word/tokens.txt"
    assert opts["--stats_dir"] == "exp/asr_stats_raw_zh_word_sp" and opts["--llm_dir"] == "llm"
    assert args[-3:] == ["--quick", "--jobs", "1"]


def test_stage16_needs_a_speech_test_set(recipe):
    res = run_driver(recipe, "--stage", "16", "--llm_dir", "llm", "--test_sets", "nonspeech",
                     "--nonspeech_sets", "nonspeech", "--python_exe", "true", "--compare_paradigms", "true")
    assert res.returncode == 2
    assert "stage 16 needs a speech set" in res.stdout + res.stderr


def test_stage16_is_opt_in(recipe):
    """A plain run (default --stop_stage) never starts the comparison."""
    fake_python = recipe / "fake_python"
    fake_python.write_text('#!/usr/bin/env bash\ntouch compare_called\n')
    fake_python.chmod(0o755)
    res = run_driver(recipe, "--llm_dir", "llm", "--test_sets", "test", "--skip_eval", "true",
                     "--python_exe", str(fake_python))
    assert res.returncode == 0, res.stderr + res.stdout
    assert (recipe / "asr_args.txt").exists() and not (recipe / "compare_called").exists()
    res = run_driver(recipe, "--compare_paradigms", "yes")
    assert res.returncode == 2 and "expected true or false" in res.stdout + res.stderr


def test_stage14_packs_through_the_prefix_with_pack_llm(recipe):
    res = run_driver(recipe, "--stage", "14", "--stop_stage", "14", "--skip_packing", "false",
                     "--pack_llm", "true", "--llm_dir", "llm")
    assert res.returncode == 0, res.stderr + res.stdout
    opts = asr_sh_options(recipe)
    assert opts["--python"].endswith("asr_sh_python --pack_llm true")
    assert opts["--skip_packing"] == "false" and opts["--stage"] == "14"
    res = run_driver(recipe, "--pack_llm", "yes")
    assert res.returncode == 2 and "--pack_llm yes" in res.stdout + res.stderr


def test_stage15_prepares_the_repository_from_the_stage14_pack(recipe):
    fake_python = recipe / "fake_python"
    fake_python.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@" > upload_args.txt\n')
    fake_python.chmod(0o755)
    res = run_driver(recipe, "--stage", "15", "--stop_stage", "15", "--skip_upload_hf", "false",
                     "--hf_repo", "me/model", "--python_exe", str(fake_python), "--asr_exp", "exp/llm_asr_x",
                     "--inference_asr_model", "valid.loss.best.pth")
    assert res.returncode == 0, res.stderr + res.stdout
    args = (recipe / "upload_args.txt").read_text().split("\n")[:-1]
    assert args[:2] == ["-m", "espnet_llm_entropy.bin.upload_pack"]
    opts = dict(zip(args[2::2], args[3::2]))
    assert opts["--pack"] == "exp/llm_asr_x/llm_asr_x_valid.loss.best.zip" and opts["--hf_repo"] == "me/model"
    assert opts["--expdir"] == "exp"
    res = run_driver(recipe, "--stage", "15", "--stop_stage", "15", "--skip_upload_hf", "false")
    assert res.returncode == 2 and "--hf_repo" in res.stdout + res.stderr


def _calls(recipe):
    text = (recipe / "asr_calls.txt").read_text()
    calls = [c.strip("\n").split("\n") for c in text.split("----\n") if c.strip()]
    return [dict(zip(c[::2], c[1::2])) for c in calls]


def test_gate_is_calibrated_on_dev_sets_between_stages_11_and_12(recipe):
    """Stages up to 11, then calibrate_ctc_gate on the two dev dirs, then stage 12 on with the
    chosen min_ctc_phones added to the user's --inference_args."""
    fake_python = recipe / "fake_python"
    fake_python.write_text(
        '#!/usr/bin/env bash\n'
        'if [ "$1" = "-m" ]; then echo "$@" > calibrate_args.txt; '
        'while [ $# -gt 0 ]; do [ "$1" = "--output" ] && out=$2; shift; done; '
        'echo \'{"calibration": {"min_ctc_phones": 3}}\' > "$out"; exit 0; fi\n'
        f'exec {sys.executable} "$@"\n')
    fake_python.chmod(0o755)
    (recipe / "exp" / "llm_asr").mkdir(parents=True)
    res = run_driver(recipe, "--python_exe", str(fake_python),
                     "--gate_calibration_sets", "data/dev data/nonspeech_dev",
                     "--inference_args", "--batch_size 4", "--valid_set", "dev", "--test_sets", "test",
                     "--stop_stage", "12")
    assert res.returncode == 0, res.stderr + res.stdout
    first, second = _calls(recipe)
    assert (first["--stage"], first["--stop_stage"]) == ("1", "11")
    assert (second["--stage"], second["--stop_stage"]) == ("12", "12")
    assert second["--inference_args"] == "--batch_size 4 --decoding_guard_conf min_ctc_phones=3"
    calib = (recipe / "calibrate_args.txt").read_text().split()
    assert calib[calib.index("--speech_dir") + 1] == "data/dev"
    assert calib[calib.index("--nonspeech_dir") + 1] == "data/nonspeech_dev"
    assert calib[calib.index("--output") + 1] == "exp/llm_asr/gate_calibration.json"


def test_without_gate_calibration_asr_sh_runs_once(recipe):
    res = run_driver(recipe, "--stage", "11", "--stop_stage", "12", "--valid_set", "dev")
    assert res.returncode == 0, res.stderr + res.stdout
    (only,) = _calls(recipe)
    assert (only["--stage"], only["--stop_stage"], only["--inference_args"]) == ("11", "12", "")


def test_gate_calibration_sets_needs_two_dirs(recipe):
    res = run_driver(recipe, "--gate_calibration_sets", "data/dev", "--stage", "12")
    assert res.returncode == 2 and "two data dirs" in res.stderr + res.stdout
