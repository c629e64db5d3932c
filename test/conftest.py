"""Shared pytest fixtures: where the read-only shared data lives."""

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def mini_an4_dir() -> Path:
    """Directory with ESPnet's mini_an4 archive; skips where it is absent."""
    path = SHARED_DATA / "mini_an4"
    if not (path / "downloads.tar.gz").exists():
        pytest.skip(f"real AN4 speech not available here ({path} is absent)")
    return path
