"""The comparison workspace: its JSON form (handed to evaluation workers) and its checks."""

import json
from pathlib import Path

import pytest

from espnet_llm_entropy.comparison.workspace import ComparisonWorkspace


def _workspace(root: Path, nonspeech: bool = True) -> ComparisonWorkspace:
    return ComparisonWorkspace(
        root=root, train_dir=root / "data" / "train", valid_dir=root / "data" / "dev",
        test_dir=root / "data" / "test", llm_dir=root / "llm",
        token_lists={"phone": root / "phones.txt", "char": root / "chars.txt"},
        stats_dirs={"phone": root / "stats", "char": root / "stats_char"},
        stats_config=root / "pretrain.yaml", nonspeech_dir=root / "data" / "nonspeech" if nonspeech else None,
    )


@pytest.mark.parametrize("nonspeech", [True, False])
def test_json_round_trip_gives_the_same_workspace(tmp_path, nonspeech):
    ws = _workspace(tmp_path, nonspeech)
    back = ComparisonWorkspace.from_json(ws.to_json())
    assert back == ws
    assert (back.nonspeech_dir is None) == (not nonspeech)


def test_json_paths_are_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ws = _workspace(Path("ws"))
    text = ws.to_json()
    data = json.loads(text)
    assert data["train_dir"] == str(tmp_path / "ws" / "data" / "train")
    assert data["token_lists"]["char"] == str(tmp_path / "ws" / "chars.txt")
    # read from anywhere, it names the same files
    monkeypatch.chdir("/")
    assert ComparisonWorkspace.from_json(text).stats_dirs["phone"] == tmp_path / "ws" / "stats"


@pytest.mark.parametrize("edit", [lambda d: d.pop("llm_dir"), lambda d: d.update(extra="x")])
def test_json_with_missing_or_unknown_keys_names_the_source(tmp_path, edit):
    data = json.loads(_workspace(tmp_path).to_json())
    edit(data)
    with pytest.raises(ValueError, match="my.json: expected the keys"):
        ComparisonWorkspace.from_json(json.dumps(data), "my.json")


def test_json_that_is_not_an_object_is_refused():
    with pytest.raises(ValueError, match="got list"):
        ComparisonWorkspace.from_json("[1, 2]")


def test_check_names_the_first_missing_input(tmp_path):
    ws = _workspace(tmp_path)
    with pytest.raises(FileNotFoundError, match="train dir not found"):
        ws.check()
