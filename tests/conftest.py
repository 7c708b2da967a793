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


# Work units that run longest, in the order they are handed out: each stays on one worker, so
# its session-wide stack starts once, and they go out first, so that the short modules fill
# the other workers instead of one long unit starting last. tests/airflow shares one Airflow
# stack (the closed-loop tests included); tests/serving one registry and four BentoML services
# (`services`).
LONG_UNITS = ("tests/airflow/", "tests/serving/")
# Last within their unit: the closed-loop tests force-promote binary versions on the shared
# stack, and the scheduler tests expect an empty binary registry.
RUN_LAST = ("tests/airflow/test_closed_loop.py",)


def unit_of(nodeid: str) -> str:
    module = nodeid.split("::", 1)[0]
    matching = [unit for unit in LONG_UNITS if module.startswith(unit)]
    return max(matching, key=len) if matching else module


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Stable: within a unit, and among the other modules, the collection order is kept.
    def rank(item: pytest.Item) -> tuple[int, bool]:
        unit = unit_of(item.nodeid)
        unit_rank = LONG_UNITS.index(unit) if unit in LONG_UNITS else len(LONG_UNITS)
        return unit_rank, item.nodeid.split("::", 1)[0] in RUN_LAST

    items.sort(key=rank)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`make test` runs on several workers (`-n N --dist loadscope`): each module stays on one
    worker, so a module-scoped server starts once, and each of LONG_UNITS stays on one worker,
    so its session-wide stack starts once. Units go out in collection order (LONG_UNITS
    first), not xdist's default of the units with the most tests first."""
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False

    class UnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    return UnitScheduling(config, log)
