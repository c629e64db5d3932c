import pytest

from espnet_llm_entropy.bin import train_method


def test_help_lists_the_stage_options(capsys):
    with pytest.raises(SystemExit) as e:
        train_method.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for word in ("--mode", "--ia_sft_config", "--joint_sft_args", "--probe_dir", "live"):
        assert word in out


def test_missing_stage_config_is_named(tmp_path):
    args = ["--exp_dir", str(tmp_path / "exp"), "--token_list", "t", "--train_dir", "a", "--valid_dir", "b",
            "--stats_dir", "s", "--llm_dir", "l", "--align_config", str(tmp_path / "nope.yaml")]
    with pytest.raises(FileNotFoundError, match=r"no config file for stages \['align'\].*nope.yaml"):
        train_method.main(args)
    assert not (tmp_path / "exp").exists()  # nothing ran
