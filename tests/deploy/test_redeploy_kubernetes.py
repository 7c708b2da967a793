"""The redeploy logic against an emulated Kubernetes API and a real MLflow registry."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mingo.deploy.kubernetes import (
    LEGACY_VERSION_ANNOTATION,
    MODEL_VERSION_ANNOTATION,
    ClusterConfigError,
    DeploymentNotFoundError,
    RolloutFailedError,
    RolloutTimeoutError,
    load_apps_api,
    pinned_version,
)
from mingo.deploy.redeploy import SmokeTestFailedError, redeploy_champion
from mingo.registry import CHAMPION, PREVIOUS, get_alias_version
from tests.deploy.conftest import (
    NAMESPACE,
    DeploymentController,
    KubeApi,
    create_prediction_deployment,
    register_versions,
)

MINGO = str(Path(sys.executable).with_name("mingo"))


def closed_port_url() -> str:
    # A port that was just free: nothing listens there, so every request is refused.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_redeploy_rolls_deployment_to_the_champion_and_waits(
    kube_api: KubeApi, registry: Any
) -> None:
    register_versions(registry, "binary", 2)
    create_prediction_deployment(kube_api.apps, "binary-prediction", version="1")
    log: list[str] = []
    with DeploymentController(kube_api.apps, "binary-prediction") as controller:
        outcome = redeploy_champion(
            kube_api.apps,
            registry,
            kind="binary",
            namespace=NAMESPACE,
            timeout_s=20,
            base_url=None,
            log=log.append,
            poll_interval_s=0.1,
        )
    deployment = kube_api.apps.read_namespaced_deployment("binary-prediction", NAMESPACE)
    assert outcome.version == "2"
    assert outcome.rollout.done
    assert pinned_version(deployment) == "2"
    assert controller.rolled_templates == [{MODEL_VERSION_ANNOTATION: "2"}]
    assert deployment.status.observed_generation == deployment.metadata.generation == 2
    assert any("2 of 2 replicas available" in line for line in log), log


def test_rollout_that_never_becomes_available_times_out(kube_api: KubeApi, registry: Any) -> None:
    register_versions(registry, "multiclass", 1)
    create_prediction_deployment(kube_api.apps, "multiclass-prediction")
    started = time.monotonic()
    with (
        DeploymentController(kube_api.apps, "multiclass-prediction", behaviour="stall"),
        pytest.raises(RolloutTimeoutError, match=r"mingo/multiclass-prediction .* 1.5 s") as error,
    ):
        redeploy_champion(
            kube_api.apps,
            registry,
            kind="multiclass",
            namespace=NAMESPACE,
            timeout_s=1.5,
            base_url=None,
            poll_interval_s=0.1,
        )
    assert "0 of 2 updated replicas available" in str(error.value)
    assert time.monotonic() - started < 10


def test_progress_deadline_exceeded_fails_at_once(kube_api: KubeApi, registry: Any) -> None:
    register_versions(registry, "clustering", 1)
    create_prediction_deployment(kube_api.apps, "clustering-prediction")
    with (
        DeploymentController(kube_api.apps, "clustering-prediction", behaviour="fail"),
        pytest.raises(RolloutFailedError, match="clustering-prediction exceeded its progress"),
    ):
        redeploy_champion(
            kube_api.apps,
            registry,
            kind="clustering",
            namespace=NAMESPACE,
            timeout_s=60,
            base_url=None,
            poll_interval_s=0.1,
        )


def test_missing_deployment_is_named(kube_api: KubeApi, registry: Any) -> None:
    register_versions(registry, "binary", 1)
    with pytest.raises(DeploymentNotFoundError, match="binary-prediction not found in namespace"):
        redeploy_champion(
            kube_api.apps,
            registry,
            kind="binary",
            namespace=NAMESPACE,
            timeout_s=5,
            base_url=None,
        )


def test_failed_smoke_test_rolls_alias_and_deployment_back(
    kube_api: KubeApi, registry: Any
) -> None:
    register_versions(registry, "binary", 3)
    create_prediction_deployment(kube_api.apps, "binary-prediction", version="2")
    with (
        DeploymentController(kube_api.apps, "binary-prediction") as controller,
        pytest.raises(SmokeTestFailedError) as error,
    ):
        redeploy_champion(
            kube_api.apps,
            registry,
            kind="binary",
            namespace=NAMESPACE,
            timeout_s=20,
            base_url=closed_port_url(),
            smoke_ready_timeout_s=1,
            poll_interval_s=0.1,
        )
    message = str(error.value)
    assert "smoke test of mingo-binary version 3 failed" in message
    assert "rolled back to version 2" in message
    assert get_alias_version(registry, "binary", CHAMPION) == "2"
    assert get_alias_version(registry, "binary", PREVIOUS) == "1"
    # Rolled to the failing champion, then back to the restored one, each a full rollout.
    assert controller.rolled_templates == [
        {MODEL_VERSION_ANNOTATION: "3"},
        {MODEL_VERSION_ANNOTATION: "2"},
    ]
    deployment = kube_api.apps.read_namespaced_deployment("binary-prediction", NAMESPACE)
    assert pinned_version(deployment) == "2"


def run_cli(*args: str, env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **env_extra}
    return subprocess.run(
        [MINGO, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_cli_redeploy_through_a_kubeconfig(
    kube_api: KubeApi, registry: Any, tmp_path: Path
) -> None:
    register_versions(registry, "binary", 2)
    create_prediction_deployment(kube_api.apps, "binary-prediction", version="1")
    kubeconfig = kube_api.kubeconfig(tmp_path / "kubeconfig")
    with DeploymentController(kube_api.apps, "binary-prediction") as controller:
        rolled = subprocess.run(
            [MINGO, "redeploy", "binary", "--skip-smoke-test", "--timeout", "30"],
            env={**os.environ, "KUBECONFIG": str(kubeconfig)},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    assert rolled.returncode == 0, rolled.stderr
    assert "mingo/binary-prediction serves version 2" in rolled.stdout
    assert controller.rolled_templates == [{MODEL_VERSION_ANNOTATION: "2"}]


def test_no_cluster_configuration_is_explained(tmp_path: Path) -> None:
    with pytest.raises(ClusterConfigError, match="no Kubernetes cluster configured"):
        load_apps_api(kubeconfig=str(tmp_path / "missing-kubeconfig"))


def test_a_deployment_rolled_before_the_rename_reads_as_pinned_until_rolled_again(
    kube_api: KubeApi, registry: Any
) -> None:
    # Rolled by the previous `mingo deploy roll`, which wrote only the old annotation.
    register_versions(registry, "binary", 2)
    create_prediction_deployment(kube_api.apps, "binary-prediction")
    kube_api.apps.patch_namespaced_deployment(
        "binary-prediction",
        NAMESPACE,
        {"spec": {"template": {"metadata": {"annotations": {LEGACY_VERSION_ANNOTATION: "1"}}}}},
    )
    before = kube_api.apps.read_namespaced_deployment("binary-prediction", NAMESPACE)
    assert pinned_version(before) == "1"
    with DeploymentController(kube_api.apps, "binary-prediction") as controller:
        redeploy_champion(
            kube_api.apps,
            registry,
            kind="binary",
            namespace=NAMESPACE,
            timeout_s=20,
            base_url=None,
            log=lambda line: None,
            poll_interval_s=0.1,
        )
    after = kube_api.apps.read_namespaced_deployment("binary-prediction", NAMESPACE)
    assert pinned_version(after) == "2"
    # The stale old annotation is removed, so the template names one version only.
    assert controller.rolled_templates == [{MODEL_VERSION_ANNOTATION: "2"}]
