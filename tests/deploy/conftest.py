"""An in-memory Kubernetes API (kmock) for the `kubernetes` client, a stand-in Deployment
controller, and a real MLflow registry (SQLite) per test.

kmock stores objects and merges patches but runs no controllers. `ApiServerEmulator` adds
the one API-server rule a rollout depends on (a spec change bumps `metadata.generation` in
the same write), and `DeploymentController` plays the Deployment controller (observe the
generation, report replicas), so the rollout wait sees what a cluster would show. Everything
else is real: the `kubernetes` client speaks HTTP to kmock, and the registry is MLflow.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import kmock
import pytest
from kubernetes import client as k8s

from mingo.deploy.kubernetes import MODEL_VERSION_ANNOTATION

NAMESPACE = "mingo"


class ApiServerEmulator(kmock.KubernetesEmulator):
    """kmock plus the API server's generation rule for Deployments."""

    async def _handle(self, request: kmock.Request) -> Any:
        data = request.data
        if (
            request.action == kmock.action.UPDATE
            and request.subresource is None
            and request.resource is not None
            and request.resource.plural == "deployments"
            and _changes_spec(data)
        ):
            key = (request.resource, request.namespace, request.name)
            if key in self.objects:
                generation = self.objects[key].get("metadata", {}).get("generation") or 1
                if isinstance(data, list):
                    data.append(
                        {"op": "add", "path": "/metadata/generation", "value": generation + 1}
                    )
                else:
                    data.setdefault("metadata", {})["generation"] = generation + 1
        return await super()._handle(request)


def _changes_spec(data: Any) -> bool:
    """A merge patch or object with a `spec`, or a JSON patch (list of ops) under /spec."""
    if isinstance(data, dict):
        return "spec" in data
    if isinstance(data, list):
        return any(str(op.get("path", "")).startswith("/spec") for op in data)
    return False


@dataclass
class KubeApi:
    url: str
    emulator: ApiServerEmulator
    apps: k8s.AppsV1Api

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: kmock\n"
            f"clusters: [{{name: kmock, cluster: {{server: '{self.url}'}}}}]\n"
            "users: [{name: kmock, user: {token: test}}]\n"
            "contexts: [{name: kmock, context: {cluster: kmock, user: kmock, "
            f"namespace: {NAMESPACE}}}}}]\n"
        )
        return path


@pytest.fixture
def kube_api() -> Iterator[KubeApi]:
    """kmock's KubernetesEmulator on a loopback port, served from its own event-loop thread
    (the `kubernetes` client is synchronous and would block a shared loop)."""
    started = threading.Event()
    holder: dict[str, Any] = {}
    loop = asyncio.new_event_loop()

    async def serve() -> None:
        holder["stop"] = asyncio.Event()
        async with ApiServerEmulator() as emulator, kmock.Server(emulator) as server:
            holder["emulator"] = emulator
            holder["url"] = str(server.url).rstrip("/")
            started.set()
            await holder["stop"].wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(30), "kmock did not start"
    configuration = k8s.Configuration(host=holder["url"])
    apps = k8s.AppsV1Api(k8s.ApiClient(configuration))
    yield KubeApi(url=holder["url"], emulator=holder["emulator"], apps=apps)
    loop.call_soon_threadsafe(holder["stop"].set)
    thread.join(10)


def create_prediction_deployment(
    apps: k8s.AppsV1Api, name: str, *, replicas: int = 2, version: str | None = None
) -> k8s.V1Deployment:
    """A Deployment shaped like the chart's, fully rolled out at generation 1."""
    labels = {"app.kubernetes.io/name": name}
    annotations = {MODEL_VERSION_ANNOTATION: version} if version else None
    deployment = k8s.V1Deployment(
        api_version="apps/v1",
        kind="Deployment",
        metadata=k8s.V1ObjectMeta(name=name, namespace=NAMESPACE, generation=1, labels=labels),
        spec=k8s.V1DeploymentSpec(
            replicas=replicas,
            selector=k8s.V1LabelSelector(match_labels=labels),
            template=k8s.V1PodTemplateSpec(
                metadata=k8s.V1ObjectMeta(labels=labels, annotations=annotations),
                spec=k8s.V1PodSpec(
                    containers=[k8s.V1Container(name="service", image="mingo-serving:test")]
                ),
            ),
        ),
        status=k8s.V1DeploymentStatus(
            observed_generation=1,
            replicas=replicas,
            updated_replicas=replicas,
            ready_replicas=replicas,
            available_replicas=replicas,
        ),
    )
    return apps.create_namespaced_deployment(NAMESPACE, deployment)


@dataclass
class DeploymentController:
    """Plays the Deployment controller for one Deployment in kmock.

    When `metadata.generation` moves past `status.observedGeneration` it records the pod
    template's annotations and, after `delay_s`, reports per `behaviour`: "complete" = all
    replicas updated and available; "stall" = new pods that never become available;
    "fail" = ProgressDeadlineExceeded.
    """

    apps: k8s.AppsV1Api
    name: str
    behaviour: Literal["complete", "stall", "fail"] = "complete"
    delay_s: float = 0.3
    rolled_templates: list[dict[str, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> DeploymentController:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            deployment = self.apps.read_namespaced_deployment(self.name, NAMESPACE)
            generation = deployment.metadata.generation or 1
            if generation > (deployment.status.observed_generation or 0):
                self.rolled_templates.append(
                    dict(deployment.spec.template.metadata.annotations or {})
                )
                time.sleep(self.delay_s)
                self._report(generation, deployment.spec.replicas)

    def _report(self, generation: int, replicas: int) -> None:
        status: dict[str, Any] = {"observedGeneration": generation, "replicas": replicas}
        if self.behaviour == "complete":
            status |= {"updatedReplicas": replicas, "availableReplicas": replicas}
        elif self.behaviour == "stall":
            status |= {"updatedReplicas": replicas, "availableReplicas": 0}
        else:
            status["conditions"] = [
                {
                    "type": "Progressing",
                    "status": "False",
                    "reason": "ProgressDeadlineExceeded",
                    "message": f'ReplicaSet "{self.name}-7d9f" has timed out progressing.',
                }
            ]
        self.apps.patch_namespaced_deployment_status(self.name, NAMESPACE, {"status": status})


@pytest.fixture(scope="session")
def migrated_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite store with its tables created (creating them takes ~12 s)."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_registered_models()
    return path


@pytest.fixture
def registry(isolated_mingo_home: Path, migrated_mlflow_db: Path) -> Any:
    """A real MLflow registry in this test's MINGO_HOME (the embedded default store)."""
    from mingo.config import load_settings
    from mingo.tracking import mlflow_client

    shutil.copy(migrated_mlflow_db, isolated_mingo_home / "mlflow.db")
    return mlflow_client(load_settings())


def register_versions(client: Any, kind: str, count: int) -> list[str]:
    """Register `count` versions of mingo-<kind> and promote them in order, like retrainings
    that each beat the champion: the last is `champion`, the one before `previous`."""
    from mingo.promotion import promote_version

    name = f"mingo-{kind}"
    client.create_registered_model(name)
    versions: list[str] = []
    champion: str | None = None
    for index in range(count):
        version = str(client.create_model_version(name, source=f"file:///models/{index}").version)
        promote_version(client, kind, version, champion)  # type: ignore[arg-type]
        champion = version
        versions.append(version)
    return versions
