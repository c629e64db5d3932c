"""diagnose_errors' command line: the sides apart, their inputs checked before any work."""

import pytest

from espnet_llm_entropy.bin.diagnose_errors import main


@pytest.mark.parametrize("argv, missing", [
    (["--parts", "encoder"], "--parts encoder needs --pretrain_exp"),
    (["--parts", "llm", "--sft_exp", "exp/ia_sft"], "--parts llm needs --train_dir"),
    (["--parts", "llm", "--train_dir", "data/train"], "--sft_exp or --sft_train_args"),
])
def test_a_side_without_its_inputs_is_an_error_naming_them(argv, missing, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main([*argv, "--test_dir", str(tmp_path), "--out_dir", str(tmp_path / "out")])
    assert missing in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_merge_names_the_side_that_has_not_run(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "encoder_side.json").write_text('{"a_encoder_phone_error_rate": {"per": 0.1}}')
    with pytest.raises(SystemExit, match="llm_side.json: the llm side of the diagnosis has not run"):
        main(["--merge", "--test_dir", str(tmp_path), "--out_dir", str(tmp_path / "out")])
    assert not (tmp_path / "out" / "diagnosis.json").exists()


def test_sft_train_args_with_a_missing_token_list_is_an_error_naming_it(tmp_path):
    from espnet_llm_entropy.conf import stage_config

    args = f"--config {stage_config('ia_sft')} --token_list {tmp_path / 'no_phones.txt'}"
    with pytest.raises(SystemExit, match="no_phones.txt: no such file"):
        main(["--parts", "llm", "--sft_train_args", args, "--train_dir", str(tmp_path),
              "--test_dir", str(tmp_path), "--out_dir", str(tmp_path / "out")])


@pytest.mark.parametrize("content, message", [
    (None, "guard.yaml: no such file"),
    ("- a list\n", "guard.yaml: expected a YAML mapping with a decoding_guard_conf mapping"),
    ("decoding_guard_conf: {length_slak: 2}\n", r"guard.yaml: decoding_guard_conf: unknown option\(s\) \['length_slak'\]"),
])
def test_a_bad_decode_config_is_an_error_naming_it(content, message, tmp_path):
    guard = tmp_path / "guard.yaml"
    if content is not None:
        guard.write_text(content)
    with pytest.raises(SystemExit, match=message):
        main(["--parts", "llm", "--sft_exp", str(tmp_path), "--train_dir", str(tmp_path), "--decode_config",
              str(guard), "--test_dir", str(tmp_path), "--out_dir", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def test_the_demo_decode_config_gives_its_guards():
    from espnet_llm_entropy.analysis.error_diagnosis import decoding_guard_conf_of
    from espnet_llm_entropy.conf import stage_config

    guard = decoding_guard_conf_of(stage_config("ia_sft").parent / "decode.yaml")
    assert guard["stop_on_loop"] is True and guard["tokens_per_second"] == 6.0


def test_merge_with_hyp_and_train_dir_splits_the_full_model_by_template_coverage(tmp_path, capsys):
    import json

    out, test, train = tmp_path / "out", tmp_path / "test", tmp_path / "train"
    for d in (out, test, train):
        d.mkdir()
    (out / "encoder_side.json").write_text('{"a_encoder_phone_error_rate": {"per": 0.1}}')
    (out / "llm_side.json").write_text(json.dumps({"b_llm_text_perplexity": {"perplexity": 4.0},
                                                   "b_oracle_encoder": {"scores": {"all": {"rate": 0.2}}}}))
    (test / "text").write_text("u1 我想吃西瓜\nu2 我的号码是一一一\n", encoding="utf-8")
    (test / "utt2lang").write_text("u1 zh\nu2 zh\n")
    (tmp_path / "hyp").write_text("u1 我想吃苹果\nu2 我的号码是一一一\n", encoding="utf-8")
    numbers = "".join(f"t{i} 我的号码是二{d}\n" for i, d in enumerate("一二三四五六七八九零"))  # 10: covered
    (train / "text").write_text("t 我想吃苹果\n" + numbers, encoding="utf-8")
    main(["--merge", "--test_dir", str(test), "--out_dir", str(out), "--hyp", str(tmp_path / "hyp"),
          "--train_dir", str(train)])
    summary = json.loads(capsys.readouterr().out)
    assert summary["full_model_mer"] == 2 / 13
    assert summary["full_model_mer_rare_templates"] == 2 / 5 and summary["full_model_mer_covered_templates"] == 0.0
    coverage = json.loads((out / "diagnosis.json").read_text())["c_by_template_coverage"]
    assert coverage["rare"]["rows"][0]["utt_id"] == "u1"
