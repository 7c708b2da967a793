"""Fixtures of the serving tests: a real MLflow registry holding a champion of every kind,
trained through mingo.models on generated purchases, and the services run by `mingo serve`.

The registry is SQLite with local artifacts (the embedded default). Servers are started
together by one fixture, so their start-up times overlap instead of adding up.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
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
    """The request's `customers` list for every customer of a canonical purchases frame."""
    frame = purchases.copy()
    frame["date_purchase"] = frame["date_purchase"].dt.strftime("%Y-%m-%d")
    customers: dict[str, list[dict[str, Any]]] = {}
    for record in frame.to_dict("records"):
        customers.setdefault(str(record["fk_contact"]), []).append(record)
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
    home: Path, tracking_uri: str, api_key: str | None = None, poll_seconds: float = 10
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
    return env


@dataclass
class Services:
    """binary (with an API key), multiclass, clustering on the shared registry; `empty` on a
    registry without champion; `reloadable` (binary) on its own copy of the registry."""

    binary: RunningService
    multiclass: RunningService
    clustering: RunningService
    empty: RunningService
    reloadable: RunningService
    empty_registry_uri: str
    reloadable_registry: ChampionRegistry

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

    copy_root = work / "reloadable-registry"
    copy_root.mkdir()
    shutil.copy(champion_registry.db_path, copy_root / "mlflow.db")
    reloadable_registry = ChampionRegistry(
        copy_root,
        f"sqlite:///{copy_root / 'mlflow.db'}",
        champion_registry.purchases,
        champion_registry.models,
        dict(champion_registry.versions),
    )
    empty_uri = f"sqlite:///{work / 'empty-registry.db'}"

    def service(kind: ModelKind, name: str, tracking_uri: str, **env: Any) -> RunningService:
        return RunningService(
            kind, service_env(work / name, tracking_uri, **env), work / f"{name}.log"
        )

    running = Services(
        binary=service("binary", "binary", uri, api_key=API_KEY),
        multiclass=service("multiclass", "multiclass", uri),
        clustering=service("clustering", "clustering", uri),
        empty=service("binary", "empty", empty_uri, poll_seconds=1),
        reloadable=service("binary", "reloadable", reloadable_registry.tracking_uri),
        empty_registry_uri=empty_uri,
        reloadable_registry=reloadable_registry,
    )
    started = [
        running.binary,
        running.multiclass,
        running.clustering,
        running.empty,
        running.reloadable,
    ]
    try:
        for each in started:
            each.start()
        for each in started:
            each.wait_for("/livez", 200)
        yield running
    finally:
        for each in started:
            each.stop()
