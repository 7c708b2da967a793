"""Suite-wide fixtures: every test gets its own MINGO_HOME, so no test sees another's state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.fixtures.services"]


@pytest.fixture(autouse=True)
def isolated_mingo_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "mingo-home"
    home.mkdir()
    monkeypatch.setenv("MINGO_HOME", str(home))
    monkeypatch.setenv("ZENML_ANALYTICS_OPT_IN", "false")
    for var in ("MLFLOW_TRACKING_URI", "MINGO_DATA_URI", "MINGO_API_KEY", "ZENML_STORE_URL"):
        monkeypatch.delenv(var, raising=False)
    yield home
