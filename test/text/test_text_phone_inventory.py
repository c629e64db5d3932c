"""PhoneInventory: build, save/load round trip, validation errors, encode/decode."""

import os
import re

import pytest

from espnet_llm_entropy.text.phone_inventory import BLANK, SOS_EOS, UNK, PhoneInventory, PhoneInventoryError


def test_build_is_sorted_and_independent_of_data_order():
    a = PhoneInventory.build([["n", "i3", "HH"], ["AH0", "n"]])
    b = PhoneInventory.build([["AH0"], ["n", "HH", "i3"]])
    assert a.symbols == [BLANK, UNK, "AH0", "HH", "i3", "n"]
    assert a == b
    assert a.blank_id == 0 and a.unk_id == 1
    assert a.phones == ["AH0", "HH", "i3", "n"]


def test_build_drops_special_symbols_from_data_and_adds_sos_eos():
    inv = PhoneInventory.build([["<unk>", "a1", "<blank>"]], sos_eos=True)
    assert inv.symbols == [BLANK, UNK, "a1", SOS_EOS]


def test_round_trip_through_file(tmp_path):
    inv = PhoneInventory.build([["zh", "ong1", "S", "P", "IY1", "CH"]], sos_eos=True)
    path = tmp_path / "sub" / "phones.txt"
    inv.save(path)
    assert path.read_text(encoding="utf-8").splitlines()[:2] == [BLANK, UNK]
    loaded = PhoneInventory.from_file(path)
    assert loaded == inv
    assert [p for p in os.listdir(path.parent)] == ["phones.txt"]  # no temporary file left


def test_encode_counts_unknown_and_decode():
    inv = PhoneInventory([BLANK, UNK, "a1", "b"])
    assert inv.encode(["b", "a1", "x", "<unk>"]) == [3, 2, 1, 1]
    assert inv.num_unknown == 1  # an explicit <unk> is not counted as converted
    assert inv.num_encoded == 4
    inv.encode(iter(["zz"]))
    assert inv.num_unknown == 2
    assert inv.decode([0, 2, 3]) == [BLANK, "a1", "b"]
    inv.reset_counts()
    assert inv.num_unknown == 0 and inv.num_encoded == 0
    with pytest.raises(IndexError, match="phone id 4 is outside"):
        inv.decode([4])


@pytest.mark.parametrize(
    "content, line, message",
    [
        ("<unk>\n<blank>\na\n", 1, "expected '<blank>'"),
        ("<blank>\na\n<unk>\n", 2, "expected '<unk>'"),
        ("<blank>\n<unk>\na\nb\na\n", 5, "duplicate symbol 'a' \\(first on line 3\\)"),
        ("<blank>\n<unk>\na\n\nb\n", 4, "empty line"),
        ("<blank>\n<unk>\na b\n", 3, "whitespace"),
        ("<blank>\n<unk>\n<sos/eos>\na\n", 3, "may only be the last"),
        ("<blank>\n", 2, "too short"),
    ],
)
def test_validation_errors_name_file_and_line(tmp_path, content, line, message):
    path = tmp_path / "phones.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PhoneInventoryError, match=re.escape(f"{path}:{line}: ") + ".*" + message):
        PhoneInventory.from_file(path)


def test_save_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "phones.txt"
    path.write_text("old\n", encoding="utf-8")
    inv = PhoneInventory.build([["a"]])

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        inv.save(path)
    assert path.read_text(encoding="utf-8") == "old\n"
    assert os.listdir(tmp_path) == ["phones.txt"]
