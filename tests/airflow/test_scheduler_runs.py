"""The retraining DAGs run by Airflow's real scheduler, driven through the REST API only.

One stack (`airflow_stack`: API server, scheduler, DAG processor, triggerer, LocalExecutor, on
the session's PostgreSQL) runs every run here; the tests trigger runs, poll their state, read
task instances (state, try number) and task logs through `/api/v2`, as automation would, and
check the outcome in the MLflow registry the tasks wrote to.

`mingo_retrain_binary`: a trigger-form Param out of range is refused; a broken file fails at
validate_data without retry; a trigger with `conf` promotes version 1; the same data again
takes the not-promoted branch with the registry's reason in the task log.

`mingo_retrain_clustering` (its first run overlaps the binary runs): a genuine smoke-test
failure. After the retraining registered and promoted version 2 (forced), and before the
smoke test starts, the test replaces that version's model file in the registry's artifact
store by an unfitted pipeline of the same kind: the service loads it and is ready, but
`/predict` fails, so the smoke test fails on both tries, the rollback moves the champion back
to version 1 and the run ends failed with the reason. The smoke test cannot start before
`decide` and `redeploy` ran as task processes of their own (seconds), while the test reacts
within half a second of `retrain` succeeding.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from mlflow import MlflowClient

from mingo.registry import CHAMPION, get_alias_version, get_version_tags, model_status
from tests.airflow.conftest import AirflowStackHandle
from tests.airflow.rest import AirflowRest

# A run polls for up to RUN_TIMEOUT_S; the first test also waits for the stack to start.
pytestmark = [pytest.mark.services, pytest.mark.timeout(1800)]

BINARY_DAG = "mingo_retrain_binary"
CLUSTERING_DAG = "mingo_retrain_clustering"
RUN_TIMEOUT_S = 900
# The tag `mingo train` writes on every version it registers (mingo.registry).
DECISION_REASON_TAG = "mingo.decision.reason"
SKOPS_MODEL_FILE = "model.skops"


def registry(stack: AirflowStackHandle) -> MlflowClient:
    # A client of the stack's registry only: no process-wide MLflow URI is set.
    uri = stack.settings().mlflow_tracking_uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def try_number(rest: AirflowRest, dag_id: str, run_id: str, task_id: str) -> int:
    return int(rest.task_instances(dag_id, run_id)[task_id]["try_number"])


def log_of(rest: AirflowRest, dag_id: str, run_id: str, task_id: str) -> str:
    return rest.task_log(dag_id, run_id, task_id, try_number(rest, dag_id, run_id, task_id))


@pytest.fixture(scope="module")
def unpaused(airflow_rest: AirflowRest) -> None:
    # Both are manual-only in the test stack, so unpausing starts no scheduled run.
    for dag_id in (BINARY_DAG, CLUSTERING_DAG):
        airflow_rest.set_paused(dag_id, False)


@pytest.fixture(scope="module")
def clustering_first_run(
    airflow_stack: AirflowStackHandle, airflow_rest: AirflowRest, unpaused: None
) -> str:
    """A clustering run started early (not waited for), so it overlaps the binary runs."""
    return airflow_rest.trigger_run(CLUSTERING_DAG, {"data_uri": airflow_stack.data_uri})


@pytest.fixture(scope="module")
def broken_file(airflow_stack: AirflowStackHandle) -> Path:
    # The first three columns of the good file only: nine required columns are missing.
    rows = Path(airflow_stack.data_uri).read_text().splitlines()[:5]
    broken = airflow_stack.home.parent / "broken.csv"
    broken.write_text("\n".join(",".join(row.split(",")[:3]) for row in rows) + "\n")
    return broken


@pytest.mark.parametrize(
    ("param", "value"),
    [("min_absolute_margin", 5), ("horizon_days", 10)],
)
def test_trigger_with_a_param_out_of_range_is_refused_naming_it(
    airflow_rest: AirflowRest, unpaused: None, param: str, value: int
) -> None:
    runs_before = airflow_rest.json("GET", f"/api/v2/dags/{BINARY_DAG}/dagRuns")["total_entries"]
    answer = airflow_rest.trigger(BINARY_DAG, {param: value})
    assert 400 <= answer.status_code < 500, answer.text
    assert param in answer.text, answer.text
    runs_after = airflow_rest.json("GET", f"/api/v2/dags/{BINARY_DAG}/dagRuns")["total_entries"]
    assert runs_after == runs_before, "a refused trigger creates no run"


def test_broken_file_fails_at_validate_data_without_retry(
    airflow_stack: AirflowStackHandle,
    airflow_rest: AirflowRest,
    broken_file: Path,
    clustering_first_run: str,
) -> None:
    run_id = airflow_rest.trigger_run(BINARY_DAG, {"data_uri": str(broken_file)})
    assert airflow_rest.wait_for_run(BINARY_DAG, run_id, RUN_TIMEOUT_S) == "failed"
    states = airflow_rest.task_states(BINARY_DAG, run_id)
    assert states["validate_data"] == "failed"
    assert try_number(airflow_rest, BINARY_DAG, run_id, "validate_data") == 1, "no retry"
    assert states["retrain"] == "upstream_failed"
    # Nothing was trained or redeployed: there is nothing to roll back.
    assert states["rollback_needed"] == "skipped"
    assert states["rollback"] == "skipped"
    log = airflow_rest.task_log(BINARY_DAG, run_id, "validate_data", 1)
    assert "column 'gmv_success': rule 'column present'" in log, log[-3000:]
    assert model_status(registry(airflow_stack), "binary").latest is None, "nothing registered"


def test_manual_trigger_with_conf_promotes_and_smoke_tests(
    airflow_stack: AirflowStackHandle, airflow_rest: AirflowRest, unpaused: None
) -> None:
    run_id = airflow_rest.trigger_run(BINARY_DAG, {"data_uri": airflow_stack.data_uri})
    state = airflow_rest.wait_for_run(BINARY_DAG, run_id, RUN_TIMEOUT_S)
    states = airflow_rest.task_states(BINARY_DAG, run_id)
    assert state == "success", states
    assert states["decide"] == "success"
    assert states["redeploy"] == "success"
    assert states["smoke_test"] == "success"
    assert states["not_promoted"] == "skipped"
    assert states["rollback_needed"] == "skipped"
    assert states["rollback"] == "skipped"
    assert "promoted: mingo-binary champion None -> 1" in log_of(
        airflow_rest, BINARY_DAG, run_id, "decide"
    )
    smoke_log = log_of(airflow_rest, BINARY_DAG, run_id, "smoke_test")
    assert "deploy smoke-test binary --version 1" in smoke_log
    assert "serves version 1" in smoke_log, smoke_log[-3000:]
    assert get_alias_version(registry(airflow_stack), "binary", CHAMPION) == "1"


def test_same_data_again_is_not_promoted_with_the_registry_reason(
    airflow_stack: AirflowStackHandle, airflow_rest: AirflowRest, unpaused: None
) -> None:
    client = registry(airflow_stack)
    assert get_alias_version(client, "binary", CHAMPION) == "1", "runs after the promotion"
    run_id = airflow_rest.trigger_run(BINARY_DAG, {"data_uri": airflow_stack.data_uri})
    state = airflow_rest.wait_for_run(BINARY_DAG, run_id, RUN_TIMEOUT_S)
    states = airflow_rest.task_states(BINARY_DAG, run_id)
    assert state == "success", states
    assert states["not_promoted"] == "success"
    assert states["redeploy"] == "skipped"
    assert states["smoke_test"] == "skipped"
    assert get_alias_version(client, "binary", CHAMPION) == "1"
    reason = get_version_tags(client, "binary", "2")[DECISION_REASON_TAG]
    assert reason
    log = log_of(airflow_rest, BINARY_DAG, run_id, "not_promoted")
    assert f"not promoted: {reason}" in log, log[-3000:]


def break_model_file(client: MlflowClient, kind: str, version: str) -> Path:
    """Replace the version's model by an unfitted pipeline: it loads, but cannot predict."""
    import skops.io
    from sklearn.cluster import KMeans
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    location = client.get_model_version_download_uri(f"mingo-{kind}", version)
    parts = urlsplit(location)
    assert parts.scheme in ("", "file"), f"the embedded registry stores files: {location}"
    model_file = Path(unquote(parts.path)) / SKOPS_MODEL_FILE
    assert model_file.is_file(), f"no {SKOPS_MODEL_FILE} at {location}"
    skops.io.dump(Pipeline([("scale", StandardScaler()), ("segments", KMeans())]), model_file)
    return model_file


def test_failed_smoke_test_rolls_the_champion_back_and_fails_the_run(
    airflow_stack: AirflowStackHandle, airflow_rest: AirflowRest, clustering_first_run: str
) -> None:
    first = airflow_rest.wait_for_run(CLUSTERING_DAG, clustering_first_run, RUN_TIMEOUT_S)
    assert first == "success", airflow_rest.task_states(CLUSTERING_DAG, clustering_first_run)
    client = registry(airflow_stack)
    assert get_alias_version(client, "clustering", CHAMPION) == "1"

    run_id = airflow_rest.trigger_run(
        CLUSTERING_DAG, {"data_uri": airflow_stack.data_uri, "force_promote": True}
    )
    airflow_rest.wait_for_task_state(
        CLUSTERING_DAG, run_id, "retrain", {"success", "failed"}, RUN_TIMEOUT_S
    )
    assert get_alias_version(client, "clustering", CHAMPION) == "2", "forced promotion"
    assert airflow_rest.task_states(CLUSTERING_DAG, run_id)["smoke_test"] in (
        None,
        "scheduled",
        "queued",
    )
    break_model_file(client, "clustering", "2")

    state = airflow_rest.wait_for_run(CLUSTERING_DAG, run_id, RUN_TIMEOUT_S)
    states = airflow_rest.task_states(CLUSTERING_DAG, run_id)
    assert state == "failed", states
    assert states["redeploy"] == "success"
    assert states["smoke_test"] == "failed"
    assert try_number(airflow_rest, CLUSTERING_DAG, run_id, "smoke_test") == 2, "retried once"
    assert states["rollback_needed"] == "success"
    assert states["rollback"] == "success"
    assert states["fail_after_rollback"] == "failed"
    assert get_alias_version(client, "clustering", CHAMPION) == "1", "rolled back"
    smoke_log = log_of(airflow_rest, CLUSTERING_DAG, run_id, "smoke_test")
    assert "/predict answered HTTP" in smoke_log, smoke_log[-3000:]
    reason = log_of(airflow_rest, CLUSTERING_DAG, run_id, "fail_after_rollback")
    assert "version 2 was promoted" in reason, reason[-3000:]
    assert "the rollback undid it: the champion is version 1" in reason, reason[-3000:]
