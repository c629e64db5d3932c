"""The make_mini_corpus command line."""

import subprocess
import sys

import pytest

from espnet_llm_entropy.bin import make_mini_corpus


def test_help_lists_the_options():
    out = subprocess.run([sys.executable, "-m", "espnet_llm_entropy.bin.make_mini_corpus", "--help"],
                         capture_output=True, text=True, check=True).stdout
    for option in ("--out_dir", "--seed", "--num_train", "--num_dev", "--num_test",
                   "--languages", "--an4_dir", "--nj", "--overwrite"):
        assert option in out


@pytest.mark.parametrize(
    "args, message",
    [(["--num_train", "0"], "num_train (--num_train): expected an integer in 1..100000, got 0"),
     (["--languages", "zh,de"], "languages (--languages)"),
     (["--an4_dir", "/nonexistent"], "an4_dir (--an4_dir)"),
     (["--seed", "x"], "argument --seed: invalid int value")],
)
def test_bad_options_exit_2_with_a_message(args, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        make_mini_corpus.main(["--out_dir", str(tmp_path / "out")] + args)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_run_prints_a_summary(espeak_available, tmp_path, capsys):
    args = ["--out_dir", str(tmp_path), "--num_train", "3", "--num_dev", "3", "--num_test", "3",
            "--languages", "en,cs", "--no_progress", "--log_level", "WARNING"]
    assert make_mini_corpus.main(args) == 0
    out = capsys.readouterr().out
    assert "train" in out and "cs:" in out and "zh:" not in out and "built in" in out
    assert make_mini_corpus.main(args) == 0
    assert "reused existing corpus" in capsys.readouterr().out
