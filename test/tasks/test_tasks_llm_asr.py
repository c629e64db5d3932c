import argparse
import shutil
import subprocess
import sys

import pytest
import torch

from espnet_llm_entropy.analysis.learning_curves import read_training_state
import yaml

import espnet_llm_entropy
from espnet_llm_entropy.pipeline import espnet_steps
from espnet_llm_entropy.tasks.llm_asr import LLMASRTask


def test_register_is_idempotent_and_shows_in_espnet_help(capsys):
    espnet_llm_entropy.register()
    espnet_llm_entropy.register()
    from espnet2.tasks.asr import ASRTask, model_choices

    assert {"llm_asr", "phoneme_ctc"} <= set(model_choices.classes)
    ASRTask.get_parser().print_help()
    assert "llm_asr" in capsys.readouterr().out


def test_help_lists_our_choices(capsys):
    with pytest.raises(SystemExit):
        LLMASRTask.main(cmd=["--help"])
    out = capsys.readouterr().out
    for word in ("--adaptor", "frame_stack_mlp", "--llm_conf", "phoneme_ctc", "--speech_encoder_init",
                 "e_branchformer"):
        assert word in out


def test_collect_stats_wrote_shapes(tiny_exp):
    shapes = (tiny_exp.stats / "train" / "speech_shape").read_text().splitlines()
    assert len(shapes) == 12
    text_shapes = (tiny_exp.stats / "train" / "text_shape").read_text().splitlines()
    assert all(int(ln.split()[1]) > 0 for ln in text_shapes)


def _train_pretrain(tiny_exp, out, epochs):
    return espnet_steps.train(
        tiny_exp.pretrain_config, tiny_exp.phones, tiny_exp.data / "train", tiny_exp.data / "dev",
        tiny_exp.stats, out, extra=["--max_epoch", str(epochs), "--batch_size", "4"],
    )


@pytest.fixture(scope="module")
def pretrained(tiny_exp):
    return _train_pretrain(tiny_exp, tiny_exp.root / "exp_pretrain", 1)


def test_phoneme_ctc_training_reports_per_and_resumes(pretrained, tiny_exp, tmp_path):
    log = (pretrained / "train.log") if (pretrained / "train.log").exists() else None
    assert (pretrained / "checkpoint.pth").exists() and (pretrained / "1epoch.pth").exists()
    states = read_training_state(pretrained / "checkpoint.pth")
    assert "per" in states["reporter"]["stats"][1]["valid"]
    assert log is None or "loss_cr" in log.read_text()
    # resume (in a copy): a second call with max_epoch 2 continues from epoch 1
    copy = tmp_path / "resumed"
    shutil.copytree(pretrained, copy, symlinks=True)
    _train_pretrain(tiny_exp, copy, 2)
    states = read_training_state(copy / "checkpoint.pth")
    assert sorted(states["reporter"]["stats"]) == [1, 2]


def test_print_config_round_trips(tmp_path):
    # ESPnet's --print_config reads sys.argv, so run the real command line
    out = subprocess.run(
        [sys.executable, "-m", "espnet_llm_entropy.bin.llm_asr_train", "--model", "llm_asr",
         "--adaptor", "frame_stack_mlp", "--encoder", "e_branchformer", "--print_config"],
        check=True, capture_output=True, text=True,
    ).stdout
    conf = yaml.safe_load(out)
    assert conf["adaptor"] == "frame_stack_mlp" and conf["adaptor_conf"]["stack"] == 4
    assert conf["encoder"] == "e_branchformer" and "cgmlp_linear_units" in conf["encoder_conf"]
    assert "train_mode" in conf["llm_conf"] and "robustness_aug_conf" in conf
    path = tmp_path / "printed.yaml"
    path.write_text(yaml.safe_dump(conf, allow_unicode=True))
    parsed = LLMASRTask.get_parser().parse_args(["--config", str(path)])
    assert isinstance(parsed, argparse.Namespace)
    for key in ("adaptor_conf", "llm_conf", "encoder_conf", "model_conf"):
        assert getattr(parsed, key) == conf[key], key


def test_unknown_yaml_key_is_an_error(tiny_exp, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(tiny_exp.pretrain_config.read_text() + "\nnot_an_option: 3\n")
    with pytest.raises(SystemExit):
        LLMASRTask.get_parser().parse_args(["--config", str(bad)])
    assert "not_an_option" in capsys.readouterr().err


def test_unknown_model_conf_key_names_the_model(tiny_exp, tmp_path):
    with pytest.raises(TypeError, match="phoneme_ctc"):
        espnet_steps.train(
            tiny_exp.pretrain_config, tiny_exp.phones, tiny_exp.data / "train", tiny_exp.data / "dev",
            tiny_exp.stats, tmp_path / "x", extra=["--model_conf", "bogus=1", "--max_epoch", "1"],
        )


def test_llm_asr_from_pretrained_encoder_trains_and_decodes(pretrained, tiny_exp):
    exp = tiny_exp.root / "exp_sft"
    espnet_steps.train(
        tiny_exp.sft_config, tiny_exp.phones, tiny_exp.data / "train", tiny_exp.data / "dev",
        tiny_exp.stats, exp,
        extra=["--llm_conf", f"path={tiny_exp.llm_dir}", "--llm_conf", "train_mode=lora",
               "--speech_encoder_init", pretrained / "1epoch.pth", "--max_epoch", "1", "--batch_size", "4"],
    )
    ckpt = torch.load(exp / "1epoch.pth", weights_only=True)
    assert not any("embed_tokens" in k for k in ckpt)  # with LoRA the frozen base LLM is not stored
    pre = torch.load(pretrained / "1epoch.pth", weights_only=True)
    sft_cfg = yaml.safe_load((exp / "config.yaml").read_text())
    assert sft_cfg["speech_encoder_init"].endswith("1epoch.pth")
    key = next(k for k in pre if k.startswith("speech_encoder.encoder"))
    assert key in ckpt

    out = espnet_steps.decode(exp, exp / "1epoch.pth", tiny_exp.data / "test", tiny_exp.root / "decode", 2)
    ids = sorted(ln.split()[0] for ln in (tiny_exp.data / "test" / "wav.scp").read_text().splitlines())
    for name in ("text", "token", "token_int", "score"):
        lines = (out / name).read_text().splitlines()
        assert sorted(ln.split(maxsplit=1)[0] for ln in lines) == ids, name


def test_encoder_checkpoint_with_wrong_shapes_is_refused(tiny_exp, pretrained, tmp_path):
    with pytest.raises(ValueError, match="does not match the configured encoder"):
        espnet_steps.train(
            tiny_exp.sft_config, tiny_exp.phones, tiny_exp.data / "train", tiny_exp.data / "dev",
            tiny_exp.stats, tmp_path / "y",
            extra=["--llm_conf", f"path={tiny_exp.llm_dir}", "--speech_encoder_init", pretrained / "1epoch.pth",
                   "--encoder_conf", "output_size=64", "--max_epoch", "1"],
        )
