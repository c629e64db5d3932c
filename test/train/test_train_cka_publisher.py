import pytest
import torch

from espnet_llm_entropy.fileio.jsonl import read_jsonl
from espnet_llm_entropy.train.cka_publisher import CKAMonitorConfig, CKAPublisher
from espnet_llm_entropy.train.encoder_versions import load_encoder_version, read_published_versions
from espnet_llm_entropy.train.probe_set import ProbeConfig, ProbeSet


def _drive(publisher, encoder, states, reporter, start, stop):
    """Step ``start..stop-1``; the encoder holds ``states[step]`` at each step (a fake training)."""
    for step in range(start, stop):
        encoder.load_state_dict(states[step])
        reporter.total_count = step
        publisher.before_step(step, reporter)


def _publisher(tmp_path, probe_dir, encoder, start_step, **conf):
    conf = CKAMonitorConfig.from_dict(dict(publish_dir=str(tmp_path / "pub"), **conf))
    return CKAPublisher(conf, ProbeSet(ProbeConfig(str(probe_dir))), tmp_path / "exp", encoder, start_step)


def test_publishes_below_threshold_then_final(helpers, tmp_path, probe_dir, tiny_encoder):
    (tmp_path / "exp").mkdir()
    states = [tiny_encoder.state_dict()] + helpers.perturbed_states(tiny_encoder, 12, scale=0.05)
    reporter = helpers.FakeReporter()
    pub = _publisher(tmp_path, probe_dir, tiny_encoder, 0, check_interval=2, reference_step=2, threshold=0.995)
    _drive(pub, tiny_encoder, states, reporter, 0, 13)
    pub.on_training_end(13)
    records, problems = read_published_versions(tmp_path / "pub")
    assert problems == [] and len(records) >= 3 and records[-1].final and records[-1].pretrain_step == 13
    trace = read_jsonl(tmp_path / "exp" / "cka_trace.jsonl")
    assert [r["step"] for r in trace] == [2, 4, 6, 8, 10, 12, 13]
    checks = [r for r in trace if r["event"] == "check"]
    # published exactly when CKA fell below the threshold; the published one is the new reference
    assert all((r["published_version"] is not None) == (r["cka"] < 0.995) for r in checks)
    for r in records[:-1]:
        state = load_encoder_version(tmp_path / "pub", r)
        assert all(torch.equal(state[k], v) for k, v in states[r.pretrain_step].items())
    registered = [k for _, s in reporter.registered for k in s]
    assert registered.count("cka_to_reference") == len(checks)


def test_restart_neither_repeats_nor_loses_publications(helpers, tmp_path, probe_dir, tiny_encoder):
    (tmp_path / "exp").mkdir()
    states = [tiny_encoder.state_dict()] + helpers.perturbed_states(tiny_encoder, 12, scale=0.05)
    pub = _publisher(tmp_path, probe_dir, tiny_encoder, 0, check_interval=2, reference_step=2, threshold=0.995)
    _drive(pub, tiny_encoder, states, helpers.FakeReporter(), 0, 9)  # killed after step 8
    before = read_published_versions(tmp_path / "pub")[0]
    assert before, "the threshold should have triggered by step 8"
    # resumed from the epoch checkpoint at step 4: steps 4..8 are re-run
    pub = _publisher(tmp_path, probe_dir, tiny_encoder, 4, check_interval=2, reference_step=2, threshold=0.995)
    assert pub.reference_version == before[-1].version
    _drive(pub, tiny_encoder, states, helpers.FakeReporter(), 4, 13)
    pub.on_training_end(13)
    after = read_published_versions(tmp_path / "pub")[0]
    assert [r.version for r in after] == list(range(1, len(after) + 1))
    assert after[: len(before)] == before
    assert all(r.pretrain_step > before[-1].pretrain_step for r in after[len(before):])
    steps = [r["step"] for r in read_jsonl(tmp_path / "exp" / "cka_trace.jsonl")]
    assert steps == sorted(set(steps))  # no step checked twice


def test_config_errors():
    with pytest.raises(ValueError, match=r"threshold must be in \(0, 1\]"):
        CKAMonitorConfig.from_dict({"threshold": 1.5})
    with pytest.raises(ValueError, match=r"--cka_monitor_conf: unknown option\(s\) \['treshold'\] \(did you mean 'threshold' for 'treshold'\?\)"):
        CKAMonitorConfig.from_dict({"treshold": 0.9})


def test_final_version_only_when_the_encoder_moved_on(helpers, tmp_path, probe_dir, tiny_encoder):
    (tmp_path / "exp").mkdir()
    pub = _publisher(tmp_path, probe_dir, tiny_encoder, 0, check_interval=100)
    assert pub.on_training_end(5).final  # no check ever ran: still a final version (without CKA)
    assert pub.on_training_end(5) is None  # a finished run started again
    pub = _publisher(tmp_path, probe_dir, tiny_encoder, 5, check_interval=100)
    record = pub.on_training_end(9)  # resumed with more epochs
    assert record.version == 2 and record.final and record.cka is not None



@pytest.mark.parametrize("total_steps, expected", [(None, [None, None, None]), (7, [4, 6, 7]), (20, [4, 6, 8])])
def test_heartbeat_vouches_for_the_next_check_only_when_the_end_is_known(helpers, tmp_path, probe_dir, tiny_encoder,
                                                                          total_steps, expected):
    """``next_check_step``: the next check, or the final publication when that comes first;
    nothing when training might stop at any step (a lockstep consumer then waits step by step)."""
    from espnet_llm_entropy.train.encoder_versions import earliest_unpublished_step, read_writer_status

    (tmp_path / "exp").mkdir()
    pub = _publisher(tmp_path, probe_dir, tiny_encoder, 0, check_interval=2, threshold=0.5)
    seen = []
    for step in range(1, 7):
        pub.before_step(step, helpers.FakeReporter(), total_steps)
        status = read_writer_status(tmp_path / "pub")
        if step % 2 == 0:
            assert status["checked_step"] == step
            seen.append(status["next_check_step"])
            assert earliest_unpublished_step(status) == (step + 1 if total_steps is None else seen[-1])
    assert seen == expected


def test_the_trainer_vouches_for_its_end_only_without_early_stopping():
    """``StageHooks.planned_total_steps``: epochs x their length, unless ``patience`` or a drift
    guard may end the run earlier (its final version would then come at an unplanned step)."""
    from types import SimpleNamespace

    from espnet_llm_entropy.train.multi_stage_trainer import StageHooks

    def plan(iterations, patience=None, drift=None):
        hooks = SimpleNamespace(iterations_per_epoch=iterations, drift=drift,
                                options=SimpleNamespace(patience=patience, max_epoch=3))
        return StageHooks.planned_total_steps(hooks)

    assert plan(625) == 1875
    assert plan(None) is None and plan(625, patience=2) is None and plan(625, drift=object()) is None
