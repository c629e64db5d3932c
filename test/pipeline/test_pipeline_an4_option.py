"""The demo's AN4 archive option: explicit directory, ESPnet's copy, or none."""

import pytest

from espnet_llm_entropy.bin import demo
from espnet_llm_entropy.pipeline.demo_pipeline import ESPNET_AN4_DIR, default_an4_dir, resolve_an4_dir


@pytest.fixture
def espnet_root(tmp_path):
    """A fake ESPnet checkout holding egs2/mini_an4/asr1/downloads.tar.gz."""
    root = tmp_path / "espnet"
    (root / ESPNET_AN4_DIR).mkdir(parents=True)
    (root / ESPNET_AN4_DIR / "downloads.tar.gz").write_bytes(b"archive")
    return root


def test_default_is_espnets_copy(espnet_root, tmp_path):
    assert default_an4_dir({"ESPNET_ROOT": str(espnet_root)}) == (espnet_root / ESPNET_AN4_DIR).resolve()
    assert resolve_an4_dir(None, {"ESPNET_ROOT": str(espnet_root)}) == (espnet_root / ESPNET_AN4_DIR).resolve()
    assert default_an4_dir({"ESPNET_ROOT": str(tmp_path / "elsewhere")}) is None
    assert default_an4_dir({}) is None


def test_none_skips_even_when_espnets_copy_exists(espnet_root, caplog):
    assert resolve_an4_dir("none", {"ESPNET_ROOT": str(espnet_root)}) is None
    assert "left out" in caplog.text


def test_without_archive_the_part_is_skipped_with_a_log_line(caplog):
    assert resolve_an4_dir(None, {}) is None
    assert "AN4 part is skipped" in caplog.text


def test_an_explicit_directory_must_hold_the_archive(espnet_root, tmp_path):
    assert resolve_an4_dir(str(espnet_root / ESPNET_AN4_DIR), {}) == (espnet_root / ESPNET_AN4_DIR).resolve()
    with pytest.raises(FileNotFoundError, match="--an4_dir .*empty: no downloads.tar.gz"):
        (tmp_path / "empty").mkdir()
        resolve_an4_dir(str(tmp_path / "empty"), {})


def test_help_names_the_option(capsys):
    with pytest.raises(SystemExit):
        demo.main(["--help"])
    out = capsys.readouterr().out
    assert "--an4_dir" in out and "ESPNET_ROOT" in out
