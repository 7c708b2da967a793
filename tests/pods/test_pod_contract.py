"""The pods of the retraining, monitoring and scoring DAGs (MINGO_RUNNER=kubernetes), run for
real with podman.

The pods are the ones Airflow would create, built by Airflow's own code:
- KubernetesPodOperator steps (validate_data, retrain, redeploy, smoke_test, rollback; the
  batch scores' score): the operator's `build_pod_request_obj` with a run's context;
- the registry steps under the KubernetesExecutor (champion_before, decide,
  fail_after_rollback; the monitoring DAG's decide_retrain): `PodGenerator.construct_pod`, as
  the executor's scheduler calls it (base pod from the Airflow chart's worker pod template, the
  executor's container with `python -m airflow.sdk.execution_time.execute_workload
  --json-string ...`, the task's pod_override).
Each runs its image, command, args, user and environment (the chart's rendered ConfigMap, the
Secrets of dags/mingo_retrain.yaml holding the session servers' credentials) on the host
network (tests/pods/podrun.py). `not_promoted`, `rollback_needed`, `trigger_retrain` and
`no_retrain` have no pod_override: they run in Airflow's own worker image, which is not built
here. The monitoring DAG's `monitor` pod is built and checked (tests/dags/test_pods.py,
tests/k8s/test_pod_security.py) but not run here: it needs a prediction log of served requests
(MINGO_PREDICTION_LOG_URI), which no pod of this session writes.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from mingo.deploy.kubernetes import MODEL_VERSION_ANNOTATION
from tests.dags.conftest import DAGS_FOLDER, KINDS
from tests.fixtures.services import (
    MlflowServer,
    PostgresServer,
    S3Server,
    free_loopback_port,
    running_mlflow_server,
)
from tests.k8s.helm import CHART_DIR, run_helm
from tests.pods.podrun import (
    REPO_ROOT,
    Namespace,
    PodResult,
    engine,
    engine_env,
    image_exists,
    run_pod,
)
from tests.pods.readers import create_mlflow_reader

pytestmark = pytest.mark.pods

PROJECT_VERSION = next(
    line.split('"')[1]
    for line in (REPO_ROOT / "pyproject.toml").read_text().splitlines()
    if line.startswith("version = ")
)
DEFAULT_IMAGE = f"localhost/mingo-pipeline:{PROJECT_VERSION}"
POD_TEMPLATE = Path(__file__).with_name("airflow-worker-pod-template.yaml")
REGISTRY_TASKS = ("champion_before", "decide", "fail_after_rollback")
# Registry steps of the other DAGs: (DAG id prefix, task id).
OTHER_REGISTRY_TASKS = (("mingo_monitor_", "decide_retrain"),)
EXECUTE_WORKLOAD = "airflow.sdk.execution_time.execute_workload"
AIRFLOW_NAMESPACE = "airflow"
STEP_NAMESPACE = "mingo"
# Airflow's remote task logs (the [logging] section of airflow_cfg, the connection Secret the
# worker pod template names): what helm-values/airflow.yaml sets for the cluster.
LOGS_BUCKET = "mingo-airflow-logs"
REMOTE_LOG_CONN_ID = "mingo_s3_logs"
REMOTE_LOG_CONN_SECRET = "airflow-s3-logs"


def pipeline_image() -> str:
    return os.environ.get("MINGO_POD_TEST_IMAGE") or DEFAULT_IMAGE


# --- the cluster the pods see -----------------------------------------------------------------


@dataclass
class Cluster:
    namespaces: dict[str, Namespace]
    data_uri: str
    bad_data_uri: str
    volumes: dict[str, Path]
    service_account_dir: Path
    api_server: tuple[str, int]
    execution_api: ExecutionApiStub
    mlflow: MlflowServer
    chart: list[dict[str, Any]]
    remote_log_folder: str
    remote_log_connection: str
    retrained: dict[str, PodResult] = field(default_factory=dict)


def render_chart(mlflow: MlflowServer, s3: S3Server) -> list[dict[str, Any]]:
    """charts/mingo-prediction rendered with the session servers' endpoints and the local
    images (`make images` tags them localhost/<name>:<version>)."""
    rendered = run_helm(
        "template", "mingo-prediction", str(CHART_DIR), "--namespace", STEP_NAMESPACE,
        "--set", f"platform.mlflowTrackingUri={mlflow.tracking_uri}",
        "--set", f"platform.s3EndpointUrl={s3.endpoint_url}",
        "--set", "platform.zenmlStoreUrl=",
        "--set", "image.registry=localhost",
    )  # fmt: skip
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


def config_maps_of(docs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, str]]]:
    """The chart's ConfigMaps per namespace."""
    config_maps: dict[str, dict[str, dict[str, str]]] = {}
    for doc in docs:
        if doc["kind"] == "ConfigMap":
            namespace = doc["metadata"].get("namespace", STEP_NAMESPACE)
            config_maps.setdefault(namespace, {})[doc["metadata"]["name"]] = doc["data"]
    return config_maps


def mingo_secrets(
    mlflow: MlflowServer,
    s3: S3Server,
    mlflow_reader: tuple[str, str],
    prediction_log_uri: str,
) -> dict[str, dict[str, str]]:
    """The Secrets dags/mingo_retrain.yaml names (helm-values/README.md step 2), with the
    session servers' credentials, and the prediction pods' read-only ones (tests/pods/readers.py).
    ZenML has no server here: its key is present but unused. The prediction log is a database of
    the session's PostgreSQL (every step pod gets the variable; none of the pods run here uses
    it)."""
    reader, reader_password = mlflow_reader
    return {
        "mingo-s3": {"access-key-id": s3.access_key, "secret-access-key": s3.secret_key},
        "mingo-mlflow": {"username": mlflow.username, "password": mlflow.password},
        "mingo-s3-reader": {"access-key-id": s3.access_key, "secret-access-key": s3.secret_key},
        "mingo-mlflow-reader": {"username": reader, "password": reader_password},
        "mingo-zenml": {"api-key": "unused-no-zenml-server-in-the-pod-tests"},
        "mingo-api": {"api-key": secrets.token_urlsafe(16)},
        "mingo-prediction-log": {"uri": prediction_log_uri},
    }


class ExecutionApiStub:
    """Stands for Airflow's execution API: records each request, refuses it with a 409.

    A task instance listed in `runnable` (id -> its TIRunContext as JSON) is let run instead:
    its start gets that context, its reads a 404 (no variable, connection or XCom here) and its
    writes (heartbeat, rendered fields, XCom, final state) a 200, as the API server answers.
    """

    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        self.runnable: dict[str, str] = {}
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length).decode(errors="replace") if length else ""
                stub.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "authorization": self.headers.get("authorization", ""),
                        "body": body,
                    }
                )
                status, answer = stub.answer(self.command, self.path)
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer

            def log_message(self, *_: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/execution/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, method: str, path: str) -> tuple[int, bytes]:
        if path.startswith("/execution/task-instances/") and path.endswith("/run"):
            ti_id = path.split("/")[-2]
            if ti_id in self.runnable:
                return 200, self.runnable[ti_id].encode()
            refused = {"detail": {"reason": "pod_contract_test", "message": "no such run here"}}
            return 409, json.dumps(refused).encode()
        if method == "GET":
            return 404, json.dumps({"detail": {"reason": "not_found"}}).encode()
        return 200, b"{}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def airflow_cfg(execution_api_url: str, remote_log_folder: str) -> str:
    """What the Airflow chart's ConfigMap puts in airflow.cfg that the task runner reads: with
    remote logging to S3, whose connection comes from a Secret (the worker pod template)."""
    return (
        "[core]\n"
        "dags_folder = /opt/airflow/dags/repo/dags\n"
        "load_examples = False\n"
        "executor = KubernetesExecutor\n"
        f"execution_api_server_url = {execution_api_url}\n"
        "[logging]\n"
        "base_log_folder = /opt/airflow/logs\n"
        "remote_logging = True\n"
        f"remote_base_log_folder = {remote_log_folder}\n"
        f"remote_log_conn_id = {REMOTE_LOG_CONN_ID}\n"
    )


def s3_log_connection(s3: S3Server) -> str:
    """Airflow's `aws` connection to the S3 server, in the JSON form AIRFLOW_CONN_* accepts."""
    return json.dumps(
        {
            "conn_type": "aws",
            "login": s3.access_key,
            "password": s3.secret_key,
            "extra": {"endpoint_url": s3.endpoint_url, "region_name": "us-east-1"},
        }
    )


@pytest.fixture(scope="module")
def image() -> str:
    name = pipeline_image()
    if not image_exists(name):
        pytest.fail(f"image {name} not found: run `make images` (or `make pod-tests`) first")
    return name


@pytest.fixture(scope="module")
def own_mlflow_server(
    postgres_server: PostgresServer, s3_server: S3Server
) -> Iterator[MlflowServer]:
    """An MLflow server (basic auth, PostgreSQL, S3) of this module's own: the retrain pods
    promote version 1 of each model, which the session's shared registry must not see."""
    with running_mlflow_server("mingo-pods-mlflow-", postgres_server, s3_server) as server:
        yield server


@pytest.fixture(scope="module")
def cluster(
    image: str,
    own_mlflow_server: MlflowServer,
    postgres_server: PostgresServer,
    s3_server: S3Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Cluster]:
    from tests.pipelines.conftest import small_purchases

    work = tmp_path_factory.mktemp("pods")
    work.chmod(0o755)
    bucket = s3_server.make_bucket("mingo-data")
    purchases = small_purchases()
    good = work / "purchases.csv"
    purchases.to_csv(good, index=False, date_format="%Y-%m-%d")
    bad = work / "bad.csv"
    missing = purchases.columns[1]
    purchases.drop(columns=[missing]).to_csv(bad, index=False, date_format="%Y-%m-%d")
    s3_server.client().fput_object(bucket, "pod-tests/purchases.csv", str(good))
    s3_server.client().fput_object(bucket, "pod-tests/bad.csv", str(bad))

    chart = render_chart(own_mlflow_server, s3_server)
    reader = create_mlflow_reader(own_mlflow_server)
    prediction_log_uri = postgres_server.create_database("mingo_pods_predictions")
    config_maps = config_maps_of(chart)
    logs_bucket = s3_server.make_bucket(LOGS_BUCKET)
    remote_log_folder = f"s3://{logs_bucket}/logs"
    remote_log_connection = s3_log_connection(s3_server)
    airflow_secrets = {
        "airflow-fernet-key": {"fernet-key": "unused-by-the-task-runner"},
        "airflow-metadata": {"connection": "postgresql://unused@127.0.0.1:1/airflow"},
        REMOTE_LOG_CONN_SECRET: {"connection": remote_log_connection},
    }
    namespaces = {
        namespace: Namespace(
            config_maps=config_maps.get(namespace, {}),
            secrets={
                **mingo_secrets(own_mlflow_server, s3_server, reader, prediction_log_uri),
                **airflow_secrets,
            },
        )
        for namespace in (STEP_NAMESPACE, AIRFLOW_NAMESPACE)
    }

    stub = ExecutionApiStub()
    config_dir = work / "airflow-config"
    config_dir.mkdir()
    (config_dir / "airflow.cfg").write_text(airflow_cfg(stub.url, remote_log_folder))
    (config_dir / "airflow.cfg").chmod(0o644)
    logs = work / "airflow-logs"
    logs.mkdir()
    logs.chmod(0o777)  # an emptyDir
    dags = work / "git-sync"
    shutil.copytree(
        DAGS_FOLDER, dags / "repo" / "dags", ignore=shutil.ignore_patterns("__pycache__")
    )
    service_account = work / "serviceaccount"
    service_account.mkdir()
    (service_account / "token").write_text("pod-contract-test-token")
    (service_account / "namespace").write_text(STEP_NAMESPACE)
    # Read (not verified) when the client loads the in-cluster config; nothing answers TLS.
    (service_account / "ca.crt").write_text(
        "-----BEGIN CERTIFICATE-----\nnot-a-real-cluster-ca\n-----END CERTIFICATE-----\n"
    )
    for path in (config_dir, dags, service_account):
        for item in [path, *path.rglob("*")]:
            item.chmod(0o755 if item.is_dir() else 0o644)
    try:
        yield Cluster(
            namespaces=namespaces,
            data_uri=f"s3://{bucket}/pod-tests/purchases.csv",
            bad_data_uri=f"s3://{bucket}/pod-tests/bad.csv",
            volumes={"config": config_dir, "logs": logs, "dags": dags},
            service_account_dir=service_account,
            # Where KUBERNETES_SERVICE_HOST/PORT point: nothing listens there.
            api_server=("127.0.0.1", free_loopback_port()),
            execution_api=stub,
            mlflow=own_mlflow_server,
            chart=chart,
            remote_log_folder=remote_log_folder,
            remote_log_connection=remote_log_connection,
        )
    finally:
        stub.close()


# --- the pods Airflow would create ----------------------------------------------------------


@pytest.fixture(scope="module")
def kubernetes_dags(image: str) -> dict[str, Any]:
    from airflow.dag_processing.dagbag import DagBag

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("MINGO_RUNNER", "kubernetes")
        monkeypatch.setenv("MINGO_PIPELINE_IMAGE", image)
        bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert bag.import_errors == {}
    return bag.dags


RUN_ID = "manual__2026-12-01T00:00:00+00:00"


@dataclass
class RunningTaskInstance:
    """What a running task's TaskInstance answers the operator: its coordinates, and for the
    deploy steps the version `decide` pushed as promoted in this run."""

    dag_id: str
    task_id: str
    promoted_version: str | None = None
    try_number: int = 1
    map_index: int = -1

    def xcom_pull(self, *, task_ids: str, key: str) -> dict[str, Any]:
        assert (task_ids, key) == ("decide", "decision")
        return {"promoted": True, "candidate_version": self.promoted_version}


def operator_pod(
    operator: Any, params: dict[str, Any], version: str | None = None
) -> dict[str, Any]:
    """The KubernetesPodOperator's own pod for a run with `params`."""
    from kubernetes.client import ApiClient

    context: dict[str, Any] = {
        "params": {**dict(operator.params), **params},
        "ti": RunningTaskInstance(operator.dag_id, operator.task_id, version),
        "run_id": RUN_ID,
        "dag": operator.dag,
    }
    # dry_run: the same pod without the one label that needs a Kubernetes client.
    pod = operator.build_pod_request_obj(context, dry_run=True)
    manifest: dict[str, Any] = ApiClient().sanitize_for_serialization(pod)
    return manifest


@dataclass
class ExecutorPod:
    manifest: dict[str, Any]
    ti_id: str
    token: str
    log_path: str


def executor_pod(task: Any, image_override: str | None = None) -> ExecutorPod:
    """The KubernetesExecutor's pod for `task`, built as its scheduler builds it."""
    from airflow.executors.workloads.base import BundleInfo
    from airflow.executors.workloads.task import ExecuteTask, TaskInstanceDTO
    from airflow.providers.cncf.kubernetes.pod_generator import (
        PodGenerator,
        workload_to_command_args,
    )
    from kubernetes.client import ApiClient

    run_id = RUN_ID
    ti = TaskInstanceDTO(
        id=uuid.uuid4(), task_id=task.task_id, dag_id=task.dag_id, run_id=run_id,
        try_number=1, dag_version_id=uuid.uuid4(), pool_slots=1, priority_weight=1,
    )  # fmt: skip
    token = "pod-contract-" + secrets.token_hex(8)
    # The executor's path: Airflow's default log_filename_template for this try.
    log_path = f"dag_id={task.dag_id}/run_id={run_id}/task_id={task.task_id}/attempt=1.log"
    workload = ExecuteTask(
        ti=ti,
        dag_rel_path=Path(Path(task.dag.fileloc).name),
        bundle_info=BundleInfo(name="dags-folder"),
        token=token,
        log_path=log_path,
    )
    override = task.executor_config["pod_override"]
    if image_override is not None:
        override = ApiClient()._ApiClient__deserialize(  # a copy with another image
            ApiClient().sanitize_for_serialization(override), "V1Pod"
        )
        override.spec.containers[0].image = image_override
    pod = PodGenerator.construct_pod(
        dag_id=task.dag_id,
        task_id=task.task_id,
        pod_id=f"{task.dag_id}-{task.task_id}".replace("_", "-"),
        try_number=1,
        kube_image="apache/airflow:3.3.2",
        date=None,
        args=workload_to_command_args(workload),
        pod_override_object=override,
        base_worker_pod=PodGenerator.deserialize_model_file(str(POD_TEMPLATE)),
        namespace=AIRFLOW_NAMESPACE,
        scheduler_job_id="1",
        run_id=run_id,
        with_mutation_hook=True,
    )
    manifest = ApiClient().sanitize_for_serialization(pod)
    return ExecutorPod(manifest=manifest, ti_id=str(ti.id), token=token, log_path=log_path)


def run_step(cluster: Cluster, manifest: dict[str, Any], timeout: float = 600) -> PodResult:
    namespace = manifest["metadata"].get("namespace", STEP_NAMESPACE)
    return run_pod(
        manifest,
        cluster.namespaces[namespace],
        timeout=timeout,
        volumes=cluster.volumes,
        api_server=cluster.api_server,
        service_account_dir=cluster.service_account_dir,
    )


# --- KubernetesPodOperator steps ----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_validate_data_pod_accepts_the_data(
    kubernetes_dags: dict[str, Any], cluster: Cluster, kind: str
) -> None:
    operator = kubernetes_dags[f"mingo_retrain_{kind}"].task_dict["validate_data"]
    pod = operator_pod(operator, {"data_uri": cluster.data_uri})
    container = pod["spec"]["containers"][0]
    assert container["command"] == ["mingo"]
    assert container["args"] == ["data", "validate", cluster.data_uri]
    result = run_step(cluster, pod)
    assert result.returncode == 0, result.explain()


def test_validate_data_pod_rejects_bad_data_and_the_task_is_not_retried(
    kubernetes_dags: dict[str, Any], cluster: Cluster
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from tests.dags.test_pods import RecordingCoreV1, finished_pod

    operator = kubernetes_dags["mingo_retrain_binary"].task_dict["validate_data"]
    pod = operator_pod(operator, {"data_uri": cluster.bad_data_uri})
    result = run_step(cluster, pod)
    assert result.returncode == 2, result.explain()
    assert "column" in result.output.lower(), result.explain()

    # The exit code the container really gave, handed to the operator's own end of a pod.
    built = operator.build_pod_request_obj(dry_run=True)
    remote = finished_pod(built, result.returncode)
    operator.__dict__["client"] = RecordingCoreV1(remote)
    operator.__dict__.pop("pod_manager", None)
    assert operator.retries >= 1
    with pytest.raises(AirflowFailException, match="exited with 2"):
        operator.cleanup(built, remote)


@pytest.fixture(scope="module")
def retrained(kubernetes_dags: dict[str, Any], cluster: Cluster) -> dict[str, PodResult]:
    """The retrain pod of each DAG, run once: they train, register and promote a version."""
    for kind in KINDS:
        operator = kubernetes_dags[f"mingo_retrain_{kind}"].task_dict["retrain"]
        pod = operator_pod(operator, {"data_uri": cluster.data_uri})
        assert pod["spec"]["containers"][0]["command"] == ["mingo"]
        assert pod["spec"]["containers"][0]["args"][:4] == [
            "train", kind, "--data", cluster.data_uri,
        ]  # fmt: skip
        cluster.retrained[kind] = run_step(cluster, pod, timeout=900)
    return cluster.retrained


def decision_of(result: PodResult) -> dict[str, Any]:
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines, result.explain()
    decision: dict[str, Any] = json.loads(lines[-1])
    return decision


@pytest.mark.parametrize("kind", KINDS)
def test_retrain_pod_trains_and_promotes(
    retrained: dict[str, PodResult], cluster: Cluster, kind: str
) -> None:
    from mlflow import MlflowClient

    result = retrained[kind]
    assert result.returncode == 0, result.explain()
    decision = decision_of(result)
    assert decision["model"] == f"mingo-{kind}"
    assert decision["promoted"] is True, decision
    # The registry (the real MLflow server, PostgreSQL + S3) says the same.
    with pytest.MonkeyPatch.context() as monkeypatch:
        for key, value in cluster.mlflow.env().items():
            monkeypatch.setenv(key, value)
        client = MlflowClient(tracking_uri=cluster.mlflow.tracking_uri)
        champion = client.get_model_version_by_alias(f"mingo-{kind}", "champion")
    assert str(champion.version) == str(decision["candidate_version"])


def deploy_pod(
    kubernetes_dags: dict[str, Any], cluster: Cluster, kind: str, task_id: str, version: str
) -> dict[str, Any]:
    operator = kubernetes_dags[f"mingo_retrain_{kind}"].task_dict[task_id]
    pod = operator_pod(operator, {"data_uri": cluster.data_uri}, version=version)
    container = pod["spec"]["containers"][0]
    assert container["command"] == ["mingo"]
    subcommand = {"redeploy": "roll", "rollback": "rollback", "smoke_test": "smoke-test"}[task_id]
    assert container["args"][:3] == ["deploy", subcommand, kind]
    assert container["args"][container["args"].index("--version") + 1] == version
    return pod


@pytest.mark.parametrize("kind", KINDS)
def test_redeploy_pod_gets_as_far_as_the_kubernetes_api(
    kubernetes_dags: dict[str, Any], cluster: Cluster, retrained: dict[str, PodResult], kind: str
) -> None:
    """No API server runs here: the pod parses its command, finds the version in the registry,
    loads the in-cluster config the kubelet gives a pod, and fails connecting to
    KUBERNETES_SERVICE_HOST:PORT."""
    version = str(decision_of(retrained[kind])["candidate_version"])
    pod = deploy_pod(kubernetes_dags, cluster, kind, "redeploy", version)
    result = run_step(cluster, pod, timeout=300)
    assert result.returncode != 0, result.explain()
    host, port = cluster.api_server
    output = result.output
    assert "No such command" not in output and "Usage:" not in output, result.explain()
    assert "no Kubernetes cluster configured" not in output, result.explain()
    assert f"host='{host}', port={port}" in output, result.explain()
    assert "Connection refused" in output, result.explain()


@pytest.mark.parametrize("kind", KINDS)
def test_rollback_pod_checks_the_registry_before_touching_the_deployment(
    kubernetes_dags: dict[str, Any], cluster: Cluster, retrained: dict[str, PodResult], kind: str
) -> None:
    """With one version there is nothing to roll back to: the pod reads the registry (the
    pod's MLflow settings and credentials work) and refuses before the Kubernetes step."""
    version = str(decision_of(retrained[kind])["candidate_version"])
    pod = deploy_pod(kubernetes_dags, cluster, kind, "rollback", version)
    result = run_step(cluster, pod, timeout=300)
    assert result.returncode == 1, result.explain()
    assert (
        f"cannot roll back mingo-{kind}: mingo-{kind} has no previous version distinct from "
        f"champion {version}: nothing to roll back to"
    ) in result.output, result.explain()


@pytest.fixture
def prediction_service(
    cluster: Cluster, retrained: dict[str, PodResult], kind: str
) -> Iterator[str]:
    """The chart's `<kind>-prediction` Deployment's pod, run from its image: it loads the
    champion from the session's MLflow. The address its in-cluster Service name resolves to
    (a loopback address of its own, so the three never share a port)."""
    import time
    import urllib.request

    deployment = next(
        doc
        for doc in cluster.chart
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] == f"{kind}-prediction"
    )
    template = deployment["spec"]["template"]
    # What `mingo deploy roll` writes into the pod template: the version this run promoted.
    version = str(decision_of(retrained[kind])["candidate_version"])
    annotations = {
        **(template["metadata"].get("annotations") or {}),
        MODEL_VERSION_ANNOTATION: version,
    }
    manifest = {
        "metadata": {**template["metadata"], "annotations": annotations},
        "spec": template["spec"],
    }
    manifest["metadata"]["namespace"] = STEP_NAMESPACE
    scratch = Path(cluster.volumes["logs"]).parent / f"{kind}-prediction"
    volumes: dict[str, Path] = {}
    for volume in template["spec"].get("volumes") or []:
        path = scratch / volume["name"]
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o777)  # an emptyDir
        volumes[volume["name"]] = path
    address = f"127.0.0.{10 + KINDS.index(kind)}"
    name = f"mingo-pod-test-{kind}-{uuid.uuid4().hex[:6]}"
    result = run_pod(
        manifest,
        cluster.namespaces[STEP_NAMESPACE],
        timeout=120,
        volumes=volumes,
        name=name,
        extra_env={"BENTOML_HOST": address},
        extra_args=["--detach"],
    )
    assert result.returncode == 0, result.explain()
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(f"http://{address}:3000/readyz", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                logs = subprocess.run(
                    [engine(), "logs", name], capture_output=True, text=True, env=engine_env()
                )
                pytest.fail(f"{kind}-prediction never turned ready:\n{logs.stderr[-3000:]}")
            time.sleep(2)
        yield address
    finally:
        subprocess.run(
            [engine(), "rm", "-f", name], capture_output=True, env=engine_env(), timeout=120
        )


@pytest.mark.parametrize("kind", KINDS)
def test_smoke_test_pod_checks_the_service_by_its_in_cluster_name(
    kubernetes_dags: dict[str, Any],
    cluster: Cluster,
    retrained: dict[str, PodResult],
    prediction_service: str,
    kind: str,
) -> None:
    """smoke_test calls the Service `<kind>-prediction.mingo.svc.cluster.local:3000` (no
    Kubernetes API): the name resolves, as cluster DNS would, to the chart's prediction pod run
    from its image, and the pod passes: /readyz, then /predict serves the promoted version."""
    version = str(decision_of(retrained[kind])["candidate_version"])
    pod = deploy_pod(kubernetes_dags, cluster, kind, "smoke_test", version)
    service = f"{kind}-prediction.{STEP_NAMESPACE}.svc.cluster.local"
    result = run_pod(
        pod,
        cluster.namespaces[STEP_NAMESPACE],
        timeout=300,
        api_server=cluster.api_server,
        service_account_dir=cluster.service_account_dir,
        extra_args=["--add-host", f"{service}:{prediction_service}"],
    )
    assert result.returncode == 0, result.explain()
    assert version in result.output, result.explain()


@pytest.mark.parametrize("kind", KINDS)
def test_score_pod_scores_every_customer_with_the_champion(
    kubernetes_dags: dict[str, Any],
    cluster: Cluster,
    retrained: dict[str, PodResult],
    s3_server: S3Server,
    kind: str,
) -> None:
    """The batch-scoring DAG's pod: every customer of the data in S3 scored by the champion
    retrain promoted, the Parquet file written to the configured scores_uri in S3."""
    import pandas as pd

    from tests.pipelines.conftest import small_purchases

    as_of = pd.to_datetime(small_purchases()["date_purchase"]).max().date().isoformat()
    version = str(decision_of(retrained[kind])["candidate_version"])
    operator = kubernetes_dags[f"mingo_score_{kind}"].task_dict["score"]
    pod = operator_pod(operator, {"data_uri": cluster.data_uri, "as_of": as_of})
    out = f"s3://mingo-data/scores/{kind}/{as_of}.parquet"
    container = pod["spec"]["containers"][0]
    assert container["command"] == ["mingo"]
    assert container["args"] == ["score", kind, "--data", cluster.data_uri, "--as-of", as_of,
                                 "--out", out]  # fmt: skip
    result = run_step(cluster, pod, timeout=600)
    assert result.returncode == 0, result.explain()
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["model_version"], summary["out"]) == (version, out), summary
    assert summary["customers"] > 0, summary
    stored = [
        obj.object_name
        for obj in s3_server.client().list_objects("mingo-data", prefix="scores/", recursive=True)
    ]
    assert f"scores/{kind}/{as_of}.parquet" in stored, stored


# --- registry steps under the KubernetesExecutor -----------------------------------------------


def assert_started_the_task_runner(result: PodResult, pod: ExecutorPod, cluster: Cluster) -> None:
    """The container ran Airflow's task runner: it read the workload and asked the execution
    API (the URL in the chart's airflow.cfg) to start this task instance, with its token."""
    output = result.output
    assert "No such command" not in output, result.explain()
    assert "executable file not found" not in output, result.explain()
    calls = [
        call
        for call in cluster.execution_api.requests
        if call["path"] == f"/execution/task-instances/{pod.ti_id}/run"
    ]
    assert calls, f"the execution API was never called for this task\n{result.explain()}"
    assert calls[0]["method"] == "PATCH"
    assert calls[0]["authorization"] == f"Bearer {pod.token}"
    assert result.returncode != 0, "the stub refused to start the task"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("task_id", REGISTRY_TASKS)
def test_registry_task_pods_start_airflows_task_runner(
    kubernetes_dags: dict[str, Any], cluster: Cluster, kind: str, task_id: str
) -> None:
    task = kubernetes_dags[f"mingo_retrain_{kind}"].task_dict[task_id]
    pod = executor_pod(task)
    container = pod.manifest["spec"]["containers"][0]
    assert container["image"] == pipeline_image()
    assert container.get("command") is None
    assert container["args"][:3] == ["python", "-m", EXECUTE_WORKLOAD]
    result = run_step(cluster, pod.manifest, timeout=300)
    assert_started_the_task_runner(result, pod, cluster)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("prefix", "task_id"), OTHER_REGISTRY_TASKS)
def test_other_dags_registry_task_pods_start_airflows_task_runner(
    kubernetes_dags: dict[str, Any], cluster: Cluster, kind: str, prefix: str, task_id: str
) -> None:
    task = kubernetes_dags[f"{prefix}{kind}"].task_dict[task_id]
    pod = executor_pod(task)
    container = pod.manifest["spec"]["containers"][0]
    assert container["image"] == pipeline_image()
    assert container["args"][:3] == ["python", "-m", EXECUTE_WORKLOAD]
    result = run_step(cluster, pod.manifest, timeout=300)
    assert_started_the_task_runner(result, pod, cluster)


REGISTRY_PROBE = """
import json, os, pathlib, sys
from airflow.configuration import conf
home = pathlib.Path(os.environ["HOME"])
(home / ".probe").write_text("ok")
sys.path.insert(0, conf.get("core", "dags_folder"))
from mingo_dags.registry_tasks import _registry_snapshot
print(json.dumps({
    "uid": os.getuid(), "home": str(home),
    "airflow_home": os.environ.get("AIRFLOW_HOME"),
    "execution_api_server_url": conf.get("core", "execution_api_server_url"),
    "snapshot": _registry_snapshot(sys.argv[1]),
}))
"""


@pytest.mark.parametrize("kind", KINDS)
def test_the_registry_task_pod_reaches_airflows_config_and_the_registry(
    kubernetes_dags: dict[str, Any],
    cluster: Cluster,
    retrained: dict[str, PodResult],
    kind: str,
) -> None:
    """The same executor pod with a probe for args: as the image's user, with a writable
    HOME, Airflow's config from the chart's mount, and what champion_before reads (the MLflow
    registry, through the ConfigMap and Secrets) answers with the champion retrain promoted."""
    pod = executor_pod(kubernetes_dags[f"mingo_retrain_{kind}"].task_dict["champion_before"])
    pod.manifest["spec"]["containers"][0]["args"] = ["python", "-c", REGISTRY_PROBE, kind]
    result = run_step(cluster, pod.manifest, timeout=300)
    assert result.returncode == 0, result.explain()
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["uid"] == 10001
    assert probe["home"] == "/home/mingo"
    assert probe["airflow_home"] == "/opt/airflow"
    assert probe["execution_api_server_url"] == cluster.execution_api.url
    promoted = str(decision_of(retrained[kind])["candidate_version"])
    assert probe["snapshot"]["champion"] == promoted


def test_the_pipeline_image_user_is_the_one_the_pods_run_as(image: str) -> None:
    from mingo_dags.pod_step import PIPELINE_HOME, PIPELINE_UID

    result = subprocess.run(
        [engine(), "run", "--rm", "--pull", "never", image, "sh", "-c", 'id -u; echo "$HOME"'],
        capture_output=True,
        text=True,
        env=engine_env(),
        timeout=120,
        check=True,
    )
    assert result.stdout.split() == [str(PIPELINE_UID), PIPELINE_HOME]


# --- task logs outlive the pod: Airflow's remote logging to S3 --------------------------------


def run_context(task: Any) -> str:
    """The TIRunContext Airflow's API server answers a task's start with, for RUN_ID."""
    from datetime import UTC, datetime

    from airflow.sdk.api.datamodels._generated import DagRun, TIRunContext

    started = datetime(2026, 12, 1, tzinfo=UTC)
    dag_run = DagRun(
        dag_id=task.dag_id, run_id=RUN_ID, logical_date=None, data_interval_start=None,
        data_interval_end=None, run_after=started, start_date=started, end_date=None,
        run_type="manual", state="running", conf={}, consumed_asset_events=[],
        partition_key=None,
    )  # fmt: skip
    return TIRunContext(dag_run=dag_run, max_tries=task.retries).model_dump_json()


def test_a_finished_tasks_log_is_read_from_s3_after_its_pod_is_gone(
    kubernetes_dags: dict[str, Any],
    cluster: Cluster,
    s3_server: S3Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """champion_before runs to success in its executor pod (the stub lets this one task
    instance run); the task runner uploads its log to S3 when the task ends; the pod and its
    logs volume are gone; Airflow's own S3 remote log IO (what the API server's log reader
    calls) reads the log back from the bucket, with the task's output in it."""
    from airflow.providers.amazon.aws.log.s3_task_handler import S3RemoteLogIO

    task = kubernetes_dags["mingo_retrain_binary"].task_dict["champion_before"]
    pod = executor_pod(task)
    cluster.execution_api.runnable[pod.ti_id] = run_context(task)
    result = run_step(cluster, pod.manifest, timeout=300)
    assert result.returncode == 0, result.explain()
    finished = [
        json.loads(call["body"])
        for call in cluster.execution_api.requests
        if call["path"] == f"/execution/task-instances/{pod.ti_id}/state"
    ]
    assert [state["state"] for state in finished] == ["success"], result.explain()

    # `podman run --rm` removed the container; its emptyDir goes with a pod: delete the copy.
    local_log = cluster.volumes["logs"] / pod.log_path
    assert local_log.is_file(), result.explain()
    local_log.unlink()
    bucket, _, prefix = cluster.remote_log_folder.removeprefix("s3://").partition("/")
    stored = [
        obj.object_name
        for obj in s3_server.client().list_objects(bucket, prefix=f"{prefix}/", recursive=True)
    ]
    assert f"{prefix}/{pod.log_path}" in stored, stored

    # The reader's side (the API server) has the same connection, from the same Secret.
    monkeypatch.setenv(f"AIRFLOW_CONN_{REMOTE_LOG_CONN_ID.upper()}", cluster.remote_log_connection)
    monkeypatch.setenv("AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID", REMOTE_LOG_CONN_ID)
    reader = S3RemoteLogIO(
        remote_base=cluster.remote_log_folder,
        base_log_folder=tmp_path / "api-server-logs",
        delete_local_copy=False,
    )
    sources, logs = reader.read(pod.log_path, None)
    assert sources == [f"{cluster.remote_log_folder}/{pod.log_path}"]
    text = "".join(logs or [])
    assert "mingo-binary before retraining: champion" in text, text[-3000:]


# --- the check itself: it fails on the old ENTRYPOINT ["mingo"] -------------------------------


@pytest.fixture(scope="module")
def old_entrypoint_image(image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    context = tmp_path_factory.mktemp("old-entrypoint")
    (context / "Dockerfile").write_text(f'FROM {image}\nENTRYPOINT ["mingo"]\n')
    name = f"localhost/mingo-pipeline-old-entrypoint:{uuid.uuid4().hex[:8]}"
    subprocess.run(
        [engine(), "build", "--pull=never", "-t", name, str(context)],
        capture_output=True,
        text=True,
        env=engine_env(),
        timeout=300,
        check=True,
    )
    try:
        yield name
    finally:
        subprocess.run(
            [engine(), "rmi", name], capture_output=True, env=engine_env(), timeout=120, check=False
        )


def test_the_check_fails_on_the_old_entrypoint(
    kubernetes_dags: dict[str, Any], cluster: Cluster, old_entrypoint_image: str
) -> None:
    task = kubernetes_dags["mingo_retrain_binary"].task_dict["decide"]
    pod = executor_pod(task, image_override=old_entrypoint_image)
    result = run_step(cluster, pod.manifest, timeout=300)
    print(result.explain())
    assert "No such command 'python'" in result.output, result.explain()
    with pytest.raises(AssertionError):
        assert_started_the_task_runner(result, pod, cluster)
