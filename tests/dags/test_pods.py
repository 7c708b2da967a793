"""The pods the kubernetes runner would launch: valid for Kubernetes 1.33, and complete."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import kubernetes_validate
import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.providers.common.compat.sdk import AirflowException
from airflow.sdk.exceptions import AirflowFailException
from kubernetes.client import ApiClient
from kubernetes.client import models as k8s

from tests.dags.conftest import DAGS_FOLDER, KINDS, PROJECT_ROOT
from tests.k8s.pod_security import restricted_violations

POD_TASKS = ("validate_data", "retrain", "redeploy", "smoke_test", "rollback")
# Every step pod of every DAG: (DAG id prefix, task id, app.kubernetes.io/component).
POD_STEPS = [
    *(("mingo_retrain_", task_id, "retraining") for task_id in POD_TASKS),
    ("mingo_monitor_", "monitor", "monitoring"),
    ("mingo_score_", "score", "scoring"),
]
# Training steps never call the Kubernetes API; only the deploy steps may patch Deployments.
SERVICE_ACCOUNTS = {
    "validate_data": "mingo-trainer",
    "retrain": "mingo-trainer",
    "smoke_test": "mingo-trainer",
    "redeploy": "mingo-deployer",
    "rollback": "mingo-deployer",
    "monitor": "mingo-trainer",
    "score": "mingo-trainer",
}
# Worker-side steps that read MLflow, run in the pipeline image under the KubernetesExecutor.
REGISTRY_STEPS = [
    ("mingo_retrain_multiclass", "champion_before"),
    ("mingo_retrain_multiclass", "decide"),
    ("mingo_retrain_multiclass", "fail_after_rollback"),
    ("mingo_monitor_multiclass", "decide_retrain"),
]
# The pipeline image's user (docker/Dockerfile: uid/gid 10001) and the runtime's seccomp.
POD_SECURITY_CONTEXT = {
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "runAsGroup": 10001,
    "fsGroup": 10001,
    "seccompProfile": {"type": "RuntimeDefault"},
}
WORKER_POD_TEMPLATE = PROJECT_ROOT / "tests" / "pods" / "airflow-worker-pod-template.yaml"
SECRET_ENV = {
    "AWS_ACCESS_KEY_ID": ("mingo-s3", "access-key-id"),
    "AWS_SECRET_ACCESS_KEY": ("mingo-s3", "secret-access-key"),
    "MLFLOW_TRACKING_USERNAME": ("mingo-mlflow", "username"),
    "MLFLOW_TRACKING_PASSWORD": ("mingo-mlflow", "password"),
    "ZENML_STORE_API_KEY": ("mingo-zenml", "api-key"),
    "MINGO_API_KEY": ("mingo-api", "api-key"),
    "MINGO_PREDICTION_LOG_URI": ("mingo-prediction-log", "uri"),
}


@pytest.fixture(scope="module")
def kubernetes_dags() -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("MINGO_RUNNER", "kubernetes")
        monkeypatch.setenv("MINGO_PIPELINE_IMAGE", "registry.example/mingo-pipeline:1.2.3")
        monkeypatch.setenv("MINGO_DATA_URI", "s3://mingo-data/clickbus/df_t.csv")
        bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert bag.import_errors == {}
    return bag.dags


def pod_manifest(operator: KubernetesPodOperator) -> dict[str, Any]:
    pod = operator.build_pod_request_obj(dry_run=True)
    return ApiClient().sanitize_for_serialization(pod)  # type: ignore[no-any-return]


def test_every_pod_step_is_listed(kubernetes_dags: dict[str, Any]) -> None:
    pod_steps = {
        (dag_id, task.task_id)
        for dag_id, dag in kubernetes_dags.items()
        for task in dag.tasks
        if isinstance(task, KubernetesPodOperator)
    }
    listed = {(f"{prefix}{kind}", task_id) for prefix, task_id, _ in POD_STEPS for kind in KINDS}
    assert pod_steps == listed


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("prefix", "task_id", "component"), POD_STEPS)
def test_pod_is_valid_and_complete(
    kubernetes_dags: dict[str, Any], kind: str, prefix: str, task_id: str, component: str
) -> None:
    operator = kubernetes_dags[f"{prefix}{kind}"].task_dict[task_id]
    assert isinstance(operator, KubernetesPodOperator)
    manifest = pod_manifest(operator)
    kubernetes_validate.validate(manifest, "1.33", strict=True)

    assert manifest["metadata"]["namespace"] == "mingo"
    assert manifest["metadata"]["labels"]["mingo.io/kind"] == kind
    assert manifest["metadata"]["labels"]["app.kubernetes.io/component"] == component
    spec = manifest["spec"]
    assert spec["serviceAccountName"] == SERVICE_ACCOUNTS[task_id]
    # Admitted by a namespace enforcing Pod Security "restricted".
    assert restricted_violations(manifest) == {}
    assert spec["securityContext"] == POD_SECURITY_CONTEXT
    assert spec["restartPolicy"] == "Never"
    (container,) = spec["containers"]
    assert container["image"] == "registry.example/mingo-pipeline:1.2.3"
    assert container["command"] == ["mingo"]
    assert container["envFrom"] == [{"configMapRef": {"name": "mingo-config"}}]
    secret_env = {
        item["name"]: (
            item["valueFrom"]["secretKeyRef"]["name"],
            item["valueFrom"]["secretKeyRef"]["key"],
        )
        for item in container["env"]
        if "valueFrom" in item
    }
    assert secret_env == SECRET_ENV
    assert not any("value" in item for item in container["env"]), "no literal credentials"
    assert container["resources"]["requests"]["memory"]
    assert container["resources"]["limits"]["memory"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    # Deleted when it succeeds, kept for inspection when it fails; logs streamed to Airflow.
    assert operator.on_finish_action.value == "delete_succeeded_pod"
    assert operator.get_logs is True
    assert operator.do_xcom_push is False


def test_pod_arguments_are_the_mingo_commands(kubernetes_dags: dict[str, Any]) -> None:
    tasks = kubernetes_dags["mingo_retrain_binary"].task_dict
    data = "s3://mingo-data/clickbus/df_t.csv"
    assert pod_manifest(tasks["validate_data"])["spec"]["containers"][0]["args"] == [
        "data", "validate", data,
    ]  # fmt: skip
    assert pod_manifest(tasks["retrain"])["spec"]["containers"][0]["args"] == [
        "train", "binary", "--data", data, "--horizon", "30",
    ]  # fmt: skip
    # Rendered outside a run, the deploy pods show where the promoted version goes.
    assert pod_manifest(tasks["redeploy"])["spec"]["containers"][0]["args"] == [
        "deploy", "roll", "binary", "--version", "<promoted-version>",
        "--namespace", "mingo", "--timeout", "600",
    ]  # fmt: skip
    assert pod_manifest(tasks["smoke_test"])["spec"]["containers"][0]["args"] == [
        "deploy", "smoke-test", "binary", "--version", "<promoted-version>",
        "--namespace", "mingo",
    ]  # fmt: skip
    assert pod_manifest(tasks["rollback"])["spec"]["containers"][0]["args"] == [
        "deploy", "rollback", "binary", "--version", "<promoted-version>",
        "--namespace", "mingo", "--timeout", "600",
    ]  # fmt: skip
    # A manual trigger's params become flags; unset ones leave no trace.
    triggered = tasks["retrain"].command_builder(
        {
            "data_uri": "/data/df_t.csv",
            "cutoff": "2024-01-31",
            "horizon_days": 7,
            "min_absolute_margin": 0.02,
            "force_promote": True,
            "dry_run": False,
        }
    )
    assert triggered == [
        "train", "binary", "--data", "/data/df_t.csv", "--cutoff", "2024-01-31",
        "--horizon", "7", "--min-absolute-margin", "0.02", "--force-promote",
    ]  # fmt: skip


def test_training_pod_gets_the_training_resources(kubernetes_dags: dict[str, Any]) -> None:
    tasks = kubernetes_dags["mingo_retrain_binary"].task_dict
    train = pod_manifest(tasks["retrain"])["spec"]["containers"][0]["resources"]
    step = pod_manifest(tasks["validate_data"])["spec"]["containers"][0]["resources"]
    assert train == {
        "requests": {"cpu": "1", "memory": "3Gi"},
        "limits": {"cpu": "2", "memory": "6Gi"},
    }
    assert step == {
        "requests": {"cpu": "250m", "memory": "512Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }
    # The monitor and the batch scores read the whole purchases file: their own resources.
    monitor = kubernetes_dags["mingo_monitor_binary"].task_dict["monitor"]
    assert pod_manifest(monitor)["spec"]["containers"][0]["resources"] == {
        "requests": {"cpu": "500m", "memory": "2Gi"},
        "limits": {"cpu": "2", "memory": "4Gi"},
    }
    score = kubernetes_dags["mingo_score_binary"].task_dict["score"]
    assert pod_manifest(score)["spec"]["containers"][0]["resources"] == {
        "requests": {"cpu": "1", "memory": "3Gi"},
        "limits": {"cpu": "2", "memory": "6Gi"},
    }


def running(operator: Any) -> SimpleNamespace:
    """What the operator asks of a running task's TaskInstance when it labels its pod."""
    return SimpleNamespace(
        dag_id=operator.dag_id, task_id=operator.task_id, map_index=-1, try_number=1
    )


def test_monitor_and_score_pod_arguments(kubernetes_dags: dict[str, Any]) -> None:
    # Rendered outside a run: the run's id and date are placeholders, filled in when it runs.
    monitor = kubernetes_dags["mingo_monitor_clustering"].task_dict["monitor"]
    assert pod_manifest(monitor)["spec"]["containers"][0]["args"] == [
        "monitor", "clustering", "--data", "s3://mingo-data/clickbus/df_t.csv",
        "--tolerance", "0.05", "--drift-threshold", "0.25", "--min-outcomes", "100",
        "--request-id", "<run-id>",
    ]  # fmt: skip
    score = kubernetes_dags["mingo_score_clustering"].task_dict["score"]
    assert pod_manifest(score)["spec"]["containers"][0]["args"] == [
        "score", "clustering", "--data", "s3://mingo-data/clickbus/df_t.csv",
        "--as-of", "<run-date>", "--out", "s3://mingo-data/scores/clustering/<run-date>.parquet",
    ]  # fmt: skip
    # In a run (the operator's own pod for it): the run's id, the run's date.
    run_id = "scheduled__2026-06-01T06:30:00+00:00"
    context: dict[str, Any] = {
        "params": {key: monitor.params[key] for key in monitor.params},
        "run_id": run_id,
        "ds": "2026-06-01",
        "dag": monitor.dag,
        "ti": running(monitor),
    }
    args = monitor.build_pod_request_obj(context, dry_run=True).spec.containers[0].args
    assert args[-2:] == ["--request-id", run_id]
    context["params"] = {key: score.params[key] for key in score.params}
    context["dag"] = score.dag
    context["ti"] = running(score)
    args = score.build_pod_request_obj(context, dry_run=True).spec.containers[0].args
    assert args[4:8] == [
        "--as-of",
        "2026-06-01",
        "--out",
        "s3://mingo-data/scores/clustering/2026-06-01.parquet",
    ]


def test_the_trigger_and_no_retrain_run_in_airflows_own_image(
    kubernetes_dags: dict[str, Any],
) -> None:
    # They need neither mingo nor MLflow: no pod_override, the worker template as it is.
    tasks = kubernetes_dags["mingo_monitor_binary"].task_dict
    for task_id in ("trigger_retrain", "no_retrain"):
        assert not tasks[task_id].executor_config, task_id


@pytest.mark.parametrize(("dag_id", "task_id"), REGISTRY_STEPS)
def test_registry_steps_run_in_the_pipeline_image(
    kubernetes_dags: dict[str, Any], dag_id: str, task_id: str
) -> None:
    # Airflow's stock worker image has no mingo/MLflow: these steps run in the pipeline image.
    task = kubernetes_dags[dag_id].task_dict[task_id]
    override = task.executor_config["pod_override"]
    manifest = ApiClient().sanitize_for_serialization(override)
    manifest |= {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "override"}}
    kubernetes_validate.validate(manifest, "1.33", strict=True)
    (container,) = manifest["spec"]["containers"]
    assert container["name"] == "base"
    assert container["image"] == "registry.example/mingo-pipeline:1.2.3"
    # No command: the executor's args (`python -m airflow.sdk.execution_time...`) run as given.
    assert "command" not in container and "args" not in container
    assert container["envFrom"] == [{"configMapRef": {"name": "mingo-config"}}]
    secret_env = {item["name"] for item in container["env"] if "valueFrom" in item}
    assert secret_env == set(SECRET_ENV)
    plain = {item["name"]: item["value"] for item in container["env"] if "value" in item}
    # Where the Airflow chart's pod template mounts airflow.cfg, and the image user's home.
    assert plain == {
        "AIRFLOW_HOME": "/opt/airflow",
        "HOME": "/home/mingo",
        # The task runner never opens the metadata DB; the chart's PostgreSQL URL would make
        # it import a driver the image does not carry (tests/pods).
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite:////tmp/airflow-task-pod-unused.db",
        "AIRFLOW__CORE__SQL_ALCHEMY_CONN": "sqlite:////tmp/airflow-task-pod-unused.db",
    }
    security = container["securityContext"]
    assert (security["runAsUser"], security["runAsGroup"]) == (10001, 10001)
    assert security["runAsNonRoot"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert manifest["spec"]["securityContext"] == POD_SECURITY_CONTEXT


@pytest.mark.parametrize(
    "task_id", ["champion_before", "decide", "fail_after_rollback", "decide_retrain"]
)
def test_registry_step_pods_pass_pod_security_restricted(
    kubernetes_dags: dict[str, Any], task_id: str
) -> None:
    # The executor's pod: the Airflow chart's worker template reconciled with the task's
    # pod_override, as PodGenerator does. The override alone makes it restricted: with the
    # template's pod security context stripped (a chart installed without MinGo's values),
    # the template fails the check and the reconciled pod still passes.
    from airflow.providers.cncf.kubernetes.pod_generator import PodGenerator

    dag_id = "mingo_monitor_binary" if task_id == "decide_retrain" else "mingo_retrain_binary"
    task = kubernetes_dags[dag_id].task_dict[task_id]
    base = PodGenerator.deserialize_model_file(str(WORKER_POD_TEMPLATE))
    stripped = PodGenerator.deserialize_model_file(str(WORKER_POD_TEMPLATE))
    stripped.spec.security_context = None
    assert restricted_violations(ApiClient().sanitize_for_serialization(stripped)) != {}
    for template in (base, stripped):
        pod = PodGenerator.reconcile_pods(template, task.executor_config["pod_override"])
        manifest = ApiClient().sanitize_for_serialization(pod)
        assert restricted_violations(manifest) == {}
        assert manifest["spec"]["securityContext"] == POD_SECURITY_CONTEXT


class DecidedTaskInstance:
    """What a deploy task's TaskInstance answers: the XCom `decide` pushed in this run."""

    def __init__(self, outcome: dict[str, Any]) -> None:
        self.outcome = outcome

    def xcom_pull(self, *, task_ids: str, key: str) -> dict[str, Any]:
        assert (task_ids, key) == ("decide", "decision")
        return self.outcome


@pytest.mark.parametrize("task_id", ["redeploy", "smoke_test", "rollback"])
def test_deploy_pods_act_on_the_version_decide_found_promoted(
    kubernetes_dags: dict[str, Any], task_id: str
) -> None:
    operator = kubernetes_dags["mingo_retrain_binary"].task_dict[task_id]
    context = {
        "params": {key: operator.params[key] for key in operator.params},
        "ti": DecidedTaskInstance({"promoted": True, "candidate_version": "4"}),
    }
    argv = operator.command_builder(operator._inputs(context))
    assert argv[argv.index("--version") + 1] == "4"

    context["ti"] = DecidedTaskInstance({"promoted": False, "candidate_version": "5"})
    with pytest.raises(AirflowFailException, match="no promoted version"):
        operator._inputs(context)


class RecordingCoreV1:
    """The Kubernetes API calls the operator's cleanup makes, recorded (no API server here)."""

    def __init__(self, remote_pod: k8s.V1Pod) -> None:
        self.remote_pod = remote_pod
        self.calls: list[str] = []

    def patch_namespaced_pod(self, **_: Any) -> None:
        self.calls.append("patch")

    def read_namespaced_pod(self, *_: Any, **__: Any) -> k8s.V1Pod:
        self.calls.append("read")
        return self.remote_pod

    def list_namespaced_event(self, *_: Any, **__: Any) -> k8s.CoreV1EventList:
        self.calls.append("events")
        return k8s.CoreV1EventList(items=[])

    def delete_namespaced_pod(self, *_: Any, **__: Any) -> None:
        self.calls.append("delete")


def finished_pod(pod: k8s.V1Pod, exit_code: int) -> k8s.V1Pod:
    terminated = k8s.V1ContainerStateTerminated(exit_code=exit_code, reason="Error")
    return k8s.V1Pod(
        metadata=pod.metadata,
        spec=pod.spec,
        status=k8s.V1PodStatus(
            phase="Succeeded" if exit_code == 0 else "Failed",
            container_statuses=[
                k8s.V1ContainerStatus(
                    name="base",
                    image="registry.example/mingo-pipeline:1.2.3",
                    image_id="",
                    ready=False,
                    restart_count=0,
                    state=k8s.V1ContainerState(terminated=terminated),
                )
            ],
        ),
    )


def finish(operator: KubernetesPodOperator, exit_code: int) -> RecordingCoreV1:
    """The operator's own end of a pod (cleanup, which the blocking and the deferrable
    paths both end in) on a pod whose container exited with `exit_code`."""
    pod = operator.build_pod_request_obj(dry_run=True)
    remote = finished_pod(pod, exit_code)
    api = RecordingCoreV1(remote)
    operator.__dict__["client"] = api  # the cached Kubernetes client
    operator.__dict__.pop("pod_manager", None)
    operator.cleanup(pod, remote)
    return api


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("dag_prefix", "task_id"),
    [
        ("mingo_retrain_", "validate_data"),
        ("mingo_retrain_", "retrain"),
        ("mingo_monitor_", "monitor"),
        ("mingo_score_", "score"),
    ],
)
def test_bad_data_fails_the_pod_step_without_retry(
    kubernetes_dags: dict[str, Any], kind: str, dag_prefix: str, task_id: str
) -> None:
    operator = kubernetes_dags[f"{dag_prefix}{kind}"].task_dict[task_id]
    assert operator.retries >= 1, "the step is retried on other failures"
    with pytest.raises(AirflowFailException, match="exited with 2: a final failure") as raised:
        finish(operator, 2)
    # The provider's own message stays in it.
    assert "returned a failure" in str(raised.value)


@pytest.mark.parametrize("task_id", ["validate_data", "retrain", "redeploy", "smoke_test"])
def test_other_pod_failures_stay_retryable_and_the_pod_is_kept(
    kubernetes_dags: dict[str, Any], task_id: str
) -> None:
    operator = kubernetes_dags["mingo_retrain_binary"].task_dict[task_id]
    for exit_code in (1, 3, 137):
        with pytest.raises(AirflowException, match="returned a failure") as raised:
            finish(operator, exit_code)
        assert not isinstance(raised.value, AirflowFailException), exit_code
        # A failed pod is kept for inspection: the cleanup does not delete it.
        assert "delete" not in operator.client.calls


def test_a_deploy_step_exiting_2_is_retried_like_any_failure(
    kubernetes_dags: dict[str, Any],
) -> None:
    operator = kubernetes_dags["mingo_retrain_binary"].task_dict["smoke_test"]
    with pytest.raises(AirflowException) as raised:
        finish(operator, 2)
    assert not isinstance(raised.value, AirflowFailException)


def test_a_succeeded_pod_is_deleted_and_a_failed_one_kept(kubernetes_dags: dict[str, Any]) -> None:
    operator = kubernetes_dags["mingo_retrain_binary"].task_dict["validate_data"]
    assert "delete" in finish(operator, 0).calls
    with pytest.raises(AirflowFailException):
        finish(operator, 2)
    assert "delete" not in operator.client.calls
