"""The three deploy steps, one per DAG task and per `mingo deploy` subcommand.

- `roll_to`: pin the `<kind>-prediction` Deployment to a version and wait for the rollout.
- `check_serves`: smoke-test the service and check it serves exactly that version.
- `undo`: targeted rollback of one version: if it is still the champion, the champion alias
  goes back to `previous`; the Deployment is rolled to what is champion then, but only when it
  was pinned to the version being undone. Running it again is a no-op.

The version is always explicit (the caller resolves "the champion" once, with
`resolve_version`), so a step never re-reads an alias that may have moved in between.
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
    pinned_version,
    read_deployment,
    roll_to_version,
    wait_for_rollout,
)
from mingo.deploy.smoke import SmokeTestResult, smoke_test

if TYPE_CHECKING:
    from kubernetes.client import AppsV1Api
    from mlflow import MlflowClient

DEFAULT_SERVICE_PORT = 3000
Log = Callable[[str], None]


class NoChampionError(DeployError):
    """The registry has no champion for the model: there is nothing to deploy."""


class UnknownVersionError(DeployError):
    """The version asked for is not a version of the registered model."""


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


def resolve_version(client: MlflowClient, kind: ModelKind, version: str | None) -> str:
    """`version` if the registry has it; the champion's version when `version` is None."""
    from mingo.registry import version_exists

    if version is None:
        return champion_version(client, kind)
    if not version_exists(client, kind, version):
        raise UnknownVersionError(f"{registered_model_name(kind)} has no version {version}")
    return version


def roll_to(
    apps: AppsV1Api,
    *,
    kind: ModelKind,
    namespace: str,
    version: str,
    timeout_s: float,
    log: Log = print,
    poll_interval_s: float = 2.0,
) -> RolloutStatus:
    """Pin `<kind>-prediction` to `version` and wait until the new pods are available."""
    name = deployment_name(kind)
    log(f"rolling Deployment {namespace}/{name} to {registered_model_name(kind)} version {version}")
    roll_to_version(apps, name=name, namespace=namespace, version=version)
    return wait_for_rollout(
        apps,
        name=name,
        namespace=namespace,
        timeout_s=timeout_s,
        poll_interval_s=poll_interval_s,
        on_progress=log,
    )


def check_serves(
    base_url: str,
    *,
    kind: ModelKind,
    version: str,
    api_key: str | None = None,
    ready_timeout_s: float = 60.0,
    log: Log = print,
) -> SmokeTestResult:
    """Smoke-test the service at base_url: ready, answers, and serves exactly `version`."""
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


@dataclass(frozen=True)
class RollbackOutcome:
    """What a rollback did: the version it undid and the one serving (and champion) after."""

    kind: ModelKind
    undone: str
    restored: str
    alias_moved: bool
    deployment_rolled: bool

    def summary(self) -> str:
        name = registered_model_name(self.kind)
        if not self.alias_moved:
            return (
                f"{name}: version {self.undone} is no longer the champion (version "
                f"{self.restored} is): nothing to undo in the registry"
            )
        return f"{name}: rolled back version {self.undone}, restored version {self.restored}"


def undo(
    apps: AppsV1Api | None,
    client: MlflowClient,
    *,
    kind: ModelKind,
    namespace: str,
    version: str | None,
    timeout_s: float,
    log: Log = print,
    poll_interval_s: float = 2.0,
) -> RollbackOutcome:
    """Undo `version` (default: the current champion) in the registry and the Deployment.

    Registry: only while `version` is the champion does the alias move back to `previous`
    (mingo.promotion.rollback); otherwise it was undone already, or another run promoted a
    newer version since, and the alias is left alone. Deployment (skipped with `apps=None`,
    i.e. no cluster): rolled to the champion when the alias moved here or when it is still
    pinned to `version`; pinned to anything else, it is not this run's to change.
    """
    from mingo.promotion import ChampionMovedError, rollback

    name = registered_model_name(kind)
    champion = champion_version(client, kind)
    target = champion if version is None else version
    alias_moved = False
    if champion == target:
        try:
            undone, restored = rollback(client, kind, expected_champion=target)
            alias_moved = True
        except ChampionMovedError:
            # Another run promoted between the read above and the write: its version stays.
            undone, restored = target, champion_version(client, kind)
        except LookupError as error:
            raise DeployError(f"cannot roll back {name}: {error}") from error
    if alias_moved:
        log(f"champion alias of {name} moved back: version {undone} -> version {restored}")
    elif champion == target:
        log(
            f"{name} version {target} stopped being the champion while this rollback ran "
            f"(version {restored} is): the champion alias stays"
        )
    else:
        undone, restored = target, champion
        log(
            f"{name} version {target} is not the champion (version {champion} is): "
            "the champion alias stays"
        )
    rolled = False
    if apps is not None:
        deployment = deployment_name(kind)
        pinned = pinned_version(read_deployment(apps, name=deployment, namespace=namespace))
        if alias_moved or pinned == undone:
            try:
                roll_to(
                    apps,
                    kind=kind,
                    namespace=namespace,
                    version=restored,
                    timeout_s=timeout_s,
                    log=log,
                    poll_interval_s=poll_interval_s,
                )
            except DeployError as error:
                # The registry part is done and stays done: say so, with both versions, so
                # whoever reads the failed task knows what serves and what to check.
                registry_state = (
                    f"the champion alias was moved back from version {undone} to {restored}"
                    if alias_moved
                    else f"the champion is version {restored}"
                )
                raise DeployError(
                    f"rollback of {name} version {undone}: {registry_state}, but re-pinning "
                    f"Deployment {namespace}/{deployment} from version {pinned} to version "
                    f"{restored} failed: {error}"
                ) from error
            rolled = True
        else:
            log(
                f"Deployment {namespace}/{deployment} is pinned to version {pinned}, not "
                f"{undone}: left as it is"
            )
    outcome = RollbackOutcome(kind, undone, restored, alias_moved, rolled)
    log(outcome.summary())
    return outcome
