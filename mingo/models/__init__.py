"""The three models (binary, multiclass, clustering) behind one interface.

Callers (the CLI, ZenML steps, BentoML services, the registry) use only the names below.
"""

from mingo.models.api import (
    SKOPS_TRUSTED_TYPES,
    Dataset,
    ModelConfig,
    TrainedModel,
    baseline_metrics,
    build_datasets,
    fit,
    predict,
    score,
)

__all__ = [
    "SKOPS_TRUSTED_TYPES",
    "Dataset",
    "ModelConfig",
    "TrainedModel",
    "baseline_metrics",
    "build_datasets",
    "fit",
    "predict",
    "score",
]
