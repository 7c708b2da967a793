"""Builds the monitoring DAG of one model KIND: live metrics and drift, retraining when needed."""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, chain

from mingo_dags import commands, monitor_tasks
from mingo_dags.config import DagConfig, model_name
from mingo_dags.factory import (
    BAD_DATA_EXIT_CODE,
    REGISTRY_STEP_TIMEOUT,
    START_DATE,
    dag_id,
    default_args,
    make_step,
    registry_task_kwargs,
)
from mingo_dags.params import monitor_params
from mingo_dags.timeouts import check_run_timeout

# The conf of the retraining run the monitor triggers: the data the monitor judged (the
# retraining DAG's `data_uri` Param) and the monitor's reason (its `trigger_reason` Param).
TRIGGER_CONF = {
    "data_uri": "{{ params.data_uri }}",
    "trigger_reason": (
        "{{ ti.xcom_pull(task_ids='" + monitor_tasks.DECIDE_RETRAIN_TASK + "', key='"
        + monitor_tasks.REASON_XCOM_KEY + "') }}"
    ),
}  # fmt: skip
# One retraining per monitor run: a retried trigger finds its run and does not start another.
TRIGGER_RUN_ID = "monitor__{{ run_id }}"


def monitor_dag_id(kind: str) -> str:
    return f"mingo_monitor_{kind}"


def doc_md(kind: str, config: DagConfig) -> str:
    monitor = config.models[kind].monitor  # type: ignore[index]
    return f"""
### Monitor `{model_name(kind)}`: live outcomes and drift, retraining when needed

Schedule: `{monitor.schedule or "manual triggers only"}` (override:
`MINGO_MONITOR_SCHEDULE_{kind.upper()}`, or `models.{kind}.monitor.schedule` in
`dags/mingo_retrain.yaml`). Runner: **{config.runner}** (`MINGO_RUNNER`).

1. **monitor**: `mingo monitor {kind} --data <data_uri> --tolerance .. --drift-threshold ..
   --min-outcomes .. --request-id <run_id>` joins the logged predictions whose outcome window
   closed with the purchases, computes the live metrics per served version and week, input
   and prediction drift, and records a run in MLflow (experiment `mingo-monitoring`) with the
   HTML report.
2. **decide_retrain** reads that run back (`mingo.monitoring.read_monitor_result`, by this
   run's id). Retrain when the live gate metric < holdout score - tolerance (over at least
   `min_outcomes` outcomes), or a feature's PSI or the prediction drift > drift threshold:
   - **trigger_retrain** starts `{dag_id(kind)}` with conf `{{"data_uri": <the same file>,
     "trigger_reason": <the monitor's reason>}}` (not waiting for it; a paused retraining
     DAG keeps the run queued until it is unpaused);
   - else **no_retrain** ends the run green with the reason in its log.

Thresholds: `models.{kind}.monitor` in the YAML (tolerance {monitor.tolerance}, drift
threshold {monitor.drift_threshold}, min outcomes {monitor.min_outcomes}), or per run in the
trigger form.
"""


def build_monitor_dag(kind: str, config: DagConfig) -> DAG:
    monitor = config.models[kind].monitor  # type: ignore[index]
    in_registry_image = {
        **registry_task_kwargs(config),
        "execution_timeout": REGISTRY_STEP_TIMEOUT,
    }
    with DAG(
        dag_id=monitor_dag_id(kind),
        description=f"Live metrics and drift of {model_name(kind)}; retrain when needed",
        schedule=monitor.schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        dagrun_timeout=timedelta(minutes=config.dagrun_timeout_minutes),
        default_args=default_args(config),
        params=monitor_params(kind, monitor),
        tags={"mingo", "monitoring", kind, config.runner},
        doc_md=doc_md(kind, config),
    ) as dag:
        run_monitor = make_step(
            config,
            kind,
            monitor_tasks.MONITOR_TASK,
            commands.monitor_command(kind),
            resources=monitor.resources,
            execution_timeout=timedelta(minutes=monitor.timeout_minutes),
            final_exit_codes=(BAD_DATA_EXIT_CODE,),
            component="monitoring",
        )
        decide = monitor_tasks.decide_retrain.override(**in_registry_image)(kind)
        trigger = TriggerDagRunOperator(
            task_id=monitor_tasks.TRIGGER_RETRAIN_TASK,
            trigger_dag_id=dag_id(kind),
            trigger_run_id=TRIGGER_RUN_ID,
            conf=TRIGGER_CONF,
            wait_for_completion=False,
            skip_when_already_exists=True,
            # The conf is the retraining DAG's Params, nothing else.
            openlineage_inject_parent_info=False,
            execution_timeout=REGISTRY_STEP_TIMEOUT,
        )
        no_retrain = monitor_tasks.no_retrain.override(execution_timeout=REGISTRY_STEP_TIMEOUT)()
        chain(run_monitor, decide, [trigger, no_retrain])
    check_run_timeout(dag)
    return dag
