"""The device policy with fake device lists (no GPU is needed)."""

import pytest

from espnet_llm_entropy.train.device_policy import DevicePolicy, available_cpu_threads, decoding_args, visible_gpus

EIGHT = [str(i) for i in range(8)]


def test_visible_gpus_from_the_environment_or_the_device_count():
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "3,5"}, device_count=8) == ("3", "5")
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": ""}, device_count=8) == ()
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "2,-1,4"}, device_count=8) == ("2",)  # CUDA stops at -1
    assert visible_gpus({}, device_count=3) == ("0", "1", "2")
    assert visible_gpus({}, device_count=0) == ()


def test_cpu_is_the_default():
    plan = DevicePolicy().plan("replay", visible=EIGHT)
    for role in ("publisher", "alongside", "alone"):
        devices = plan.for_role(role)
        assert devices.args() == ["--ngpu", "0"] and devices.env_changes() == {}
    assert plan.alone.env({"PATH": "/bin"}) == {"PATH": "/bin"}


@pytest.mark.parametrize("mode", ["live", "lockstep"])
@pytest.mark.parametrize("threads, publisher, sft", [(2, 1, 1), (5, 2, 3), (16, 8, 8)])
def test_concurrent_cpu_runs_split_the_threads(mode, threads, publisher, sft):
    plan = DevicePolicy(cpu_threads=threads).plan(mode)
    assert plan.publisher.env_changes() == {"OMP_NUM_THREADS": str(publisher), "MKL_NUM_THREADS": str(publisher)}
    assert plan.alongside.env_changes() == {"OMP_NUM_THREADS": str(sft), "MKL_NUM_THREADS": str(sft)}
    # the SFT process takes every thread once pretraining has published its final version
    assert plan.alongside.args() == ["--ngpu", "0", "--hot_swap_conf", f"cpu_threads_after_final={threads}"]
    assert plan.publisher.args() == plan.alone.args() == ["--ngpu", "0"] and plan.alone.env_changes() == {}


def test_one_cpu_thread_is_shared_and_thread_counts_come_from_omp_num_threads(caplog):
    plan = DevicePolicy(cpu_threads=1).plan("lockstep")
    assert plan.publisher.env_changes()["OMP_NUM_THREADS"] == plan.alongside.env_changes()["OMP_NUM_THREADS"] == "1"
    assert "share it" in caplog.text
    assert available_cpu_threads({"OMP_NUM_THREADS": "3"}) == 3
    assert available_cpu_threads({"OMP_NUM_THREADS": "junk"}) >= 1


def test_replay_gives_every_stage_the_first_n_gpus():
    plan = DevicePolicy(ngpu=4).plan("replay", visible=["2", "3", "5", "7", "9"])
    assert plan.publisher == plan.alongside == plan.alone
    assert plan.alone.args() == ["--ngpu", "4", "--multiprocessing_distributed", "true"]
    assert plan.alone.env_changes() == {"CUDA_VISIBLE_DEVICES": "2,3,5,7"}


def test_live_split_is_configurable():
    plan = DevicePolicy(ngpu=8, pretrain_gpus=2).plan("live", visible=EIGHT)
    assert plan.publisher.gpus == ("0", "1") and plan.alongside.gpus == ("2", "3", "4", "5", "6", "7")
    assert plan.alone.gpus == tuple(EIGHT)
    assert plan.publisher.env({})["CUDA_VISIBLE_DEVICES"] == "0,1"
    assert plan.alongside.args() == ["--ngpu", "6", "--multiprocessing_distributed", "true"]


def test_live_default_split_is_half_and_one_gpu_has_no_ddp():
    plan = DevicePolicy(ngpu=3).plan("live", visible=["4", "5", "6"])
    assert plan.publisher.gpus == ("4",) and plan.alongside.gpus == ("5", "6")
    assert plan.publisher.args() == ["--ngpu", "1"]


def test_live_with_one_gpu_shares_it():
    plan = DevicePolicy(ngpu=1).plan("live", visible=["0", "1"])
    assert plan.publisher.gpus == plan.alongside.gpus == ("0",)


@pytest.mark.parametrize("policy, mode, visible, message", [
    (DevicePolicy(ngpu=4), "replay", ["0", "1"], r"--ngpu 4: only 2 GPU\(s\) visible \['0', '1'\]"),
    (DevicePolicy(ngpu=-1), "replay", EIGHT, "--ngpu -1"),
    (DevicePolicy(ngpu=8, pretrain_gpus=8), "live", EIGHT, r"--pretrain_gpus 8 of --ngpu 8.*expected 1\.\.7"),
    (DevicePolicy(ngpu=8, pretrain_gpus=0), "live", EIGHT, "--pretrain_gpus 0: expected at least 1"),
    (DevicePolicy(ngpu=0, pretrain_gpus=2), "live", EIGHT, "--pretrain_gpus 2 needs --ngpu >= 2"),
    (DevicePolicy(ngpu=1, pretrain_gpus=2), "live", EIGHT, "nothing left for SFT"),
])
def test_errors_name_the_option(policy, mode, visible, message):
    with pytest.raises(ValueError, match=message):
        policy.plan(mode, visible=visible)


def test_decoding_runs_on_one_device():
    assert decoding_args(0) == ["--ngpu", "0"] and decoding_args(1) == ["--ngpu", "1"]
    with pytest.raises(ValueError, match="--ngpu 2"):
        decoding_args(2)
