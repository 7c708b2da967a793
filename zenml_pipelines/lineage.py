"""Read ZenML's side of the link between a ZenML Model version and an MLflow version."""

from __future__ import annotations

from zenml.client import Client
from zenml.enums import ModelStages

from mingo import ModelKind, registered_model_name


def production_mlflow_version(kind: ModelKind) -> str | None:
    """The MLflow version recorded on the ZenML Model version in the production stage."""
    try:
        version = Client().get_model_version(registered_model_name(kind), ModelStages.PRODUCTION)
    except KeyError:
        return None
    value = version.run_metadata.get("mlflow_version")
    return None if value is None else str(value)
