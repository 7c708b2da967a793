"""The model interface every caller relies on.

Lifecycle: `build_datasets` splits purchases out of time into a training set and a holdout
(features as of a cutoff, labels strictly after it) -> `fit` trains a `TrainedModel` ->
`score` computes the contract metrics on any holdout (also used to re-score the champion on
the candidate's holdout) -> `predict` answers serving requests from raw purchase histories
(`predict_scored`: the same answer with the customer-level features it was computed from and
their as-of date, for the prediction log).

Persistence (done by the registry, not here): `TrainedModel.estimator` is logged with
`mlflow.sklearn.log_model(..., skops_trusted_types=SKOPS_TRUSTED_TYPES,
metadata=trained.metadata)`; loading the MLmodel's `metadata` and the estimator back gives
`TrainedModel(kind=metadata["kind"], estimator=..., metadata=...)`.

Each kind lives in its own module (`binary`, `multiclass`, `clustering`) with the same
functions; this module dispatches on `ModelConfig.kind` / `TrainedModel.kind`.
"""

from __future__ import annotations

from datetime import date
from types import ModuleType
from typing import Any

import pandas as pd

from mingo import MODEL_KINDS
from mingo.models import binary, clustering, multiclass
from mingo.models.base import SKOPS_TRUSTED_TYPES, Dataset, ModelConfig, TrainedModel
from mingo.models.datasets import ScoredCustomers
from mingo.models.target import TargetDefinition, stamp_feature_schema, target_of

__all__ = [
    "SKOPS_TRUSTED_TYPES",
    "Dataset",
    "ModelConfig",
    "ScoredCustomers",
    "TargetDefinition",
    "TrainedModel",
    "baseline_metrics",
    "build_datasets",
    "fit",
    "predict",
    "predict_scored",
    "score",
    "target_of",
]

_MODULES: dict[str, ModuleType] = {
    "binary": binary,
    "multiclass": multiclass,
    "clustering": clustering,
}


def _module(kind: str) -> ModuleType:
    if kind not in _MODULES:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {list(MODEL_KINDS)}")
    return _MODULES[kind]


def build_datasets(purchases: pd.DataFrame, config: ModelConfig) -> tuple[Dataset, Dataset]:
    """(train, holdout), out of time: the holdout's cutoff is later than the training's."""
    train, holdout = _module(config.kind).build_datasets(purchases, config)
    return train, holdout


def fit(train: Dataset, config: ModelConfig) -> TrainedModel:
    trained: TrainedModel = _module(config.kind).fit(train, config)
    return stamp_feature_schema(trained)


def score(model: TrainedModel, holdout: Dataset) -> dict[str, float]:
    """Contract metric names (accuracy, roc_auc, ... silhouette, davies_bouldin)."""
    metrics: dict[str, float] = _module(model.kind).score(model, holdout)
    return metrics


def baseline_metrics(train: Dataset, holdout: Dataset, config: ModelConfig) -> dict[str, float]:
    """The naive baseline's metrics on the same holdout, under the same names."""
    metrics: dict[str, float] = _module(config.kind).baseline_metrics(train, holdout, config)
    return metrics


def predict(
    model: TrainedModel, purchases: pd.DataFrame, as_of: date | None
) -> list[dict[str, Any]]:
    """One prediction dict per customer in `purchases` (shape per CONTRACT.md).

    Features are computed as of `as_of`, or when it is None as of the latest purchase date in
    `purchases`; customers come back in order of first appearance. A customer without any
    purchase on or before that date is an error (ValueError naming them), never a guess.
    """
    predictions: list[dict[str, Any]] = _module(model.kind).predict(model, purchases, as_of)
    return predictions


def predict_scored(
    model: TrainedModel, purchases: pd.DataFrame, as_of: date | None
) -> ScoredCustomers:
    """`predict`'s answer with what was scored: the customers' customer-level features
    (`FEATURE_COLUMNS`, every KIND) and the as-of date they were computed at. The features come
    from the same pass over the purchases as the answer (what the prediction log records)."""
    scored: ScoredCustomers = _module(model.kind).predict_scored(model, purchases, as_of)
    return scored
