"""The deploy steps the DAG runs as tasks, and `mingo deploy roll | smoke-test | rollback`.

Against kmock (the Kubernetes API), a real MLflow registry, and, for the smoke test, an HTTP
service on loopback that answers like a prediction service serving one version.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mingo.cli.app import app
from mingo.deploy.kubernetes import MODEL_VERSION_ANNOTATION, pinned_version
from mingo.deploy.smoke import SMOKE_CUSTOMER_ID, SmokeTestError
from mingo.deploy.steps import UnknownVersionError, check_serves, resolve_version, roll_to, undo
from mingo.promotion import promote_version
from mingo.registry import CHAMPION, PREVIOUS, get_alias_version
from tests.deploy.conftest import (
    NAMESPACE,
    DeploymentController,
    KubeApi,
    create_prediction_deployment,
    register_versions,
)


class ServedVersion:
    """A loopback HTTP service answering /readyz and /predict as `mingo-<kind>` version N."""

    def __init__(self, kind: str, version: str) -> None:
        self.kind = kind
        self.version = version
        served = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._answer({"status": "ready"})

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self._answer(
                    {
                        "model": f"mingo-{served.kind}",
                        "model_version": served.version,
                        "predictions": [{"customer_id": SMOKE_CUSTOMER_ID}],
                    }
                )

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> ServedVersion:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def kubeconfig(kube_api: KubeApi, tmp_path: Path) -> str:
    return str(kube_api.kubeconfig(tmp_path / "kubeconfig"))


def pinned(kube_api: KubeApi, kind: str) -> str | None:
    return pinned_version(kube_api.apps.read_namespaced_deployment(f"{kind}-prediction", NAMESPACE))


def test_roll_pins_the_version_asked_for_not_the_champion(kube_api: KubeApi, registry: Any) -> None:
    register_versions(registry, "binary", 3)
    create_prediction_deployment(kube_api.apps, "binary-prediction", version="3")
    with DeploymentController(kube_api.apps, "binary-prediction") as controller:
        status = roll_to(
            kube_api.apps,
            kind="binary",
            namespace=NAMESPACE,
            version="2",
            timeout_s=20,
            log=lambda line: None,
            poll_interval_s=0.1,
        )
    assert status.done
    assert pinned(kube_api, "binary") == "2"
    assert controller.rolled_templates == [{MODEL_VERSION_ANNOTATION: "2"}]
    assert get_alias_version(registry, "binary", CHAMPION) == "3", "roll moves no alias"


def test_resolve_version_defaults_to_the_champion_and_refuses_unknown_ones(
    registry: Any,
) -> None:
    register_versions(registry, "multiclass", 2)
    assert resolve_version(registry, "multiclass", None) == "2"
    assert resolve_version(registry, "multiclass", "1") == "1"
    with pytest.raises(UnknownVersionError, match="mingo-multiclass has no version 7"):
        resolve_version(registry, "multiclass", "7")


def test_smoke_test_checks_the_version_passed_not_the_alias() -> None:
    # The alias may have moved on; what this run deployed is what must be served.
    with ServedVersion("binary", "3") as service:
        with pytest.raises(SmokeTestError, match=r"serves mingo-binary version '3'.*'2'"):
            check_serves(service.url, kind="binary", version="2", log=lambda line: None)
        result = check_serves(service.url, kind="binary", version="3", log=lambda line: None)
    assert result.model_version == "3"


def undo_in_kmock(
    kube_api: KubeApi, registry: Any, kind: Any, version: str, log: Any = lambda line: None
) -> Any:
    """`undo` of `version` against the emulated API, with short timeouts for the tests."""
    return undo(
        kube_api.apps,
        registry,
        kind=kind,
        namespace=NAMESPACE,
        version=version,
        timeout_s=20,
        log=log,
        poll_interval_s=0.1,
    )


def test_rollback_undoes_the_named_version_once(kube_api: KubeApi, registry: Any) -> None:
    register_versions(registry, "binary", 3)
    create_prediction_deployment(kube_api.apps, "binary-prediction", version="3")
    log: list[str] = []
    with DeploymentController(kube_api.apps, "binary-prediction") as controller:
        first = undo_in_kmock(kube_api, registry, "binary", "3", log=log.append)
        second = undo_in_kmock(kube_api, registry, "binary", "3", log=log.append)
    assert (first.undone, first.restored, first.alias_moved, first.deployment_rolled) == (
        "3",
        "2",
        True,
        True,
    )
    assert "mingo-binary: rolled back version 3, restored version 2" in log
    # The second run changes nothing: not the aliases, not the Deployment.
    assert (second.alias_moved, second.deployment_rolled) == (False, False)
    assert get_alias_version(registry, "binary", CHAMPION) == "2"
    assert get_alias_version(registry, "binary", PREVIOUS) == "1"
    assert controller.rolled_templates == [{MODEL_VERSION_ANNOTATION: "2"}]
    assert pinned(kube_api, "binary") == "2"


def test_rollback_leaves_a_later_promotion_alone(kube_api: KubeApi, registry: Any) -> None:
    # This run deployed 3; another run promoted 4 and rolled the Deployment to it since.
    register_versions(registry, "clustering", 3)
    four = str(registry.create_model_version("mingo-clustering", source="file:///m/4").version)
    promote_version(registry, "clustering", four, expected_champion="3")
    create_prediction_deployment(kube_api.apps, "clustering-prediction", version=four)
    with DeploymentController(kube_api.apps, "clustering-prediction") as controller:
        outcome = undo_in_kmock(kube_api, registry, "clustering", "3")
    assert (outcome.alias_moved, outcome.deployment_rolled) == (False, False)
    assert get_alias_version(registry, "clustering", CHAMPION) == four
    assert controller.rolled_templates == []
    assert pinned(kube_api, "clustering") == four


def test_cli_roll_then_rollback_name_their_versions(
    kube_api: KubeApi, registry: Any, kubeconfig: str
) -> None:
    register_versions(registry, "binary", 2)
    create_prediction_deployment(kube_api.apps, "binary-prediction", version="1")
    runner = CliRunner()
    with DeploymentController(kube_api.apps, "binary-prediction") as controller:
        rolled = runner.invoke(
            app, ["deploy", "roll", "binary", "--kubeconfig", kubeconfig, "--timeout", "30"]
        )
        undone = runner.invoke(
            app,
            ["deploy", "rollback", "binary", "--version", "2", "--kubeconfig", kubeconfig],
        )
        again = runner.invoke(
            app,
            ["deploy", "rollback", "binary", "--version", "2", "--kubeconfig", kubeconfig],
        )
    assert rolled.exit_code == 0, rolled.output
    assert "mingo/binary-prediction serves version 2" in rolled.output
    assert undone.exit_code == 0, undone.output
    assert "rolled back version 2, restored version 1" in undone.output
    assert again.exit_code == 0, again.output
    assert "version 2 is no longer the champion (version 1 is)" in again.output
    assert controller.rolled_templates == [
        {MODEL_VERSION_ANNOTATION: "2"},
        {MODEL_VERSION_ANNOTATION: "1"},
    ]


def test_cli_roll_refuses_a_version_the_registry_lacks(
    kube_api: KubeApi, registry: Any, kubeconfig: str
) -> None:
    register_versions(registry, "binary", 1)
    create_prediction_deployment(kube_api.apps, "binary-prediction", version="1")
    result = CliRunner().invoke(
        app, ["deploy", "roll", "binary", "--version", "5", "--kubeconfig", kubeconfig]
    )
    assert result.exit_code == 1
    assert "mingo-binary has no version 5" in result.output
    assert pinned(kube_api, "binary") == "1"


def test_cli_smoke_test_fails_on_another_version(registry: Any) -> None:
    register_versions(registry, "binary", 2)
    runner = CliRunner()
    with ServedVersion("binary", "2") as service:
        passed = runner.invoke(
            app, ["deploy", "smoke-test", "binary", "--version", "2", "--base-url", service.url]
        )
        failed = runner.invoke(
            app,
            ["deploy", "smoke-test", "binary", "--version", "1", "--base-url", service.url],
        )
    assert passed.exit_code == 0, passed.output
    assert "smoke test passed" in passed.output
    assert failed.exit_code == 1
    assert "serves mingo-binary version '2'" in failed.output


def test_cli_local_roll_without_a_service_says_there_is_nothing_to_roll(
    registry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MINGO_PREDICTION_URL", raising=False)
    register_versions(registry, "binary", 1)
    result = CliRunner().invoke(app, ["deploy", "roll", "binary", "--local"])
    assert result.exit_code == 0, result.output
    assert "nothing to roll" in result.output
    assert "to serve version 1" in result.output


@pytest.fixture(autouse=True)
def _no_kubeconfig_from_the_user(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    yield


def test_cli_rollback_whose_rollout_fails_names_both_versions_and_exits_1(
    kube_api: KubeApi, registry: Any, kubeconfig: str
) -> None:
    register_versions(registry, "multiclass", 2)
    create_prediction_deployment(kube_api.apps, "multiclass-prediction", version="2")
    with DeploymentController(kube_api.apps, "multiclass-prediction", behaviour="fail"):
        result = CliRunner().invoke(
            app,
            ["deploy", "rollback", "multiclass", "--version", "2", "--kubeconfig", kubeconfig],
        )
    assert result.exit_code == 1, result.output
    assert (
        "rollback of mingo-multiclass version 2: the champion alias was moved back from "
        "version 2 to 1, but re-pinning Deployment mingo/multiclass-prediction from version 2 "
        "to version 1 failed" in result.output
    )
    assert "exceeded its progress deadline" in result.output
    # The registry part stands; the Deployment names the restored version (its rollout failed).
    assert get_alias_version(registry, "multiclass", CHAMPION) == "1"
    assert pinned(kube_api, "multiclass") == "1"


def test_rollback_of_a_superseded_version_still_pinned_re_pins_the_champion(
    kube_api: KubeApi, registry: Any
) -> None:
    # This run deployed 3; another promoted 4 but has not rolled yet: the Deployment still
    # names 3, which failed here, so it goes to the champion; the alias is not this run's.
    register_versions(registry, "binary", 3)
    four = str(registry.create_model_version("mingo-binary", source="file:///m/4").version)
    promote_version(registry, "binary", four, expected_champion="3")
    create_prediction_deployment(kube_api.apps, "binary-prediction", version="3")
    with DeploymentController(kube_api.apps, "binary-prediction") as controller:
        outcome = undo_in_kmock(kube_api, registry, "binary", "3")
    assert (outcome.undone, outcome.restored) == ("3", four)
    assert (outcome.alias_moved, outcome.deployment_rolled) == (False, True)
    assert get_alias_version(registry, "binary", CHAMPION) == four
    assert get_alias_version(registry, "binary", PREVIOUS) == "3"
    assert controller.rolled_templates == [{MODEL_VERSION_ANNOTATION: four}]
