"""Routing of asr.sh's python calls by espnet_llm_entropy.bin.asr_sh_python."""

import sys
import textwrap

import pytest

from espnet_llm_entropy.bin import asr_sh_python as prefix


def test_module_call_is_split_into_target_and_untouched_args():
    inv = prefix.parse_invocation(["-m", "espnet2.bin.tokenize_text", "-f", "2-", "--input", "-"])
    assert (inv.kind, inv.target, inv.args, inv.method_config) == (
        "module", "espnet2.bin.tokenize_text", ["-f", "2-", "--input", "-"], None,
    )


@pytest.mark.parametrize("opt", [["--method_config", "conf/m.yaml"], ["--method_config=conf/m.yaml"]])
def test_prefix_option_is_read_before_the_module(opt):
    inv = prefix.parse_invocation([*opt, "-m", "espnet2.bin.asr_train", "--method_config", "x"])
    assert inv.method_config == "conf/m.yaml"
    # the same spelling after -m belongs to the called module
    assert inv.args == ["--method_config", "x"]


def test_script_and_code_calls():
    assert prefix.parse_invocation(["pyscripts/utils/rotate_logfile.py", "exp/train.log"]) == prefix.Invocation(
        "script", "pyscripts/utils/rotate_logfile.py", ["exp/train.log"]
    )
    assert prefix.parse_invocation(["-c", "print(1)"]).kind == "code"


@pytest.mark.parametrize("argv", [[], ["-m"], ["--method_config"], ["--bogus", "-m", "x"], ["--method_config="]])
def test_bad_prefix_command_lines_exit_with_status_2(argv, capsys):
    with pytest.raises(SystemExit) as e:
        prefix.parse_invocation(argv)
    assert e.value.code == 2
    assert "asr_sh_python: error" in capsys.readouterr().err


def test_training_and_decoding_go_to_our_entry_points():
    train = prefix.Invocation("module", "espnet2.bin.asr_train", ["--config", "c.yaml"])
    assert prefix.resolve(train) == ("espnet_llm_entropy.bin.llm_asr_train", ["--config", "c.yaml"], True)
    decode = prefix.Invocation("module", "espnet2.bin.asr_inference", ["--batch_size", "1"])
    assert prefix.resolve(decode)[:2] == ("espnet_llm_entropy.bin.llm_asr_inference", ["--batch_size", "1"])


def test_method_config_sends_stage11_training_to_the_method_trainer_only(tmp_path):
    method = tmp_path / "m.yaml"
    method.write_text("mode: replay\n")
    stage11 = prefix.Invocation("module", "espnet2.bin.asr_train", list(ASR_SH_STAGE11), str(method))
    module, args, register = prefix.resolve(stage11)
    assert (module, register) == (prefix.METHOD_TRAINER, True)
    assert args == prefix.method_trainer_args(ASR_SH_STAGE11, str(method))
    for flag in (["--collect_stats", "true"], ["--collect_stats=True"]):
        stage10 = prefix.Invocation("module", "espnet2.bin.asr_train", [*flag, "--output_dir", "s"], "m.yaml")
        assert prefix.resolve(stage10)[0] == "espnet_llm_entropy.bin.llm_asr_train"
    not_stats = prefix.Invocation(
        "module", "espnet2.bin.asr_train", ["--collect_stats", "false", *ASR_SH_STAGE11], str(method)
    )
    assert prefix.resolve(not_stats)[0] == prefix.METHOD_TRAINER
    # decoding is never sent to the method trainer
    decode = prefix.Invocation("module", "espnet2.bin.asr_inference", [], "m.yaml")
    assert prefix.resolve(decode)[0] == "espnet_llm_entropy.bin.llm_asr_inference"


def test_other_espnet_tools_run_unchanged_and_text_tools_skip_registration():
    tok = prefix.Invocation("module", "espnet2.bin.tokenize_text", ["-f", "2-"])
    assert prefix.resolve(tok) == ("espnet2.bin.tokenize_text", ["-f", "2-"], False)
    launch = prefix.Invocation("module", "espnet2.bin.launch", ["--", "python3", "-m", "x"], "m.yaml")
    assert prefix.resolve(launch) == ("espnet2.bin.launch", ["--", "python3", "-m", "x"], False)
    align = prefix.Invocation("module", "espnet2.bin.asr_align", ["--help"])
    assert prefix.resolve(align) == ("espnet2.bin.asr_align", ["--help"], True)


def test_stage_14_pack_goes_to_our_packer_with_the_prefix_pack_llm_option():
    pack = prefix.Invocation("module", "espnet2.bin.pack", ["asr"])
    assert prefix.resolve(pack) == ("espnet_llm_entropy.bin.llm_asr_pack", ["asr"], True)
    parsed = prefix.parse_invocation(["--pack_llm", "true", "-m", "espnet2.bin.pack", "asr", "--outpath", "x.zip"])
    assert parsed.pack_llm == "true" and parsed.method_config is None
    assert prefix.resolve(parsed)[1] == ["asr", "--outpath", "x.zip", "--include_llm", "true"]
    with pytest.raises(SystemExit):
        prefix.parse_invocation(["--pack_llm", "maybe", "-m", "espnet2.bin.pack"])


def test_passthrough_module_runs_as_main_with_its_argv(tmp_path, monkeypatch):
    out = tmp_path / "argv.txt"
    (tmp_path / "fake_espnet_tool.py").write_text(
        textwrap.dedent(
            f"""
            import sys
            if __name__ == "__main__":
                open({str(out)!r}, "w").write(repr(sys.argv[1:]))
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    prefix.main(["-m", "fake_espnet_tool", "--a", "1", "b c"])
    assert out.read_text() == repr(["--a", "1", "b c"])


def test_script_call_runs_the_file(tmp_path, monkeypatch):
    out = tmp_path / "argv.txt"
    script = tmp_path / "tool.py"
    script.write_text(f"import sys\nopen({str(out)!r}, 'w').write(' '.join(sys.argv))\n")
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    prefix.main([str(script), "x", "y"])
    assert out.read_text() == f"{script} x y"


def test_missing_method_trainer_names_the_fix():
    with pytest.raises(SystemExit) as e:
        prefix.run_module("espnet_llm_entropy.bin.no_such_trainer_xyz", [], register=False)
    assert "drop --method_config" in str(e.value.code)


def test_asr_train_route_reaches_our_task(capsys, monkeypatch):
    """``-m espnet2.bin.asr_train --print_config`` prints our task's config (it has an adaptor)."""
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    with pytest.raises(SystemExit) as e:
        prefix.main(["-m", "espnet2.bin.asr_train", "--print_config", "--model", "phoneme_ctc", "--llm", "none"])
    assert e.value.code in (0, None)
    printed = capsys.readouterr().out
    assert "\nadaptor:" in printed and "model: phoneme_ctc" in printed


# asr.sh's stage-11 training arguments, as run.pl received them in a real mini_bilingual run
ASR_SH_STAGE11 = (
    "--use_preprocessor true --bpemodel none --token_type word "
    "--token_list data/token_list/word/tokens.txt --non_linguistic_symbols none --cleaner none "
    "--g2p none --valid_data_path_and_name_and_type dump/raw/dev/wav.scp,speech,sound "
    "--valid_shape_file exp/asr_stats_raw_word/valid/speech_shape --resume true "
    "--ignore_init_mismatch false --fold_length 80000 --output_dir exp/llm_asr_method "
    "--config conf/train_llm_asr.yaml --frontend_conf fs=16000 "
    "--train_data_path_and_name_and_type dump/raw/train/wav.scp,speech,sound "
    "--train_shape_file exp/asr_stats_raw_word/train/speech_shape --fold_length 150 "
    "--train_data_path_and_name_and_type dump/raw/train/text,text,text "
    "--train_shape_file exp/asr_stats_raw_word/train/text_shape.word "
    "--valid_data_path_and_name_and_type dump/raw/dev/text,text,text "
    "--valid_shape_file exp/asr_stats_raw_word/valid/text_shape.word "
    "--llm_conf path=data/local/tiny_llm --max_epoch 2 --normalize=global_mvn"
).split()


def _opts(args):
    """train_method argument list -> {option: [values]} (``--x=v`` gives [v])."""
    out, key = {}, None
    for a in args:
        if a.startswith("--") and "=" in a:
            name, value = a[2:].split("=", 1)
            out[name] = [value]
        elif a.startswith("--"):
            key = a[2:]
            out[key] = []
        else:
            out[key].append(a)
    return out


def test_method_trainer_args_translate_asr_sh_arguments(tmp_path):
    conf = tmp_path / "method.yaml"
    conf.write_text(
        "mode: live\npretrain_config: conf/p.yaml\nstages: [pretrain, align]\n"
        "ia_sft_args: --max_epoch 9\n"
    )
    opts = _opts(prefix.method_trainer_args(ASR_SH_STAGE11, str(conf)))
    assert opts["exp_dir"] == ["exp/llm_asr_method"]
    assert opts["token_list"] == ["data/token_list/word/tokens.txt"]
    assert opts["train_dir"] == ["dump/raw/train"] and opts["valid_dir"] == ["dump/raw/dev"]
    assert opts["stats_dir"] == ["exp/asr_stats_raw_word"]
    assert opts["llm_dir"] == ["data/local/tiny_llm"]
    assert opts["mode"] == ["live"] and opts["pretrain_config"] == ["conf/p.yaml"]
    assert opts["stages"] == ["pretrain", "align"]
    # asr.sh's remaining options reach every stage, after the method config's own
    import shlex

    for stage in ("pretrain", "align", "ia_sft", "joint_sft"):
        words = shlex.split(opts[f"{stage}_args"][0])
        assert ["--frontend_conf", "fs=16000"] == words[words.index("--frontend_conf"):][:2]
        assert "--max_epoch" in words and "--normalize" in words
        assert "--config" not in words and "--output_dir" not in words and "--resume" not in words
    ia = shlex.split(opts["ia_sft_args"][0])
    assert ia[:2] == ["--max_epoch", "9"] and ia.index("--max_epoch") < len(ia) - 1


def test_method_trainer_args_errors_name_the_problem(tmp_path):
    conf = tmp_path / "m.yaml"
    conf.write_text("exp_dir: somewhere\n")
    with pytest.raises(ValueError, match="key 'exp_dir' comes from asr.sh"):
        prefix.method_trainer_args(ASR_SH_STAGE11, str(conf))
    conf.write_text("mode: replay\n")
    no_llm = [a for a in ASR_SH_STAGE11 if a not in ("--llm_conf", "path=data/local/tiny_llm")]
    with pytest.raises(ValueError, match="llm_dir"):
        prefix.method_trainer_args(no_llm, str(conf))
    feats = [a.replace("dump/raw/train/wav.scp", "dump/fbank/train/feats.scp") for a in ASR_SH_STAGE11]
    with pytest.raises(ValueError, match="feats_type raw"):
        prefix.method_trainer_args(feats, str(conf))


def test_link_final_stage_links_config_and_models_of_the_last_stage(tmp_path):
    exp = tmp_path / "exp"
    for stage in ("align", "joint_sft"):
        (exp / stage).mkdir(parents=True)
        (exp / stage / "config.yaml").write_text(f"stage: {stage}\n")
        (exp / stage / "valid.acc.ave.pth").write_text(stage)
        (exp / stage / "checkpoint.pth").write_text("resume state")
        (exp / stage / "drift_reference_encoder.pth").write_text("stage internals")
    (exp / "valid.acc.ave.pth").symlink_to("align/valid.acc.ave.pth")  # from an earlier run
    links = prefix.link_final_stage(["--exp_dir", str(exp), "--mode", "replay"])
    assert sorted(p.name for p in links) == ["config.yaml", "valid.acc.ave.pth"]
    assert (exp / "config.yaml").read_text() == "stage: joint_sft\n"
    assert (exp / "valid.acc.ave.pth").read_text() == "joint_sft"
    assert not (exp / "checkpoint.pth").exists() and not (exp / "drift_reference_encoder.pth").exists()
    # --stages picks the last stage run
    prefix.link_final_stage(["--exp_dir", str(exp), "--stages", "pretrain", "align"])
    assert (exp / "valid.acc.ave.pth").read_text() == "align"
    # a real file is never replaced
    (exp / "config.yaml").unlink()
    (exp / "config.yaml").write_text("mine\n")
    with pytest.raises(FileExistsError):
        prefix.link_final_stage(["--exp_dir", str(exp)])
    assert (exp / "config.yaml").read_text() == "mine\n"
