"""charts/mingo-prediction, played: the rendered Deployment, ConfigMaps and Secrets run as real
containers with `podman kube play`, against the basic-auth MLflow server (PostgreSQL + S3) the
test session starts on loopback.

A champion is trained and promoted first (`mingo train binary` on the host); the pod then has
to resolve it in MLflow, download it through the tracking server, turn /readyz green and answer
/predict with that version in `X-Model-Version`.

What podman 4.3 needs around the manifest (the manifest itself is what `helm template` gives):
- Networking: the pod runs on the host's network (`--network host`), so it reaches the test
  servers on 127.0.0.1 exactly as the host does (MLflow hands out presigned S3 URLs with its own
  S3 endpoint; on slirp4netns the pod saw the host only as 10.0.2.2 and those downloads were
  refused). podman 4.3 refuses a declared containerPort on the host network ("PortMappings can
  only be used with Bridge or slirp4netns networking"; Kubernetes allows it), so the played copy
  drops the container's `ports` list. The service listens on the chart's port (BENTOML_PORT),
  a free one here.
- The served version: `mingo deploy roll` writes the pod-template annotation
  mingo.io/model-version (the chart never renders it); the played copy gets it as a roll would.
  podman 4.3 resolves a `fieldRef` to labels but not to annotations (an empty value), so the
  container's MINGO_MODEL_VERSION fieldRef is replaced by the annotation's value.
- Secrets: kube play stores a `kind: Secret` document as YAML but reads a `secretKeyRef` as a
  JSON map of key -> base64 value ("secret ... is not valid JSON"), so each rendered Secret's
  `data` is created with `podman secret create` in that form and the rest is played. Their
  names carry a per-run suffix (through the chart's `secretEnv`): podman's secrets are
  machine-wide.

Needs the images of `make images` (`localhost/binary-prediction:<project version>`). Run with
`make chart-play`.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mingo.deploy.kubernetes import MODEL_VERSION_ANNOTATION
from tests.fixtures.services import MlflowServer, PostgresServer, S3Server, free_loopback_port
from tests.k8s.helm import CHART_DIR, NAMESPACE, RELEASE, run_helm
from tests.pipelines.conftest import (
    clean_env,
    explain,
    last_json_line,
    run_mingo,
    small_purchases,
    write_purchases_csv,
)
from tests.pods.readers import create_mlflow_reader

# Deselected by the default run (pyproject addopts `-m 'not pods'`); `make chart-play` runs it.
pytestmark = pytest.mark.pods

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTAINERS_CONF = REPO_ROOT / "docker" / "containers.conf"
PROJECT_VERSION = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
IMAGE_REGISTRY = os.environ.get("IMAGE_REGISTRY", "localhost")
IMAGE_TAG = os.environ.get("IMAGE_TAG", PROJECT_VERSION)
POD_NETWORK = "host"
READY_TIMEOUT_S = 240

# The README's tour request: one customer, one purchase.
PREDICT_BODY = {
    "customers": [
        {
            "customer_id": "c1",
            "purchases": [
                {
                    "nk_ota_localizer_id": "o1",
                    "fk_contact": "c1",
                    "date_purchase": "2024-03-01",
                    "time_purchase": "10:00:00",
                    "place_origin_departure": "a",
                    "place_destination_departure": "b",
                    "place_origin_return": "0",
                    "place_destination_return": "0",
                    "fk_departure_ota_bus_company": "x",
                    "fk_return_ota_bus_company": "1",
                    "gmv_success": 120.0,
                    "total_tickets_quantity_success": 1,
                }
            ],
        }
    ]
}


def podman(
    *args: str, timeout: float = 300, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONTAINERS_CONF": os.environ.get("CONTAINERS_CONF", str(CONTAINERS_CONF))}
    result = subprocess.run(
        ["podman", *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"podman {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


def require_image(image: str) -> None:
    if shutil.which("podman") is None:
        pytest.fail("podman is not installed: run `make images` (it installs podman) first")
    if podman("image", "exists", image, check=False).returncode != 0:
        pytest.fail(f"image {image} is missing: run `make images` first")


def http(
    url: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> tuple[int | None, dict[str, str], str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode(errors="replace")
    except OSError:
        return None, {}, ""


def pod_logs(pod: str) -> str:
    containers = podman(
        "ps", "-a", "--filter", f"pod={pod}", "--format", "{{.Names}}", check=False
    ).stdout.split()
    logs = []
    for name in containers:
        if name.endswith("-infra"):
            continue
        out = podman("logs", "--tail", "60", name, check=False)
        logs.append(f"--- {name}\n{out.stdout}{out.stderr}")
    return "\n".join(logs) or "(no container)"


@pytest.fixture
def champion_version(mlflow_server: MlflowServer, tmp_path: Path) -> str:
    """Train and promote a small binary model in the fixture MLflow; its registry version."""
    csv = write_purchases_csv(small_purchases(), tmp_path / "purchases.csv")
    result = run_mingo(
        ["train", "binary", "--data", str(csv)],
        clean_env(tmp_path / "trainer-home", **mlflow_server.env()),
    )
    assert result.returncode == 0, explain(result)
    decision = last_json_line(result)
    assert decision["promoted"] is True, decision
    return str(decision["champion_version_after"])


SECRETS = (
    "mingo-s3",
    "mingo-mlflow",
    "mingo-s3-reader",
    "mingo-mlflow-reader",
    "mingo-api",
    "mingo-prediction-log",
)


def chart_values(
    mlflow_server: MlflowServer,
    s3_server: S3Server,
    port: int,
    suffix: str,
    api_key: str,
    mlflow_reader: tuple[str, str],
    prediction_log_uri: str,
) -> dict[str, Any]:
    """Values for this machine: the local images, the fixture servers, one replica; the
    prediction pod reads the read-only credentials (tests/pods/readers.py) and logs its answers
    to a database of the session's PostgreSQL."""

    names = {base: f"{base}-{suffix}" for base in SECRETS}
    values = {
        "image": {"registry": IMAGE_REGISTRY, "pullPolicy": "Never"},
        "predictionServices": {
            "binary": {"image": {"tag": IMAGE_TAG}},
            "multiclass": {"enabled": False},
            "clustering": {"enabled": False},
        },
        "serviceDefaults": {
            "replicas": 1,
            "port": port,
            "autoscaling": {"enabled": False},
            "podDisruptionBudget": {"enabled": False},
        },
        "platform": {
            "mlflowTrackingUri": mlflow_server.tracking_uri,
            "s3EndpointUrl": s3_server.endpoint_url,
            "zenmlStoreUrl": "",
        },
        "secretEnv": {
            "AWS_ACCESS_KEY_ID": {"secret": names["mingo-s3"], "key": "access-key-id"},
            "AWS_SECRET_ACCESS_KEY": {"secret": names["mingo-s3"], "key": "secret-access-key"},
            "MLFLOW_TRACKING_USERNAME": {"secret": names["mingo-mlflow"], "key": "username"},
            "MLFLOW_TRACKING_PASSWORD": {"secret": names["mingo-mlflow"], "key": "password"},
            "MINGO_API_KEY": {"secret": names["mingo-api"], "key": "api-key"},
            "MINGO_PREDICTION_LOG_URI": {"secret": names["mingo-prediction-log"], "key": "uri"},
        },
        "predictionSecretEnv": {
            "AWS_ACCESS_KEY_ID": {"secret": names["mingo-s3-reader"], "key": "access-key-id"},
            "AWS_SECRET_ACCESS_KEY": {
                "secret": names["mingo-s3-reader"],
                "key": "secret-access-key",
            },
            "MLFLOW_TRACKING_USERNAME": {"secret": names["mingo-mlflow-reader"], "key": "username"},
            "MLFLOW_TRACKING_PASSWORD": {"secret": names["mingo-mlflow-reader"], "key": "password"},
            "MINGO_API_KEY": {"secret": names["mingo-api"], "key": "api-key"},
            "MINGO_PREDICTION_LOG_URI": {"secret": names["mingo-prediction-log"], "key": "uri"},
        },
        "secrets": {
            "create": True,
            "data": {
                names["mingo-s3"]: {
                    "access-key-id": s3_server.access_key,
                    "secret-access-key": s3_server.secret_key,
                },
                names["mingo-mlflow"]: {
                    "username": mlflow_server.username,
                    "password": mlflow_server.password,
                },
                names["mingo-s3-reader"]: {
                    "access-key-id": s3_server.access_key,
                    "secret-access-key": s3_server.secret_key,
                },
                names["mingo-mlflow-reader"]: {
                    "username": mlflow_reader[0],
                    "password": mlflow_reader[1],
                },
                names["mingo-api"]: {"api-key": api_key},
                names["mingo-prediction-log"]: {"uri": prediction_log_uri},
            },
        },
    }
    return values


@pytest.fixture
def played(
    mlflow_server: MlflowServer,
    postgres_server: PostgresServer,
    s3_server: S3Server,
    champion_version: str,
    tmp_path: Path,
) -> Iterator[dict[str, Any]]:
    image = f"{IMAGE_REGISTRY}/binary-prediction:{IMAGE_TAG}"
    require_image(image)
    port = free_loopback_port()
    suffix = secrets.token_hex(4)
    api_key = secrets.token_urlsafe(16)
    values_file = tmp_path / "values.yaml"
    values_file.touch(mode=0o600)
    reader = create_mlflow_reader(mlflow_server)
    values_file.write_text(
        yaml.safe_dump(
            chart_values(
                mlflow_server,
                s3_server,
                port,
                suffix,
                api_key,
                reader,
                postgres_server.create_database("mingo_chart_play_predictions"),
            )
        )
    )
    rendered = [
        doc
        for doc in yaml.safe_load_all(
            run_helm(
                "template",
                RELEASE,
                str(CHART_DIR),
                "--namespace",
                NAMESPACE,
                "-f",
                str(values_file),
            )
        )
        if doc
    ]
    in_release = [obj for obj in rendered if obj["metadata"].get("namespace") == NAMESPACE]
    rendered_secrets = [obj for obj in in_release if obj["kind"] == "Secret"]
    played_objects = [obj for obj in in_release if obj["kind"] in ("ConfigMap", "Deployment")]
    assert {obj["metadata"]["name"] for obj in rendered_secrets} == {
        f"{base}-{suffix}" for base in SECRETS
    }
    (deployment,) = [obj for obj in played_objects if obj["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    mlflow_user = next(e for e in container["env"] if e["name"] == "MLFLOW_TRACKING_USERNAME")
    assert mlflow_user["valueFrom"]["secretKeyRef"]["name"] == f"mingo-mlflow-reader-{suffix}"
    assert [obj["metadata"]["name"] for obj in played_objects if obj["kind"] == "Deployment"] == [
        "binary-prediction"
    ]
    for deployment in (obj for obj in played_objects if obj["kind"] == "Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert [port["containerPort"] for port in container.pop("ports")] == [port]
        # What `mingo deploy roll binary` writes: the chart never renders the served version.
        template = deployment["spec"]["template"]
        assert MODEL_VERSION_ANNOTATION not in (template["metadata"].get("annotations") or {})
        template["metadata"].setdefault("annotations", {})[MODEL_VERSION_ANNOTATION] = (
            champion_version
        )
        # podman 4.3 resolves a fieldRef to the pod's labels but not to its annotations (seen:
        # an empty value): hand the container the value the kubelet would give.
        for container in template["spec"]["containers"]:
            for item in container["env"]:
                field = (item.get("valueFrom") or {}).get("fieldRef")
                if field is not None:
                    path = f"metadata.annotations['{MODEL_VERSION_ANNOTATION}']"
                    assert (item["name"], field["fieldPath"]) == ("MINGO_MODEL_VERSION", path)
                    item.pop("valueFrom")
                    item["value"] = template["metadata"]["annotations"][MODEL_VERSION_ANNOTATION]
    kube_file = tmp_path / "play.yaml"
    kube_file.touch(mode=0o600)
    kube_file.write_text(yaml.safe_dump_all(played_objects))

    created_secrets: list[str] = []
    try:
        for secret in rendered_secrets:
            name = secret["metadata"]["name"]
            secret_file = tmp_path / f"{name}.json"
            secret_file.touch(mode=0o600)
            secret_file.write_text(json.dumps(secret["data"]))
            podman("secret", "create", name, str(secret_file))
            created_secrets.append(name)
        started = time.monotonic()
        podman("kube", "play", "--network", POD_NETWORK, str(kube_file))
        yield {
            "port": port,
            "api_key": api_key,
            "pod": "binary-prediction-pod-0",
            "started": started,
            "kube_file": kube_file,
            "reader": reader,
            "tracking_uri": mlflow_server.tracking_uri,
        }
    finally:
        podman("kube", "down", str(kube_file), check=False)
        for name in created_secrets:
            podman("secret", "rm", name, check=False)


def test_played_chart_turns_ready_and_serves_the_champion(
    played: dict[str, Any], champion_version: str
) -> None:
    base = f"http://127.0.0.1:{played['port']}"
    deadline = played["started"] + READY_TIMEOUT_S
    ready_status: int | None = None
    seen: set[int | None] = set()
    while time.monotonic() < deadline:
        ready_status, _, _ = http(f"{base}/readyz")
        seen.add(ready_status)
        if ready_status == 200:
            break
        time.sleep(1)
    assert ready_status == 200, (
        f"/readyz never answered 200 in {READY_TIMEOUT_S} s (saw {seen}); pod logs:\n"
        f"{pod_logs(played['pod'])}"
    )
    print(f"/readyz 200 after {time.monotonic() - played['started']:.1f} s of kube play")

    # The chart's MINGO_API_KEY Secret is in force: no key, no prediction.
    status, _, _ = http(f"{base}/predict", PREDICT_BODY)
    assert status == 401, status

    status, headers, body = http(
        f"{base}/predict", PREDICT_BODY, headers={"X-API-Key": played["api_key"]}
    )
    assert status == 200, f"{status}: {body}\n{pod_logs(played['pod'])}"
    lowered = {key.lower(): value for key, value in headers.items()}
    assert lowered.get("x-model-version") == champion_version, headers
    answer = json.loads(body)
    assert answer["model_version"] == champion_version
    assert answer["model"] == "mingo-binary"
    (prediction,) = answer["predictions"]
    assert prediction["customer_id"] == "c1"
    assert 0.0 <= prediction["probability"] <= 1.0
    print(f"/predict 200, x-model-version {lowered['x-model-version']}: {answer}")

    # The pod's MLflow user reads but cannot move the champion alias.
    reader_env = {
        "MLFLOW_TRACKING_USERNAME": played["reader"][0],
        "MLFLOW_TRACKING_PASSWORD": played["reader"][1],
    }
    script = (
        "import mlflow, sys\n"
        "client = mlflow.MlflowClient(sys.argv[1])\n"
        "print(client.get_model_version_by_alias('mingo-binary', 'champion').version)\n"
        "try:\n"
        "    client.set_registered_model_alias('mingo-binary', 'champion', sys.argv[2])\n"
        "except mlflow.exceptions.MlflowException as error:\n"
        "    print(error.error_code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, played["tracking_uri"], champion_version],
        env={**os.environ, **reader_env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == [champion_version, "PERMISSION_DENIED"], result.stdout
