"""Process-level behaviour: kill -9 and resume, live and lockstep modes with two processes, 2-process
DDP (gloo)."""

import multiprocessing
import os
import signal
import time
from dataclasses import replace

import torch

from espnet_llm_entropy.analysis.learning_curves import read_training_state
from espnet_llm_entropy.pipeline import espnet_steps
from espnet_llm_entropy.fileio.jsonl import read_jsonl
from espnet_llm_entropy.testing.method_setup import run_stage, run_stages

IA_SFT_SCHEDULE = ["--max_epoch", "4", "--hot_swap_conf", "check_interval=1",
                   "--hot_swap_conf", "replay_steps=[3, 7, 10]"]


def _setup_reusing(setup, root, stages=("pretrain", "align")):
    """A setup under ``root`` whose finished stages are links to ``setup``'s."""
    root.mkdir(parents=True, exist_ok=True)
    for stage in stages:
        (root / stage).symlink_to(setup.stage_dir(stage))
    new = replace(setup, exp_dir=root)
    new.stage_args = dict(setup.stage_args)
    return new


def _in_child(fn, *args):
    """Run ``fn(*args)`` in a forked child (no re-import of ESPnet); returns the Process."""

    def target():
        torch.set_num_threads(1)
        fn(*args)
        os._exit(0)

    proc = multiprocessing.get_context("fork").Process(target=target)
    proc.start()
    return proc


def _history(setup, stage="ia_sft"):
    return [(h["step"], h["version"], h["previous_version"], h["pretrain_step"],
             None if h["cka_old_new"] is None else round(h["cka_old_new"], 5))
            for h in read_jsonl(setup.stage_dir(stage) / "swap_history.jsonl")]


def test_kill_9_during_ia_sft_then_resume_gives_the_same_history(aligned_setup, tmp_path):
    full = _setup_reusing(aligned_setup, tmp_path / "full")
    full.stage_args["ia_sft"] = full.stage_args["ia_sft"] + IA_SFT_SCHEDULE
    run_stage(full, "ia_sft")
    expected = _history(full)
    assert [h[0] for h in expected] == [0, 3, 7, 10]

    killed = _setup_reusing(aligned_setup, tmp_path / "killed")
    killed.stage_args["ia_sft"] = full.stage_args["ia_sft"]
    proc = _in_child(run_stage, killed, "ia_sft")
    history_file = killed.stage_dir("ia_sft") / "swap_history.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.is_alive():
        if history_file.exists() and any(h["step"] == 7 for h in read_jsonl(history_file)):
            break
        time.sleep(0.02)
    assert proc.is_alive(), "IA-SFT finished or failed before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    assert proc.exitcode == -signal.SIGKILL
    ckpt = read_training_state(killed.stage_dir("ia_sft") / "checkpoint.pth")
    assert max(ckpt["reporter"]["stats"]) < 4  # killed before the end

    run_stage(killed, "ia_sft")  # ESPnet --resume true
    assert _history(killed) == expected
    a = torch.load(full.stage_dir("ia_sft") / "latest.pth", weights_only=True)
    b = torch.load(killed.stage_dir("ia_sft") / "latest.pth", weights_only=True)
    enc = [k for k in a if k.startswith("speech_encoder.")]
    assert all(torch.equal(a[k], b[k]) for k in enc)


def test_live_mode_pretraining_and_ia_sft_as_two_processes(aligned_setup, tmp_path):
    live = _setup_reusing(aligned_setup, tmp_path / "live", stages=("align",))
    live.mode = "live"
    live.stage_args["pretrain"] = live.stage_args["pretrain"] + ["--max_epoch", "5"]
    live.stage_args["ia_sft"] = live.stage_args["ia_sft"] + ["--max_epoch", "2"]
    out = run_stages(live, stages=("pretrain", "ia_sft"))  # pretraining runs as `python -m ...`
    history = read_jsonl(live.stage_dir("ia_sft") / "swap_history.jsonl")
    assert history[0]["version"] == 1 and history[0]["reason"] == "initial"
    assert len(history) >= 2 and {h["reason"] for h in history[1:]} == {"live"}
    versions = [h["version"] for h in history]
    assert versions == sorted(set(versions))
    assert (live.stage_dir("pretrain") / "train.log").exists() and out["swap_history"].exists()


def test_lockstep_mode_swaps_as_replay_does_while_pretraining_runs(aligned_setup, tmp_path):
    lockstep = _setup_reusing(aligned_setup, tmp_path / "lockstep", stages=("align",))
    lockstep.mode = "lockstep"
    lockstep.stage_args["pretrain"] = lockstep.stage_args["pretrain"] + ["--max_epoch", "5"]
    schedule = ["--hot_swap_conf", "replay_scale=1.0"]
    lockstep.stage_args["ia_sft"] = lockstep.stage_args["ia_sft"] + schedule
    run_stages(lockstep, stages=("pretrain", "ia_sft"))
    history = _history(lockstep)
    # v1 at pretraining step 3, one version per step after: v2..v6 due at IA-SFT steps 1..5
    assert [(h[0], h[1], h[3]) for h in history] == [(0, 1, 3)] + [(k - 1, k, k + 2) for k in range(2, 7)]
    assert (lockstep.stage_dir("pretrain") / "train.log").exists()  # pretraining ran as its own process

    # replay mode on the finished publications swaps the same versions at the same steps
    replay = _setup_reusing(lockstep, tmp_path / "replay", stages=("pretrain", "align"))
    replay.mode = "replay"
    run_stage(replay, "ia_sft")
    assert [h[:4] for h in _history(replay)] == [h[:4] for h in history]


def _ddp_rank(setup, rank, init_file):
    espnet_steps.train(
        setup.configs["ia_sft"], setup.token_list, setup.train_dir, setup.valid_dir, setup.stats_dir,
        setup.stage_dir("ia_sft"),
        extra=[*setup.stage_args["ia_sft"], "--llm_conf", f"path={setup.llm_dir}",
               "--probe_conf", f"data_dir={setup.valid_dir}", "--use_matplotlib", "false",
               "--hot_swap_conf", f"publish_dir={setup.publish_dir}",
               "--init_param", str(setup.stage_dir("align") / "latest.pth"),
               "--dist_backend", "gloo", "--dist_world_size", "2", "--dist_rank", str(rank),
               "--dist_init_method", f"file://{init_file}", "--multiprocessing_distributed", "false"],
    )


def test_two_process_ddp_gloo_applies_identical_swaps(aligned_setup, tmp_path):
    ddp = _setup_reusing(aligned_setup, tmp_path / "ddp")
    ddp.stage_args["ia_sft"] = ddp.stage_args["ia_sft"] + [
        "--max_epoch", "2", "--hot_swap_conf", "replay_steps=[1, 2, 3]"]
    procs = [_in_child(_ddp_rank, ddp, r, tmp_path / "dist_init") for r in (0, 1)]
    for p in procs:
        p.join(timeout=400)
    assert [p.exitcode for p in procs] == [0, 0]
    out = ddp.stage_dir("ia_sft")
    rank0 = read_jsonl(out / "swap_applied_rank0.jsonl")
    rank1 = read_jsonl(out / "swap_applied_rank1.jsonl")
    assert [(r["step"], r["version"]) for r in rank0] == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert rank0 == rank1  # same version at the same step, same weights on both ranks
    assert [(h["step"], h["version"]) for h in read_jsonl(out / "swap_history.jsonl")] == [
        (r["step"], r["version"]) for r in rank0]
