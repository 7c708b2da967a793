"""Builds the retraining DAG of one model KIND from the configuration."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, BaseOperator, chain

from mingo_dags import commands, registry_tasks
from mingo_dags.assets import Schedule, UseLandedData, purchases_asset, retrain_schedule
from mingo_dags.config import DEPLOYING, TRAINING, DagConfig, Resources, StepRole, model_name
from mingo_dags.params import retrain_params
from mingo_dags.timeouts import check_run_timeout

START_DATE = datetime(2026, 1, 1)
STEP_TIMEOUT = timedelta(minutes=15)
SMOKE_TEST_TIMEOUT = timedelta(minutes=10)
# The steps that only read the registry (seconds of work; MLflow's client retries included).
REGISTRY_STEP_TIMEOUT = timedelta(minutes=5)
# `mingo data validate` / `mingo train` exit code for unusable data (pinned to the CLI by
# tests/dags/test_pinned_to_mingo.py; the DAG files cannot import mingo while parsed).
BAD_DATA_EXIT_CODE = 2


def dag_id(kind: str) -> str:
    return f"mingo_retrain_{kind}"


def doc_md(kind: str, config: DagConfig) -> str:
    model = config.models[kind]  # type: ignore[index]
    schedule = model.schedule or "manual triggers only"
    name = model_name(kind)
    asset = config.purchases_asset
    if model.on_new_data:
        new_data = (
            f"**and** when asset `{asset.name}` (`{asset.uri}`) gets an event: the run trains "
            "on the event's `extra.data_uri` (else the default)"
        )
    else:
        new_data = "not on new data"
    return f"""
### Retrain `{name}`, promote if better, roll the service

Schedule: `{schedule}` (override: `MINGO_RETRAIN_SCHEDULE_{kind.upper()}`, or edit
`dags/mingo_retrain.yaml`), {new_data} (`on_new_data`, override:
`MINGO_RETRAIN_ON_NEW_DATA_{kind.upper()}=true|false`). Runner: **{config.runner}**
(`MINGO_RUNNER`).

1. **validate_data**: `mingo data validate <data_uri>`; bad data fails the run at once
   (which column, which rows, which rule is in the log).
2. **champion_before**: reads the champion and newest version of `{name}` in MLflow.
3. **retrain**: `mingo train {kind} --data <data_uri> ...` runs the ZenML pipeline: train,
   score the candidate and the champion on the same fresh holdout, promote on a win
   (in the cluster: a pod from the pipeline image in namespace `{config.kubernetes.namespace}`).
4. **decide**: reads the decision recorded on the version this run registered
   (`mingo.registry.read_decision`; the registry is the source of truth).
   - not promoted: **not_promoted** logs the reason and the run ends green;
   - promoted version V: **redeploy** (`mingo deploy roll {kind} --version V`) pins
     Deployment `{kind}-prediction` to V and waits for the rollout, then **smoke_test**
     (`mingo deploy smoke-test {kind} --version V`) checks the service serves exactly V.
5. If the redeploy or the smoke test fails: **rollback** (`mingo deploy rollback {kind}
   --version V`) undoes V (champion alias back to `previous`, the Deployment with it; a
   no-op once done), then **fail_after_rollback** fails the run with the details.

What serves is the version the Deployment names (pod-template annotation
`mingo.io/model-version`, the pods' `MINGO_MODEL_VERSION`), never an alias. `champion`
moves at promotion inside the training pod (the registry records the judgement); a pod that
starts at any moment loads the pinned version: judged, and once the rollout finished,
smoke-tested. If the smoke test fails, the rollback moves the alias back and re-pins the
Deployment; `kubectl rollout undo` also restores the previous model.

Trigger with config to change the data, cutoff, horizon, margin, or to force / dry-run.
`mingo_monitor_{kind}` triggers this DAG when the served version's live metric fell or the
data drifted, with `trigger_reason` in the conf: `mingo train --trigger-reason` records it in
the decision and on the version (`mingo.decision.trigger_reason`).
In local mode (`MINGO_RUNNER=local`) the same commands run as local processes with
`--local`: the redeploy reloads the service at `MINGO_PREDICTION_URL` or says there is
nothing to roll, and the smoke test runs against a throwaway `mingo serve {kind}` pinned
to V.
"""


def make_step(
    config: DagConfig,
    kind: str,
    task_id: str,
    command_builder: commands.CommandBuilder,
    *,
    resources: Resources | None = None,
    final_exit_codes: tuple[int, ...] = (),
    deploys_version: bool = False,
    role: StepRole = TRAINING,
    component: str = "retraining",
    **operator_kwargs: Any,
) -> BaseOperator:
    """One `mingo` command as a pod (kubernetes runner) or a local process (local runner).

    `final_exit_codes`: exits that fail without retry, e.g. bad data (both runners).
    `deploys_version`: the command acts on the version `decide` found promoted.
    `role`: whose service account the pod runs as (kubernetes runner).
    `component`: the pod's `app.kubernetes.io/component` label (the DAG's job).
    """
    if config.runner == "kubernetes":
        from mingo_dags.pod_step import pod_step

        return pod_step(
            task_id=task_id,
            kind=kind,
            command_builder=command_builder,
            cluster=config.kubernetes,
            service_account=config.kubernetes.service_account_for(role),
            resources=resources,
            deploys_version=deploys_version,
            final_exit_codes=final_exit_codes,
            component=component,
            **operator_kwargs,
        )
    from mingo_dags.local_step import LocalServiceSmokeTestOperator, MingoProcessOperator

    if task_id == registry_tasks.SMOKE_TEST_TASK:
        return LocalServiceSmokeTestOperator(
            task_id=task_id,
            kind=kind,
            command_builder=command_builder,
            deploys_version=deploys_version,
            **operator_kwargs,
        )
    return MingoProcessOperator(
        task_id=task_id,
        command_builder=command_builder,
        final_exit_codes=final_exit_codes,
        deploys_version=deploys_version,
        **operator_kwargs,
    )


def default_args(config: DagConfig) -> dict[str, Any]:
    """Owner, retries with exponential backoff and the step timeout of every MinGo DAG."""
    return {
        "owner": config.owner,
        "retries": config.retries,
        "retry_delay": timedelta(minutes=config.retry_delay_minutes),
        "retry_exponential_backoff": config.retry_exponential_backoff,
        "max_retry_delay": timedelta(minutes=config.max_retry_delay_minutes),
        "execution_timeout": STEP_TIMEOUT,
    }


def registry_task_kwargs(config: DagConfig) -> dict[str, Any]:
    """Where the steps that read the registry run: the local worker, or the pipeline image."""
    if config.runner != "kubernetes":
        return {}
    from mingo_dags.pod_step import registry_task_executor_config

    return {"executor_config": registry_task_executor_config(config.kubernetes)}


def build_retrain_dag(kind: str, config: DagConfig) -> DAG:
    model = config.models[kind]  # type: ignore[index]
    in_registry_image = {
        **registry_task_kwargs(config),
        "execution_timeout": REGISTRY_STEP_TIMEOUT,
    }
    namespace = config.kubernetes.namespace
    rollout_timeout = config.kubernetes.rollout_timeout_seconds
    local = config.runner == "local"
    schedule: Schedule = model.schedule
    reads_data: dict[str, Any] = {}
    if model.on_new_data:
        # Made only when on: an s3:// asset loads the amazon provider's URI normalizer (boto3).
        asset = purchases_asset(config)
        schedule = retrain_schedule(model, asset)
        # The steps that read the data take the landed file from the triggering asset event.
        reads_data = {"pre_execute": UseLandedData(asset)}
    with DAG(
        dag_id=dag_id(kind),
        description=f"Retrain {model_name(kind)}, promote it if it beats the champion, redeploy",
        schedule=schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        dagrun_timeout=timedelta(minutes=config.dagrun_timeout_minutes),
        default_args=default_args(config),
        params=retrain_params(kind),
        tags={"mingo", "retraining", kind, config.runner},
        doc_md=doc_md(kind, config),
    ) as dag:
        validate_data = make_step(
            config,
            kind,
            "validate_data",
            commands.validate_command,
            final_exit_codes=(BAD_DATA_EXIT_CODE,),
            **reads_data,
        )
        before = registry_tasks.champion_before.override(**in_registry_image)(kind)
        retrain = make_step(
            config,
            kind,
            "retrain",
            commands.train_command(kind),
            resources=model.train_resources,
            execution_timeout=timedelta(minutes=model.train_timeout_minutes),
            retries=min(config.retries, 1),
            final_exit_codes=(BAD_DATA_EXIT_CODE,),
            **reads_data,
        )
        decide = registry_tasks.decide.override(**in_registry_image)(kind, before)
        redeploy = make_step(
            config,
            kind,
            registry_tasks.REDEPLOY_TASK,
            commands.roll_command(kind, namespace, rollout_timeout, local=local),
            deploys_version=True,
            role=DEPLOYING,
            execution_timeout=timedelta(seconds=rollout_timeout + 300),
        )
        smoke_test = make_step(
            config,
            kind,
            registry_tasks.SMOKE_TEST_TASK,
            commands.smoke_test_command(kind, namespace),
            deploys_version=True,
            execution_timeout=SMOKE_TEST_TIMEOUT,
            retries=1,
        )
        needs_rollback = registry_tasks.rollback_needed.override(
            execution_timeout=REGISTRY_STEP_TIMEOUT
        )()
        rollback = make_step(
            config,
            kind,
            registry_tasks.ROLLBACK_TASK,
            commands.rollback_command(kind, namespace, rollout_timeout, local=local),
            deploys_version=True,
            role=DEPLOYING,
            execution_timeout=timedelta(seconds=rollout_timeout + 300),
            retries=0,
        )
        chain(validate_data, before, retrain, decide)
        not_promoted = registry_tasks.not_promoted.override(execution_timeout=REGISTRY_STEP_TIMEOUT)
        chain(decide, [redeploy, not_promoted()])
        chain(redeploy, smoke_test, needs_rollback, rollback)
        chain(redeploy, needs_rollback)
        chain(rollback, registry_tasks.fail_after_rollback.override(**in_registry_image)(kind))
    # Refuse a run timeout that could stop a run between promotion and redeploy/rollback.
    check_run_timeout(dag)
    return dag
