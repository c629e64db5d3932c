"""How the stages of a paradigm are chained (through the stage runner): ``stage_options``, ``final_model``..."""

import json
from pathlib import Path

import pytest
import torch

from espnet_llm_entropy.comparison.paradigm_spec import load_paradigm, resolve_paradigm
from espnet_llm_entropy.comparison.paradigm_training import (
    DONE_FILE,
    final_model,
    pretrain_dir,
    stage_done,
    stage_options,
)
from espnet_llm_entropy.comparison.workspace import ComparisonWorkspace
from espnet_llm_entropy.train.encoder_versions import publish_encoder_version

SEED = 3
STEPS = 7


def options(ws, spec, stage, out, run_dir):
    """The options of ``stage`` of ``spec`` for SEED/STEPS, pretraining shared under ``out``."""
    return stage_options(ws, spec, stage, SEED, STEPS, out, run_dir)


def publications(out, spec):
    return pretrain_dir(out, SEED, spec) / "encoder_versions"


@pytest.fixture(scope="module")
def specs():
    return {n: load_paradigm(resolve_paradigm(n)) for n in ("single_stage", "char_ctc", "phoneme_ctc", "full_method")}


@pytest.fixture
def ws(tmp_path):
    root = tmp_path / "ws"
    return ComparisonWorkspace(
        root=root, train_dir=root / "train", valid_dir=root / "dev", test_dir=root / "test",
        llm_dir=root / "llm", token_lists={"phone": root / "phones.txt"}, stats_dirs={"phone": root / "stats"},
        stats_config=root / "stats.yaml",
    )


def values(opts, flag):
    """Every value that follows ``flag`` in ``opts``."""
    return [opts[i + 1] for i, o in enumerate(opts) if o == flag]


def check_common(opts, ws, run):
    assert values(opts, "--seed") == [str(SEED)]
    assert values(opts, "--max_epoch") == [str(run.epochs)]
    assert values(opts, "--num_iters_per_epoch") == [str(STEPS)]
    assert values(opts, "--probe_conf") == [f"data_dir={ws.valid_dir}"]
    assert all(isinstance(o, str) for o in opts)
    if run.args:
        assert opts[-len(run.args):] == list(run.args)


def test_pretrain_publishes_and_has_no_llm(ws, specs, tmp_path):
    spec = specs["full_method"]
    run = spec.pretrain
    pub = publications(tmp_path, spec)
    opts = options(ws, spec, "pretrain", tmp_path, tmp_path / "run")
    check_common(opts, ws, run)
    assert values(opts, "--cka_monitor_conf") == [f"publish_dir={pub}"]
    for flag in ("--llm_conf", "--hot_swap_conf", "--init_param", "--phonemizer_conf", "--ctc_head_init"):
        assert flag not in opts, flag


def test_align_first_loads_version_one(ws, specs, tmp_path):
    spec = specs["full_method"]
    run = spec.stage("align")
    assert run.encoder == "first"
    pub = publications(tmp_path, spec)  # need not exist for the first version
    opts = options(ws, spec, "align", tmp_path, tmp_path / "run")
    check_common(opts, ws, run)
    assert values(opts, "--hot_swap_conf") == [f"publish_dir={pub}", "mode=fixed", "initial_version=1"]
    assert values(opts, "--llm_conf") == [f"path={ws.llm_dir}"]
    assert "--cka_monitor_conf" not in opts
    assert "--init_param" not in opts  # alignment starts from the published encoder


def test_align_final_loads_last_published_version(ws, specs, tmp_path):
    spec = specs["phoneme_ctc"]
    run = spec.stage("align")
    assert run.encoder == "final"
    pub = publications(tmp_path, spec)
    with pytest.raises(RuntimeError, match="published no encoder version"):
        options(ws, spec, "align", tmp_path, tmp_path / "run")
    for version in (1, 2, 3):
        publish_encoder_version(pub, {"w": torch.full((2,), float(version))}, version,
                                pretrain_step=10 * version, cka=None, reference_version=None, final=version == 3)
    opts = options(ws, spec, "align", tmp_path, tmp_path / "run")
    check_common(opts, ws, run)
    assert values(opts, "--hot_swap_conf") == [f"publish_dir={pub}", "mode=fixed", "initial_version=3"]
    # a version whose weights are corrupt is not the last usable one
    (pub / "encoder_v3.pth").write_bytes(b"corrupt")
    opts = options(ws, spec, "align", tmp_path, tmp_path / "run")
    assert "initial_version=2" in values(opts, "--hot_swap_conf")


def test_ia_sft_replays_from_the_aligned_model(ws, specs, tmp_path):
    spec = specs["full_method"]
    run = spec.stage("ia_sft")
    pub = publications(tmp_path, spec)
    previous = tmp_path / "run" / "align"
    opts = options(ws, spec, "ia_sft", tmp_path, tmp_path / "run")
    check_common(opts, ws, run)
    assert values(opts, "--hot_swap_conf") == [f"publish_dir={pub}", "mode=replay"]
    assert values(opts, "--init_param") == [str(previous / "latest.pth")]
    assert values(opts, "--llm_conf") == [f"path={ws.llm_dir}"]


def test_joint_sft_with_previous_stage(ws, specs, tmp_path):
    spec = specs["phoneme_ctc"]
    run = spec.stage("joint_sft")
    previous = tmp_path / "run" / "align"
    opts = options(ws, spec, "joint_sft", tmp_path, tmp_path / "run")
    check_common(opts, ws, run)
    assert values(opts, "--init_param") == [str(previous / "latest.pth")]
    # the config keeps the phone-CTC head: the shared pretraining's head, as train_method passes it
    assert values(opts, "--ctc_head_init") == [str(pretrain_dir(tmp_path, SEED, spec) / "latest.pth")]
    assert "--hot_swap_conf" not in opts and "--cka_monitor_conf" not in opts
    assert values(opts, "--llm_conf") == [f"path={ws.llm_dir}"]
    assert opts[-len(run.args):] == ["--optim_conf", "lr=0.003", "--drift_conf", "floor=0",
                                     "--drift_conf", "action=none"]


def test_joint_sft_alone_starts_from_scratch(ws, specs, tmp_path):
    spec = specs["single_stage"]
    run = spec.stages[0]
    opts = options(ws, spec, "joint_sft", tmp_path, tmp_path / "run")
    check_common(opts, ws, run)
    assert "--init_param" not in opts and "--ctc_head_init" not in opts
    assert values(opts, "--max_epoch") == [str(run.epochs)] and run.epochs == spec.total_epochs
    assert opts[-len(run.args):] == list(run.args) and len(run.args) == 8


def test_char_units_every_stage(ws, specs, tmp_path):
    spec = specs["char_ctc"]
    ws.token_lists["char"] = ws.root / "chars.txt"
    ws.stats_dirs["char"] = ws.root / "stats_char"
    pub = publications(tmp_path, spec)
    publish_encoder_version(pub, {"w": torch.zeros(1)}, 1, pretrain_step=1, cka=None, reference_version=None)
    for run in spec.stages:
        opts = options(ws, spec, run.stage, tmp_path, tmp_path / "run")
        check_common(opts, ws, run)
        assert values(opts, "--phonemizer_conf") == ["unit=char"], run.stage
    pub = publications(tmp_path, specs["phoneme_ctc"])
    publish_encoder_version(pub, {"w": torch.zeros(1)}, 1, pretrain_step=1, cka=None, reference_version=None)
    for run in specs["phoneme_ctc"].stages:
        assert "--phonemizer_conf" not in options(ws, specs["phoneme_ctc"], run.stage, tmp_path, tmp_path / "run")


def test_pretrain_dir_is_shared_by_equal_pretrainings(specs, tmp_path):
    phone = pretrain_dir(tmp_path, 1, specs["phoneme_ctc"])
    assert phone == tmp_path / "pretrain" / f"seed1_{specs['phoneme_ctc'].pretrain_key()}"
    assert pretrain_dir(tmp_path, 1, specs["full_method"]) == phone
    assert pretrain_dir(tmp_path, 2, specs["full_method"]) != phone
    assert pretrain_dir(tmp_path, 1, specs["char_ctc"]) != phone
    assert pretrain_dir(tmp_path, 1, specs["single_stage"]) is None


def test_stage_done(tmp_path):
    assert stage_done(tmp_path / "align") is None
    (tmp_path / "align").mkdir()
    assert stage_done(tmp_path / "align") is None
    record = {"stage": "align", "wall_s": 1.5, "steps": 14, "epochs": 2}
    (tmp_path / "align" / DONE_FILE).write_text(json.dumps(record))
    assert stage_done(tmp_path / "align") == record


def test_final_model_preference(specs, tmp_path):
    spec = specs["full_method"]
    stage_dir = tmp_path / "joint_sft"
    with pytest.raises(FileNotFoundError) as err:
        final_model(tmp_path, spec)
    assert str(stage_dir) in str(err.value)
    stage_dir.mkdir()
    # a checkpoint of another stage does not count
    (tmp_path / "ia_sft").mkdir()
    (tmp_path / "ia_sft" / "valid.acc.best.pth").write_bytes(b"x")
    with pytest.raises(FileNotFoundError, match="joint_sft"):
        final_model(tmp_path, spec)
    (stage_dir / "latest.pth").write_bytes(b"x")
    assert final_model(tmp_path, spec) == stage_dir / "latest.pth"
    (stage_dir / "valid.loss.best.pth").write_bytes(b"x")
    assert final_model(tmp_path, spec) == stage_dir / "valid.loss.best.pth"
    (stage_dir / "valid.acc.best.pth").write_bytes(b"x")
    assert final_model(tmp_path, spec) == stage_dir / "valid.acc.best.pth"
    (stage_dir / "latest.pth").unlink()
    (stage_dir / "valid.loss.best.pth").unlink()
    assert final_model(Path(str(tmp_path)), spec) == stage_dir / "valid.acc.best.pth"


def test_a_finished_stage_with_another_step_budget_is_refused(ws, specs, tmp_path):
    """Resuming into an out_dir trained with another --steps_per_epoch would mix budgets."""
    from espnet_llm_entropy.comparison.paradigm_training import run_inputs
    from espnet_llm_entropy.train.stage_runner import StageRunner

    spec = specs["phoneme_ctc"]
    run = spec.stage("joint_sft")
    stage_dir = tmp_path / "run" / "joint_sft"
    stage_dir.mkdir(parents=True)
    (stage_dir / DONE_FILE).write_text(json.dumps({"stage": "joint_sft", "wall_s": 1.0,
                                                   "steps": run.epochs * STEPS, "epochs": run.epochs}))
    runner = StageRunner(spec, run_inputs(ws, spec, SEED, STEPS, tmp_path, tmp_path / "run"))
    record = runner.run_stage("joint_sft")  # done: skipped, nothing runs
    assert record["steps"] == run.epochs * STEPS
    other = StageRunner(spec, run_inputs(ws, spec, SEED, STEPS + 1, tmp_path, tmp_path / "run"))
    with pytest.raises(ValueError, match=r"use another --out_dir") as err:
        other.run_stage("joint_sft")
    assert str(stage_dir) in str(err.value) and str(run.epochs * (STEPS + 1)) in str(err.value)
