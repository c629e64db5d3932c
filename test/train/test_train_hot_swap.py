import logging

import pytest
import torch

from espnet_llm_entropy.train.atomic_files import read_jsonl
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
    with pytest.raises(ValueError, match=r"unknown keys \['interval'\]"):
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


def test_corrupt_candidate_is_skipped_then_retried(helpers, tmp_path, probe_dir, tiny_encoder, published, caplog):
    pub, states, _ = published
    good = (pub / "encoder_v2.pth").read_bytes()
    (pub / "encoder_v2.pth").write_bytes(good[:100])  # half-written / corrupt
    out = tmp_path / "exp"
    out.mkdir()
    consumer = _consumer(tmp_path, probe_dir, tiny_encoder, pub, out, mode="replay", check_interval=2)
    consumer.start(0)
    with caplog.at_level(logging.WARNING):
        _run(consumer, helpers.FakeReporter(), 0, 12, 10, 4)
    assert consumer.current == 1
    assert "candidate v2 skipped" in caplog.text
    assert all(torch.equal(v, states[0][k]) for k, v in tiny_encoder.state_dict().items())
    (pub / "encoder_v2.pth").write_bytes(good)  # the file becomes complete
    _run(consumer, helpers.FakeReporter(), 12, 14, 10, 4)
    history = read_jsonl(out / "swap_history.jsonl")
    assert [(h["step"], h["version"]) for h in history] == [(0, 1), (12, 2)]


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
    from espnet_llm_entropy.train.probe_set import eval_mode

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
