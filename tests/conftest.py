"""Suite-wide fixtures: every test gets its own MINGO_HOME, so no test sees another's state."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.mlflow_globals import unset_mlflow_globals

pytest_plugins = ["tests.fixtures.services"]


@pytest.fixture(autouse=True)
def isolated_mingo_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "mingo-home"
    home.mkdir()
    monkeypatch.setenv("MINGO_HOME", str(home))
    monkeypatch.setenv("ZENML_ANALYTICS_OPT_IN", "false")
    for var in ("MLFLOW_TRACKING_URI", "MINGO_DATA_URI", "MINGO_API_KEY", "ZENML_STORE_URL"):
        monkeypatch.delenv(var, raising=False)
    # An in-process pipeline run of an earlier test on this worker may have set MLflow's
    # process-wide URIs; which tests ran before depends on the worker. (Nothing to unset, and
    # no import of mlflow, while no test has imported it.)
    if "mlflow" in sys.modules:
        unset_mlflow_globals(monkeypatch)
    yield home


AIRFLOW_TESTS = "tests/airflow/"


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`make test` runs on two workers (`-n 2 --dist loadscope`): each module stays on one
    worker, so a module-scoped server starts once, and all of tests/airflow shares one worker,
    so its session-wide Airflow stack starts once."""
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return AIRFLOW_TESTS if module.startswith(AIRFLOW_TESTS) else module

    return ModuleScheduling(config, log)
