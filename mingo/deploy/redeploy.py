"""Roll a prediction Deployment to the registry's champion, smoke-test it, roll back on failure.

The registry (MLflow alias `champion` on `mingo-<kind>`) is the source of truth for what should
serve; the Deployment's pod-template annotation records what it was last rolled to. On a
failed smoke test the champion alias goes back to `previous` (mingo.promotion.rollback), the
Deployment is rolled to that version, and `SmokeTestFailedError` says what happened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mingo import ModelKind, registered_model_name
from mingo.deploy.kubernetes import (
    DeployError,
    RolloutStatus,
    deployment_name,
    roll_to_version,
    wait_for_rollout,
)
from mingo.deploy.smoke import SmokeTestError, SmokeTestResult, smoke_test

if TYPE_CHECKING:
    from kubernetes.client import AppsV1Api
    from mlflow import MlflowClient

DEFAULT_SERVICE_PORT = 3000
Log = Callable[[str], None]


class NoChampionError(DeployError):
    """The registry has no champion for the model: there is nothing to deploy."""


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


def service_base_url(kind: ModelKind, namespace: str, template: str | None = None) -> str:
    """URL of the prediction Service; `template` may use {kind}, {namespace} and {name}."""
    pattern = template or "http://{name}.{namespace}.svc.cluster.local:" + str(DEFAULT_SERVICE_PORT)
    return pattern.format(kind=kind, namespace=namespace, name=deployment_name(kind))


def champion_version(client: MlflowClient, kind: ModelKind) -> str:
    from mingo.registry import CHAMPION, get_alias_version

    version = get_alias_version(client, kind, CHAMPION)
    if version is None:
        raise NoChampionError(
            f"{registered_model_name(kind)} has no '{CHAMPION}' alias in the registry: "
            "train and promote a model first (mingo train)"
        )
    return str(version)


def roll_deployment(
    apps: AppsV1Api,
    *,
    kind: ModelKind,
    namespace: str,
    version: str,
    timeout_s: float,
    log: Log = print,
    poll_interval_s: float = 2.0,
) -> RolloutStatus:
    """Patch `<kind>-prediction` to `version` and wait until the new pods are available."""
    name = deployment_name(kind)
    log(f"rolling Deployment {namespace}/{name} to {registered_model_name(kind)} version {version}")
    roll_to_version(apps, name=name, namespace=namespace, version=version)
    status = wait_for_rollout(
        apps,
        name=name,
        namespace=namespace,
        timeout_s=timeout_s,
        poll_interval_s=poll_interval_s,
        on_progress=log,
    )
    return status


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
    """Roll to the champion; with a base_url, smoke-test it and roll back if it fails."""
    version = champion_version(client, kind)
    status = roll_deployment(
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
        result = check_serves_champion(
            client,
            kind=kind,
            base_url=base_url,
            api_key=api_key,
            ready_timeout_s=smoke_ready_timeout_s,
            log=log,
        )
    except SmokeTestError as failure:
        restored = rollback_champion(
            apps,
            client,
            kind=kind,
            namespace=namespace,
            timeout_s=timeout_s,
            log=log,
            poll_interval_s=poll_interval_s,
        )
        raise SmokeTestFailedError(
            f"smoke test of {registered_model_name(kind)} version {version} failed ({failure}); "
            f"the champion alias was rolled back to version {restored} and "
            f"{namespace}/{deployment_name(kind)} redeployed with it"
        ) from failure
    return RedeployOutcome(kind, namespace, deployment_name(kind), version, status, result)


def check_serves_champion(
    client: MlflowClient,
    *,
    kind: ModelKind,
    base_url: str,
    api_key: str | None = None,
    ready_timeout_s: float = 60.0,
    log: Log = print,
) -> SmokeTestResult:
    """Smoke-test the service at base_url against the registry's current champion."""
    version = champion_version(client, kind)
    log(f"smoke test: {base_url} should serve {registered_model_name(kind)} version {version}")
    result = smoke_test(
        base_url,
        kind=kind,
        expected_version=version,
        api_key=api_key,
        ready_timeout_s=ready_timeout_s,
    )
    log(f"smoke test passed: {base_url} serves version {result.model_version}")
    return result


def rollback_champion(
    apps: AppsV1Api | None,
    client: MlflowClient,
    *,
    kind: ModelKind,
    namespace: str,
    timeout_s: float,
    log: Log = print,
    poll_interval_s: float = 2.0,
) -> str:
    """Move the champion alias back to `previous`, roll the Deployment to it; returns it.

    With `apps=None` (no cluster) only the alias moves.
    """
    from mingo.promotion import rollback

    try:
        failed, restored = rollback(client, kind)
    except LookupError as error:
        raise DeployError(f"cannot roll back {registered_model_name(kind)}: {error}") from error
    log(f"champion alias of {registered_model_name(kind)} moved back: {failed} -> {restored}")
    if apps is not None:
        roll_deployment(
            apps,
            kind=kind,
            namespace=namespace,
            version=restored,
            timeout_s=timeout_s,
            log=log,
            poll_interval_s=poll_interval_s,
        )
    return restored
