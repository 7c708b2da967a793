"""`mingo redeploy`'s one-shot chain over the deploy steps (mingo.deploy.steps).

Roll the Deployment to the champion, smoke-test it, and on a failed smoke test undo exactly
that version (alias back to `previous`, Deployment rolled to it) and raise
`SmokeTestFailedError` saying what happened. The DAGs run the steps as separate tasks
(`mingo deploy roll | smoke-test | rollback`); this is the same thing in one process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mingo import ModelKind, registered_model_name
from mingo.deploy.kubernetes import DeployError, RolloutStatus, deployment_name
from mingo.deploy.smoke import SmokeTestError, SmokeTestResult
from mingo.deploy.steps import Log, champion_version, check_serves, roll_to, undo

if TYPE_CHECKING:
    from kubernetes.client import AppsV1Api
    from mlflow import MlflowClient


class SmokeTestFailedError(DeployError):
    """The new champion failed its smoke test; the message says what was rolled back."""


@dataclass(frozen=True)
class RedeployOutcome:
    kind: ModelKind
    namespace: str
    deployment: str
    version: str
    rollout: RolloutStatus
    smoke: SmokeTestResult | None


def redeploy_champion(
    apps: AppsV1Api,
    client: MlflowClient,
    *,
    kind: ModelKind,
    namespace: str,
    timeout_s: float,
    base_url: str | None,
    api_key: str | None = None,
    smoke_ready_timeout_s: float = 60.0,
    log: Log = print,
    poll_interval_s: float = 2.0,
) -> RedeployOutcome:
    """Roll to the champion; with a base_url, smoke-test it and undo it if that fails."""
    version = champion_version(client, kind)
    status = roll_to(
        apps,
        kind=kind,
        namespace=namespace,
        version=version,
        timeout_s=timeout_s,
        log=log,
        poll_interval_s=poll_interval_s,
    )
    if base_url is None:
        log("smoke test skipped (no base URL)")
        return RedeployOutcome(kind, namespace, deployment_name(kind), version, status, None)
    try:
        result = check_serves(
            base_url,
            kind=kind,
            version=version,
            api_key=api_key,
            ready_timeout_s=smoke_ready_timeout_s,
            log=log,
        )
    except SmokeTestError as failure:
        outcome = undo(
            apps,
            client,
            kind=kind,
            namespace=namespace,
            version=version,
            timeout_s=timeout_s,
            log=log,
            poll_interval_s=poll_interval_s,
        )
        raise SmokeTestFailedError(
            f"smoke test of {registered_model_name(kind)} version {version} failed ({failure}); "
            f"the champion alias was rolled back to version {outcome.restored} and "
            f"{namespace}/{deployment_name(kind)} redeployed with it"
        ) from failure
    return RedeployOutcome(kind, namespace, deployment_name(kind), version, status, result)
