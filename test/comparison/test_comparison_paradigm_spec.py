"""Paradigm files: the shipped ones, resolution, validation errors, budgets, pretrain keys."""

import copy
import os
from pathlib import Path

import pytest
import yaml

from espnet_llm_entropy.comparison.paradigm_spec import (
    DEFAULT_PARADIGMS,
    PARADIGM_DIR,
    ParadigmSpecError,
    check_equal_budgets,
    load_paradigm,
    load_paradigms,
    resolve_paradigm,
)

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "conf" / "tiny"
SHIPPED = ("single_stage", "char_ctc", "phoneme_ctc", "full_method")


def _base() -> dict:
    """A valid paradigm (absolute config paths): pretrain 2 + align 1 + joint_sft 3 epochs."""
    return {
        "name": "probe_paradigm",
        "label": "a test paradigm",
        "units": "phone",
        "stages": [
            {"stage": "pretrain", "config": str(TINY / "pretrain_phoneme_ctc.yaml"), "epochs": 2},
            {"stage": "align", "config": str(TINY / "align.yaml"), "epochs": 1, "encoder": "first"},
            {"stage": "joint_sft", "config": str(TINY / "joint_sft.yaml"), "epochs": 3},
        ],
    }


def _write(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _stage(stage: str, config: str = None, epochs: int = 1, **extra) -> dict:
    return {"stage": stage, "config": str(TINY / (config or f"{stage}.yaml")), "epochs": epochs, **extra}


# ---------------------------------------------------------------- shipped files


def test_shipped_paradigms_load_with_equal_budgets():
    assert tuple(DEFAULT_PARADIGMS) == SHIPPED
    assert sorted(p.stem for p in PARADIGM_DIR.glob("*.yaml")) == sorted(SHIPPED)
    specs = load_paradigms(list(SHIPPED))
    assert [s.name for s in specs] == list(SHIPPED)
    totals = {s.name: s.total_epochs for s in specs}
    assert len(set(totals.values())) == 1, totals
    assert check_equal_budgets(specs) == totals["full_method"] == 110
    by_name = {s.name: s for s in specs}
    assert [r.stage for r in by_name["full_method"].stages] == ["pretrain", "align", "ia_sft", "joint_sft"]
    assert [r.stage for r in by_name["single_stage"].stages] == ["joint_sft"]
    assert by_name["char_ctc"].units == "char"
    assert by_name["full_method"].stage("align").encoder == "first"
    assert by_name["phoneme_ctc"].stage("align").encoder == "final"
    for spec in specs:
        assert spec.source == (PARADIGM_DIR / f"{spec.name}.yaml").resolve()
        for run in spec.stages:
            assert run.config.is_file() and run.config.parent == TINY.resolve()


def test_shipped_pretrain_keys():
    specs = {s.name: s for s in load_paradigms(list(SHIPPED))}
    phone, full, char = (specs[n].pretrain_key() for n in ("phoneme_ctc", "full_method", "char_ctc"))
    assert phone is not None and phone == full
    assert char is not None and char != phone
    assert phone.startswith("phone_") and char.startswith("char_")
    assert specs["single_stage"].pretrain_key() is None
    assert specs["single_stage"].pretrain is None


def test_shipped_args_are_shell_split():
    spec = load_paradigm(resolve_paradigm("single_stage"))
    assert spec.stages[0].args == (
        "--optim_conf", "lr=0.003", "--scheduler_conf", "warmup_steps=300",
        "--drift_conf", "floor=0", "--drift_conf", "action=none",
    )
    assert load_paradigm(resolve_paradigm("full_method")).stage("joint_sft").args == ()


# ---------------------------------------------------------------- resolution


def test_resolve_by_name_and_by_path(tmp_path):
    assert resolve_paradigm("phoneme_ctc") == PARADIGM_DIR / "phoneme_ctc.yaml"
    own = _write(tmp_path / "mine.yaml", _base())
    assert resolve_paradigm(str(own)) == own
    assert load_paradigm(resolve_paradigm(str(own))).name == "probe_paradigm"
    # a path to a file that does not exist is a path (not a name): loading it says so
    missing = tmp_path / "absent.yaml"
    assert resolve_paradigm(str(missing)) == missing
    with pytest.raises(FileNotFoundError, match="absent.yaml"):
        load_paradigm(missing)


def test_resolve_unknown_name_lists_known_ones():
    with pytest.raises(FileNotFoundError) as err:
        resolve_paradigm("no_such_paradigm")
    message = str(err.value)
    assert "no_such_paradigm" in message
    for name in SHIPPED:
        assert name in message


# ---------------------------------------------------------------- valid variants


def test_relative_config_paths_are_relative_to_the_file(tmp_path):
    source = tmp_path / "sub" / "rel.yaml"
    source.parent.mkdir()
    data = _base()
    for entry in data["stages"]:
        entry["config"] = os.path.relpath(entry["config"], source.parent)
        assert not os.path.isabs(entry["config"])
    spec = load_paradigm(_write(source, data))
    assert spec.pretrain.config == (TINY / "pretrain_phoneme_ctc.yaml").resolve()
    assert spec.stage("joint_sft").config == (TINY / "joint_sft.yaml").resolve()
    assert spec.total_epochs == 6
    assert spec.source == source.resolve()


def test_args_string_is_shell_split_and_list_kept(tmp_path):
    data = _base()
    data["stages"][0]["args"] = "--optim_conf lr=0.01 --note 'two words'"
    data["stages"][2]["args"] = ["--a", "b c"]
    spec = load_paradigm(_write(tmp_path / "p.yaml", data))
    assert spec.pretrain.args == ("--optim_conf", "lr=0.01", "--note", "two words")
    assert spec.stage("joint_sft").args == ("--a", "b c")
    assert spec.stage("align").args == ()


def test_defaults_units_label_encoder(tmp_path):
    data = _base()
    del data["units"], data["label"], data["stages"][1]["encoder"]
    spec = load_paradigm(_write(tmp_path / "p.yaml", data))
    assert spec.units == "phone"
    assert spec.label == "probe_paradigm"
    assert spec.stage("align").encoder == "final"


# ---------------------------------------------------------------- validation errors


def _set(path, value):
    """A mutation that sets ``data[path...] = value``."""
    def mutate(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return mutate


def _delete(path):
    def mutate(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return mutate


def _stages(*entries):
    def mutate(data):
        data["stages"] = [copy.deepcopy(e) for e in entries]
    return mutate


CASES = {
    "unknown top-level key": (_set(["optimizer"], "adam"), "top level", "optimizer"),
    "bad name (dash)": (_set(["name"], "bad-name"), "name", "bad-name"),
    "bad name (missing)": (_delete(["name"]), "name", "None"),
    "bad name (not a string)": (_set(["name"], 12), "name", "12"),
    "bad units": (_set(["units"], "bytes"), "units", "bytes"),
    "stages not a list": (_set(["stages"], "pretrain"), "stages", "list"),
    "stage not a mapping": (_set(["stages", 1], "align"), "stages[1]", "mapping"),
    "unknown stage key": (_set(["stages", 0, "lr"], 0.1), "stages[0]", "lr"),
    "unknown stage name": (_set(["stages", 2, "stage"], "finetune"), "stages[2].stage", "finetune"),
    "missing config": (_delete(["stages", 0, "config"]), "stages[0].config", "missing"),
    "config file missing": (_set(["stages", 2, "config"], "no_such_config.yaml"), "stages[2].config",
                            "no_such_config.yaml"),
    "epochs zero": (_set(["stages", 0, "epochs"], 0), "stages[0].epochs", "positive integer"),
    "epochs negative": (_set(["stages", 1, "epochs"], -3), "stages[1].epochs", "-3"),
    "epochs float": (_set(["stages", 0, "epochs"], 1.5), "stages[0].epochs", "1.5"),
    "epochs string": (_set(["stages", 0, "epochs"], "4"), "stages[0].epochs", "'4'"),
    "epochs bool": (_set(["stages", 0, "epochs"], True), "stages[0].epochs", "True"),
    "epochs missing": (_delete(["stages", 2, "epochs"]), "stages[2].epochs", "None"),
    "args number": (_set(["stages", 2, "args"], 5), "stages[2].args", "5"),
    "args list of numbers": (_set(["stages", 2, "args"], [1, 2]), "stages[2].args", "string"),
    "args mapping": (_set(["stages", 0, "args"], {"lr": 1}), "stages[0].args", "string"),
    "encoder on pretrain": (_set(["stages", 0, "encoder"], "first"), "stages[0].encoder", "only the align"),
    "encoder on joint_sft": (_set(["stages", 2, "encoder"], "final"), "stages[2].encoder", "only the align"),
    "bad encoder value": (_set(["stages", 1, "encoder"], "middle"), "stages[1].encoder", "middle"),
    "empty stages": (_set(["stages"], []), "stages", "at least one"),
    "duplicate stage": (_stages(_stage("pretrain", "pretrain_phoneme_ctc.yaml"), _stage("joint_sft"),
                                _stage("joint_sft")), "stages", "twice"),
    "wrong order": (_stages(_stage("pretrain", "pretrain_phoneme_ctc.yaml"), _stage("joint_sft"),
                            _stage("align")), "stages", "order"),
    "align without pretrain": (_stages(_stage("align"), _stage("joint_sft")), "stages", "pretrain stage is needed"),
    "ia_sft without align": (_stages(_stage("pretrain", "pretrain_phoneme_ctc.yaml"), _stage("ia_sft")),
                             "stages", "align stage is needed"),
    "pretrain only": (_stages(_stage("pretrain", "pretrain_phoneme_ctc.yaml")), "stages", "alone"),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_validation_error_names_file_and_key(tmp_path, case):
    mutate, key, detail = CASES[case]
    data = _base()
    load_paradigm(_write(tmp_path / "ok.yaml", data))  # the base is valid
    mutate(data)
    source = _write(tmp_path / "bad.yaml", data)
    with pytest.raises(ParadigmSpecError) as err:
        load_paradigm(source)
    message = str(err.value)
    assert message.startswith(f"{source.resolve()}: {key}: "), message
    assert detail in message, message


def test_config_missing_relative_path_is_reported_resolved(tmp_path):
    data = _base()
    data["stages"][0]["config"] = "../nowhere/pretrain.yaml"
    source = _write(tmp_path / "sub" / "bad.yaml", data)
    with pytest.raises(ParadigmSpecError) as err:
        load_paradigm(source)
    assert f"{source.resolve()}: stages[0].config: " in str(err.value)
    assert str((tmp_path / "nowhere" / "pretrain.yaml").resolve()) in str(err.value)


def test_invalid_yaml_names_the_file(tmp_path):
    source = tmp_path / "broken.yaml"
    source.write_text("name: x\nstages: [unclosed\n", encoding="utf-8")
    with pytest.raises(ParadigmSpecError) as err:
        load_paradigm(source)
    assert str(source.resolve()) in str(err.value)
    assert "YAML" in str(err.value)


@pytest.mark.parametrize("content", ["- a\n- b\n", "", "just a string\n"])
def test_not_a_mapping_names_the_file(tmp_path, content):
    source = tmp_path / "list.yaml"
    source.write_text(content, encoding="utf-8")
    with pytest.raises(ParadigmSpecError, match="expected a mapping") as err:
        load_paradigm(source)
    assert str(source.resolve()) in str(err.value)


# ---------------------------------------------------------------- several paradigms


def test_two_paradigms_with_the_same_name_are_refused(tmp_path):
    first = _write(tmp_path / "a" / "p.yaml", _base())
    second = _write(tmp_path / "b" / "p.yaml", _base())
    assert len(load_paradigms([str(first)])) == 1
    with pytest.raises(ParadigmSpecError) as err:
        load_paradigms([str(first), str(second)])
    message = str(err.value)
    assert "probe_paradigm" in message
    assert str(first.resolve()) in message and str(second.resolve()) in message


def test_same_name_as_a_shipped_one_is_refused(tmp_path):
    data = _base()
    data["name"] = "full_method"
    own = _write(tmp_path / "copy.yaml", data)
    with pytest.raises(ParadigmSpecError, match="full_method"):
        load_paradigms(["full_method", str(own)])


def test_unequal_budgets_raise_with_each_total(tmp_path):
    short = _base()
    short["name"] = "short_one"
    longer = _base()
    longer["name"] = "long_one"
    longer["stages"][2]["epochs"] = 10
    specs = load_paradigms([str(_write(tmp_path / "s.yaml", short)), str(_write(tmp_path / "l.yaml", longer))])
    assert [s.total_epochs for s in specs] == [6, 13]
    with pytest.raises(ParadigmSpecError) as err:
        check_equal_budgets(specs)
    assert "short_one: 6" in str(err.value) and "long_one: 13" in str(err.value)
    assert check_equal_budgets(specs[:1]) == 6
    equal = _base()
    equal["name"] = "equal_one"
    equal["stages"][0]["epochs"] = 1
    equal["stages"][2]["epochs"] = 4
    both = load_paradigms([str(tmp_path / "s.yaml"), str(_write(tmp_path / "e.yaml", equal))])
    assert check_equal_budgets(both) == 6


# ---------------------------------------------------------------- pretrain key


def _key(tmp_path, name, data):
    return load_paradigm(_write(tmp_path / f"{name}.yaml", data)).pretrain_key()


def test_pretrain_key_follows_what_would_be_trained(tmp_path):
    config = tmp_path / "pretrain.yaml"
    text = (TINY / "pretrain_phoneme_ctc.yaml").read_text(encoding="utf-8")
    config.write_text(text, encoding="utf-8")
    data = _base()
    data["stages"][0]["config"] = str(config)
    base_key = _key(tmp_path, "base", data)
    assert base_key.startswith("phone_")

    # the same pretraining, written differently elsewhere, gives the same key
    same = copy.deepcopy(data)
    same["name"] = "other_name"
    same["stages"][0]["config"] = str(TINY / "pretrain_phoneme_ctc.yaml")
    same["stages"][2]["epochs"] = 9  # later stages do not matter
    same["stages"][1]["encoder"] = "final"
    assert _key(tmp_path, "same", same) == base_key

    variants = {}
    epochs = copy.deepcopy(data)
    epochs["stages"][0]["epochs"] = 3
    variants["epochs"] = epochs
    args = copy.deepcopy(data)
    args["stages"][0]["args"] = "--optim_conf lr=0.01"
    variants["args"] = args
    units = copy.deepcopy(data)
    units["units"] = "char"
    variants["units"] = units
    keys = {name: _key(tmp_path, name, variant) for name, variant in variants.items()}
    assert keys["units"].startswith("char_")

    config.write_text(text + "\n# changed\nseed: 123\n", encoding="utf-8")
    keys["config content"] = _key(tmp_path, "content", data)

    assert all(k != base_key for k in keys.values()), (base_key, keys)
    assert len(set(keys.values())) == len(keys), keys
    # restoring the content restores the key
    config.write_text(text, encoding="utf-8")
    assert _key(tmp_path, "restored", data) == base_key
