"""Airflow for the DAG tests: a throwaway AIRFLOW_HOME and the project's dags/ folder.

Airflow reads its configuration when first imported, so the environment is set here, at
collection, before any test module imports it.
"""

from __future__ import annotations

import atexit
import copy
import os
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = PROJECT_ROOT / "dags"
DAG_FILE = DAGS_FOLDER / "mingo_retrain.py"
# Every DAG file: retraining, monitoring, batch scoring (one DAG per KIND each).
DAG_FILES = (DAG_FILE, DAGS_FOLDER / "mingo_monitor.py", DAGS_FOLDER / "mingo_score.py")
KINDS = ("binary", "multiclass", "clustering")
DAG_ID_PREFIXES = ("mingo_retrain_", "mingo_monitor_", "mingo_score_")

AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="mingo-airflow-home-"))
atexit.register(shutil.rmtree, AIRFLOW_HOME, ignore_errors=True)
AIRFLOW_ENV = {
    "AIRFLOW_HOME": str(AIRFLOW_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
}
os.environ.update(AIRFLOW_ENV)


def import_error_of(import_errors: dict[str, str], dag_file: Path = DAG_FILE) -> str:
    """The import error of one DAG file (a bad shared config fails every file that reads it)."""
    (error,) = [text for path, text in import_errors.items() if Path(path).name == dag_file.name]
    return str(error)


def run_params(dag: Any, task: Any, conf: dict[str, Any] | None = None) -> dict[str, Any]:
    """A run's params as the task runner resolves them (Airflow's `process_params`), on copies:
    it sets a conf's values on the task's own Param objects, harmless in a task process (one
    task per process) but not when a module's tests share the DAGs."""
    from airflow.sdk.definitions.param import process_params

    return process_params(
        SimpleNamespace(params=copy.deepcopy(dag.params)),  # type: ignore[arg-type]
        SimpleNamespace(params=copy.deepcopy(task.params)),  # type: ignore[arg-type]
        conf,
        suppress_exception=False,
    )
