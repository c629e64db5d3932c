"""Atomic writes: whole file or nothing, no temporary left behind, permissions from the umask."""

import os
import stat

import pytest
import torch

from espnet_llm_entropy.fileio.atomic import (
    atomic_writer,
    install_directory,
    make_temporary_sibling_dir,
    remove_stale_temporaries,
    sha256_of,
    torch_save_atomic,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
)
from espnet_llm_entropy.fileio.jsonl import append_jsonl, read_jsonl, write_jsonl_atomic


@pytest.fixture
def umask():
    """Set the process umask for one test and restore it afterwards."""
    saved = os.umask(0o022)
    os.umask(saved)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(saved)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


WRITERS = {
    "text": lambda p: write_text_atomic(p, "x\n"),
    "bytes": lambda p: write_bytes_atomic(p, b"x"),
    "json": lambda p: write_json_atomic(p, {"a": 1}),
    "jsonl": lambda p: write_jsonl_atomic(p, [{"a": 1}]),
    "torch": lambda p: torch_save_atomic({"w": torch.zeros(2)}, p),
}


@pytest.mark.parametrize("kind", sorted(WRITERS))
@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_permissions_follow_the_umask(tmp_path, umask, kind, mask, expected):
    umask(mask)
    target = tmp_path / "sub" / f"out.{kind}"
    WRITERS[kind](target)
    assert _mode(target) == expected
    WRITERS[kind](target)  # replacing an existing file gives the same mode
    assert _mode(target) == expected


def test_directories_follow_the_umask(tmp_path, umask):
    umask(0o027)
    tmp = make_temporary_sibling_dir(tmp_path / "final")
    assert _mode(tmp) == 0o750
    (tmp / "a").write_text("new")
    install_directory(tmp, tmp_path / "final")
    assert (tmp_path / "final" / "a").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["final"]


def test_failure_leaves_destination_and_no_temporary(tmp_path):
    target = tmp_path / "out.txt"
    write_text_atomic(target, "old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_writer(target) as stream:
            stream.write("half of the new")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_unserializable_json_leaves_no_file(tmp_path):
    with pytest.raises(TypeError):
        write_json_atomic(tmp_path / "a.json", {"x": object()})
    assert list(tmp_path.iterdir()) == []


def test_text_bytes_and_torch_round_trip(tmp_path):
    write_text_atomic(tmp_path / "t", "a\nb\n")
    assert (tmp_path / "t").read_bytes() == b"a\nb\n"
    write_bytes_atomic(tmp_path / "b", b"\x00\x01")
    assert (tmp_path / "b").read_bytes() == b"\x00\x01"
    torch_save_atomic({"w": torch.arange(3)}, tmp_path / "w.pth")
    assert torch.equal(torch.load(tmp_path / "w.pth", weights_only=True)["w"], torch.arange(3))
    assert len(sha256_of(tmp_path / "b")) == 64
    with pytest.raises(ValueError, match="mode must be 'w' or 'wb', got 'a'"):
        with atomic_writer(tmp_path / "x", "a"):
            pass


def test_remove_stale_temporaries(tmp_path):
    (tmp_path / ".tmp-out.txt-abc").write_text("half")
    (tmp_path / ".tmp-dir-1").mkdir()
    (tmp_path / "keep.txt").write_text("whole")
    remove_stale_temporaries(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_jsonl_round_trip_and_append(tmp_path):
    path = tmp_path / "log.jsonl"
    assert read_jsonl(path) == []
    rows = [{"step": 1, "cka": 0.5}, {"step": 2, "cka": None, "note": "ü"}]
    write_jsonl_atomic(path, rows)
    append_jsonl(path, {"step": 3})
    assert read_jsonl(path) == rows + [{"step": 3}]
    append_jsonl(tmp_path / "new" / "rank0.jsonl", {"a": 1})
    assert read_jsonl(tmp_path / "new" / "rank0.jsonl") == [{"a": 1}]


@pytest.mark.parametrize("line, reason", [("{bad", "not valid JSON"), ("[1, 2]", "expected a JSON object, got list")])
def test_jsonl_errors_name_file_and_line(tmp_path, line, reason):
    path = tmp_path / "log.jsonl"
    path.write_text('{"a": 1}\n\n' + line + "\n")
    with pytest.raises(ValueError, match=f"log.jsonl:3: {reason}"):
        read_jsonl(path)
