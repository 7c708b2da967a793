"""Clustering model: customer segments on scaled behavioural features.

Population: every customer with a purchase on or before the cutoff (lapsed and one-time
buyers are segments too). Training features are as of T - H, the holdout's as of T
(T = `ModelConfig.cutoff` or the last date minus H); the holdout is assigned by the trained
pipeline and scored there. k is `ModelConfig.n_clusters`, or the k in `k_range` with the best
silhouette on a deterministic sample of the training set. The baseline is a naive RFM rule:
recency quartiles, scored in the model's own scaled space.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import silhouette_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from mingo.features import customer_features, features_from_history
from mingo.models import datasets
from mingo.models.base import Dataset, ModelConfig, TrainedModel
from mingo.models.metrics import clustering_metrics, sample_rows
from mingo.models.segments import segment_profiles

# Heavy-tailed counts and durations are log-scaled so one power user does not form a cluster.
LOG_SCALED_COLUMNS: tuple[str, ...] = ("frequency", "recency_days", "tenure_days", "mean_tickets")
PLAIN_COLUMNS: tuple[str, ...] = ("avg_order_value_log", "share_holiday_months")
CLUSTER_COLUMNS: tuple[str, ...] = (*LOG_SCALED_COLUMNS, *PLAIN_COLUMNS)
BASELINE_SEGMENTS = 4  # the classic RFM quartiles
# Silhouette sample of every score on a holdout: fixed, so no model's own setting decides
# which customers its rival is scored on.
SCORE_SAMPLE = 4000
SCORE_SEED = 0


def build_datasets(purchases: pd.DataFrame, config: ModelConfig) -> tuple[Dataset, Dataset]:
    holdout_cutoff = datasets.holdout_cutoff(purchases, config.cutoff, config.horizon_days)
    train_cutoff = holdout_cutoff - timedelta(days=config.horizon_days)
    return (
        Dataset(customer_features(purchases, train_cutoff), None, train_cutoff),
        Dataset(customer_features(purchases, holdout_cutoff), None, holdout_cutoff),
    )


def _scaler() -> Pipeline:
    prepare = ColumnTransformer(
        [
            (
                "log_scaled",
                Pipeline(
                    [
                        ("fill", SimpleImputer(strategy="constant", fill_value=0.0)),
                        ("log", FunctionTransformer(np.log1p)),
                    ]
                ),
                list(LOG_SCALED_COLUMNS),
            ),
            ("plain", SimpleImputer(strategy="constant", fill_value=0.0), list(PLAIN_COLUMNS)),
        ]
    )
    return Pipeline([("prepare", prepare), ("scale", StandardScaler())])


def _choose_k(points: np.ndarray, config: ModelConfig) -> tuple[int, dict[str, float]]:
    rows = sample_rows(len(points), config.silhouette_sample, config.random_state)
    sample = points[rows]
    low, high = config.k_range
    scores: dict[str, float] = {}
    for k in range(low, min(high, len(sample) - 1) + 1):
        segments = KMeans(k, n_init=3, random_state=config.random_state).fit_predict(sample)
        scores[str(k)] = float(silhouette_score(sample, segments))
    if not scores:
        raise ValueError(f"too few customers ({len(points)}) for k in {config.k_range}")
    best = max(scores, key=lambda k: scores[k])
    return int(best), scores


def fit(train: Dataset, config: ModelConfig) -> TrainedModel:
    if len(train.features) < 10:
        raise ValueError(f"only {len(train.features)} customers as of {train.cutoff}: too few")
    scaler = _scaler().fit(train.features)
    points = scaler.transform(train.features)
    k_scores: dict[str, float] = {}
    if config.n_clusters is not None:
        k = config.n_clusters
    else:
        k, k_scores = _choose_k(points, config)
    kmeans = KMeans(k, n_init=4, random_state=config.random_state).fit(points)
    pipeline = Pipeline([*scaler.steps, ("cluster", kmeans)])
    segments = segment_profiles(train.features, kmeans.labels_)
    metadata: dict[str, Any] = {
        "kind": "clustering",
        "feature_columns": list(CLUSTER_COLUMNS),
        "n_clusters": k,
        "silhouette_by_k": k_scores,
        "segments": segments,
        "segment_names": {str(s["segment"]): s["name"] for s in segments},
        "horizon_days": config.horizon_days,
        "cutoff": train.cutoff.isoformat(),
        "random_state": config.random_state,
        "training_customers": len(train.features),
        "sklearn_version": sklearn.__version__,
    }
    return TrainedModel(kind="clustering", estimator=pipeline, metadata=metadata)


def assign(model: TrainedModel, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(scaled points, segment per customer) from the trained pipeline."""
    columns = model.metadata["feature_columns"]
    missing = [c for c in columns if c not in features.columns]
    if missing:
        raise ValueError(f"feature frame lacks the model's column(s) {missing}")
    frame = features[columns]
    points = np.asarray(model.estimator[:-1].transform(frame), dtype=np.float64)
    return points, np.asarray(model.estimator[-1].predict(points), dtype=np.int64)


def evaluation_space(holdout: Dataset) -> np.ndarray:
    """The holdout's customers in one scaled space, fitted on the holdout alone.

    Every segmentation judged on this holdout (candidate, champion, baseline) is scored on
    these same points: a model's own scaler would put each in its own space, and silhouettes
    from two spaces do not compare.
    """
    return np.asarray(_scaler().fit_transform(holdout.features), dtype=np.float64)


def score(model: TrainedModel, holdout: Dataset) -> dict[str, float]:
    _, segments = assign(model, holdout.features)
    return clustering_metrics(evaluation_space(holdout), segments, SCORE_SAMPLE, SCORE_SEED)


def baseline_metrics(train: Dataset, holdout: Dataset, config: ModelConfig) -> dict[str, float]:
    """Recency quartiles (or `n_clusters` quantiles; edges from the training set), scored in the
    holdout's evaluation space like every model."""
    k = config.n_clusters or BASELINE_SEGMENTS
    edges = np.quantile(train.features["recency_days"], np.linspace(0, 1, k + 1)[1:-1])
    segments = np.searchsorted(edges, holdout.features["recency_days"].to_numpy(), side="right")
    return clustering_metrics(evaluation_space(holdout), segments, SCORE_SAMPLE, SCORE_SEED)


def predict_scored(
    model: TrainedModel, purchases: pd.DataFrame, as_of: date | None
) -> datasets.ScoredCustomers:
    served = datasets.serving_inputs(purchases, as_of, features_from_history)
    _, segments = assign(model, served.inputs)
    names = model.metadata["segment_names"]
    predictions = [
        {"customer_id": customer, "segment": int(s), "segment_name": names[str(int(s))]}
        for customer, s in zip(served.customers, segments, strict=True)
    ]
    # The model's inputs are the customer-level features themselves.
    return datasets.ScoredCustomers(predictions, served.inputs, served.as_of)


def predict(
    model: TrainedModel, purchases: pd.DataFrame, as_of: date | None
) -> list[dict[str, Any]]:
    return predict_scored(model, purchases, as_of).predictions
