"""``llm_asr_pack``: asr.sh stage 14's ``espnet2.bin.pack asr`` arguments, images made when missing."""

import zipfile

import pytest

from espnet_llm_entropy.bin import llm_asr_pack


def test_stage_14_arguments_pack_with_learning_curves_and_results(trained_sft, tmp_path, monkeypatch):
    exp = trained_sft.exp
    monkeypatch.chdir(exp.parent)
    (exp / "RESULTS.md").write_text("# RESULTS\n| CER | 12.3 |\n")
    images = exp / "images"
    out = exp / "packed.zip"
    llm_asr_pack.main([
        "asr", "--asr_train_config", str(trained_sft.config), "--asr_model_file", str(trained_sft.model_file),
        "--option", str(exp / "RESULTS.md"), "--option", str(images), "--outpath", str(out),
        "--include_llm", "true",
    ])
    names = zipfile.ZipFile(out).namelist()
    assert images.is_dir() and any(images.iterdir())
    assert f"{exp.name}/RESULTS.md" in names and any(n.startswith(f"{exp.name}/images/") for n in names)
    assert any(n.endswith("/llm/config.json") for n in names)


def test_missing_option_and_external_lm_are_clear_errors(trained_sft, tmp_path):
    base = ["asr", "--asr_train_config", str(trained_sft.config), "--asr_model_file", str(trained_sft.model_file),
            "--outpath", str(tmp_path / "p.zip")]
    with pytest.raises(SystemExit, match="no_such_file"):
        llm_asr_pack.main([*base, "--option", str(tmp_path / "no_such_file")])
    with pytest.raises(SystemExit, match="lm_file"):
        llm_asr_pack.main([*base, "--lm_file", "lm.pth"])
    assert not (tmp_path / "p.zip").exists()
