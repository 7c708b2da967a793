"""Fixtures of the serving tests: a real MLflow registry holding a champion of every kind,
trained through mingo.models on generated purchases, and the services run by `mingo serve`.

The registry is SQLite with local artifacts (the embedded default); the service that starts
without a champion talks to a real `mlflow server` instead, which its test stops to take the
registry away. Servers are started together by one fixture, so their start-up times overlap.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mingo import MODEL_KINDS, ModelKind, registered_model_name
from mingo.data.generate import generate_purchases
from mingo.models.api import (
    SKOPS_TRUSTED_TYPES,
    ModelConfig,
    TrainedModel,
    build_datasets,
    fit,
)
from tests.fixtures.services import (
    free_loopback_port,
    http_status,
    start_logged_process,
    stop_process_group,
    wait_until,
)
from tests.serving.running_service import RunningService

SERVING_CUSTOMERS = 400
SERVING_SEED = 20240401
API_KEY = "serving-test-key"
SMALL_CONFIGS: dict[ModelKind, dict[str, Any]] = {
    "binary": {},
    "multiclass": {},
    "clustering": {"n_clusters": 3, "silhouette_sample": 100},
}
# What the service image carries (bento_services/requirements.txt); listing it skips MLflow's
# slow requirement inference.
VENV_BIN = Path(sys.executable).parent
PIP_REQUIREMENTS = ["scikit-learn==1.9.1", "skops==0.16.0", "pandas", "numpy"]


@dataclass
class ChampionRegistry:
    root: Path
    tracking_uri: str
    purchases: pd.DataFrame
    models: dict[ModelKind, TrainedModel]
    versions: dict[ModelKind, str]

    @property
    def db_path(self) -> Path:
        return self.root / "mlflow.db"


def log_and_register(tracking_uri: str, artifact_dir: Path, model: TrainedModel) -> str:
    """Log `model` like the registry does, register it and make it the champion; its version."""
    import mlflow
    import mlflow.sklearn
    from mlflow import MlflowClient

    previous_uri = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(tracking_uri)
    try:
        client = MlflowClient(tracking_uri=tracking_uri)
        experiment = client.get_experiment_by_name("serving-tests")
        experiment_id = (
            experiment.experiment_id
            if experiment is not None
            else client.create_experiment("serving-tests", artifact_location=artifact_dir.as_uri())
        )
        name = registered_model_name(model.kind)
        with mlflow.start_run(experiment_id=experiment_id):
            info = mlflow.sklearn.log_model(
                model.estimator,
                name=model.kind,
                skops_trusted_types=SKOPS_TRUSTED_TYPES,
                metadata=model.metadata,
                pip_requirements=PIP_REQUIREMENTS,
                registered_model_name=name,
            )
        version = str(info.registered_model_version)
        client.set_registered_model_alias(name, "champion", version)
        return version
    finally:
        mlflow.set_tracking_uri(previous_uri)


def train_small_model(purchases: pd.DataFrame, kind: ModelKind) -> TrainedModel:
    config = ModelConfig(kind=kind, **SMALL_CONFIGS[kind])
    train, _ = build_datasets(purchases, config)
    return fit(train, config)


def customer_payloads(purchases: pd.DataFrame) -> list[dict[str, Any]]:
    """The request's `customers` list for every customer of a canonical purchases frame
    (without the optional `fk_contact`, so a test may give a customer another id)."""
    frame = purchases.copy()
    frame["date_purchase"] = frame["date_purchase"].dt.strftime("%Y-%m-%d")
    customers: dict[str, list[dict[str, Any]]] = {}
    for record in frame.to_dict("records"):
        customers.setdefault(str(record.pop("fk_contact")), []).append(record)
    return [{"customer_id": cid, "purchases": rows} for cid, rows in customers.items()]


@pytest.fixture(scope="session")
def champion_registry(tmp_path_factory: pytest.TempPathFactory) -> ChampionRegistry:
    root = tmp_path_factory.mktemp("serving-registry")
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    purchases = generate_purchases(SERVING_CUSTOMERS, SERVING_SEED)
    models: dict[ModelKind, TrainedModel] = {}
    versions: dict[ModelKind, str] = {}
    for kind in MODEL_KINDS:
        models[kind] = train_small_model(purchases, kind)
        versions[kind] = log_and_register(tracking_uri, root / "artifacts", models[kind])
    return ChampionRegistry(root, tracking_uri, purchases, models, versions)


def service_env(
    home: Path,
    tracking_uri: str,
    api_key: str | None = None,
    poll_seconds: float = 10,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MINGO_API_KEY"}
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        MINGO_HOME=str(home),
        BENTOML_HOME=str(home / "bentoml"),
        MLFLOW_TRACKING_URI=tracking_uri,
        MINGO_CHAMPION_POLL_SECONDS=str(poll_seconds),
        BENTOML_DO_NOT_TRACK="true",
    )
    if api_key is not None:
        env["MINGO_API_KEY"] = api_key
    env.update(extra or {})
    return env


@dataclass
class TrackingServer:
    """A real `mlflow server` (SQLite backend): a registry a test can take away."""

    root: Path
    port: int = field(default_factory=free_loopback_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> TrackingServer:
        env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        command = [
            str(VENV_BIN / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{self.root / 'mlflow.db'}",
            "--default-artifact-root",
            (self.root / "artifacts").as_uri(),
        ]
        self.process = start_logged_process(
            command, env=env, log_path=self.root / "mlflow-server.log", cwd=self.root
        )
        return self

    def wait(self) -> None:
        wait_until(
            lambda: http_status(self.uri + "/health") == 200,
            timeout_s=120,
            what="mlflow server",
            process=self.process,
            log_path=self.root / "mlflow-server.log",
        )

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process)


# The four services start at once, each worker loading its champion before /livez answers;
# on two cores shared with an Airflow stack that took over the 120 s one service gets alone.
SERVICES_START_TIMEOUT_S = 360.0


@dataclass
class Services:
    """binary (with an API key), multiclass, clustering on the shared registry; `empty`
    (binary) on a tracking server that starts without any champion."""

    binary: RunningService
    multiclass: RunningService
    clustering: RunningService
    empty: RunningService
    empty_registry: TrackingServer

    def by_kind(self, kind: ModelKind) -> RunningService:
        return {
            "binary": self.binary,
            "multiclass": self.multiclass,
            "clustering": self.clustering,
        }[kind]


@pytest.fixture(scope="session")
def services(
    champion_registry: ChampionRegistry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Services]:
    work = tmp_path_factory.mktemp("serving-services")
    uri = champion_registry.tracking_uri

    empty_root = work / "empty-registry"
    empty_root.mkdir()
    empty_registry = TrackingServer(empty_root).start()
    # Fail fast when the tracking server is gone, instead of MLflow's minutes of retries.
    quick_http = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}

    def service(kind: ModelKind, name: str, tracking_uri: str, **env: Any) -> RunningService:
        return RunningService(
            kind, service_env(work / name, tracking_uri, **env), work / f"{name}.log"
        )

    running = Services(
        binary=service("binary", "binary", uri, api_key=API_KEY),
        multiclass=service("multiclass", "multiclass", uri),
        clustering=service("clustering", "clustering", uri),
        empty=service("binary", "empty", empty_registry.uri, poll_seconds=1, extra=quick_http),
        empty_registry=empty_registry,
    )
    started = [running.binary, running.multiclass, running.clustering, running.empty]
    try:
        empty_registry.wait()
        for each in started:
            each.start()
        for each in started:
            each.wait_for("/livez", 200, timeout_s=SERVICES_START_TIMEOUT_S)
        yield running
    finally:
        for each in started:
            each.stop()
        empty_registry.stop()
