"""The monitoring DAG's registry steps: read what `mingo monitor` recorded, retrain or not.

The monitor step records its result as an MLflow run (experiment `mingo-monitoring`) tagged
with this DAG run's id (`--request-id`); the branch reads it back from there, the source of
truth, never from the step's output or XCom: the same monitor command, run as a pod or a local
process, leaves the same record. `mingo` and MLflow are imported when the task runs.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import task
from airflow.sdk.exceptions import AirflowFailException

from mingo_dags.params import TRIGGER_REASON_MAX_CHARS
from mingo_dags.registry_tasks import _client

MONITOR_TASK = "monitor"
DECIDE_RETRAIN_TASK = "decide_retrain"
TRIGGER_RETRAIN_TASK = "trigger_retrain"
NO_RETRAIN_TASK = "no_retrain"
# XCom keys `decide_retrain` pushes: the whole monitor result, and the reason alone (what the
# trigger's conf template and `no_retrain` read).
MONITOR_XCOM_KEY = "monitor"
REASON_XCOM_KEY = "trigger_reason"


def read_result(kind: str, request_id: str) -> dict[str, Any]:
    """The monitor result recorded for this run, as JSON; a missing one fails without retry."""
    from mingo.monitoring import read_monitor_result

    result = read_monitor_result(_client(), kind, request_id=request_id)  # type: ignore[arg-type]
    if result is None:
        raise AirflowFailException(
            f"no monitor result of mingo-{kind} with request id {request_id!r} in MLflow "
            "(experiment mingo-monitoring): the monitor step recorded none; see its log"
        )
    return dict(result.model_dump(mode="json"))


def trigger_reason(result: dict[str, Any]) -> str:
    """The monitor's reason, cut to what the retraining request accepts."""
    reason = str(result.get("reason") or "the monitor found a retraining needed")
    return reason[:TRIGGER_REASON_MAX_CHARS]


@task.branch(task_id=DECIDE_RETRAIN_TASK)
def decide_retrain(kind: str, **context: Any) -> str:
    """Trigger the retraining DAG when the monitor says so, else end with its reason."""
    result = read_result(kind, str(context["run_id"]))
    reason = trigger_reason(result)
    ti = context["ti"]
    ti.xcom_push(key=MONITOR_XCOM_KEY, value=result)
    ti.xcom_push(key=REASON_XCOM_KEY, value=reason)
    summary = (
        f"{result.get('model')} version {result.get('served_version')}: live "
        f"{result.get('metric')} {result.get('live_score')} vs holdout "
        f"{result.get('holdout_score')} over {result.get('outcomes')} outcomes; prediction "
        f"drift {result.get('prediction_drift')}"
    )
    print(summary)
    if result.get("retrain_needed"):
        print(f"retraining needed: {reason}")
        return TRIGGER_RETRAIN_TASK
    print(f"no retraining needed: {reason}")
    return NO_RETRAIN_TASK


@task(task_id=NO_RETRAIN_TASK)
def no_retrain(**context: Any) -> str:
    """Ends the run green; its log and return value carry the monitor's reason."""
    reason = context["ti"].xcom_pull(task_ids=DECIDE_RETRAIN_TASK, key=REASON_XCOM_KEY)
    message = f"no retraining: {reason or 'unknown (no reason recorded)'}"
    print(message)
    return message
