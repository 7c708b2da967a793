"""The DAG file parses cleanly, fast, and without the heavy libraries."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.dags.conftest import AIRFLOW_ENV, DAG_FILE, DAGS_FOLDER, KINDS

HEAVY_MODULES = ("zenml", "mlflow", "bentoml", "sklearn", "pandas", "mingo")
PARSE_BUDGET_S = 2.0

# Runs in a fresh interpreter, as the DAG processor does: Airflow is loaded, the file's
# top-level airflow imports are pre-imported (parsing_pre_import_modules), then the file
# is parsed and timed.
PARSE_SCRIPT = """
import json, sys, time, importlib
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.file import iter_airflow_imports
for module in iter_airflow_imports(sys.argv[1]):
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


@pytest.mark.parametrize("runner", ["kubernetes", "local"])
def test_dags_parse_without_errors_quickly_and_stay_light(runner: str) -> None:
    env = {**os.environ, **AIRFLOW_ENV, "MINGO_RUNNER": runner}
    result = subprocess.run(
        [sys.executable, "-c", PARSE_SCRIPT, str(DAG_FILE), str(DAGS_FOLDER),
         ",".join(HEAVY_MODULES)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["errors"] == {}
    assert report["dag_ids"] == sorted(f"mingo_retrain_{kind}" for kind in KINDS)
    assert report["stats"] and sum(report["stats"]) < PARSE_BUDGET_S, report
    assert report["heavy"] == [], f"parsing imported {report['heavy']}"
