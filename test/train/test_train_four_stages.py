"""The four stages as real (tiny) ESPnet trainings: publication, alignment, IA-SFT replay, joint SFT."""

import json
from dataclasses import replace

import pytest
import torch

from espnet_llm_entropy.analysis.learning_curves import read_training_state
from espnet_llm_entropy.pipeline import espnet_steps
from espnet_llm_entropy.fileio.jsonl import read_jsonl
from espnet_llm_entropy.train.encoder_versions import load_encoder_version, read_published_versions
from espnet_llm_entropy.testing.method_setup import run_stage
from espnet_llm_entropy.train.stage_runner import write_run_summary


def _encoder_part(state):
    return {k[len("speech_encoder."):]: v for k, v in state.items() if k.startswith("speech_encoder.")}


def test_pretraining_publishes_versions_with_complete_records(pretrained_setup):
    setup = pretrained_setup
    records, problems = read_published_versions(setup.publish_dir)
    assert problems == []
    assert [r.version for r in records] == [1, 2, 3, 4]
    assert [r.final for r in records] == [False, False, False, True]
    # reference snapshot at step 2, a check every step, 12 utterances / batch 4 * 2 epochs = 6 steps
    assert [r.pretrain_step for r in records] == [3, 4, 5, 6]
    for r in records:
        assert 0.0 < r.cka < 1.0 and r.reference_version == r.version - 1
    trace = read_jsonl(setup.stage_dir("pretrain") / "cka_trace.jsonl")
    assert trace[0]["event"] == "reference" and trace[-1]["event"] == "final"
    published = [row["published_version"] for row in trace if row["published_version"]]
    assert published == [r.version for r in records]
    # CKA went through ESPnet's reporter (train.log / checkpoint stats)
    ckpt = read_training_state(setup.stage_dir("pretrain") / "checkpoint.pth")
    assert "cka_to_reference" in ckpt["reporter"]["stats"][2]["train"]  # checks at steps 3-5
    # the published final version is the encoder of the last epoch's model
    last = torch.load(setup.stage_dir("pretrain") / "2epoch.pth", weights_only=True)
    final = load_encoder_version(setup.publish_dir, records[-1])
    assert all(torch.equal(final[k], v) for k, v in _encoder_part(last).items())


def test_rerunning_finished_pretraining_publishes_nothing_new(pretrained_setup):
    before = [r.version for r in read_published_versions(pretrained_setup.publish_dir)[0]]
    run_stage(pretrained_setup, "pretrain")
    assert [r.version for r in read_published_versions(pretrained_setup.publish_dir)[0]] == before


def test_alignment_trains_only_the_adaptor_on_version_1(aligned_setup):
    setup = aligned_setup
    records, _ = read_published_versions(setup.publish_dir)
    v1 = load_encoder_version(setup.publish_dir, records[0])
    model = torch.load(setup.stage_dir("align") / "latest.pth", weights_only=True)
    assert all(torch.equal(v1[k], v) for k, v in _encoder_part(model).items())
    history = read_jsonl(setup.stage_dir("align") / "swap_history.jsonl")
    assert [(h["step"], h["version"]) for h in history] == [(0, 1)]


def test_ia_sft_replay_then_joint_sft(aligned_setup):
    setup = aligned_setup
    run_stage(setup, "ia_sft")
    records, _ = read_published_versions(setup.publish_dir)
    history = read_jsonl(setup.stage_dir("ia_sft") / "swap_history.jsonl")
    assert [h["version"] for h in history] == [r.version for r in records]  # each once, in order
    assert [h["step"] for h in history] == sorted(h["step"] for h in history)
    model = torch.load(setup.stage_dir("ia_sft") / "latest.pth", weights_only=True)
    final = load_encoder_version(setup.publish_dir, records[-1])
    assert all(torch.equal(final[k], v) for k, v in _encoder_part(model).items())

    run_stage(setup, "joint_sft")
    ckpt = read_training_state(setup.stage_dir("joint_sft") / "checkpoint.pth")
    drift = [ckpt["reporter"]["stats"][e]["valid"]["encoder_drift_cka"] for e in (1, 2)]
    assert all(0.0 < d < 1.0 for d in drift)
    guard = json.loads((setup.stage_dir("joint_sft") / "drift_guard.json").read_text())
    assert guard["epoch"] == 1 and guard["action"] == "lower_lr"  # floor 1.0 always triggers
    joint = torch.load(setup.stage_dir("joint_sft") / "latest.pth", weights_only=True)
    assert any(not torch.equal(final[k], v) for k, v in _encoder_part(joint).items())  # the encoder trained
    # the joint-SFT config keeps a phone-CTC head: the pipeline loads the pretraining's, frozen
    pretrain = torch.load(setup.stage_dir("pretrain") / "latest.pth", weights_only=True)
    head = {k: v for k, v in pretrain.items() if k.startswith("ctc_head.")}
    assert head and all(torch.equal(joint[k], v) for k, v in head.items())
    assert bool(joint["ctc_head_trained"])

    out = write_run_summary(setup.spec, setup.inputs)
    summary = json.loads(out["cka_trace"].read_text())
    assert len(summary["publications"]) == len(records) and len(summary["joint_sft_drift"]) == 2
    assert json.loads(out["swap_history"].read_text())["ia_sft"] == history


def test_deepspeed_is_refused_with_a_clear_error(method_setup, tmp_path):
    setup = method_setup
    with pytest.raises(ValueError, match="--use_deepspeed is not supported by espnet_llm_entropy"):
        espnet_steps.train(setup.configs["pretrain"], setup.token_list, setup.train_dir, setup.valid_dir,
                           setup.stats_dir, tmp_path / "ds", extra=["--use_deepspeed", "true"])


def test_bad_stage_prefix_fails_the_training_run(pretrained_setup, tmp_path):
    setup = replace(pretrained_setup, exp_dir=tmp_path)
    setup.stage_args = dict(setup.stage_args)
    setup.stage_args["pretrain"] = setup.stage_args["pretrain"] + [
        "--stage_schedule", "{pretrain: {trainable: [speech_encoder, ctc_haed]}}"]
    with pytest.raises(ValueError, match="trainable prefix 'ctc_haed' matches no parameter"):
        run_stage(setup, "pretrain")


def test_drift_guard_stop_ends_joint_sft(aligned_setup, tmp_path):
    setup = aligned_setup
    if not (setup.stage_dir("ia_sft") / "latest.pth").exists():
        run_stage(setup, "ia_sft")
    root = tmp_path / "stop"
    root.mkdir()
    for stage in ("pretrain", "align", "ia_sft"):
        (root / stage).symlink_to(setup.stage_dir(stage))
    stop = replace(setup, exp_dir=root)
    stop.stage_args = dict(setup.stage_args)
    stop.stage_args["joint_sft"] = stop.stage_args["joint_sft"] + [
        "--max_epoch", "3", "--drift_conf", "action=stop"]
    run_stage(stop, "joint_sft")
    ckpt = read_training_state(stop.stage_dir("joint_sft") / "checkpoint.pth")
    counts = {e: s["train"]["total_count"] for e, s in ckpt["reporter"]["stats"].items()}
    assert counts[1] == 3 and max(counts) == 2 and counts[2] == 3  # epoch 2 trained no step, then ESPnet stopped
