"""Where MLflow and ZenML keep their state, decided in one place from the environment.

Two stacks, chosen by the environment alone (so `mingo train` runs as a container command):

- Embedded (default, no server): MLflow on SQLite at `$MINGO_HOME/mlflow.db` with artifacts
  under `$MINGO_HOME/mlartifacts`; ZenML's global config, local SQL store, local artifact
  store and repository root all under `$MINGO_HOME/zenml`.
- Production: `MLFLOW_TRACKING_URI` (an `http(s)://` MLflow server with
  `MLFLOW_TRACKING_USERNAME`/`MLFLOW_TRACKING_PASSWORD`, artifacts proxied to S3 by the
  server; or a database URI), S3 through `MLFLOW_S3_ENDPOINT_URL` and the AWS keys, and a
  ZenML server through `ZENML_STORE_URL` + `ZENML_STORE_API_KEY` (ZenML reads those itself).

How pipeline steps reach MLflow: directly, through `mlflow_client(settings)` below, with the
settings their process loaded once. ZenML is the orchestrator and keeps the lineage (runs,
artifacts, a ZenML Model version per retraining that records the MLflow version); it is not
the MLflow client.
Why: ZenML's MLflow experiment tracker accepts only http(s) URIs with credentials as remote
and treats SQLite/PostgreSQL URIs as local files, and it would be a second source of MLflow
settings; going direct keeps one configuration that works identically inside a ZenML step,
in the CLI (`mingo models ...`), in a test and in a serving container.

MLflow reads `MLFLOW_REGISTRY_URI` on its own when set (a registry apart from tracking).

ZenML's step artifacts: local under MINGO_HOME by default; with `MINGO_ZENML_ARTIFACT_URI`
(`s3://bucket/prefix`) the stack `prepare_zenml` activates stores them in S3 at the endpoint of
`MINGO_S3_ENDPOINT_URL` (else `MLFLOW_S3_ENDPOINT_URL`), so lineage recorded by a pod still
points at files after the pod is gone.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from mingo import ModelKind, registered_model_name
from mingo.config import Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

ZENML_ROOT_DIRNAME = "zenml"
# The artifact store and stack `prepare_zenml` registers when MINGO_ZENML_ARTIFACT_URI is set.
ZENML_S3_ARTIFACT_STORE = "mingo-s3-artifacts"
ZENML_S3_STACK = "mingo-s3"


def zenml_artifact_store_config(settings: Settings) -> dict[str, Any] | None:
    """The configuration of ZenML's S3 artifact store, or None to keep the local one.

    It holds no credential: it is stored in ZenML's database (or server), while s3fs reads
    AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from the environment of the process that runs
    the step, the same keys the rest of the pipeline uses.
    """
    if settings.zenml_artifact_uri is None:
        return None
    config: dict[str, Any] = {"path": settings.zenml_artifact_uri.rstrip("/")}
    if settings.data_s3_endpoint_url is not None:
        config["client_kwargs"] = {"endpoint_url": settings.data_s3_endpoint_url}
    return config


def zenml_environment(settings: Settings) -> dict[str, str]:
    """The ZenML variables that keep its state under MINGO_HOME (set before importing zenml)."""
    root = settings.home / ZENML_ROOT_DIRNAME
    return {
        "ZENML_CONFIG_PATH": str(root / "config"),
        "ZENML_LOCAL_STORES_PATH": str(root / "stores"),
        "ZENML_REPOSITORY_PATH": str(root / "repository"),
        "ZENML_ANALYTICS_OPT_IN": "false",
    }


def apply_zenml_environment(settings: Settings) -> Settings:
    """Point ZenML at MINGO_HOME in this process; must run before `import zenml`."""
    for name, value in zenml_environment(settings).items():
        os.environ[name] = value
    (settings.home / ZENML_ROOT_DIRNAME / "repository").mkdir(parents=True, exist_ok=True)
    return settings


def is_embedded_mlflow(settings: Settings) -> bool:
    """True when MLflow stores runs in a local SQLite file (the default)."""
    return settings.mlflow_tracking_uri.startswith("sqlite:")


def configure_mlflow(settings: Settings) -> Settings:
    """Set this process's MLflow tracking URI from the settings (the only place that does)."""
    import mlflow

    if is_embedded_mlflow(settings):
        settings.home.mkdir(parents=True, exist_ok=True)
        settings.mlflow_artifact_root.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    return settings


def mlflow_client(settings: Settings) -> MlflowClient:
    """A client for the configured tracking server and model registry."""
    from mlflow import MlflowClient

    settings = configure_mlflow(settings)
    return MlflowClient(tracking_uri=settings.mlflow_tracking_uri)


def experiment_name(kind: ModelKind) -> str:
    """One MLflow experiment per model kind, named like its registered model."""
    return registered_model_name(kind)


def ensure_experiment(kind: ModelKind, settings: Settings) -> str:
    """The id of the experiment of KIND, created on first use.

    Embedded: artifacts go under MINGO_HOME. A tracking server decides the artifact
    location itself (its `--artifacts-destination`, e.g. an S3 bucket).
    """
    settings = configure_mlflow(settings)
    client = mlflow_client(settings)
    name = experiment_name(kind)
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return str(existing.experiment_id)
    location = (
        (settings.mlflow_artifact_root / name).as_uri() if is_embedded_mlflow(settings) else None
    )
    try:
        return str(client.create_experiment(name, artifact_location=location))
    except Exception:
        # Another process created it between our read and our create.
        again = client.get_experiment_by_name(name)
        if again is None:
            raise
        return str(again.experiment_id)
