import pytest

from espnet_llm_entropy.bin import train_method
from espnet_llm_entropy.conf import stage_config

FOUR = ["pretrain", "align", "ia_sft", "joint_sft"]


def _args(tmp_path, *extra):
    return ["--exp_dir", str(tmp_path / "exp"), "--token_list", "t", "--train_dir", "a", "--valid_dir", "b",
            "--stats_dir", "s", "--llm_dir", "l", *extra]


def test_help_lists_the_stage_options(capsys):
    with pytest.raises(SystemExit) as e:
        train_method.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for word in ("--mode", "--ia_sft_config", "--joint_sft_args", "--probe_dir", "live", "--ngpu",
                 "--pretrain_gpus", "--dry_run"):
        assert word in out


def test_missing_stage_config_is_named(tmp_path):
    args = _args(tmp_path, "--align_config", str(tmp_path / "nope.yaml"), "--stages", "pretrain", "align")
    with pytest.raises(FileNotFoundError, match=r"no config file for stages \['align'\].*nope.yaml"):
        train_method.main(args)
    assert not (tmp_path / "exp").exists()  # nothing ran


def test_dry_run_prints_the_commands_with_the_shipped_presets(tmp_path, capsys):
    train_method.main(_args(tmp_path, "--dry_run", "--mode", "live", "--stages", *FOUR,
                            "--ia_sft_args", "--max_epoch 7"))
    lines = capsys.readouterr().out.splitlines()
    assert [ln for ln in lines if ln.startswith("#")] == [
        "# pretrain (in the background)", "# align (alongside pretraining)",
        "# ia_sft (alongside pretraining)", "# joint_sft (in the foreground)"]
    commands = [ln for ln in lines if not ln.startswith("#")]
    for stage, line in zip(FOUR, commands):
        assert f"--config {stage_config(stage)}" in line and "--ngpu 0" in line
        assert f"--output_dir {tmp_path / 'exp' / stage}" in line
    assert commands[2].endswith("--max_epoch 7") and "mode=live" in commands[2]
    assert not (tmp_path / "exp").exists()  # nothing ran


def test_dry_run_of_later_stages_chains_into_earlier_ones(tmp_path, capsys):
    train_method.main(_args(tmp_path, "--dry_run", "--stages", "joint_sft"))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "# joint_sft (in the foreground)" and len(lines) == 2
    assert f"--init_param {tmp_path / 'exp' / 'ia_sft' / 'latest.pth'}" in lines[1]


def test_gpus_that_are_not_there_are_refused_before_anything_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    with pytest.raises(ValueError, match=r"--ngpu 4: only 2 GPU\(s\) visible"):
        train_method.main(_args(tmp_path, "--ngpu", "4", "--stages", *FOUR))
    assert not (tmp_path / "exp").exists()
