"""Lockstep hot-swapping: IA-SFT beside a running pretraining, with the swaps replay mode gives."""

import json
import threading
import time

import pytest
import torch

from espnet_llm_entropy.fileio.jsonl import read_jsonl
from espnet_llm_entropy.train.encoder_versions import WRITER_FILE, publish_encoder_version, write_writer_status
from espnet_llm_entropy.train.hot_swap import HotSwapConfig, HotSwapConsumer
from espnet_llm_entropy.train.probe_set import ProbeConfig, ProbeSet

#: pretraining steps of the versions the fake publisher publishes (the last one final)
PUBLISHED_AT = [10, 20, 30, 50]


def _consumer(probe_dir, encoder, pub, out, **conf):
    out.mkdir(parents=True, exist_ok=True)
    conf = HotSwapConfig.from_dict({"publish_dir": str(pub), "check_interval": 2, "poll_s": 0.01,
                                    "wait_timeout_s": 20, **conf})
    return HotSwapConsumer(conf, ProbeSet(ProbeConfig(str(probe_dir))), out, encoder)


def _history(out):
    return [(h["step"], h["version"]) for h in read_jsonl(out / "swap_history.jsonl")]


def _run(consumer, reporter, steps):
    for step in range(steps):
        reporter.total_count = step
        consumer.before_step(step, reporter, 10, steps // 10)


def _publisher(pub, states, check_every=5, pause_s=0.01):
    """A pretraining job in a thread, v1 already out: checks every ``check_every`` steps up to the
    last version's step, publishes the versions of :data:`PUBLISHED_AT` at their steps, heartbeat
    with ``checked_step``."""
    def run():
        for step in range(PUBLISHED_AT[0] + check_every, PUBLISHED_AT[-1] + 1, check_every):
            time.sleep(pause_s)
            if step in PUBLISHED_AT:
                i = PUBLISHED_AT.index(step)
                publish_encoder_version(pub, states[i], i + 1, step, 0.9, i, final=i == len(states) - 1)
            write_writer_status(pub, finished=step == PUBLISHED_AT[-1], checked_step=step)
    return threading.Thread(target=run, daemon=True)


@pytest.mark.parametrize("schedule", [{"replay_scale": 0.5}, {"replay_steps": [3, 8, 9]}])
def test_lockstep_beside_a_running_publisher_gives_the_replay_history(helpers, tmp_path, probe_dir, tiny_encoder,
                                                                       schedule):
    from espnet_llm_entropy.testing.tiny_components import build_tiny_speech_encoder

    states = helpers.perturbed_states(tiny_encoder, len(PUBLISHED_AT))
    # replay mode on the finished chain
    helpers.publish_chain(tmp_path / "done", states, PUBLISHED_AT)
    torch.manual_seed(0)
    replay = _consumer(probe_dir, build_tiny_speech_encoder(output_size=16, specaug=False), tmp_path / "done",
                       tmp_path / "replay", mode="replay", **schedule)
    replay.start(0)
    _run(replay, helpers.FakeReporter(), 40)

    # lockstep while a slow publisher is still running (v1 out first, as the stage runner waits for it)
    pub = tmp_path / "pub"
    publish_encoder_version(pub, states[0], 1, PUBLISHED_AT[0], 0.9, 0)
    write_writer_status(pub, checked_step=PUBLISHED_AT[0])
    publisher = _publisher(pub, states, pause_s=0.05)
    torch.manual_seed(0)
    lockstep = _consumer(probe_dir, build_tiny_speech_encoder(output_size=16, specaug=False), pub,
                         tmp_path / "lockstep", mode="lockstep", **schedule)
    lockstep.start(0)
    publisher.start()
    _run(lockstep, helpers.FakeReporter(), 40)
    publisher.join(timeout=30)

    expected = _history(tmp_path / "replay")
    assert len(expected) == len(PUBLISHED_AT)  # every version swapped in, so the test compares something
    assert _history(tmp_path / "lockstep") == expected
    for a, b in zip(replay.encoder.state_dict().values(), lockstep.encoder.state_dict().values()):
        assert torch.equal(a, b)


def test_lockstep_waits_for_the_publisher_before_deciding(helpers, tmp_path, probe_dir, tiny_encoder):
    states = helpers.perturbed_states(tiny_encoder, len(PUBLISHED_AT))
    pub = tmp_path / "pub"
    publish_encoder_version(pub, states[0], 1, 10, 0.9, 0)
    write_writer_status(pub, checked_step=10)
    consumer = _consumer(probe_dir, tiny_encoder, pub, tmp_path / "exp", mode="lockstep", replay_scale=1.0)
    consumer.start(0)
    # step 0..0: nothing can be due before pretraining step 11 -> no wait
    _run(consumer, helpers.FakeReporter(), 1)

    def publish_later():
        time.sleep(0.3)
        publish_encoder_version(pub, states[1], 2, 12, 0.9, 1)
        write_writer_status(pub, checked_step=12)

    thread = threading.Thread(target=publish_later)
    thread.start()
    start = time.monotonic()
    consumer.before_step(2, helpers.FakeReporter(), 10, 1)  # v2 could be due at step 2 (pretraining step 12)
    assert time.monotonic() - start >= 0.25  # it waited for the publisher
    thread.join()
    assert consumer.current == 2 and _history(tmp_path / "exp") == [(0, 1), (2, 2)]


def test_lockstep_names_a_publisher_that_stopped(helpers, tmp_path, probe_dir, tiny_encoder):
    states = helpers.perturbed_states(tiny_encoder, 1)
    pub = tmp_path / "pub"
    publish_encoder_version(pub, states[0], 1, 10, 0.9, 0)
    write_writer_status(pub, checked_step=10)
    status = json.loads((pub / WRITER_FILE).read_text())
    (pub / WRITER_FILE).write_text(json.dumps({**status, "pid": 2 ** 22 + 12345}))  # no such process
    consumer = _consumer(probe_dir, tiny_encoder, pub, tmp_path / "exp", mode="lockstep", replay_scale=1.0)
    consumer.start(0)
    with pytest.raises(RuntimeError, match=r"lockstep.*stopped .*checked_step 10, not finished.*v2"):
        _run(consumer, helpers.FakeReporter(), 4)


def test_lockstep_needs_a_schedule_that_does_not_need_the_whole_chain():
    with pytest.raises(ValueError, match="mode=lockstep needs replay_scale"):
        HotSwapConfig.from_dict({"publish_dir": "x", "mode": "lockstep"})
    with pytest.raises(ValueError, match="cpu_threads_after_final must be >= 0"):
        HotSwapConfig.from_dict({"publish_dir": "x", "cpu_threads_after_final": -1})


def test_threads_rise_when_the_final_version_is_in(helpers, tmp_path, probe_dir, tiny_encoder):
    states = helpers.perturbed_states(tiny_encoder, 2)
    helpers.publish_chain(tmp_path / "pub", states, [10, 20])
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        consumer = _consumer(probe_dir, tiny_encoder, tmp_path / "pub", tmp_path / "exp", mode="replay",
                             replay_steps=[4], cpu_threads_after_final=2)
        consumer.start(0)
        _run(consumer, helpers.FakeReporter(), 4)
        assert torch.get_num_threads() == 1  # v1 in: the publisher may still run
        _run(consumer, helpers.FakeReporter(), 6)
        assert consumer.current == 2 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_lockstep_goes_on_when_the_heartbeat_vouches_for_the_next_check(helpers, tmp_path, probe_dir, tiny_encoder):
    """No wait between checks: a version can only come at pretraining's next check (step 20 here,
    swapped in at IA-SFT step 10 with replay_scale 1), so steps 2..8 need nothing from the publisher
    (alive and silent here, so any wait would time out); at step 10 the consumer does wait."""
    states = helpers.perturbed_states(tiny_encoder, 2)
    pub = tmp_path / "pub"
    publish_encoder_version(pub, states[0], 1, 10, 0.9, 0)
    write_writer_status(pub, checked_step=10, next_check_step=20)
    consumer = _consumer(probe_dir, tiny_encoder, pub, tmp_path / "exp", mode="lockstep", replay_scale=1.0,
                         wait_timeout_s=0.3)
    consumer.start(0)
    _run(consumer, helpers.FakeReporter(), 10)  # a wait here would end in the TimeoutError below
    assert consumer.current == 1
    with pytest.raises(TimeoutError, match="at step 10 for pretraining"):
        consumer.before_step(10, helpers.FakeReporter(), 10, 2)
