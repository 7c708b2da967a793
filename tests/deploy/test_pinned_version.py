"""A pod serves the version its Deployment names, whatever the champion alias says.

The chart's real Deployment (`helm template charts/mingo-prediction`) lives in kmock; the
registry is a real MLflow one. "Starting a pod" resolves the pod template's container env the
way the kubelet does (tests/deploy/pod_env.py): the chart maps the annotation
`mingo.io/model-version` into MINGO_MODEL_VERSION, the version the service loads. The second
test runs the real service (`mingo serve`) with that env and asks /predict what it serves.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from mingo.deploy.kubernetes import MODEL_VERSION_ANNOTATION, pinned_version, wait_for_rollout
from mingo.deploy.steps import roll_to
from mingo.promotion import promote_version
from mingo.registry import CHAMPION, get_alias_version
from tests.deploy.conftest import NAMESPACE, DeploymentController, KubeApi
from tests.deploy.pod_env import container_env
from tests.k8s.helm import render_chart

KIND = "binary"
DEPLOYMENT = f"{KIND}-prediction"
VERSION_VARIABLE = "MINGO_MODEL_VERSION"
SERVE_CUSTOMERS = 300
SERVE_SEED = 20240402
ROLL = {"timeout_s": 20.0, "poll_interval_s": 0.1, "log": lambda line: None}


@pytest.fixture(scope="module")
def chart_deployment() -> dict[str, Any]:
    """The chart's binary-prediction Deployment, as `helm template` renders it."""
    (deployment,) = [
        obj
        for obj in render_chart([])
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == DEPLOYMENT
    ]
    return deployment


@dataclass
class Installed:
    kube: KubeApi
    controller: DeploymentController


@pytest.fixture
def installed(kube_api: KubeApi, chart_deployment: dict[str, Any]) -> Iterator[Installed]:
    """The chart's Deployment created in kmock, with a controller rolling it."""
    body = copy.deepcopy(chart_deployment)
    # With autoscaling on the chart leaves `replicas` to the HorizontalPodAutoscaler, which
    # kmock does not run: set what it would.
    replicas = body["spec"].setdefault("replicas", 2)
    # What the API server and the controller record once it is installed (kmock runs neither).
    body["metadata"]["generation"] = 1
    body["status"] = {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas}
    kube_api.apps.create_namespaced_deployment(NAMESPACE, body)
    with DeploymentController(kube_api.apps, DEPLOYMENT) as controller:
        yield Installed(kube_api, controller)


def pod_template(kube_api: KubeApi) -> dict[str, Any]:
    deployment = kube_api.apps.read_namespaced_deployment(DEPLOYMENT, NAMESPACE)
    template: dict[str, Any] = kube_api.apps.api_client.sanitize_for_serialization(
        deployment.spec.template
    )
    return template


def start_pod(kube_api: KubeApi) -> dict[str, str]:
    """The env of a pod the ReplicaSet would create now (scale-up, eviction, restart)."""
    return container_env(pod_template(kube_api), DEPLOYMENT)


def rollout_undo(kube_api: KubeApi, previous_template: dict[str, Any]) -> None:
    """`kubectl rollout undo`: a JSON patch replacing the template with the previous
    revision's (kubectl takes it from that revision's ReplicaSet)."""
    patch = [{"op": "replace", "path": "/spec/template", "value": previous_template}]
    kube_api.apps.patch_namespaced_deployment(DEPLOYMENT, NAMESPACE, patch)


def new_version(client: Any, index: int) -> str:
    return str(client.create_model_version(f"mingo-{KIND}", source=f"file:///m/{index}").version)


def test_the_chart_pins_the_container_env_to_the_annotation(
    chart_deployment: dict[str, Any],
) -> None:
    (container,) = [
        c
        for c in chart_deployment["spec"]["template"]["spec"]["containers"]
        if c["name"] == DEPLOYMENT
    ]
    (entry,) = [e for e in container.get("env", []) if e["name"] == VERSION_VARIABLE]
    assert entry["valueFrom"]["fieldRef"]["fieldPath"] == (
        f"metadata.annotations['{MODEL_VERSION_ANNOTATION}']"
    )
    # Installed but never rolled: the pods pin nothing (and stay unready), no alias is read.
    assert container_env(chart_deployment["spec"]["template"], DEPLOYMENT)[VERSION_VARIABLE] == ""


def test_a_pod_started_after_the_alias_moved_serves_what_the_deployment_names(
    installed: Installed, registry: Any
) -> None:
    kube = installed.kube
    registry.create_registered_model(f"mingo-{KIND}")
    one = new_version(registry, 1)
    promote_version(registry, KIND, one, None)
    roll_to(kube.apps, kind=KIND, namespace=NAMESPACE, version=one, **ROLL)
    serving_one = pod_template(kube)
    assert start_pod(kube)[VERSION_VARIABLE] == one

    # Training promotes version 2: the alias moves in the registry, the redeploy has not run.
    two = new_version(registry, 2)
    promote_version(registry, KIND, two, expected_champion=one)
    assert get_alias_version(registry, KIND, CHAMPION) == two
    assert start_pod(kube)[VERSION_VARIABLE] == one, "a pod must not pick up the alias"

    roll_to(kube.apps, kind=KIND, namespace=NAMESPACE, version=two, **ROLL)
    assert start_pod(kube)[VERSION_VARIABLE] == two

    # The previous revision's template brings the previous model back with it.
    rollout_undo(kube, serving_one)
    wait_for_rollout(kube.apps, name=DEPLOYMENT, namespace=NAMESPACE, timeout_s=20)
    assert pinned_version(kube.apps.read_namespaced_deployment(DEPLOYMENT, NAMESPACE)) == one
    assert start_pod(kube)[VERSION_VARIABLE] == one
    assert get_alias_version(registry, KIND, CHAMPION) == two, "the undo touches no alias"
    # Three rollouts, each a new template: 1, then 2, then 1 again by the undo.
    assert [t.get(MODEL_VERSION_ANNOTATION) for t in installed.controller.rolled_templates] == [
        one,
        two,
        one,
    ]


def test_the_service_started_with_that_env_serves_the_pinned_version(
    installed: Installed, migrated_mlflow_db: Path, tmp_path: Path
) -> None:
    # Real models this time, and the real service (`mingo serve`) given the resolved env.
    from mlflow import MlflowClient

    from mingo.data.generate import generate_purchases
    from tests.serving.conftest import (
        customer_payloads,
        log_and_register,
        service_env,
        train_small_model,
    )
    from tests.serving.running_service import RunningService

    kube = installed.kube
    shutil.copy(migrated_mlflow_db, tmp_path / "mlflow.db")
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    purchases = generate_purchases(SERVE_CUSTOMERS, SERVE_SEED)
    model = train_small_model(purchases, KIND)
    one = log_and_register(tracking_uri, tmp_path / "artifacts", model)
    roll_to(kube.apps, kind=KIND, namespace=NAMESPACE, version=one, **ROLL)
    two = log_and_register(tracking_uri, tmp_path / "artifacts", model)  # the alias moves
    assert get_alias_version(MlflowClient(tracking_uri), KIND, CHAMPION) == two

    pinned = start_pod(kube)[VERSION_VARIABLE]
    assert pinned == one
    env = service_env(tmp_path / "home", tracking_uri, extra={VERSION_VARIABLE: pinned})
    service = RunningService(KIND, env, tmp_path / "serve.log")
    try:
        service.start()
        service.wait_for("/readyz", 200)
        body = {"customers": customer_payloads(purchases)[:2], "as_of": "2024-04-01"}
        answer = httpx.post(service.url + "/predict", json=body, timeout=60)
    finally:
        service.stop()
    assert answer.status_code == 200, answer.text
    assert (answer.json()["model"], answer.json()["model_version"]) == (f"mingo-{KIND}", one)
