"""``compare_paradigms`` command line: help, data options, errors before any work."""

import pytest
import yaml

from espnet_llm_entropy.bin import compare_paradigms
from espnet_llm_entropy.bin.compare_paradigms import WORKSPACE_OPTIONS, get_parser, main, workspace_from_args
from espnet_llm_entropy.comparison import comparison_runner
from espnet_llm_entropy.comparison.paradigm_spec import DEFAULT_PARADIGMS, PARADIGM_DIR


@pytest.fixture
def no_work(monkeypatch):
    """Make any attempt to build the workspace or train fail loudly (and fast)."""
    def refuse(*args, **kwargs):
        raise AssertionError("the comparison started working")
    monkeypatch.setattr(comparison_runner, "build_mini_workspace", refuse)
    monkeypatch.setattr(comparison_runner, "run_task_graph", refuse)
    monkeypatch.setattr(comparison_runner, "ensure_units", refuse)


def test_help(capsys):
    with pytest.raises(SystemExit) as err:
        get_parser().parse_args(["--help"])
    assert err.value.code == 0
    out = capsys.readouterr().out
    assert "--quick" in out
    assert "--paradigms" in out and "--out_dir" in out
    for name in WORKSPACE_OPTIONS:
        assert f"--{name}" in out


def test_main_help(capsys, no_work):
    with pytest.raises(SystemExit) as err:
        main(["--help"])
    assert err.value.code == 0
    assert "--quick" in capsys.readouterr().out


def test_defaults():
    args = get_parser().parse_args(["--out_dir", "x"])
    assert args.paradigms == list(DEFAULT_PARADIGMS)
    assert args.seeds is None and args.quick is False
    assert workspace_from_args(args, get_parser()) is None


@pytest.mark.parametrize("extra, expected", [
    ([], {"seeds": [0, 1, 2], "steps_per_epoch": 25, "num_train": 10000, "jobs": 2, "llm_pretrain_steps": 1500}),
    (["--quick"], {"seeds": [0], "steps_per_epoch": comparison_runner.QUICK_STEPS_PER_EPOCH,
                   "num_train": comparison_runner.QUICK_NUM_TRAIN, "jobs": 3, "llm_pretrain_steps": 750}),
    (["--quick", "--seeds", "4", "--steps_per_epoch", "7", "--num_train", "300", "--jobs", "1",
      "--llm_pretrain_steps", "20"],
     {"seeds": [4], "steps_per_epoch": 7, "num_train": 300, "jobs": 1, "llm_pretrain_steps": 20}),
])
def test_quick_sets_seeds_steps_corpus_jobs_and_llm_unless_given(tmp_path, monkeypatch, extra, expected):
    seen = {}

    def capture(conf, workspace, command=None):
        seen.update(seeds=list(conf.seeds), steps_per_epoch=conf.steps_per_epoch, num_train=conf.num_train,
                    jobs=conf.jobs, llm_pretrain_steps=conf.llm_pretrain_steps)
        return {"outcomes": {}}
    monkeypatch.setattr(compare_paradigms, "run_comparison", capture)
    assert main(["--out_dir", str(tmp_path / "out")] + extra) == 0
    assert seen == expected


def test_some_data_options_name_the_missing_ones(tmp_path, capsys, no_work):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as err:
        main(["--out_dir", str(out), "--train_dir", str(tmp_path / "train"), "--llm_dir", str(tmp_path / "llm")])
    assert err.value.code == 2
    message = capsys.readouterr().err
    missing = message.split("also give", 1)[1]
    for name in ("--valid_dir", "--test_dir", "--token_list", "--stats_dir"):
        assert name in missing
    assert "--train_dir" not in missing and "--llm_dir" not in missing
    assert not out.exists()


def test_nonspeech_dir_alone_needs_the_rest(tmp_path, capsys, no_work):
    with pytest.raises(SystemExit) as err:
        main(["--out_dir", str(tmp_path / "out"), "--nonspeech_dir", str(tmp_path / "ns")])
    assert err.value.code == 2
    missing = capsys.readouterr().err.split("also give", 1)[1]
    for name in WORKSPACE_OPTIONS:
        assert f"--{name}" in missing


def test_all_data_options_give_a_workspace(tmp_path):
    parser = get_parser()
    cmd = ["--out_dir", str(tmp_path / "out")]
    for name in WORKSPACE_OPTIONS:
        cmd += [f"--{name}", str(tmp_path / name)]
    ws = workspace_from_args(parser.parse_args(cmd), parser)
    assert ws.train_dir == tmp_path / "train_dir" and ws.llm_dir == tmp_path / "llm_dir"
    assert ws.token_lists == {"phone": tmp_path / "token_list"}
    assert ws.stats_dirs == {"phone": tmp_path / "stats_dir"}
    assert ws.nonspeech_dir is None
    assert ws.root == (tmp_path / "out").resolve() / "workspace"


def test_unknown_paradigm_fails_before_any_work(tmp_path, capsys, no_work):
    out = tmp_path / "out"
    code = main(["--out_dir", str(out), "--quick", "--paradigms", "phoneme_ctc", "no_such_paradigm"])
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("compare_paradigms: error:")
    assert "no_such_paradigm" in err
    for name in DEFAULT_PARADIGMS:
        assert name in err
    assert not (out / "runs").exists()
    assert not (out / "pretrain").exists()
    assert not (out / "workspace").exists()


def test_unequal_budgets_fail_before_any_work(tmp_path, capsys, no_work):
    data = yaml.safe_load((PARADIGM_DIR / "phoneme_ctc.yaml").read_text())
    data["name"] = "longer"
    for stage in data["stages"]:
        stage["config"] = str((PARADIGM_DIR / stage["config"]).resolve())
    data["stages"][-1]["epochs"] += 5
    own = tmp_path / "longer.yaml"
    own.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    code = main(["--out_dir", str(out), "--quick", "--paradigms", "full_method", str(own)])
    assert code == 1
    err = capsys.readouterr().err
    budget = sum(stage["epochs"] for stage in yaml.safe_load((PARADIGM_DIR / "full_method.yaml").read_text())["stages"])
    assert f"full_method: {budget}" in err and f"longer: {budget + 5}" in err
    assert not (out / "runs").exists() and not (out / "workspace").exists()


def test_cli_module_uses_the_runner_it_imports():
    # the guard above patches comparison_runner; the CLI must call into it
    assert compare_paradigms.run_comparison is comparison_runner.run_comparison


def test_scope_notes_say_what_a_small_run_cannot_show(tmp_path):
    full = comparison_runner.ComparisonConfig(out_dir=tmp_path)
    assert comparison_runner.scope_notes(full) == []
    quick = comparison_runner.ComparisonConfig(
        out_dir=tmp_path, seeds=[0], steps_per_epoch=comparison_runner.QUICK_STEPS_PER_EPOCH)
    notes = comparison_runner.scope_notes(quick)
    assert len(notes) == 2
    assert f"{comparison_runner.QUICK_STEPS_PER_EPOCH} updates per epoch instead of {full.steps_per_epoch}" in notes[0]
    assert "training utterances" not in notes[0]
    small_corpus = comparison_runner.ComparisonConfig(
        out_dir=tmp_path, seeds=[0], steps_per_epoch=comparison_runner.QUICK_STEPS_PER_EPOCH,
        num_train=comparison_runner.QUICK_NUM_TRAIN)
    corpus_note = comparison_runner.scope_notes(small_corpus)[0]
    assert f"{comparison_runner.QUICK_NUM_TRAIN} training utterances instead of {full.num_train}" in corpus_note
    # with the caller's own data the corpus size option plays no part
    assert comparison_runner.scope_notes(small_corpus, built_corpus=False)[0] == notes[0]
    assert "not a verdict" in notes[1]
    short_llm = comparison_runner.ComparisonConfig(out_dir=tmp_path, llm_pretrain_steps=100)
    (llm_note,) = comparison_runner.scope_notes(short_llm)
    assert f"100 LLM pretraining steps instead of {full.llm_pretrain_steps}" in llm_note
    assert comparison_runner.scope_notes(short_llm, built_corpus=False) == []
    one_seed_full_steps = comparison_runner.ComparisonConfig(out_dir=tmp_path, seeds=[3])
    assert comparison_runner.scope_notes(one_seed_full_steps) == [notes[1]]
