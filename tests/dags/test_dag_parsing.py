"""The DAG files parse cleanly, fast, and without the heavy libraries."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.dags.conftest import AIRFLOW_ENV, DAG_FILES, DAG_ID_PREFIXES, DAGS_FOLDER, KINDS

HEAVY_MODULES = ("zenml", "mlflow", "bentoml", "sklearn", "pandas", "mingo")
PARSE_BUDGET_S = 2.0

# Runs in a fresh interpreter, as the DAG processor does: Airflow is loaded, the files'
# top-level airflow imports are pre-imported (parsing_pre_import_modules), then the files
# are parsed and timed. argv[1]: the DAG files, separated by os.pathsep.
PARSE_SCRIPT = """
import json, os, sys, time, importlib
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.file import iter_airflow_imports
for path in sys.argv[1].split(os.pathsep):
    for module in iter_airflow_imports(path):
        importlib.import_module(module)
started = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[2])
elapsed = time.perf_counter() - started
print(json.dumps({
    "elapsed": elapsed,
    "stats": [s.duration.total_seconds() for s in bag.dagbag_stats],
    "errors": bag.import_errors,
    "dag_ids": sorted(bag.dag_ids),
    "heavy": sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[3].split(","))),
}))
"""


def dag_files_arg() -> str:
    return os.pathsep.join(str(path) for path in DAG_FILES)


@pytest.mark.parametrize("runner", ["kubernetes", "local"])
def test_dags_parse_without_errors_quickly_and_stay_light(runner: str) -> None:
    env = {**os.environ, **AIRFLOW_ENV, "MINGO_RUNNER": runner}
    result = subprocess.run(
        [sys.executable, "-c", PARSE_SCRIPT, dag_files_arg(), str(DAGS_FOLDER),
         ",".join(HEAVY_MODULES)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["errors"] == {}
    assert report["dag_ids"] == sorted(
        f"{prefix}{kind}" for prefix in DAG_ID_PREFIXES for kind in KINDS
    )
    assert len(report["stats"]) == len(DAG_FILES)
    assert report["stats"] and sum(report["stats"]) < PARSE_BUDGET_S, report
    assert report["heavy"] == [], f"parsing imported {report['heavy']}"
