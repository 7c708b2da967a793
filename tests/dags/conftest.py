"""Airflow for the DAG tests: a throwaway AIRFLOW_HOME and the project's dags/ folder.

Airflow reads its configuration when first imported, so the environment is set here, at
collection, before any test module imports it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = PROJECT_ROOT / "dags"
DAG_FILE = DAGS_FOLDER / "mingo_retrain.py"
KINDS = ("binary", "multiclass", "clustering")

AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="mingo-airflow-home-"))
atexit.register(shutil.rmtree, AIRFLOW_HOME, ignore_errors=True)
AIRFLOW_ENV = {
    "AIRFLOW_HOME": str(AIRFLOW_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
}
os.environ.update(AIRFLOW_ENV)
