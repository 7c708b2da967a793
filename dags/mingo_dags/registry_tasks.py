"""Steps that read the MLflow registry from the Airflow worker (both runners).

The outcome of a retraining is read from the registry, the source of truth, not from the
training pod's XCom: the version registered during this run carries the decision
(`mingo.registry.read_decision` reads it), and when it was promoted, that version is what the
deploy steps roll, smoke-test and, on failure, undo.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk import TriggerRule, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

DECIDE_TASK = "decide"
REDEPLOY_TASK = "redeploy"
SMOKE_TEST_TASK = "smoke_test"
ROLLBACK_TASK = "rollback"
NOT_PROMOTED_TASK = "not_promoted"
DECISION_XCOM_KEY = "decision"


def _client() -> Any:
    from mingo.config import load_settings
    from mingo.tracking import mlflow_client

    return mlflow_client(load_settings())


def _registry_snapshot(kind: str) -> dict[str, str | None]:
    from mingo.registry import model_status

    status = model_status(_client(), kind)  # type: ignore[arg-type]
    return {
        "champion": status.champion.version if status.champion else None,
        "latest": status.latest.version if status.latest else None,
    }


@task
def champion_before(kind: str) -> dict[str, str | None]:
    """Record the champion and newest version before training, to find this run's version."""
    from mingo import registered_model_name

    snapshot = _registry_snapshot(kind)
    print(
        f"{registered_model_name(kind)} before retraining: champion {snapshot['champion']}, "
        f"newest version {snapshot['latest']}"
    )
    return snapshot


def read_outcome(kind: str, before: Mapping[str, Any], dry_run: bool) -> dict[str, Any]:
    """The decision recorded on the version this run registered, or why there is none."""
    from mingo import registered_model_name
    from mingo.registry import read_decision

    after = _registry_snapshot(kind)
    latest = after["latest"]
    if latest is not None and latest != before["latest"]:
        return read_decision(_client(), kind, latest).model_dump(mode="json")  # type: ignore[arg-type]
    if dry_run:
        reason = "dry run: the candidate was trained and compared, nothing was registered"
    else:
        reason = "the retraining registered no new version"
    return {
        "model": registered_model_name(kind),  # type: ignore[arg-type]
        "candidate_version": None,
        "promoted": False,
        "champion_version_before": before["champion"],
        "champion_version_after": after["champion"],
        "reason": reason,
    }


@task.branch(task_id=DECIDE_TASK)
def decide(kind: str, before: dict[str, Any], **context: Any) -> str:
    """Redeploy the version this run promoted, else end with the recorded reason."""
    outcome = read_outcome(kind, before, bool(context["params"].get("dry_run")))
    context["ti"].xcom_push(key=DECISION_XCOM_KEY, value=outcome)
    if outcome["promoted"]:
        moved = f"{outcome['champion_version_before']} -> {outcome['champion_version_after']}"
        print(f"promoted: {outcome['model']} champion {moved} ({outcome['reason']})")
        return REDEPLOY_TASK
    print(f"not promoted: {outcome['reason']}")
    return NOT_PROMOTED_TASK


def deploy_version(context: Mapping[str, Any]) -> str:
    """The version this run promoted, as `decide` recorded it: what the deploy steps act on."""
    outcome = context["ti"].xcom_pull(task_ids=DECIDE_TASK, key=DECISION_XCOM_KEY) or {}
    version = outcome.get("candidate_version") if outcome.get("promoted") else None
    if version is None:
        raise AirflowFailException(
            f"{DECIDE_TASK} recorded no promoted version in this run: nothing to deploy or undo"
        )
    return str(version)


@task(task_id=NOT_PROMOTED_TASK)
def not_promoted(**context: Any) -> str:
    """Ends the run green; its log and return value carry the reason."""
    outcome = context["ti"].xcom_pull(task_ids=DECIDE_TASK, key=DECISION_XCOM_KEY) or {}
    message = (
        f"not promoted: {outcome.get('reason', 'unknown')}; champion stays version "
        f"{outcome.get('champion_version_after')}, nothing to redeploy"
    )
    print(message)
    return message


@task(trigger_rule=TriggerRule.ONE_FAILED, retries=0)
def rollback_needed(**context: Any) -> None:
    """Lets the rollback run only when the redeploy or its smoke test itself failed.

    ONE_FAILED also fires on `upstream_failed`, i.e. when training failed and nothing was
    redeployed; in that case there is nothing to roll back.
    """
    ti = context["ti"]
    failed = ti.get_ti_count(
        dag_id=ti.dag_id,
        task_ids=[REDEPLOY_TASK, SMOKE_TEST_TASK],
        run_ids=[context["run_id"]],
        states=["failed"],
    )
    if failed == 0:
        raise AirflowSkipException("nothing was redeployed (an earlier step failed)")
    print("the new champion failed to deploy or to pass its smoke test: rolling back")


@task(retries=0)
def fail_after_rollback(kind: str, **context: Any) -> None:
    """Fails the run loudly after a rollback, so nobody mistakes it for a success."""
    from mingo.registry import CHAMPION, get_alias_version, read_decision

    version = deploy_version(context)
    client = _client()
    recorded = read_decision(client, kind, version)  # type: ignore[arg-type]
    champion = get_alias_version(client, kind, CHAMPION)  # type: ignore[arg-type]
    raise AirflowFailException(
        f"{recorded.model} version {version} was promoted ({recorded.reason}) but failed to "
        f"deploy or its smoke test; the rollback undid it: the champion is version {champion}. "
        f"See the logs of {REDEPLOY_TASK}, {SMOKE_TEST_TASK}, {ROLLBACK_TASK}."
    )
