"""MinGo: keeps ClickBus's customer models fresh.

The core library (data, features, models, registry, promotion, deploy) imports none of
airflow, zenml or bentoml; those frameworks call into it.
"""

from typing import Literal, get_args

__version__ = "0.1.0"

ModelKind = Literal["binary", "multiclass", "clustering"]
MODEL_KINDS: tuple[ModelKind, ...] = get_args(ModelKind)
# The prediction Deployment's pod-template annotation that names the served version: the deploy
# steps write it, the chart maps it into the pods' MINGO_MODEL_VERSION, the service reads that.
MODEL_VERSION_ANNOTATION = "mingo.io/model-version"


def registered_model_name(kind: ModelKind) -> str:
    """Name of the MLflow registered model for a KIND (`mingo-<kind>`)."""
    return f"mingo-{kind}"
