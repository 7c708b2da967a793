"""The monitoring DAG's branch and trigger, run by Airflow's own operators against a real
MLflow registry (the embedded one: SQLite under MINGO_HOME).

The monitor step's record is written by the monitor's own writer (`log_monitor_run`), as
`mingo monitor --request-id <run_id>` leaves it. `decide_retrain` runs through its operator's
`execute`, which reads the record back and branches (Airflow's branch code skips the other
path by raising DownstreamTasksSkipped); `trigger_retrain` renders its templated conf from
what the branch pushed and raises the DagRunTriggerException the task runner turns into a
run of the retraining DAG. The conf then resolves against the retraining DAG's own Params
and becomes `mingo train --trigger-reason`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import airflow.providers.cncf.kubernetes.operators.pod  # noqa: F401  (pre-imported, as the processor does)
import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import DAG
from airflow.sdk.exceptions import (
    AirflowFailException,
    DagRunTriggerException,
    DownstreamTasksSkipped,
)

from mingo.config import load_settings
from mingo.monitoring.monitor import ensure_monitoring_experiment, log_monitor_run
from mingo.monitoring.result import MonitorResult
from mingo.tracking import mlflow_client
from tests.dags.conftest import DAGS_FOLDER, run_params

DATA = "s3://mingo-data/clickbus/df_t.csv"
DRIFTED = "max feature PSI 0.41 (recency_days) > drift threshold 0.25"
FINE = "live f1 0.41 within 0.05 of holdout 0.42 (812 outcomes); max PSI 0.04"


@pytest.fixture(scope="module")
def dags() -> dict[str, DAG]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("MINGO_RUNNER", "local")
        monkeypatch.setenv("MINGO_DATA_URI", DATA)
        bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert bag.import_errors == {}
    return bag.dags


@pytest.fixture(scope="module")
def registry_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One embedded MLflow for the module (creating its database is the slow part)."""
    return tmp_path_factory.mktemp("monitor-branch") / "mingo-home"


@pytest.fixture
def registry(registry_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MINGO_HOME", str(registry_home))
    yield


def record(kind: str, request_id: str, *, retrain_needed: bool, reason: str) -> None:
    """What `mingo monitor KIND --request-id REQUEST_ID` records in MLflow."""
    settings = load_settings()
    result = MonitorResult(
        model=f"mingo-{kind}",
        served_version="3",
        metric="f1",
        holdout_score=0.42,
        live_score=0.41 if not retrain_needed else 0.40,
        outcomes=812,
        tolerance=0.05,
        drift={"recency_days": 0.41 if retrain_needed else 0.04},
        prediction_drift=0.02,
        drift_threshold=0.25,
        retrain_needed=retrain_needed,
        reason=reason,
        as_of=date(2026, 6, 1),
        min_outcomes=100,
        request_id=request_id,
    )
    client = mlflow_client(settings)
    log_monitor_run(client, ensure_monitoring_experiment(settings), result)


class RunningTaskInstance:
    """A running task's TaskInstance as the branch and the trigger use it: its task, and the
    run's XCom (shared by the run's task instances)."""

    def __init__(self, task: Any, xcom: dict[tuple[str, str], Any]) -> None:
        self.task = task
        self.task_id = task.task_id
        self.dag_id = task.dag_id
        self.map_index = -1
        self.try_number = 1
        self.xcom = xcom

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[(self.task_id, key)] = value

    def xcom_pull(self, task_ids: str, key: str = "return_value") -> Any:
        return self.xcom.get((task_ids, key))


def run_task(dag: DAG, task_id: str, run_id: str, xcom: dict[tuple[str, str], Any]) -> Any:
    """Render the task's templates with the run's context, then execute it, on the copy the
    task runner makes (`prepare_for_execution`: rendering writes into the operator)."""
    task: Any = dag.task_dict[task_id].prepare_for_execution()
    ti = RunningTaskInstance(task, xcom)
    context: dict[str, Any] = {
        "dag": dag,
        "task": task,
        "ti": ti,
        "task_instance": ti,
        "run_id": run_id,
        "params": run_params(dag, task),
    }
    task.render_template_fields(context)
    return task.execute(context)


def test_retrain_needed_triggers_the_retraining_with_the_reason(
    dags: dict[str, DAG], registry: None
) -> None:
    run_id = "scheduled__2026-06-01T06:00:00+00:00"
    # Another model's and another run's records must not be read.
    record("multiclass", run_id, retrain_needed=False, reason=FINE)
    record("binary", "scheduled__2026-05-31T06:00:00+00:00", retrain_needed=False, reason=FINE)
    record("binary", run_id, retrain_needed=True, reason=DRIFTED)
    monitor_dag = dags["mingo_monitor_binary"]
    xcom: dict[tuple[str, str], Any] = {}

    with pytest.raises(DownstreamTasksSkipped) as skipped:
        run_task(monitor_dag, "decide_retrain", run_id, xcom)
    assert skipped.value.tasks == [("no_retrain", -1)]
    assert xcom[("decide_retrain", "trigger_reason")] == DRIFTED
    assert xcom[("decide_retrain", "monitor")]["retrain_needed"] is True

    with pytest.raises(DagRunTriggerException) as triggered:
        run_task(monitor_dag, "trigger_retrain", run_id, xcom)
    trigger = triggered.value
    assert trigger.trigger_dag_id == "mingo_retrain_binary"
    assert trigger.dag_run_id == f"monitor__{run_id}"
    assert trigger.conf == {"data_uri": DATA, "trigger_reason": DRIFTED}
    assert trigger.wait_for_completion is False
    assert trigger.skip_when_already_exists is True

    # The retraining run: its Params accept the conf, and its training records the reason.
    retrain_dag = dags["mingo_retrain_binary"]
    retrain: Any = retrain_dag.task_dict["retrain"]
    params = run_params(retrain_dag, retrain, trigger.conf)
    argv = retrain.command({"params": params, "run_id": trigger.dag_run_id})[1:]
    assert argv[:4] == ["train", "binary", "--data", DATA]
    assert argv[argv.index("--trigger-reason") + 1] == DRIFTED


def test_no_retrain_ends_green_with_the_reason(
    dags: dict[str, DAG], registry: None, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = "scheduled__2026-06-02T06:00:00+00:00"
    record("clustering", run_id, retrain_needed=False, reason=FINE)
    monitor_dag = dags["mingo_monitor_clustering"]
    xcom: dict[tuple[str, str], Any] = {}
    with pytest.raises(DownstreamTasksSkipped) as skipped:
        run_task(monitor_dag, "decide_retrain", run_id, xcom)
    assert skipped.value.tasks == [("trigger_retrain", -1)]
    message = run_task(monitor_dag, "no_retrain", run_id, xcom)
    assert message == f"no retraining: {FINE}"
    assert f"no retraining: {FINE}" in capsys.readouterr().out


def test_a_run_without_a_monitor_record_fails_without_retry(
    dags: dict[str, DAG], registry: None
) -> None:
    run_id = "manual__2026-06-03T09:00:00+00:00"
    with pytest.raises(AirflowFailException, match=re.escape(f"request id '{run_id}'")):
        run_task(dags["mingo_monitor_multiclass"], "decide_retrain", run_id, {})


def test_a_long_reason_is_cut_to_what_the_retraining_accepts(
    dags: dict[str, DAG], registry: None
) -> None:
    run_id = "scheduled__2026-06-04T06:00:00+00:00"
    long_reason = "drift " + "x" * 5000
    record("binary", run_id, retrain_needed=True, reason=long_reason)
    xcom: dict[tuple[str, str], Any] = {}
    with pytest.raises(DownstreamTasksSkipped):
        run_task(dags["mingo_monitor_binary"], "decide_retrain", run_id, xcom)
    reason = xcom[("decide_retrain", "trigger_reason")]
    assert reason.startswith("drift x") and len(reason) == 4000
    retrain_dag = dags["mingo_retrain_binary"]
    params = run_params(retrain_dag, retrain_dag.task_dict["retrain"], {"trigger_reason": reason})
    assert params["trigger_reason"] == reason
