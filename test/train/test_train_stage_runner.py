"""The stage runner's command lines: replay, live (with a GPU split), a paradigm with fewer stages."""

from pathlib import Path

import pytest

from espnet_llm_entropy.conf import stage_config, stage_configs
from espnet_llm_entropy.train.device_policy import DevicePolicy
from espnet_llm_entropy.train.method_spec import MethodSpec, MethodSpecError, StageRun, spec_from_stage_configs
from espnet_llm_entropy.train.stage_contributors import STAGE_ROLES, stage_role
from espnet_llm_entropy.train.stage_runner import RunInputs, StageRunner, dry_run_lines
from espnet_llm_entropy.train.stage_schedule import STAGES

FOUR = ("pretrain", "align", "ia_sft", "joint_sft")


def values(opts, flag):
    """Every value that follows ``flag`` in ``opts``."""
    return [opts[i + 1] for i, o in enumerate(opts) if o == flag]


@pytest.fixture
def inputs(tmp_path):
    return RunInputs(exp_dir=tmp_path / "exp", token_list=tmp_path / "phones.txt", train_dir=tmp_path / "train",
                     valid_dir=tmp_path / "dev", stats_dir=tmp_path / "stats", llm_dir=tmp_path / "llm")


@pytest.fixture
def spec():
    return spec_from_stage_configs(stage_configs(FOUR), {"ia_sft": ["--max_epoch", "3"]}, stages=FOUR)


def test_replay_commands_chain_the_four_stages(spec, inputs):
    runner = StageRunner(spec, inputs)
    exp = inputs.exp_dir
    cmds = {s: runner.command(s).args for s in FOUR}
    for stage, args in cmds.items():
        assert values(args, "--config") == [str(stage_config(stage))]
        assert values(args, "--output_dir") == [str(exp / stage)]
        assert values(args, "--ngpu") == ["0"] and "--multiprocessing_distributed" not in args
        assert values(args, "--resume") == ["true"]
        assert values(args, "--probe_conf") == [f"data_dir={inputs.valid_dir}"]
        assert f"{inputs.train_dir}/wav.scp,speech,sound" in args
        assert values(args, "--train_shape_file") == [str(inputs.stats_dir / "train" / "speech_shape")]
        assert "--seed" not in args and "--num_iters_per_epoch" not in args and "--max_epoch" not in args[:-2]
        assert runner.command(stage).devices.env_changes() == {}
    pub = exp / "pretrain" / "encoder_versions"
    assert values(cmds["pretrain"], "--cka_monitor_conf") == [f"publish_dir={pub}"]
    assert "--llm_conf" not in cmds["pretrain"] and "--init_param" not in cmds["pretrain"]
    assert values(cmds["align"], "--hot_swap_conf") == [f"publish_dir={pub}", "mode=fixed", "initial_version=1"]
    assert "--init_param" not in cmds["align"]  # alignment starts from the published encoder
    assert values(cmds["ia_sft"], "--hot_swap_conf") == [f"publish_dir={pub}", "mode=replay"]
    assert values(cmds["ia_sft"], "--init_param") == [str(exp / "align" / "latest.pth")]
    assert cmds["ia_sft"][-2:] == ["--max_epoch", "3"]  # the stage's own options come last
    assert values(cmds["joint_sft"], "--init_param") == [str(exp / "ia_sft" / "latest.pth")]
    # conf/tiny/joint_sft.yaml keeps the phone-CTC head: the pretraining's is loaded
    assert values(cmds["joint_sft"], "--ctc_head_init") == [str(exp / "pretrain" / "latest.pth")]
    for stage in ("align", "ia_sft", "joint_sft"):
        assert values(cmds[stage], "--llm_conf") == [f"path={inputs.llm_dir}"]


def test_live_mode_splits_the_gpus_between_pretraining_and_sft(spec, inputs):
    inputs.mode = "live"
    inputs.devices = DevicePolicy(ngpu=8, pretrain_gpus=2)
    visible = [str(i) for i in range(8)]
    runner = StageRunner(spec, inputs)
    runner._plan = inputs.devices.plan("live", visible)  # fake devices: no GPU on this machine
    roles = {s: runner.device_role(s) for s in FOUR}
    assert roles == {"pretrain": "publisher", "align": "alongside", "ia_sft": "alongside", "joint_sft": "alone"}
    cmds = {s: runner.command(s) for s in FOUR}
    assert values(cmds["pretrain"].args, "--ngpu") == ["2"]
    assert cmds["pretrain"].devices.env_changes() == {"CUDA_VISIBLE_DEVICES": "0,1"}
    for stage in ("align", "ia_sft"):
        assert values(cmds[stage].args, "--ngpu") == ["6"]
        assert values(cmds[stage].args, "--multiprocessing_distributed") == ["true"]
        assert cmds[stage].devices.env_changes() == {"CUDA_VISIBLE_DEVICES": "2,3,4,5,6,7"}
    assert values(cmds["joint_sft"].args, "--ngpu") == ["8"]  # after pretraining: every GPU
    assert values(cmds["ia_sft"].args, "--hot_swap_conf")[-1] == "mode=live"
    assert cmds["ia_sft"].shell().startswith("CUDA_VISIBLE_DEVICES=2,3,4,5,6,7 ")


@pytest.mark.parametrize("mode", ["live", "lockstep"])
def test_concurrent_modes_on_the_cpu_keep_ngpu_0_and_split_the_threads(spec, inputs, mode):
    inputs.mode = mode
    inputs.devices = DevicePolicy(cpu_threads=4)
    runner = StageRunner(spec, inputs)
    for stage in FOUR:
        assert values(runner.command(stage).args, "--ngpu") == ["0"]
    threads = {s: runner.command(s).devices.env_changes().get("OMP_NUM_THREADS") for s in FOUR}
    assert threads == {"pretrain": "2", "align": "2", "ia_sft": "2", "joint_sft": None}
    # IA-SFT takes all four threads from the final version on; its mode is the run's
    ia_sft = runner.command("ia_sft").args
    assert "cpu_threads_after_final=4" in values(ia_sft, "--hot_swap_conf")
    assert f"mode={mode}" in values(ia_sft, "--hot_swap_conf")


def test_live_mode_refuses_the_final_version_for_alignment(inputs):
    runs = tuple(StageRun(s, stage_config(s), encoder="final") for s in FOUR)
    spec = MethodSpec("p", "p", "phone", runs, source=Path("p.yaml"))
    inputs.mode = "live"
    with pytest.raises(ValueError, match="p.yaml: align loads the final encoder version.*live mode"):
        StageRunner(spec, inputs).command("align")


def test_a_paradigm_with_fewer_stages(inputs, tmp_path):
    """pretrain -> align -> joint SFT with a comparison's run options and character units."""
    runs = (StageRun("pretrain", stage_config("pretrain"), epochs=4),
            StageRun("align", stage_config("align"), epochs=1, encoder="first"),
            StageRun("joint_sft", stage_config("joint_sft"), epochs=2, args=("--optim_conf", "lr=0.003")))
    spec = MethodSpec("short", "short", "char", runs)
    inputs.seed, inputs.steps_per_epoch = 5, 9
    shared = tmp_path / "shared_pretrain"
    inputs.stage_dirs = {"pretrain": shared}
    runner = StageRunner(spec, inputs)
    pre = runner.command("pretrain").args
    assert values(pre, "--output_dir") == [str(shared)]
    assert values(pre, "--cka_monitor_conf") == [f"publish_dir={shared / 'encoder_versions'}"]
    joint = runner.command("joint_sft").args
    assert values(joint, "--seed") == ["5"] and values(joint, "--num_iters_per_epoch") == ["9"]
    assert values(joint, "--max_epoch") == ["2"] and values(joint, "--phonemizer_conf") == ["unit=char"]
    # the previous stage in this spec is align, not ia_sft
    assert values(joint, "--init_param") == [str(inputs.exp_dir / "align" / "latest.pth")]
    assert values(joint, "--ctc_head_init") == [str(shared / "latest.pth")]
    assert joint[-2:] == ["--optim_conf", "lr=0.003"]
    with pytest.raises(MethodSpecError, match="unknown stages \\['ia_sft'\\]"):
        runner.check(["ia_sft"])


def test_joint_sft_alone_has_no_init(inputs):
    spec = MethodSpec("one", "one", "phone", (StageRun("joint_sft", stage_config("joint_sft"), epochs=3),))
    args = StageRunner(spec, inputs).command("joint_sft").args
    assert "--init_param" not in args and "--ctc_head_init" not in args and "--hot_swap_conf" not in args


def test_stage_args_may_not_set_ngpu(inputs):
    spec = spec_from_stage_configs(stage_configs(FOUR), {"align": ["--ngpu", "1"]}, stages=FOUR)
    with pytest.raises(MethodSpecError, match="align args set --ngpu; devices come from the device policy"):
        StageRunner(spec, inputs).command("align")


def test_missing_config_is_named_before_anything_runs(inputs, tmp_path):
    configs = stage_configs(FOUR)
    configs["align"] = tmp_path / "nope.yaml"
    runner = StageRunner(spec_from_stage_configs(configs, stages=FOUR), inputs)
    with pytest.raises(FileNotFoundError, match=r"no config file for stages \['align'\].*nope.yaml"):
        runner.run(["align"])
    assert not inputs.exp_dir.exists()


def test_dry_run_lines_name_how_each_stage_runs(spec, inputs):
    inputs.mode = "live"
    lines = dry_run_lines(spec, inputs)
    assert lines[0] == "# pretrain (in the background)" and lines[2] == "# align (alongside pretraining)"
    assert lines[6] == "# joint_sft (in the foreground)"
    assert all("espnet_llm_entropy.bin.llm_asr_train" in line for line in lines[1::2])


def test_every_role_names_known_stages():
    for stage, role in STAGE_ROLES.items():
        assert stage in STAGES
        assert all(needed in STAGES and STAGES.index(needed) < STAGES.index(stage) for needed, _ in role.needs)
        assert role.contributors, stage


def test_a_stage_without_a_role_is_named():
    with pytest.raises(ValueError, match="unknown stage 'finetune'"):
        stage_role("finetune")


def test_stages_that_load_the_llm_wait_for_its_builder(tmp_path):
    import subprocess
    import sys

    from espnet_llm_entropy.train.encoder_versions import process_is_running
    from espnet_llm_entropy.train.stage_runner import wait_for_llm

    llm = tmp_path / "llm"
    wait_for_llm(llm, None)  # nothing being built: no wait, whatever is there
    # a builder that writes the directory (renamed into place, complete) after a while
    writer = subprocess.Popen([sys.executable, "-c", (
        "import os, time, pathlib; time.sleep(0.5); p = pathlib.Path(os.sys.argv[1]); "
        "t = p.with_name('partial'); t.mkdir(); (t / 'config.json').write_text('{}'); t.rename(p)"), str(llm)])
    wait_for_llm(llm, writer.pid, poll_s=0.05)
    assert (llm / "config.json").is_file()
    writer.wait()
    # a builder that fails: an error naming it and the directory, once it has exited (even unreaped)
    failing = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(3)"])
    with pytest.raises(RuntimeError, match=rf"LLM builder \(pid {failing.pid}\) ended without writing .*other_llm"):
        wait_for_llm(tmp_path / "other_llm", failing.pid, poll_s=0.05)
    assert not process_is_running(failing.pid)
    failing.wait()
