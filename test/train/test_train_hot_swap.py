import hashlib
import logging
import time

import pytest
import torch

from espnet_llm_entropy.fileio.jsonl import read_jsonl
from espnet_llm_entropy.train.encoder_versions import EncoderVersionChecksumError
from espnet_llm_entropy.train.hot_swap import HotSwapConfig, HotSwapConsumer, replay_swap_steps
from espnet_llm_entropy.train.probe_set import ProbeConfig, ProbeSet


def test_replay_steps_proportional_to_pretraining_steps():
    # paper-like: versions at 1M, 2M, 3M pretraining steps -> v2 at 1/4, v3 at 1/2 of the run
    assert replay_swap_steps([1, 2, 3], total_steps=400, final_fraction=0.5) == [100, 200]
    assert replay_swap_steps([10, 40, 50], total_steps=80, final_fraction=0.5) == [30, 40]
    assert replay_swap_steps([10, 40], total_steps=80, scale=2.0) == [60]
    assert replay_swap_steps([10, 40, 50], total_steps=80, explicit=[5, 9]) == [5, 9]
    assert replay_swap_steps([10], total_steps=80) == []
    with pytest.raises(ValueError, match="non-decreasing"):
        replay_swap_steps([1, 2, 3], 10, explicit=[5, 2])
    with pytest.raises(ValueError, match="2 versions need one each"):
        replay_swap_steps([1, 2, 3], 10, explicit=[5])


def test_config_errors_name_the_option():
    with pytest.raises(ValueError, match="publish_dir"):
        HotSwapConfig.from_dict({"mode": "replay"})
    with pytest.raises(ValueError, match=r"--hot_swap_conf.mode must be one of"):
        HotSwapConfig.from_dict({"publish_dir": "x", "mode": "sometimes"})
    with pytest.raises(ValueError, match=r"--hot_swap_conf: unknown option\(s\) \['interval'\] \(did you mean 'check_interval' for 'interval'\?\)"):
        HotSwapConfig.from_dict({"publish_dir": "x", "interval": 3})


def _run(consumer, reporter, start, stop, per_epoch, epochs):
    for step in range(start, stop):
        reporter.total_count = step
        consumer.before_step(step, reporter, per_epoch, epochs)


def _strip(history):
    return [(h["step"], h["version"], h["previous_version"], round(h["cka_old_new"] or 0, 6)) for h in history]


@pytest.fixture
def published(tmp_path, tiny_encoder, helpers):
    states = helpers.perturbed_states(tiny_encoder, 4)
    records = helpers.publish_chain(tmp_path / "pub", states, [10, 20, 30, 50])
    return tmp_path / "pub", states, records


def _consumer(tmp_path, probe_dir, encoder, pub, out, **conf):
    conf = HotSwapConfig.from_dict(dict(publish_dir=str(pub), **conf))
    return HotSwapConsumer(conf, ProbeSet(ProbeConfig(str(probe_dir))), out, encoder)


def test_replay_swaps_each_version_once_in_order(helpers, tmp_path, probe_dir, tiny_encoder, published):
    pub, states, _ = published
    out = tmp_path / "exp"
    out.mkdir()
    consumer = _consumer(tmp_path, probe_dir, tiny_encoder, pub, out, mode="replay", check_interval=2)
    consumer.start(0)
    _run(consumer, helpers.FakeReporter(), 0, 40, per_epoch=10, epochs=4)
    history = read_jsonl(out / "swap_history.jsonl")
    # 40 steps, final at 0.5 -> 20; v2..v4 at (10, 20, 40) * 20 / 40 = 5, 10, 20 -> next even step
    assert [(h["step"], h["version"]) for h in history] == [(0, 1), (6, 2), (10, 3), (20, 4)]
    assert history[0]["reason"] == "initial" and {h["reason"] for h in history[1:]} == {"replay"}
    assert all(0.0 < h["cka_old_new"] < 1.0 for h in history[1:])
    assert all(torch.equal(v, states[3][k]) for k, v in tiny_encoder.state_dict().items())


def test_resume_replays_recorded_swaps_and_matches_uninterrupted(helpers, tmp_path, probe_dir, published):
    from espnet_llm_entropy.testing.tiny_components import build_tiny_speech_encoder

    pub, states, _ = published

    def fresh():
        torch.manual_seed(0)
        return build_tiny_speech_encoder(output_size=16, specaug=False)

    full = tmp_path / "full"
    full.mkdir()
    c = _consumer(tmp_path, probe_dir, fresh(), pub, full, mode="replay", check_interval=2)
    c.start(0)
    _run(c, helpers.FakeReporter(), 0, 40, 10, 4)

    # interrupted: killed at step 13 (after the v3 swap at step 10), checkpoint at step 8 (v2)
    part = tmp_path / "part"
    part.mkdir()
    c = _consumer(tmp_path, probe_dir, fresh(), pub, part, mode="replay", check_interval=2)
    c.start(0)
    _run(c, helpers.FakeReporter(), 0, 13, 10, 4)
    encoder = fresh()
    encoder.load_state_dict(states[1])  # what checkpoint.pth at step 8 holds
    c = _consumer(tmp_path, probe_dir, encoder, pub, part, mode="replay", check_interval=2)
    c.start(8)
    assert c.current == 2
    _run(c, helpers.FakeReporter(), 8, 40, 10, 4)
    assert _strip(read_jsonl(part / "swap_history.jsonl")) == _strip(read_jsonl(full / "swap_history.jsonl"))


def test_replay_fails_at_once_on_a_version_that_fails_its_checksum(helpers, tmp_path, probe_dir, tiny_encoder,
                                                                   published):
    pub, states, records = published
    data = (pub / "encoder_v2.pth").read_bytes()
    (pub / "encoder_v2.pth").write_bytes(data[:100])  # truncated after publication
    out = tmp_path / "exp"
    out.mkdir()
    consumer = _consumer(tmp_path, probe_dir, tiny_encoder, pub, out, mode="replay", check_interval=2)
    consumer.start(0)
    started = time.monotonic()
    with pytest.raises(EncoderVersionChecksumError) as err:
        _run(consumer, helpers.FakeReporter(), 0, 12, 10, 4)
    assert time.monotonic() - started < 30
    for part in (str(pub / "encoder_v2.pth"), records[1].sha256, hashlib.sha256(data[:100]).hexdigest(),
                 "remove the record encoder_v2.json"):
        assert part in str(err.value)


def test_replay_start_on_a_truncated_initial_version_fails_fast_not_after_the_timeout(tmp_path, probe_dir,
                                                                                     tiny_encoder, published):
    pub, _, records = published
    path = pub / "encoder_v1.pth"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    out = tmp_path / "exp"
    out.mkdir()
    consumer = _consumer(tmp_path, probe_dir, tiny_encoder, pub, out, mode="replay")  # wait_timeout_s 3600
    started = time.monotonic()
    with pytest.raises(EncoderVersionChecksumError, match=records[0].sha256):
        consumer.start(0)
    assert time.monotonic() - started < 30
    assert not (out / "swap_history.jsonl").exists()


def test_live_waits_for_a_damaged_version_only_while_fresh_and_the_writer_lives(helpers, tmp_path, probe_dir,
                                                                               tiny_encoder, published, caplog):
    from espnet_llm_entropy.train.encoder_versions import write_writer_status

    pub, states, _ = published
    good = (pub / "encoder_v4.pth").read_bytes()

    def live_consumer(name, grace):
        (tmp_path / name).mkdir()
        consumer = _consumer(tmp_path, probe_dir, tiny_encoder, pub, tmp_path / name, mode="live",
                             check_interval=2, corrupt_grace_s=grace)
        consumer.start(0)
        return consumer

    (pub / "encoder_v4.pth").write_bytes(good[:100])
    write_writer_status(pub)  # a live publisher: this process
    consumer = live_consumer("fresh", 600)
    with caplog.at_level(logging.WARNING):
        _run(consumer, helpers.FakeReporter(), 0, 4, 10, 4)
    assert consumer.current == 1 and "live publisher may still fix it" in caplog.text
    (pub / "encoder_v4.pth").write_bytes(good)  # the file becomes complete: taken at the next decision
    _run(consumer, helpers.FakeReporter(), 4, 6, 10, 4)
    assert consumer.current == 4

    (pub / "encoder_v4.pth").write_bytes(good[:100])
    consumer = live_consumer("old_record", 0)  # writer alive, record older than the grace period
    with pytest.raises(EncoderVersionChecksumError):
        _run(consumer, helpers.FakeReporter(), 0, 4, 10, 4)
    write_writer_status(pub, finished=True)
    consumer = live_consumer("writer_finished", 600)  # fresh record, but no writer any more
    with pytest.raises(EncoderVersionChecksumError):
        _run(consumer, helpers.FakeReporter(), 0, 4, 10, 4)


def test_live_takes_the_newest_complete_version(helpers, tmp_path, probe_dir, tiny_encoder):
    states = helpers.perturbed_states(tiny_encoder, 3)
    pub = tmp_path / "pub"
    helpers.publish_chain(pub, states[:1], [10])
    out = tmp_path / "exp"
    out.mkdir()
    consumer = _consumer(tmp_path, probe_dir, tiny_encoder, pub, out, mode="live", check_interval=3)
    consumer.start(0)
    reporter = helpers.FakeReporter()
    _run(consumer, reporter, 0, 5, None, 1)
    from espnet_llm_entropy.train.encoder_versions import publish_encoder_version

    publish_encoder_version(pub, states[1], 2, 20, 0.9, 1)
    publish_encoder_version(pub, states[2], 3, 30, 0.9, 2)
    _run(consumer, reporter, 5, 10, None, 1)
    assert [(h["step"], h["version"], h["reason"]) for h in read_jsonl(out / "swap_history.jsonl")] == [
        (0, 1, "initial"), (6, 3, "live")]
    assert ("encoder_version", 3.0) in [(k, v) for _, s in reporter.registered for k, v in s.items()]


def test_missing_initial_version_times_out_with_a_clear_error(tmp_path, probe_dir, tiny_encoder):
    out = tmp_path / "exp"
    out.mkdir()
    consumer = _consumer(tmp_path, probe_dir, tiny_encoder, tmp_path / "none", out, mode="live",
                         wait_timeout_s=0.2, poll_s=0.05)
    with pytest.raises(TimeoutError, match="encoder version 1 did not appear"):
        consumer.start(0)


def test_probe_eval_mode_restores_each_submodule(tiny_encoder):
    from espnet_llm_entropy.models.module_modes import eval_mode

    tiny_encoder.train()
    bn = next(m for m in tiny_encoder.modules() if isinstance(m, torch.nn.BatchNorm1d))
    bn.eval()
    with eval_mode(tiny_encoder):
        assert not tiny_encoder.training
    assert tiny_encoder.training and not bn.training


def test_probe_outputs_do_not_depend_on_the_feature_cache(probe_dir, tiny_encoder):
    """utterance_mvn normalises in place; the cached features must stay the frontend's output."""
    probe = ProbeSet(ProbeConfig(str(probe_dir)))
    first = probe.encoder_outputs(tiny_encoder)  # computes and caches the features
    again = probe.encoder_outputs(tiny_encoder)  # from the cache
    fresh = ProbeSet(ProbeConfig(str(probe_dir))).encoder_outputs(tiny_encoder)
    assert torch.allclose(first, again, atol=1e-5) and torch.allclose(first, fresh, atol=1e-5)
