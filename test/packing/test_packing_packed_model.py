"""Opening packs: corrupt, truncated and unsafe archives are clear errors and leave nothing behind."""

import io
import zipfile

import pytest

from espnet_llm_entropy.packing.packed_model import PackError, extract_pack, open_pack


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _leftovers(parent):
    return [p.name for p in parent.iterdir() if p.name.startswith(".tmp-")]


def test_truncated_pack_is_an_error_and_nothing_is_extracted(tmp_path):
    pack = _zip(tmp_path / "p.zip", {"meta.yaml": "files: {}\n", "big.bin": bytes(range(256)) * 4000})
    data = pack.read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(PackError, match="corrupt or truncated"):
        extract_pack(cut, tmp_path / "out")
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


def test_corrupt_member_fails_its_checksum(tmp_path):
    payload = b"model weights " * 5000
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("meta.yaml", "files: {}\n")
        zf.writestr("exp/model.pth", payload)
    data = bytearray(buf.getvalue())
    at = data.index(payload) + 1000
    data[at] ^= 0xFF
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(data))
    with pytest.raises(PackError, match="bad.zip"):
        open_pack(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


def test_members_outside_the_destination_and_foreign_archives_are_refused(tmp_path):
    evil = _zip(tmp_path / "evil.zip", {"meta.yaml": "x: 1\n", "../escape.txt": "no"})
    with pytest.raises(PackError, match="outside"):
        extract_pack(evil, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "out").exists()
    no_meta = _zip(tmp_path / "plain.zip", {"a.txt": "a"})
    with pytest.raises(PackError, match="meta.yaml"):
        extract_pack(no_meta, tmp_path / "out2")
    not_asr = _zip(tmp_path / "tts.zip", {"meta.yaml": "files: {model_file: m.pth}\nyaml_files: {}\n"})
    with pytest.raises(PackError, match="asr_train_config"):
        open_pack(not_asr, tmp_path / "out3")


def test_a_name_that_is_no_file_is_not_looked_up_on_a_hub(tmp_path):
    with pytest.raises(FileNotFoundError, match="download"):
        open_pack("espnet/some_model")
