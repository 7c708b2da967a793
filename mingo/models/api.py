"""The model interface every caller relies on (bodies filled by the Models issue).

Lifecycle: `build_datasets` splits purchases out of time into a training set and a holdout
(features as of a cutoff, labels strictly after it) -> `fit` trains a `TrainedModel` ->
`score` computes the contract metrics on any holdout (also used to re-score the champion on
the candidate's holdout) -> `predict` answers serving requests from raw purchase histories.

Persistence (done by the registry, not here): `TrainedModel.estimator` is logged with
`mlflow.sklearn.log_model(..., skops_trusted_types=SKOPS_TRUSTED_TYPES,
metadata=trained.metadata)`; loading the MLmodel's `metadata` and the estimator back gives
`TrainedModel(kind=metadata["kind"], estimator=..., metadata=...)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from mingo import ModelKind

# Fully qualified names of non-sklearn-default types the skops loader must trust.
SKOPS_TRUSTED_TYPES: list[str] = []


class ModelConfig(BaseModel):
    """Knobs of one training run (pipeline YAML and CLI options map onto these)."""

    model_config = ConfigDict(extra="forbid")

    kind: ModelKind
    cutoff: date | None = Field(
        default=None, description="Holdout cutoff; default: the last date minus the horizon."
    )
    horizon_days: int = Field(default=30, description="Binary label window (30 or 7).")
    top_k_routes: int = Field(default=50, ge=2, description="Multiclass: routes kept + 'other'.")
    n_clusters: int | None = Field(default=None, description="Clustering: fixed k or None.")
    k_range: tuple[int, int] = (3, 8)
    random_state: int = 42


@dataclass(frozen=True)
class Dataset:
    """Features as of `cutoff` for some customers, with their labels (None for clustering)."""

    features: pd.DataFrame  # index: customer id; columns: feature names
    labels: pd.Series | None
    cutoff: date


@dataclass
class TrainedModel:
    kind: ModelKind
    estimator: Any  # a scikit-learn Pipeline (preprocessing inside)
    metadata: dict[str, Any] = field(default_factory=dict)  # JSON-safe: features, classes, ...


def build_datasets(purchases: pd.DataFrame, config: ModelConfig) -> tuple[Dataset, Dataset]:
    """(train, holdout), out of time: the holdout's cutoff is later than the training's."""
    raise NotImplementedError


def fit(train: Dataset, config: ModelConfig) -> TrainedModel:
    raise NotImplementedError


def score(model: TrainedModel, holdout: Dataset) -> dict[str, float]:
    """Contract metric names (accuracy, roc_auc, ... silhouette, davies_bouldin)."""
    raise NotImplementedError


def baseline_metrics(train: Dataset, holdout: Dataset, config: ModelConfig) -> dict[str, float]:
    raise NotImplementedError


def predict(
    model: TrainedModel, purchases: pd.DataFrame, as_of: date | None
) -> list[dict[str, Any]]:
    """One prediction dict per customer in `purchases` (shape per CONTRACT.md)."""
    raise NotImplementedError
