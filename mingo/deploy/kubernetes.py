"""Pin a prediction Deployment to a model version; wait for the rollout (`kubectl rollout status`).

The Deployment names the model version it serves: the pod-template annotation
`mingo.io/model-version`, which the chart hands each container as `MINGO_MODEL_VERSION`
(downward API, fieldRef `metadata.annotations['mingo.io/model-version']`). A prediction pod
loads exactly `models:/mingo-<kind>/<that version>`, never an alias, so a pod that starts at
any moment (scale-up, eviction, restart) serves what the template names, and the Deployment's
revision history says what was served: `kubectl rollout undo` brings the previous model back.
A new version needs new pods, not a new image: writing the annotation changes the template,
and the Deployment controller replaces the pods. The patch touches that one annotation only
(a merge on a map, no container list), so it means the same to a real API server and to the
emulator the tests use, and patching the version already pinned changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mingo import MODEL_VERSION_ANNOTATION, ModelKind

if TYPE_CHECKING:
    from kubernetes.client import AppsV1Api, V1Deployment

# What `mingo deploy roll` wrote before the pods loaded a pinned version (they loaded
# @champion at start). A Deployment rolled back then carries only this one: read it as the
# pinned version until the next roll writes MODEL_VERSION_ANNOTATION.
LEGACY_VERSION_ANNOTATION = "mingo.io/champion-version"
DEFAULT_NAMESPACE = "mingo"


class DeployError(RuntimeError):
    """A redeploy step failed; the message names the Deployment and what went wrong."""


class ClusterConfigError(DeployError):
    """No way to reach a Kubernetes API server from here."""


class DeploymentNotFoundError(DeployError):
    """The prediction Deployment does not exist in the namespace."""


class RolloutFailedError(DeployError):
    """The Deployment controller gave up (progress deadline exceeded)."""


class RolloutTimeoutError(DeployError):
    """The rollout did not finish within the allowed time."""


def deployment_name(kind: ModelKind) -> str:
    """Name of the Deployment (and Service) that serves KIND (`<kind>-prediction`)."""
    return f"{kind}-prediction"


def load_apps_api(kubeconfig: str | None = None, context: str | None = None) -> AppsV1Api:
    """An AppsV1Api for the cluster this process runs in, else for the kubeconfig's context."""
    from kubernetes import client, config

    if kubeconfig is None and context is None:
        try:
            config.load_incluster_config()
            return client.AppsV1Api()
        except config.ConfigException:
            pass
    try:
        config.load_kube_config(config_file=kubeconfig, context=context)
    except (config.ConfigException, FileNotFoundError, TypeError) as error:
        raise ClusterConfigError(
            "no Kubernetes cluster configured: not running inside a cluster (no service account "
            f"token) and no usable kubeconfig ({kubeconfig or '$KUBECONFIG or ~/.kube/config'}): "
            f"{error}"
        ) from error
    return client.AppsV1Api()


def pinned_version(deployment: V1Deployment) -> str | None:
    """The model version the Deployment's pod template names (what its pods load), if any."""
    template_metadata = deployment.spec.template.metadata
    annotations = (template_metadata.annotations if template_metadata else None) or {}
    version = annotations.get(MODEL_VERSION_ANNOTATION) or annotations.get(
        LEGACY_VERSION_ANNOTATION
    )
    return str(version) if version else None


def read_deployment(apps: AppsV1Api, *, name: str, namespace: str) -> V1Deployment:
    from kubernetes.client.exceptions import ApiException

    try:
        return apps.read_namespaced_deployment(name=name, namespace=namespace)
    except ApiException as error:
        if error.status == 404:
            raise DeploymentNotFoundError(
                f"Deployment {name} not found in namespace {namespace}: install the "
                "charts/mingo-prediction chart for it first"
            ) from error
        raise DeployError(
            f"reading Deployment {namespace}/{name} failed: HTTP {error.status} {error.reason}"
        ) from error


def roll_to_version(apps: AppsV1Api, *, name: str, namespace: str, version: str) -> V1Deployment:
    """Pin the pod template to `version`, which makes the controller roll the pods.

    Annotation only: a merge patch of one map key, no container list, so it applies the
    same on any API server; the chart turns the annotation into MINGO_MODEL_VERSION.
    """
    from kubernetes.client.exceptions import ApiException

    # null removes the legacy annotation (merge-patch semantics), so the template names one
    # version only.
    annotations = {MODEL_VERSION_ANNOTATION: version, LEGACY_VERSION_ANNOTATION: None}
    patch: dict[str, Any] = {"spec": {"template": {"metadata": {"annotations": annotations}}}}
    try:
        return apps.patch_namespaced_deployment(name=name, namespace=namespace, body=patch)
    except ApiException as error:
        if error.status == 404:
            raise DeploymentNotFoundError(
                f"Deployment {name} not found in namespace {namespace}: install the "
                "charts/mingo-prediction chart for it first"
            ) from error
        raise DeployError(
            f"patching Deployment {namespace}/{name} to version {version} failed: "
            f"HTTP {error.status} {error.reason}"
        ) from error


@dataclass(frozen=True)
class RolloutStatus:
    done: bool
    message: str


def rollout_status(deployment: V1Deployment) -> RolloutStatus:
    """Where a rollout stands, by the rules `kubectl rollout status` applies.

    Raises RolloutFailedError when the controller reports ProgressDeadlineExceeded.
    """
    name = deployment.metadata.name
    generation = deployment.metadata.generation or 0
    status = deployment.status
    observed = (status.observed_generation if status else None) or 0
    if generation > observed:
        return RolloutStatus(
            False, f"{name}: waiting for the controller to see generation {generation}"
        )
    for condition in (status.conditions if status else None) or []:
        if condition.type == "Progressing" and condition.reason == "ProgressDeadlineExceeded":
            raise RolloutFailedError(
                f"Deployment {name} exceeded its progress deadline: {condition.message}"
            )
    wanted = deployment.spec.replicas if deployment.spec.replicas is not None else 1
    updated = status.updated_replicas or 0
    total = status.replicas or 0
    available = status.available_replicas or 0
    if updated < wanted:
        return RolloutStatus(False, f"{name}: {updated} of {wanted} new replicas updated")
    if total > updated:
        return RolloutStatus(False, f"{name}: {total - updated} old replicas pending termination")
    if available < updated:
        return RolloutStatus(False, f"{name}: {available} of {updated} updated replicas available")
    return RolloutStatus(True, f"{name}: rolled out, {available} of {wanted} replicas available")


def wait_for_rollout(
    apps: AppsV1Api,
    *,
    name: str,
    namespace: str,
    timeout_s: float,
    poll_interval_s: float = 2.0,
    on_progress: Callable[[str], None] = lambda message: None,
) -> RolloutStatus:
    """Poll the Deployment until its rollout is complete; RolloutTimeoutError after timeout_s."""
    deadline = time.monotonic() + timeout_s
    last_message = ""
    while True:
        status = rollout_status(read_deployment(apps, name=name, namespace=namespace))
        if status.message != last_message:
            on_progress(status.message)
            last_message = status.message
        if status.done:
            return status
        if time.monotonic() >= deadline:
            raise RolloutTimeoutError(
                f"Deployment {namespace}/{name} did not finish rolling out within "
                f"{timeout_s:g} s; last state: {status.message}"
            )
        time.sleep(min(poll_interval_s, max(0.0, deadline - time.monotonic())))
