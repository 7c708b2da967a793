"""The shared stack is what `mingo airflow` promises: healthy, the DAGs listed, login works."""

from __future__ import annotations

import httpx
import pytest

from mingo.local_airflow import HEALTH_KEYS, HEALTHY
from tests.airflow.conftest import ALL_DAG_IDS, AirflowStackHandle
from tests.airflow.rest import AirflowRest

pytestmark = pytest.mark.services


def test_stack_is_healthy_on_postgresql_and_lists_the_dags(
    airflow_stack: AirflowStackHandle, airflow_rest: AirflowRest
) -> None:
    assert airflow_stack.stack.database == "postgresql"
    assert airflow_stack.stack.health() == dict.fromkeys(HEALTH_KEYS, HEALTHY)
    assert set(ALL_DAG_IDS) <= airflow_rest.dag_ids()
    # The API refuses a caller without a token, and a wrong password gets none.
    assert httpx.get(f"{airflow_stack.base_url}/api/v2/dags").status_code == 401
    refused = httpx.post(
        f"{airflow_stack.base_url}/auth/token",
        json={"username": airflow_stack.username, "password": "wrong"},
    )
    assert refused.status_code == 401
