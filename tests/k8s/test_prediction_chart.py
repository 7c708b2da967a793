"""charts/mingo-prediction renders valid Kubernetes 1.33 objects that fit together."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.k8s.conftest import VALUES_FILES, RenderedChart
from tests.k8s.helm import CHART_DIR, NAMESPACE, REPO_ROOT, HelmError, render_chart, run_helm

KUBERNETES_VERSION = "1.33"
SERVICE_NAMES = ["binary-prediction", "multiclass-prediction", "clustering-prediction"]
SERVING_PORT = 3000
REQUIRED_ENV = {
    "MLFLOW_TRACKING_URI",
    "MLFLOW_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "MINGO_API_KEY",
    "OMP_NUM_THREADS",
}


def labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def pod_template_labels(deployment: dict[str, Any]) -> dict[str, str]:
    return dict(deployment["spec"]["template"]["metadata"]["labels"])


def only_container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


@pytest.mark.parametrize("values_name", sorted(VALUES_FILES))
def test_helm_lint_passes_strictly(values_name: str) -> None:
    args = ["lint", "--strict", str(CHART_DIR), "--namespace", NAMESPACE]
    for values_file in VALUES_FILES[values_name]:
        args += ["-f", str(values_file)]
    output = run_helm(*args)
    assert "0 chart(s) failed" in output


def test_every_object_is_valid_for_kubernetes_1_33(rendered: RenderedChart) -> None:
    assert rendered.objects
    for obj in rendered.objects:
        # strict=True rejects any field the 1.33 schema does not know.
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_the_validator_rejects_an_unknown_field(rendered: RenderedChart) -> None:
    deployment = rendered.named("Deployment", "binary-prediction")
    broken = {**deployment, "spec": {**deployment["spec"], "replicaz": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


AIRFLOW_NAMESPACE = "airflow"


def test_all_objects_land_in_the_mingo_namespace_but_airflows_copy_of_mingo_config(
    rendered: RenderedChart,
) -> None:
    outside = []
    for obj in rendered.objects:
        if obj["metadata"]["namespace"] != NAMESPACE:
            outside.append((obj["kind"], obj["metadata"]["name"], obj["metadata"]["namespace"]))
    assert outside == [("ConfigMap", "mingo-config", AIRFLOW_NAMESPACE)]


def test_airflows_mingo_config_is_the_same_as_mingos(rendered: RenderedChart) -> None:
    # Airflow's KubernetesExecutor task pods (the DAGs' registry steps) read mingo-config in
    # their own namespace; it must say what the pipeline and prediction pods read.
    copies = {
        obj["metadata"]["namespace"]: obj["data"]
        for obj in rendered.of_kind("ConfigMap")
        if obj["metadata"]["name"] == "mingo-config"
    }
    assert set(copies) == {NAMESPACE, AIRFLOW_NAMESPACE}
    assert copies[AIRFLOW_NAMESPACE] == copies[NAMESPACE]
    assert copies[NAMESPACE]["MLFLOW_TRACKING_URI"]


def test_pipeline_pods_are_told_to_keep_zenml_artifacts_in_s3(rendered: RenderedChart) -> None:
    from mingo.config import load_settings

    (config,) = [
        obj["data"]
        for obj in rendered.of_kind("ConfigMap")
        if obj["metadata"]["name"] == "mingo-config" and obj["metadata"]["namespace"] == NAMESPACE
    ]
    # What a step pod's `mingo` reads from that ConfigMap (envFrom).
    settings = load_settings(dict(config))
    assert settings.zenml_artifact_uri is not None
    assert settings.zenml_artifact_uri.startswith("s3://")
    assert settings.data_s3_endpoint_url == config["MLFLOW_S3_ENDPOINT_URL"]


# Placeholders, not credentials: the chart base64-encodes whatever it is given.
SECRET_DATA = {
    "mingo-s3": {"access-key-id": "id-placeholder", "secret-access-key": "key-placeholder"},
    "mingo-mlflow": {"username": "user-placeholder", "password": "pw-placeholder"},
    "mingo-api": {"api-key": "api-placeholder"},
    "mingo-zenml": {"api-key": "zenml-placeholder"},
    "mingo-s3-reader": {
        "access-key-id": "rid-placeholder",
        "secret-access-key": "rkey-placeholder",
    },
    "mingo-mlflow-reader": {"username": "ruser-placeholder", "password": "rpw-placeholder"},
    "mingo-prediction-log": {"uri": "postgresql://log-user:log-pw-placeholder@pg:5432/log"},
}
# Read only by the prediction pods: never copied into Airflow's namespace.
READER_SECRETS = {"mingo-s3-reader", "mingo-mlflow-reader"}


def secret_values_file(tmp_path: Any, data: dict[str, dict[str, str]]) -> Any:
    path = tmp_path / "secrets.yaml"
    path.write_text(yaml.safe_dump({"secrets": {"create": True, "data": data}}))
    return path


def test_chart_managed_secrets_exist_in_mingo_and_airflow_with_what_every_pod_reads(
    tmp_path: Any,
) -> None:
    import base64

    objects = render_chart([secret_values_file(tmp_path, SECRET_DATA)])
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    secrets = {
        (obj["metadata"]["namespace"], obj["metadata"]["name"]): {
            key: base64.b64decode(value).decode() for key, value in obj["data"].items()
        }
        for obj in objects
        if obj["kind"] == "Secret"
    }
    assert set(secrets) == {(NAMESPACE, name) for name in SECRET_DATA} | {
        (AIRFLOW_NAMESPACE, name) for name in set(SECRET_DATA) - READER_SECRETS
    }
    for (_, name), data in secrets.items():
        assert data == SECRET_DATA[name]
    # Every Secret and key the DAG pods (in both namespaces) and the prediction pods read.
    dag_config = yaml.safe_load((REPO_ROOT / "dags" / "mingo_retrain.yaml").read_text())
    chart_values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    wanted = [*dag_config["kubernetes"]["secret_env"].values(), *chart_values["secretEnv"].values()]
    for namespace in (NAMESPACE, AIRFLOW_NAMESPACE):
        for ref in wanted:
            assert ref["key"] in secrets[(namespace, ref["secret"])], (namespace, ref)
    for ref in chart_values["predictionSecretEnv"].values():
        assert ref["key"] in secrets[(NAMESPACE, ref["secret"])], ref


def test_chart_managed_secrets_must_hold_every_key_the_pods_read(tmp_path: Any) -> None:
    incomplete = {**SECRET_DATA, "mingo-mlflow": {"username": "user-placeholder"}}
    with pytest.raises(HelmError, match=r"secrets\.data\.mingo-mlflow\.password is missing"):
        render_chart([secret_values_file(tmp_path, incomplete)])


def test_chart_managed_secrets_must_hold_the_read_only_ones_too(tmp_path: Any) -> None:
    without_reader = {k: v for k, v in SECRET_DATA.items() if k != "mingo-s3-reader"}
    with pytest.raises(
        HelmError,
        match=r"secrets\.data\.mingo-s3-reader\.access-key-id is missing "
        r"\(predictionSecretEnv\.AWS_ACCESS_KEY_ID reads it\)",
    ):
        render_chart([secret_values_file(tmp_path, without_reader)])


def test_no_secret_is_rendered_unless_the_chart_is_told_to_manage_them(
    rendered: RenderedChart,
) -> None:
    assert rendered.of_kind("Secret") == []


def test_the_service_listens_on_the_port_the_probes_and_service_use() -> None:
    objects = render_chart([], set_values=["serviceDefaults.port=3917"])
    for deployment in (obj for obj in objects if obj["kind"] == "Deployment"):
        container = only_container(deployment)
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["BENTOML_PORT"] == "3917"
        assert [port["containerPort"] for port in container["ports"]] == [3917]


def test_the_three_deployments_and_services_carry_the_contract_names(
    rendered: RenderedChart,
) -> None:
    deployments = sorted(obj["metadata"]["name"] for obj in rendered.of_kind("Deployment"))
    services = sorted(obj["metadata"]["name"] for obj in rendered.of_kind("Service"))
    assert deployments == sorted(SERVICE_NAMES)
    assert services == sorted(SERVICE_NAMES)


def test_deployment_selectors_match_their_pod_template_labels(rendered: RenderedChart) -> None:
    for deployment in rendered.of_kind("Deployment"):
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector, deployment["metadata"]["name"]
        assert labels_match(selector, pod_template_labels(deployment))


def test_each_service_selects_exactly_its_own_deployment_pods(rendered: RenderedChart) -> None:
    deployments = rendered.of_kind("Deployment")
    for name in SERVICE_NAMES:
        service = rendered.named("Service", name)
        selected = [
            deployment["metadata"]["name"]
            for deployment in deployments
            if labels_match(service["spec"]["selector"], pod_template_labels(deployment))
        ]
        assert selected == [name]
        (port,) = service["spec"]["ports"]
        assert port["port"] == SERVING_PORT
        container_ports = {
            p["name"]: p["containerPort"]
            for p in only_container(rendered.named("Deployment", name))["ports"]
        }
        assert container_ports[port["targetPort"]] == SERVING_PORT


def test_probes_hit_livez_and_readyz_on_the_serving_port(rendered: RenderedChart) -> None:
    for deployment in rendered.of_kind("Deployment"):
        container = only_container(deployment)
        named_ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        probes = {
            kind: container[kind]["httpGet"]
            for kind in ("startupProbe", "livenessProbe", "readinessProbe")
        }
        assert probes["livenessProbe"]["path"] == "/livez"
        # Started only once the pinned model is loaded: liveness never judges a slow download.
        assert probes["startupProbe"]["path"] == "/readyz"
        assert probes["readinessProbe"]["path"] == "/readyz"
        for probe in probes.values():
            assert named_ports[probe["port"]] == SERVING_PORT


def test_rollouts_never_drop_below_the_ready_count(rendered: RenderedChart) -> None:
    for deployment in rendered.of_kind("Deployment"):
        strategy = deployment["spec"]["strategy"]
        assert strategy["type"] == "RollingUpdate"
        assert strategy["rollingUpdate"]["maxUnavailable"] == 0
        assert strategy["rollingUpdate"]["maxSurge"] >= 1


def test_containers_run_non_root_on_a_read_only_root_filesystem(rendered: RenderedChart) -> None:
    for deployment in rendered.of_kind("Deployment"):
        pod_spec = deployment["spec"]["template"]["spec"]
        assert pod_spec["securityContext"]["runAsNonRoot"] is True
        assert pod_spec["securityContext"]["runAsUser"] != 0
        assert pod_spec["automountServiceAccountToken"] is False
        container = only_container(deployment)
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        assert container["resources"]["requests"] and container["resources"]["limits"]

        empty_dirs = {v["name"] for v in pod_spec["volumes"] if "emptyDir" in v}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert mounts["/tmp"] in empty_dirs
        env = {e["name"]: e.get("value") for e in container["env"]}
        bentoml_home = env["BENTOML_HOME"]
        assert any(
            bentoml_home.startswith(path + "/") and name in empty_dirs
            for path, name in mounts.items()
        ), f"BENTOML_HOME {bentoml_home} is not on a writable emptyDir"


def test_configuration_comes_from_configmaps_and_credentials_from_secrets(
    rendered: RenderedChart,
) -> None:
    config_maps = {
        c["metadata"]["name"]: c["data"]
        for c in rendered.of_kind("ConfigMap")
        if c["metadata"]["namespace"] == NAMESPACE
    }
    assert set(config_maps) == {"mingo-config", "mingo-prediction-config"}
    # The retraining pods read mingo-config too (dags/mingo_retrain.yaml), so it carries no
    # serving-only thread limits.
    assert "OMP_NUM_THREADS" not in config_maps["mingo-config"]
    assert config_maps["mingo-prediction-config"]["OMP_NUM_THREADS"] == "1"
    for deployment in rendered.of_kind("Deployment"):
        container = only_container(deployment)
        from_config_maps = {
            ref["configMapRef"]["name"] for ref in container["envFrom"] if "configMapRef" in ref
        }
        assert from_config_maps == set(config_maps)
        secret_refs = {
            e["name"]: e["valueFrom"]["secretKeyRef"]
            for e in container["env"]
            if "secretKeyRef" in e.get("valueFrom", {})
        }
        literal_env = {e["name"] for e in container["env"] if "value" in e}
        assert set(secret_refs) == {
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "MINGO_API_KEY",
            "MLFLOW_TRACKING_USERNAME",
            "MLFLOW_TRACKING_PASSWORD",
            "MINGO_PREDICTION_LOG_URI",
        }
        assert not literal_env & set(secret_refs)
        provided = set(secret_refs).union(*(set(data) for data in config_maps.values()))
        assert provided >= REQUIRED_ENV


def test_secret_names_match_what_the_retraining_dags_read(rendered: RenderedChart) -> None:
    dag_config = yaml.safe_load((REPO_ROOT / "dags" / "mingo_retrain.yaml").read_text())
    dag_secrets = dag_config["kubernetes"]["secret_env"]
    chart_values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    assert chart_values["secretEnv"] == {
        name: ref for name, ref in dag_secrets.items() if name in chart_values["secretEnv"]
    }
    assert dag_config["kubernetes"]["config_map"] == "mingo-config"


def test_prediction_pods_read_only_the_read_only_credentials(rendered: RenderedChart) -> None:
    # Not the pipeline's S3 key or MLflow user: a serving pod cannot write artifacts or move
    # an alias even if it is taken over.
    chart_values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    pipeline_secrets = {ref["secret"] for ref in chart_values["secretEnv"].values()}
    for deployment in rendered.of_kind("Deployment"):
        refs = {
            entry["name"]: entry["valueFrom"]["secretKeyRef"]
            for entry in only_container(deployment)["env"]
            if "secretKeyRef" in entry.get("valueFrom", {})
        }
        assert refs["AWS_ACCESS_KEY_ID"]["name"] == "mingo-s3-reader"
        assert refs["AWS_SECRET_ACCESS_KEY"]["name"] == "mingo-s3-reader"
        assert refs["MLFLOW_TRACKING_USERNAME"]["name"] == "mingo-mlflow-reader"
        assert refs["MLFLOW_TRACKING_PASSWORD"]["name"] == "mingo-mlflow-reader"
        # Shared with the pipeline pods: the API key, and the prediction log the services write
        # and the monitoring DAG's pod reads.
        assert {ref["name"] for ref in refs.values()} & pipeline_secrets == {
            "mingo-api",
            "mingo-prediction-log",
        }


def test_prediction_pods_log_to_the_store_the_monitor_reads(rendered: RenderedChart) -> None:
    # Without MINGO_PREDICTION_LOG_URI a service logs to a file in its scratch volume (gone with
    # the pod) and the monitoring DAG's pod reads an empty log: both read the same Secret key.
    dag_config = yaml.safe_load((REPO_ROOT / "dags" / "mingo_retrain.yaml").read_text())
    monitor_ref = dag_config["kubernetes"]["secret_env"]["MINGO_PREDICTION_LOG_URI"]
    deployments = rendered.of_kind("Deployment")
    assert len(deployments) == 3
    for deployment in deployments:
        (entry,) = [
            e for e in only_container(deployment)["env"] if e["name"] == "MINGO_PREDICTION_LOG_URI"
        ]
        assert entry["valueFrom"]["secretKeyRef"] == {
            "name": monitor_ref["secret"],
            "key": monitor_ref["key"],
        }
    # The network policy lets the prediction pods reach PostgreSQL in the platform namespace.
    (policy,) = rendered.of_kind("NetworkPolicy")
    ports = {port["port"] for rule in policy["spec"]["egress"] for port in rule["ports"]}
    assert 5432 in ports


def test_the_dags_use_service_accounts_the_chart_creates(rendered: RenderedChart) -> None:
    # A pod naming an account the chart does not create is never admitted.
    dag_config = yaml.safe_load((REPO_ROOT / "dags" / "mingo_retrain.yaml").read_text())
    named = {
        value
        for key, value in dag_config["kubernetes"].items()
        if "service_account" in key and isinstance(value, str)
    } | {
        value
        for key, mapping in dag_config["kubernetes"].items()
        if "service_account" in key and isinstance(mapping, dict)
        for value in mapping.values()
    }
    created = {obj["metadata"]["name"] for obj in rendered.of_kind("ServiceAccount")}
    assert named, "dags/mingo_retrain.yaml names no service account"
    assert named <= created - {"mingo-prediction"}, (named, created)


def test_autoscalers_and_disruption_budgets_target_the_deployments(
    rendered: RenderedChart,
) -> None:
    deployments = {d["metadata"]["name"]: d for d in rendered.of_kind("Deployment")}
    autoscalers = rendered.of_kind("HorizontalPodAutoscaler")
    budgets = rendered.of_kind("PodDisruptionBudget")
    if rendered.values_name == "values-kind.yaml":
        assert autoscalers == [] and budgets == []
        assert all(d["spec"]["replicas"] == 1 for d in deployments.values())
        return
    assert sorted(h["spec"]["scaleTargetRef"]["name"] for h in autoscalers) == sorted(SERVICE_NAMES)
    for autoscaler in autoscalers:
        target = autoscaler["spec"]["scaleTargetRef"]
        assert target["kind"] == "Deployment" and target["apiVersion"] == "apps/v1"
        assert autoscaler["spec"]["minReplicas"] >= 2
        # The HPA owns the replica count; a fixed one would fight it on every helm upgrade.
        assert "replicas" not in deployments[target["name"]]["spec"]
    for budget in budgets:
        selector = budget["spec"]["selector"]["matchLabels"]
        selected = [
            name
            for name, deployment in deployments.items()
            if labels_match(selector, pod_template_labels(deployment))
        ]
        assert selected == [budget["metadata"]["name"]]


def test_network_policy_admits_only_the_serving_port_to_the_prediction_pods(
    rendered: RenderedChart,
) -> None:
    (policy,) = rendered.of_kind("NetworkPolicy")
    spec = policy["spec"]
    assert set(spec["policyTypes"]) == {"Ingress", "Egress"}
    for deployment in rendered.of_kind("Deployment"):
        assert labels_match(spec["podSelector"]["matchLabels"], pod_template_labels(deployment))
    (ingress,) = spec["ingress"]
    assert ingress["ports"] == [{"port": "http", "protocol": "TCP"}]
    namespace_peers = [peer for peer in ingress["from"] if "namespaceSelector" in peer]
    allowed_namespaces = {
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for peer in namespace_peers
        if "kubernetes.io/metadata.name" in peer["namespaceSelector"]["matchLabels"]
    }
    assert allowed_namespaces == {"airflow"}
    # Prometheus, from any namespace labelled for it (pod labels optional).
    scrapers = [
        peer
        for peer in namespace_peers
        if "kubernetes.io/metadata.name" not in peer["namespaceSelector"]["matchLabels"]
    ]
    assert scrapers == [
        {"namespaceSelector": {"matchLabels": {"mingo.io/metrics-scraper": "true"}}}
    ]
    deployment = rendered.of_kind("Deployment")[0]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    container_ports = {p["containerPort"]: p["name"] for p in only_container(deployment)["ports"]}
    assert container_ports[int(annotations["prometheus.io/port"])] == "http"
    (same_namespace_peer,) = [peer for peer in ingress["from"] if "podSelector" in peer]
    # The labels dags/mingo_dags/pod_step.py puts on the retraining step pods.
    retraining_pod_labels = {
        "app.kubernetes.io/part-of": "mingo",
        "app.kubernetes.io/component": "retraining",
    }
    assert labels_match(same_namespace_peer["podSelector"]["matchLabels"], retraining_pod_labels)


def test_rendering_without_a_secret_name_fails_with_a_clear_message() -> None:
    with pytest.raises(
        HelmError, match=r"predictionSecretEnv\.MINGO_API_KEY\.secret must name a Secret"
    ):
        render_chart([], set_values=["predictionSecretEnv.MINGO_API_KEY.secret="])


def test_a_disabled_kind_is_absent_everywhere_including_rbac() -> None:
    objects = render_chart([], set_values=["predictionServices.clustering.enabled=false"])
    names = {(obj["kind"], obj["metadata"]["name"]) for obj in objects}
    assert ("Deployment", "clustering-prediction") not in names
    assert ("Service", "clustering-prediction") not in names
    (redeployer,) = [
        obj
        for obj in objects
        if obj["kind"] == "Role" and obj["metadata"]["name"] == "mingo-prediction-redeployer"
    ]
    assert redeployer["rules"][0]["resourceNames"] == [
        "binary-prediction",
        "multiclass-prediction",
    ]


MODEL_VERSION_ANNOTATION = "mingo.io/model-version"


def env_by_name(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container["env"]}


def test_the_served_version_comes_from_the_pod_template_annotation(
    rendered: RenderedChart,
) -> None:
    for deployment in rendered.of_kind("Deployment"):
        env = env_by_name(only_container(deployment))
        assert env["MINGO_MODEL_VERSION"]["valueFrom"] == {
            "fieldRef": {"fieldPath": f"metadata.annotations['{MODEL_VERSION_ANNOTATION}']"}
        }
        # `mingo deploy roll` owns the annotation: a chart value would make every
        # `helm upgrade` reset the served version (Helm's three-way merge keeps only what the
        # chart never rendered).
        assert MODEL_VERSION_ANNOTATION not in deployment["metadata"].get("annotations", {})
        template_annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert MODEL_VERSION_ANNOTATION not in template_annotations


def test_the_annotation_name_is_the_one_the_redeploy_writes() -> None:
    from mingo.deploy import kubernetes as deploy_kubernetes

    assert deploy_kubernetes.MODEL_VERSION_ANNOTATION == MODEL_VERSION_ANNOTATION


def test_the_service_requires_an_api_key(rendered: RenderedChart) -> None:
    for deployment in rendered.of_kind("Deployment"):
        env = env_by_name(only_container(deployment))
        assert env["MINGO_AUTH"]["value"] == "api-key"
        assert "secretKeyRef" in env["MINGO_API_KEY"]["valueFrom"]


def model_cache_volume(deployment: dict[str, Any]) -> dict[str, Any]:
    container = only_container(deployment)
    cache_dir = env_by_name(container)["MINGO_MODEL_CACHE_DIR"]["value"]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == cache_dir]
    assert mount["name"] == "model-cache"
    assert not mount.get("readOnly", False)
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    return dict(volumes["model-cache"])


def test_the_model_cache_is_a_bounded_empty_dir_by_default(rendered: RenderedChart) -> None:
    for deployment in rendered.of_kind("Deployment"):
        volume = model_cache_volume(deployment)
        assert set(volume) == {"name", "emptyDir"}
        assert volume["emptyDir"]["sizeLimit"]


def test_the_model_cache_can_be_an_existing_claim_per_kind() -> None:
    objects = render_chart(
        [], set_values=["predictionServices.binary.modelCache.existingClaim=binary-models"]
    )
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    assert model_cache_volume(deployments["binary-prediction"]) == {
        "name": "model-cache",
        "persistentVolumeClaim": {"claimName": "binary-models"},
    }
    assert "emptyDir" in model_cache_volume(deployments["multiclass-prediction"])
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def serving_config(rendered: RenderedChart) -> dict[str, str]:
    config_map = rendered.named("ConfigMap", "mingo-prediction-config")
    return dict(config_map["data"])


def test_load_bounds_and_client_retries_are_in_the_serving_config(
    rendered: RenderedChart,
) -> None:
    from mingo.config import DEFAULT_MAX_BATCH_CUSTOMERS, DEFAULT_MAX_REQUESTS_IN_FLIGHT

    data = serving_config(rendered)
    # The measured bounds of mingo.config (benchmarks/results/serving.md), set explicitly.
    assert data["MINGO_MAX_REQUESTS_IN_FLIGHT"] == str(DEFAULT_MAX_REQUESTS_IN_FLIGHT)
    assert data["MINGO_MAX_BATCH_CUSTOMERS"] == str(DEFAULT_MAX_BATCH_CUSTOMERS)
    assert data["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "2"
    assert data["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] == "1"
    assert data["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "20"
    assert data["AWS_MAX_ATTEMPTS"] == "3"
    assert data["AWS_RETRY_MODE"] == "standard"
    # The clients read them with their own parsers: a value they reject would fall back to
    # (or crash on) something else.
    from mlflow.environment_variables import (
        MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR,
        MLFLOW_HTTP_REQUEST_MAX_RETRIES,
        MLFLOW_HTTP_REQUEST_TIMEOUT,
    )

    for variable in (
        MLFLOW_HTTP_REQUEST_MAX_RETRIES,
        MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR,
        MLFLOW_HTTP_REQUEST_TIMEOUT,
    ):
        assert variable.type(data[variable.name]) >= 0


def mlflow_worst_case_seconds(max_retries: int, backoff_factor: int, timeout: int) -> float:
    """Every attempt of one MLflow request runs into its timeout; the sleeps between attempts
    come from the urllib3 Retry that MLflow builds from the same settings (jitter at its
    maximum, 1 s per retry by MLflow's default)."""
    from mlflow.environment_variables import MLFLOW_HTTP_REQUEST_BACKOFF_JITTER
    from mlflow.utils.request_utils import _get_request_session
    from urllib3.exceptions import ConnectTimeoutError

    session = _get_request_session(max_retries, backoff_factor, 0.0, (500,), True, True)
    retry = session.get_adapter("http://mlflow.example").max_retries
    sleeps = 0.0
    for _ in range(max_retries):
        retry = retry.increment(method="GET", url="/", error=ConnectTimeoutError())
        sleeps += retry.get_backoff_time() + MLFLOW_HTTP_REQUEST_BACKOFF_JITTER.get()
    return (max_retries + 1) * timeout + sleeps


def s3_worst_case_seconds(max_attempts: int, retry_mode: str) -> float:
    """Every attempt of one S3 call runs into botocore's default timeout (60 s: the chart cannot
    set it by environment), with standard mode's longest backoff (20 s) between attempts."""
    from botocore.endpoint import DEFAULT_TIMEOUT
    from botocore.retries.standard import ExponentialBackoff

    assert retry_mode == "standard"
    longest_backoff = ExponentialBackoff._MAX_BACKOFF
    return float(max_attempts * DEFAULT_TIMEOUT + (max_attempts - 1) * longest_backoff)


def test_the_startup_window_outlasts_the_worst_case_of_the_bounded_retries(
    rendered: RenderedChart,
) -> None:
    # A load is a registry lookup (MLflow) and a download (MLflow's proxied artifacts, or S3
    # directly): the first request that exhausts its retries fails the load. Its worst case must
    # end inside the startup window, so the pod logs the failure instead of being killed
    # mid-retry; and the window must end before the Deployment's progress deadline.
    data = serving_config(rendered)
    worst_case = mlflow_worst_case_seconds(
        int(data["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]),
        int(data["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"]),
        int(data["MLFLOW_HTTP_REQUEST_TIMEOUT"]),
    ) + s3_worst_case_seconds(int(data["AWS_MAX_ATTEMPTS"]), data["AWS_RETRY_MODE"])
    for deployment in rendered.of_kind("Deployment"):
        startup = only_container(deployment)["startupProbe"]
        window = startup["failureThreshold"] * startup["periodSeconds"]
        assert window > worst_case, (deployment["metadata"]["name"], window, worst_case)
        assert window < deployment["spec"]["progressDeadlineSeconds"]


def test_the_worst_case_grows_with_the_settings() -> None:
    # The model above is not a constant: MLflow's defaults (7 retries, factor 2, 120 s) would
    # not fit, which is why the chart bounds them.
    assert mlflow_worst_case_seconds(2, 1, 20) < mlflow_worst_case_seconds(7, 2, 120)
    assert mlflow_worst_case_seconds(7, 2, 120) > 80 * 5


def network_policy(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (policy,) = [obj for obj in objects if obj["kind"] == "NetworkPolicy"]
    return dict(policy["spec"])


def test_dns_egress_goes_to_any_destination(rendered: RenderedChart) -> None:
    egress = network_policy(rendered.objects)["egress"]
    dns = [rule for rule in egress if {"port": 53, "protocol": "UDP"} in rule.get("ports", [])]
    assert dns == [{"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}], (
        "DNS must not be tied to one namespace (node-local DNS, external resolvers)"
    )


def test_metrics_scraper_selector_is_configurable() -> None:
    objects = render_chart(
        [],
        set_values=[
            "networkPolicy.metricsScrapers.namespaceLabels.team=observability",
            "networkPolicy.metricsScrapers.podLabels.app\\.kubernetes\\.io/name=prometheus",
        ],
    )
    (ingress,) = network_policy(objects)["ingress"]
    assert {
        "namespaceSelector": {
            "matchLabels": {"mingo.io/metrics-scraper": "true", "team": "observability"}
        },
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
    } in ingress["from"]
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    # An empty selector turns the rule off rather than admitting every namespace.
    objects = render_chart([], set_values=["networkPolicy.metricsScrapers.namespaceLabels=null"])
    (ingress,) = network_policy(objects)["ingress"]
    assert all(
        "kubernetes.io/metadata.name" in peer["namespaceSelector"]["matchLabels"]
        for peer in ingress["from"]
        if "namespaceSelector" in peer
    )
