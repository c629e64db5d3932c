"""The one unknown-key check of ``*_conf`` mappings and every config dataclass that uses it."""

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import espnet_llm_entropy
from espnet_llm_entropy.analysis.analysis_run import AnalysisOptions
from espnet_llm_entropy.augment.nonspeech_examples import NonSpeechExamplesConfig
from espnet_llm_entropy.augment.robustness import RobustnessAugConfig
from espnet_llm_entropy.config_options import check_known_keys, dataclass_from_mapping
from espnet_llm_entropy.decoding.guard_config import DecodingGuardConfig
from espnet_llm_entropy.tasks.utterance_check import UtteranceCheckConfig
from espnet_llm_entropy.train.cka_publisher import CKAMonitorConfig
from espnet_llm_entropy.train.encoder_drift import DriftConfig
from espnet_llm_entropy.train.hot_swap import HotSwapConfig
from espnet_llm_entropy.train.probe_set import ProbeConfig


@dataclass
class _Conf:
    threshold: float = 0.5
    check_interval: int = 10


def test_known_keys_build_the_dataclass():
    assert dataclass_from_mapping(_Conf, {"threshold": 0.9}, "x_conf") == _Conf(threshold=0.9)
    assert dataclass_from_mapping(_Conf, None, "x_conf") == _Conf()


def test_unknown_key_names_option_keys_suggestion_and_expected():
    with pytest.raises(ValueError) as info:
        dataclass_from_mapping(_Conf, {"treshold": 0.9, "zzz": 1}, "--cka_monitor_conf")
    assert str(info.value) == (
        "--cka_monitor_conf: unknown option(s) ['treshold', 'zzz'] (did you mean 'threshold' for 'treshold'?); "
        "expected some of ['check_interval', 'threshold']"
    )


def test_no_suggestion_without_a_near_miss_and_error_type_is_chosen():
    with pytest.raises(TypeError, match=r"^f: unknown option\(s\) \['qqq'\]; expected some of \['a', 'b'\]$"):
        check_known_keys({"a": 1, "qqq": 2}, ["b", "a"], "f", error=TypeError)
    check_known_keys({"a": 1}, ["a", "b"], "f")  # nothing to complain about


def test_a_conf_that_is_not_a_mapping_is_refused():
    with pytest.raises(ValueError, match=r"x_conf: expected a mapping of options, got list \[1, 2\]"):
        dataclass_from_mapping(_Conf, [1, 2], "x_conf")


CONFIGS = [
    (lambda c: CKAMonitorConfig.from_dict(c), "--cka_monitor_conf", {}),
    (lambda c: DriftConfig.from_dict(c), "--drift_conf", {}),
    (lambda c: HotSwapConfig.from_dict(c), "--hot_swap_conf", {"publish_dir": "p"}),
    (lambda c: ProbeConfig.from_dict(c), "--probe_conf", {}),
    (lambda c: UtteranceCheckConfig.from_dict(c), "utterance_check_conf", {}),
    (lambda c: DecodingGuardConfig.from_dict(c), "decoding_guard_conf", {}),
    (lambda c: RobustnessAugConfig.from_dict(c), "robustness_aug_conf", {}),
    (lambda c: NonSpeechExamplesConfig.from_dict(c), "nonspeech_examples_conf", {}),
]


@pytest.mark.parametrize("build, option, required", CONFIGS)
def test_every_config_dataclass_refuses_a_typo_the_same_way(build, option, required):
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['no_such_key'\]; expected some of \[") as info:
        build({**required, "no_such_key": 1})
    assert option in str(info.value)


def test_analysis_options_refuse_unknown_keyword_with_type_error():
    with pytest.raises(TypeError, match=r"analyze_experiments: unknown option\(s\) \['max_utt'\] \(did you mean"):
        AnalysisOptions.from_kwargs(max_utt=3)


def test_no_module_writes_its_own_unknown_key_check():
    """``set(conf) - <field names>`` outside config_options.py is a second copy of the check."""
    root = Path(espnet_llm_entropy.__file__).parent
    copies = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "config_options.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub):
                text = ast.unparse(node.right)
                if "__dataclass_fields__" in text or "fields(" in text:
                    copies.append(f"{path.relative_to(root.parent)}:{node.lineno}: {ast.unparse(node)}")
    assert not copies, "use config_options.dataclass_from_mapping instead:\n" + "\n".join(copies)
