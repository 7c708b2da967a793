"""Steps that read the MLflow registry from the Airflow worker (both runners).

The outcome of a retraining is read from the registry, the source of truth, not from the
training pod's XCom: the champion alias before and after the run says whether anything was
promoted, and the `mingo.decision.*` tags of the new version say why.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import TriggerRule, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

REASON_TAG = "mingo.decision.reason"
REDEPLOY_TASK = "redeploy"
NOT_PROMOTED_TASK = "not_promoted"
DECISION_XCOM_KEY = "decision"


def _registry_snapshot(kind: str) -> dict[str, Any]:
    from mingo.registry import model_status
    from mingo.tracking import mlflow_client

    status = model_status(mlflow_client(), kind)  # type: ignore[arg-type]
    return {
        "champion": status.champion.version if status.champion else None,
        "latest": status.latest.version if status.latest else None,
        "latest_decision": status.latest.decision if status.latest else {},
    }


@task
def champion_before(kind: str) -> dict[str, Any]:
    """Record the champion and newest version before training, to compare after it."""
    snapshot = _registry_snapshot(kind)
    champion, latest = snapshot["champion"], snapshot["latest"]
    print(f"mingo-{kind} before retraining: champion {champion}, newest version {latest}")
    return {"champion": champion, "latest": latest}


def describe_outcome(
    kind: str, before: dict[str, Any], after: dict[str, Any], dry_run: bool
) -> dict[str, Any]:
    """The decision as the registry shows it: promoted or not, and the recorded reason."""
    promoted = after["champion"] != before["champion"]
    registered = after["latest"] is not None and after["latest"] != before["latest"]
    if registered:
        reason = after["latest_decision"].get(REASON_TAG) or "(no reason recorded)"
    elif dry_run:
        reason = "dry run: the candidate was trained and compared, nothing was registered"
    else:
        reason = "the retraining registered no new version"
    return {
        "model": f"mingo-{kind}",
        "promoted": promoted,
        "champion_version_before": before["champion"],
        "champion_version_after": after["champion"],
        "candidate_version": after["latest"] if registered else None,
        "reason": reason,
    }


@task.branch
def decide(kind: str, before: dict[str, Any], **context: Any) -> str:
    """Redeploy when the champion alias moved during this run, else end with the reason."""
    after = _registry_snapshot(kind)
    outcome = describe_outcome(kind, before, after, bool(context["params"].get("dry_run")))
    context["ti"].xcom_push(key=DECISION_XCOM_KEY, value=outcome)
    if outcome["promoted"]:
        moved = f"{outcome['champion_version_before']} -> {outcome['champion_version_after']}"
        print(f"promoted: mingo-{kind} champion {moved} ({outcome['reason']})")
        return REDEPLOY_TASK
    print(f"not promoted: {outcome['reason']}")
    return NOT_PROMOTED_TASK


@task(task_id=NOT_PROMOTED_TASK)
def not_promoted(**context: Any) -> str:
    """Ends the run green; its log and return value carry the reason."""
    outcome = context["ti"].xcom_pull(task_ids="decide", key=DECISION_XCOM_KEY) or {}
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
        task_ids=[REDEPLOY_TASK, "smoke_test"],
        run_ids=[context["run_id"]],
        states=["failed"],
    )
    if failed == 0:
        raise AirflowSkipException("nothing was redeployed (an earlier step failed)")
    print("the new champion failed to deploy or to pass its smoke test: rolling back")


@task(retries=0)
def fail_after_rollback(kind: str, **context: Any) -> None:
    """Fails the run loudly after a rollback, so nobody mistakes it for a success."""
    outcome = context["ti"].xcom_pull(task_ids="decide", key=DECISION_XCOM_KEY) or {}
    restored = _registry_snapshot(kind)["champion"]
    raise AirflowFailException(
        f"mingo-{kind} version {outcome.get('champion_version_after')} was promoted but "
        f"failed to deploy or its smoke test; the champion alias was rolled back to version "
        f"{restored} and that version redeployed. See the logs of redeploy, smoke_test, rollback."
    )
