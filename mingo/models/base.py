"""The value types of the model interface: configuration, datasets, trained models."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mingo import ModelKind

# Fully qualified names of non-sklearn-default types the skops loader must trust. Found by
# saving each model with mlflow.sklearn.save_model(serialization_format="skops") and listing
# skops.io.get_untrusted_types; all are scikit-learn internals, plain dtypes or the project's
# own next-route estimator (numpy attributes only; `mingo` is installed wherever models load).
# No callable (functools.partial, a function) is trusted.
SKOPS_TRUSTED_TYPES: list[str] = [
    "mingo.models.route_ranker.RouteRanker",
    "numpy.dtype",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
]


class ModelConfig(BaseModel):
    """Knobs of one training run (pipeline YAML and CLI options map onto these)."""

    model_config = ConfigDict(extra="forbid")

    kind: ModelKind
    cutoff: date | None = Field(
        default=None,
        description="Holdout cutoff; default: the last date minus the label window.",
    )
    horizon_days: int = Field(
        default=30, ge=1, description="Binary label window (30 or 7); clustering's cutoff step."
    )
    top_k_routes: int = Field(
        default=50,
        ge=2,
        description="Multiclass: popular routes offered to every customer besides their own.",
    )
    route_window_days: int = Field(
        default=180, ge=1, description="Multiclass: the next route is the first one in this window."
    )
    training_snapshots: int = Field(
        default=6,
        ge=1,
        description=(
            "Binary and multiclass: training cutoffs stacked (T-W, T-2W, ...; W the label "
            "window), all labelled before the holdout cutoff T, for more examples."
        ),
    )
    active_within_days: int | None = Field(
        default=365,
        ge=1,
        description="Binary: only customers whose last purchase is this recent are scored.",
    )
    n_clusters: int | None = Field(default=None, ge=2, description="Clustering: fixed k or None.")
    k_range: tuple[int, int] = Field(
        default=(3, 8), description="Clustering: k searched, both ends included."
    )
    silhouette_sample: int = Field(
        default=3000,
        ge=100,
        description="Clustering: rows used to compute silhouette when choosing k (the holdout "
        "score uses a fixed sample for every model alike).",
    )
    random_state: int = 42

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        low, high = self.k_range
        if not 2 <= low <= high:
            raise ValueError(f"k_range must satisfy 2 <= low <= high, got {self.k_range}")
        return self


@dataclass(frozen=True)
class Dataset:
    """Features as of `cutoff` for some customers, with their labels (None for clustering).

    Binary labels are 0/1 (bought within the horizon); multiclass labels are route keys
    (`mingo.features.routes.route_key`), independent of any model's vocabulary. A multiclass
    set also carries its `route_vocabulary` (the columns of its route features are relative to
    it) and, for a holdout, the `history` it was computed from, so a model with another
    vocabulary (the champion) can be re-scored on it.
    """

    features: pd.DataFrame  # index: customer id; columns: feature names
    labels: pd.Series | None
    cutoff: date
    route_vocabulary: list[tuple[str, str]] | None = None
    history: pd.DataFrame | None = None


@dataclass
class TrainedModel:
    kind: ModelKind
    estimator: Any  # a scikit-learn Pipeline (preprocessing inside)
    metadata: dict[str, Any] = field(default_factory=dict)  # JSON-safe: features, classes, ...
