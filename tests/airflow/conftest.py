"""One real Airflow 3 stack for the tests of this directory, on the session's PostgreSQL.

`airflow_stack` (session scope) is `mingo.local_airflow.AirflowStack` as `mingo airflow` runs
it: API server (UI + REST), scheduler, DAG processor and triggerer as separate processes with
the LocalExecutor, the repository's dags/ folder, `MINGO_RUNNER=local` and the embedded MinGo
stack in a MINGO_HOME of its own. Its metadata database is a fresh database of the session's
PostgreSQL server (`postgres_server`). Drive it through `airflow_rest` (tests/airflow/rest.py).

Differences from `mingo airflow`, so tests are fast and do not disturb one another:
- the DAG configuration (`MINGO_DAGS_CONFIG`) is the shipped dags/mingo_retrain.yaml with retry
  delays of seconds instead of minutes;
- `mingo_retrain_binary` and `mingo_retrain_clustering` are manual-only
  (`MINGO_RETRAIN_SCHEDULE_<KIND>=none`), so unpausing them starts no scheduled run; the
  multiclass DAG keeps its configured schedule and also runs on new data
  (`MINGO_RETRAIN_ON_NEW_DATA_MULTICLASS=true`, test_asset_schedule.py);
- the monitoring DAGs are manual-only (`MINGO_MONITOR_SCHEDULE_<KIND>=none`, the closed-loop
  test triggers them);
- the default data (`MINGO_DATA_URI`) is a small generated file (`stack.data_uri`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from mingo.config import Settings, load_settings
from mingo.local_airflow import PROJECT_DAGS_FOLDER, AirflowStack, AirflowStackConfig
from tests.airflow.rest import AirflowRest
from tests.fixtures.services import PostgresServer, distinct_free_ports

BIN = Path(sys.executable).parent
RETRAIN_DAG_IDS = ("mingo_retrain_binary", "mingo_retrain_multiclass", "mingo_retrain_clustering")
# Every DAG the dags/ folder defines (CONTRACT.md: retrain, monitor and score per KIND).
ALL_DAG_IDS = tuple(
    f"mingo_{job}_{kind}"
    for job in ("retrain", "monitor", "score")
    for kind in ("binary", "multiclass", "clustering")
)
MANUAL_ONLY_KINDS = ("binary", "clustering")
KINDS = ("binary", "multiclass", "clustering")
DATA_CUSTOMERS = 400
DATA_SEED = 5
# Seconds, not minutes, between tries: a smoke test that fails is retried once before the
# rollback, and the tests should not wait out the shipped two minutes.
TEST_RETRY_DELAY_MINUTES = 0.05
DAG_CONFIG_FILE = PROJECT_DAGS_FOLDER / "mingo_retrain.yaml"
# Variables of the test process that must not reach the stack: it gets its own.
INHERITED_PREFIXES_DROPPED = ("AIRFLOW", "MINGO_", "MLFLOW_", "ZENML_", "AWS_")


@dataclass
class AirflowStackHandle:
    """What a test needs of the running stack."""

    stack: AirflowStack
    home: Path
    mingo_home: Path
    data_uri: str
    mingo_env: dict[str, str]

    @property
    def base_url(self) -> str:
        return self.stack.base_url

    @property
    def username(self) -> str:
        return self.stack.username

    @property
    def password(self) -> str:
        return self.stack.password()

    def client(self) -> AirflowRest:
        """A new REST client logged in as the admin (close it, or use `airflow_rest`)."""
        return AirflowRest(self.base_url, self.username, self.password)

    def token(self) -> str:
        """A JWT for `Authorization: Bearer ...` on `/api/v2`."""
        client = self.client()
        try:
            return client.token()
        finally:
            client.close()

    def settings(self) -> Settings:
        """The MinGo settings the tasks run with (their registry, their MINGO_HOME)."""
        return load_settings(self.mingo_env)


def write_test_dag_config(path: Path) -> Path:
    config = yaml.safe_load(DAG_CONFIG_FILE.read_text())
    config["retry_delay_minutes"] = TEST_RETRY_DELAY_MINUTES
    config["max_retry_delay_minutes"] = TEST_RETRY_DELAY_MINUTES
    path.write_text(yaml.safe_dump(config))
    return path


def generate_data(out: Path, env: dict[str, str]) -> None:
    result = subprocess.run(
        [str(BIN / "mingo"), "data", "generate", "--customers", str(DATA_CUSTOMERS),
         "--seed", str(DATA_SEED), "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="session")
def airflow_stack(postgres_server: PostgresServer) -> Iterator[AirflowStackHandle]:
    work_dir = Path(tempfile.mkdtemp(prefix="mingo-airflow-"))
    home = work_dir / "airflow"
    mingo_home = work_dir / "mingo-home"
    mingo_home.mkdir()
    base_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(INHERITED_PREFIXES_DROPPED)
    }
    data = work_dir / "purchases.csv"
    mingo_env = {
        "MINGO_RUNNER": "local",
        "MINGO_HOME": str(mingo_home),
        "MINGO_DATA_URI": str(data),
        "MINGO_DAGS_CONFIG": str(write_test_dag_config(work_dir / "mingo_retrain.yaml")),
        "ZENML_ANALYTICS_OPT_IN": "false",
        **{f"MINGO_RETRAIN_SCHEDULE_{kind.upper()}": "none" for kind in MANUAL_ONLY_KINDS},
        **{f"MINGO_MONITOR_SCHEDULE_{kind.upper()}": "none" for kind in KINDS},
        # test_asset_schedule.py: multiclass also runs on new data (cron OR the asset).
        "MINGO_RETRAIN_ON_NEW_DATA_MULTICLASS": "true",
    }
    generate_data(data, {**base_env, **mingo_env})
    # Create the embedded MLflow database before two runs' first tasks race to create its
    # tables (`mingo airflow` does the same); a client of this URI only, no global MLflow state.
    tracking_uri = load_settings(mingo_env).mlflow_tracking_uri
    MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri).search_registered_models()
    port, worker_log_port, trigger_log_port = distinct_free_ports(3)
    config = AirflowStackConfig(
        home=home,
        port=port,
        worker_log_port=worker_log_port,
        trigger_log_port=trigger_log_port,
        database_url=postgres_server.create_database("airflow"),
        env=mingo_env,
    )
    stack = AirflowStack(config, base_env)
    started = time.monotonic()
    try:
        stack.start()
        handle = AirflowStackHandle(stack, home, mingo_home, str(data), mingo_env)
        client = handle.client()
        try:
            client.wait_for_dags(ALL_DAG_IDS)
        finally:
            client.close()
        print(f"Airflow stack healthy, DAGs listed, in {time.monotonic() - started:.0f} s")
        yield handle
    finally:
        stack.stop()
        shutil.rmtree(work_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_rest(airflow_stack: AirflowStackHandle) -> Iterator[AirflowRest]:
    client = airflow_stack.client()
    try:
        yield client
    finally:
        client.close()
