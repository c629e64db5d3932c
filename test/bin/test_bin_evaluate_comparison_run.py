"""``evaluate_comparison_run``: bad inputs fail before any decoding, naming what is wrong.

The evaluation itself runs in ``test/comparison/test_comparison_end_to_end.py``
(every run of the comparison is evaluated by this tool).
"""

import pytest

from espnet_llm_entropy.bin.evaluate_comparison_run import get_parser, main
from espnet_llm_entropy.comparison.paradigm_spec import PARADIGM_DIR
from espnet_llm_entropy.comparison.workspace import ComparisonWorkspace


def _args(tmp_path, **over):
    opts = {"workspace": tmp_path / "workspace.json", "paradigm_file": PARADIGM_DIR / "full_method.yaml",
            "run_dir": tmp_path / "run", "seed": 0}
    opts.update(over)
    return [x for k, v in opts.items() for x in (f"--{k}", str(v))]


def test_help_names_every_option(capsys):
    with pytest.raises(SystemExit) as err:
        get_parser().parse_args(["--help"])
    assert err.value.code == 0
    out = capsys.readouterr().out
    for option in ("--workspace", "--paradigm_file", "--run_dir", "--seed", "--phone_aligner", "--max_utts"):
        assert option in out


def test_missing_workspace_file_is_named(tmp_path):
    with pytest.raises(SystemExit, match="workspace.json"):
        main(_args(tmp_path))


def test_workspace_with_missing_inputs_is_named(tmp_path):
    ws_root = tmp_path / "ws"
    ws = ComparisonWorkspace(root=ws_root, train_dir=ws_root / "train", valid_dir=ws_root / "dev",
                             test_dir=ws_root / "test", llm_dir=ws_root / "llm",
                             token_lists={"phone": ws_root / "phones.txt"}, stats_dirs={"phone": ws_root / "stats"},
                             stats_config=ws_root / "pretrain.yaml")
    (tmp_path / "workspace.json").write_text(ws.to_json())
    with pytest.raises(SystemExit, match="train dir not found"):
        main(_args(tmp_path))


def test_workspace_that_is_not_json_is_named(tmp_path):
    (tmp_path / "workspace.json").write_text("{not json")
    with pytest.raises(SystemExit, match="workspace.json"):
        main(_args(tmp_path))


def test_bad_max_utts_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(_args(tmp_path, max_utts=0))
    assert "expected a positive integer" in capsys.readouterr().err
