"""helm-values/: the upstream charts' values agree with each other and with MinGo's chart."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from tests.k8s.helm import HELM, REPO_ROOT

VALUES_DIR = REPO_ROOT / "helm-values"
PLATFORM_NAMESPACE = "mlops"


def load(name: str) -> Any:
    return yaml.safe_load((VALUES_DIR / name).read_text())


def service_host(name: str) -> str:
    return f"{name}.{PLATFORM_NAMESPACE}.svc.cluster.local"


def test_every_values_file_is_yaml_and_named_in_the_readme() -> None:
    readme = (VALUES_DIR / "README.md").read_text()
    files = sorted(VALUES_DIR.glob("*.yaml"))
    assert len(files) >= 6
    for path in files:
        assert list(yaml.safe_load_all(path.read_text())), path.name
        assert f"helm-values/{path.name}" in readme, f"README does not use {path.name}"


def test_mlflow_uses_the_postgresql_roles_and_databases_that_exist() -> None:
    postgresql = load("postgresql.yaml")
    mlflow = load("mlflow.yaml")
    databases = {postgresql["cluster"]["initdb"]["database"]} | {
        database["name"] for database in postgresql["databases"]
    }
    role_secrets = {postgresql["cluster"]["initdb"]["owner"]: "pg-mlflow"} | {
        role["name"]: role["passwordSecret"]["name"] for role in postgresql["cluster"]["roles"]
    }
    rw_host = service_host(f"{postgresql['fullnameOverride']}-rw")
    backend = mlflow["backendStore"]
    assert backend["postgres"]["host"] == rw_host
    assert backend["postgres"]["database"] in databases
    assert backend["existingDatabaseSecret"]["name"] == role_secrets["mlflow"]
    auth = mlflow["auth"]
    assert auth["postgres"]["host"] == rw_host
    assert auth["postgres"]["database"] in databases
    assert auth["postgres"]["existingSecret"]["name"] == role_secrets["mlflow_auth"]
    assert backend["postgres"]["database"] != auth["postgres"]["database"]
    assert mlflow["artifactRoot"]["proxiedArtifactStorage"] is True
    assert auth["enabled"] is True and auth["appName"] == "basic-auth"


def test_mlflow_artifacts_go_to_a_bucket_minio_creates() -> None:
    minio = load("minio.yaml")
    mlflow = load("mlflow.yaml")
    buckets = {bucket["name"] for bucket in minio["buckets"]}
    assert mlflow["artifactRoot"]["s3"]["bucket"] in buckets
    assert mlflow["extraEnvVars"]["MLFLOW_S3_ENDPOINT_URL"] == (
        f"http://{service_host('minio')}:{minio['service']['port']}"
    )
    assert minio["image"]["tag"].startswith("RELEASE.")


def test_zenml_uses_the_mysql_compatible_database_without_a_password_in_values() -> None:
    zenml = load("zenml.yaml")
    url = zenml["zenml"]["database"]["url"]
    assert url.startswith("mysql://")
    credentials = url.removeprefix("mysql://").split("@", 1)[0]
    assert ":" not in credentials, "the database password must not be in the URL"
    manifests = list(yaml.safe_load_all((VALUES_DIR / "zenml-database.yaml").read_text()))
    (mariadb,) = [m for m in manifests if m["kind"] == "MariaDB"]
    (user,) = [m for m in manifests if m["kind"] == "User"]
    assert f"@{service_host(mariadb['metadata']['name'])}:{mariadb['spec']['port']}/" in url
    assert user["metadata"]["name"] == credentials


def test_mingo_chart_points_at_the_platform_services() -> None:
    chart_values = yaml.safe_load(
        (REPO_ROOT / "charts" / "mingo-prediction" / "values.yaml").read_text()
    )
    platform = chart_values["platform"]
    mlflow = load("mlflow.yaml")
    minio = load("minio.yaml")
    zenml = load("zenml.yaml")
    assert platform["mlflowTrackingUri"] == (
        f"http://{service_host(mlflow['fullnameOverride'])}:{mlflow['service']['port']}"
    )
    assert platform["s3EndpointUrl"] == f"http://{service_host('minio')}:{minio['service']['port']}"
    assert platform["zenmlStoreUrl"] == (
        f"http://{service_host(zenml['fullnameOverride'])}:{zenml['zenml']['service']['port']}"
    )
    # ZenML's step artifacts go to a bucket the S3 server creates, not to the pod's disk.
    artifact_uri = platform["zenmlArtifactUri"]
    assert artifact_uri.startswith("s3://")
    bucket = artifact_uri.removeprefix("s3://").split("/", 1)[0]
    assert bucket in {b["name"] for b in minio["buckets"]}
    policy_ports = set(chart_values["networkPolicy"]["platformPorts"])
    assert {mlflow["service"]["port"], int(minio["service"]["port"])} <= policy_ports


def test_airflow_runs_kubernetes_executor_with_the_service_account_mingo_binds() -> None:
    airflow = load("airflow.yaml")
    chart_values = yaml.safe_load(
        (REPO_ROOT / "charts" / "mingo-prediction" / "values.yaml").read_text()
    )
    assert airflow["executor"] == "KubernetesExecutor"
    assert airflow["postgresql"]["enabled"] is False
    assert airflow["data"]["metadataSecretName"]
    assert (
        airflow["workers"]["serviceAccount"]["name"]
        == (chart_values["airflow"]["serviceAccountName"])
    )
    assert airflow["dags"]["gitSync"]["subPath"] == "dags"
    assert {"name": "MINGO_RUNNER", "value": "kubernetes"} in airflow["env"]
    assert airflow["createUserJob"]["defaultUser"]["enabled"] is False


def zenml_like_manifests() -> list[dict[str, Any]]:
    """The two objects of the ZenML chart the post-renderer patches, in the chart's shape."""

    def pod_spec(container: str) -> dict[str, Any]:
        return {
            "containers": [
                {
                    "name": container,
                    "image": "zenmldocker/zenml-server:0.98.0",
                    "env": [{"name": "ZENML_DEFAULT_PROJECT_NAME", "value": "default"}],
                    "envFrom": [{"secretRef": {"name": "zenml"}}],
                }
            ]
        }

    labels = {"app.kubernetes.io/name": "zenml"}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "zenml", "labels": labels},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": pod_spec("zenml")},
            },
        },
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "zenml-db-migration"},
            "spec": {
                "template": {"spec": {**pod_spec("zenml-db-migration"), "restartPolicy": "Never"}}
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "zenml"},
            "spec": {"selector": labels, "ports": [{"port": 8080}]},
        },
    ]


def test_zenml_post_renderer_adds_the_credentials_from_secrets() -> None:
    rendered = yaml.safe_dump_all(zenml_like_manifests())
    result = subprocess.run(
        ["bash", str(VALUES_DIR / "zenml-post-renderer.sh")],
        input=rendered,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": f"{HELM.parent}{os.pathsep}{os.environ['PATH']}"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    objects = {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load_all(result.stdout)}
    assert set(objects) == {
        ("Deployment", "zenml"),
        ("Job", "zenml-db-migration"),
        ("Service", "zenml"),
    }
    for key in (("Deployment", "zenml"), ("Job", "zenml-db-migration")):
        container = objects[key]["spec"]["template"]["spec"]["containers"][0]
        env = {entry["name"]: entry for entry in container["env"]}
        assert env["ZENML_DEFAULT_PROJECT_NAME"]["value"] == "default"
        assert env["ZENML_STORE_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "zenml-database",
            "key": "password",
        }
        assert env["ZENML_SECRETS_STORE_ENCRYPTION_KEY"]["valueFrom"]["secretKeyRef"] == {
            "name": "zenml-server",
            "key": "encryption-key",
        }
        kubernetes_validate.validate(objects[key], "1.33", strict=True)
    assert objects[("Service", "zenml")]["spec"]["ports"] == [{"port": 8080}]


def test_install_tools_is_idempotent(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("helm", "kubectl"):
        (bin_dir / tool).symlink_to(HELM.parent / tool)
    before = sorted(p.name for p in bin_dir.iterdir())
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "install_tools.sh"), str(bin_dir)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert sorted(p.name for p in bin_dir.iterdir()) == before


def mlflow_server_args(values: Any) -> list[str]:
    """The `mlflow server` options the community-charts template renders from `extraArgs`:
    `--{{ kebabcase $key }}={{ $value }}` for each key."""

    def kebab(name: str) -> str:
        return "".join(f"-{c.lower()}" if c.isupper() else c for c in name)

    return [f"--{kebab(key)}={value}" for key, value in (values.get("extraArgs") or {}).items()]


def test_mlflow_accepts_the_host_names_its_clients_send(monkeypatch: Any) -> None:
    # MLflow 3 answers 403 "Invalid Host header" to a Host it was not told about; every
    # in-cluster client (the chart's mingo-config, the DAG pods) sends the Service's FQDN.
    import flask
    from mlflow.cli import server as mlflow_server_command
    from mlflow.server.security import init_security_middleware

    args = mlflow_server_args(load("mlflow.yaml"))
    (allowed,) = [arg for arg in args if arg.startswith("--allowed-hosts=")]
    # The flag is the one `mlflow server` (3.17) has: its own parser takes it.
    parsed = mlflow_server_command.make_context("server", list(args))
    value = parsed.params["allowed_hosts"]
    assert value == allowed.removeprefix("--allowed-hosts=")

    # `mlflow server` hands the value to its app through this variable; the middleware reads it.
    monkeypatch.setenv("MLFLOW_SERVER_ALLOWED_HOSTS", value)
    app = flask.Flask("mlflow-values-check")
    app.add_url_rule("/api/2.0/mlflow/experiments/search", view_func=lambda: "ok")
    init_security_middleware(app)
    client = app.test_client()

    chart_values = yaml.safe_load((REPO_ROOT / "charts/mingo-prediction/values.yaml").read_text())
    tracking_host = chart_values["platform"]["mlflowTrackingUri"].removeprefix("http://")
    assert tracking_host == f"{service_host('mlflow')}:5000"
    accepted = [
        tracking_host,
        service_host("mlflow"),
        "mlflow:5000",
        "mlflow.mlops:5000",
        "mlflow.mlops.svc:5000",
        "127.0.0.1:15000",  # kubectl port-forward (helm-values/README.md, scripts/kind_e2e.sh)
        "localhost:5000",
        "10.244.0.17:5000",  # the kubelet's probes: Host is the pod IP
    ]
    for host in accepted:
        answer = client.get("/api/2.0/mlflow/experiments/search", headers={"Host": host})
        assert answer.status_code == 200, (host, answer.status_code, answer.get_data(as_text=True))
    for host in ("mlflow.example.com", "evil.test:5000"):
        answer = client.get("/api/2.0/mlflow/experiments/search", headers={"Host": host})
        assert answer.status_code == 403, host


def test_airflow_task_logs_go_to_s3_through_a_connection_from_a_secret() -> None:
    airflow = load("airflow.yaml")
    logging = airflow["config"]["logging"]
    assert logging["remote_logging"] == "True"
    assert logging["delete_local_logs"] == "True"
    assert logging["remote_base_log_folder"] == "s3://mingo-airflow-logs/logs"
    connection_id = logging["remote_log_conn_id"]
    assert connection_id == "mingo_s3_logs"
    # Airflow reads connection <id> from AIRFLOW_CONN_<ID>; the chart's `secret` list turns it
    # into a secretKeyRef in every Airflow container (task pods included).
    variable = f"AIRFLOW_CONN_{connection_id.upper()}"
    (entry,) = [item for item in airflow["secret"] if item["envName"] == variable]
    assert entry["secretName"] and entry["secretKey"]
    assert all(item.get("name") != variable for item in airflow.get("env", []))
    # The bucket exists, and only the logs key may write it.
    minio = load("minio.yaml")
    bucket = logging["remote_base_log_folder"].removeprefix("s3://").split("/", 1)[0]
    assert bucket in {b["name"] for b in minio["buckets"]}


def policy_actions(minio: Any, policy_name: str) -> dict[str, set[str]]:
    (policy,) = [p for p in minio["policies"] if p["name"] == policy_name]
    actions: dict[str, set[str]] = {}
    for statement in policy["statements"]:
        for resource in statement["resources"]:
            actions.setdefault(resource, set()).update(statement["actions"])
    return actions


def test_the_read_only_s3_key_can_only_read_the_artifact_bucket() -> None:
    minio = load("minio.yaml")
    mlflow = load("mlflow.yaml")
    artifact_bucket = mlflow["artifactRoot"]["s3"]["bucket"]
    (reader,) = [user for user in minio["users"] if user["accessKey"] == "mingo-reader"]
    assert reader["existingSecret"] and "secretKey" not in reader
    actions = policy_actions(minio, reader["policy"])
    assert set(actions) == {f"arn:aws:s3:::{artifact_bucket}", f"arn:aws:s3:::{artifact_bucket}/*"}
    every_action = set().union(*actions.values())
    assert every_action <= {"s3:GetBucketLocation", "s3:ListBucket", "s3:GetObject"}
