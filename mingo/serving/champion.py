"""Resolves `models:/mingo-<kind>@champion` in MLflow and loads that exact version.

The alias is resolved to a version number first and the model is then loaded by number, so
the version a service reports is the version whose weights it holds even if the alias moves
while the files download.
"""

from __future__ import annotations

from dataclasses import dataclass

from mingo import ModelKind, registered_model_name
from mingo.models.api import TrainedModel

CHAMPION_ALIAS = "champion"


class ChampionUnavailable(RuntimeError):
    """No champion could be loaded (none registered, or the registry is unreachable)."""


@dataclass(frozen=True)
class LoadedChampion:
    kind: ModelKind
    name: str
    version: str
    model: TrainedModel


def load_champion(kind: ModelKind, tracking_uri: str) -> LoadedChampion:
    """Load the current champion of `kind` from the MLflow registry at `tracking_uri`."""
    import mlflow
    import mlflow.sklearn
    from mlflow import MlflowClient

    name = registered_model_name(kind)
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    # An unreachable registry surfaces as many exception types (HTTP, SQL, S3 clients); to a
    # service they all mean the same: no champion now, keep whatever is already loaded.
    try:
        version = client.get_model_version_by_alias(name, CHAMPION_ALIAS).version
    except Exception as error:
        raise ChampionUnavailable(
            f"no {name}@{CHAMPION_ALIAS} in the registry at {tracking_uri}: {error}"
        ) from error
    uri = f"models:/{name}/{version}"
    # The model URI resolves through the global registry URI, so point it at the same store.
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    try:
        estimator = mlflow.sklearn.load_model(uri)
        metadata = dict(mlflow.models.get_model_info(uri).metadata or {})
    except Exception as error:
        raise ChampionUnavailable(f"could not load {uri}: {error}") from error
    if metadata.get("kind") != kind:
        raise ChampionUnavailable(
            f"{uri} declares kind {metadata.get('kind')!r} in its metadata, expected {kind!r}"
        )
    return LoadedChampion(
        kind=kind,
        name=name,
        version=str(version),
        model=TrainedModel(kind=kind, estimator=estimator, metadata=metadata),
    )
