"""Binary model: will the customer buy within H days after the cutoff?

Out of time: the training set holds features as of T - H with labels from (T - H, T] (stacked
with the earlier snapshots T - 2H, ... of `ModelConfig.training_snapshots`); the holdout holds
features as of T with labels from (T, T + H]. Population of a set: customers
with a purchase on or before its cutoff whose last purchase is at most
`ModelConfig.active_within_days` old (long-lapsed customers are excluded: scoring them is
trivial and would flatter roc_auc). The estimator is a gradient-boosted classifier with
sigmoid calibration; its decision threshold maximises F1 on a validation slice of the
training set (never the holdout). The baseline is a recency rule, tuned on the training set.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from mingo.features import FEATURE_COLUMNS, customer_features, features_from_history
from mingo.models import datasets
from mingo.models.base import Dataset, ModelConfig, TrainedModel
from mingo.models.metrics import best_f1_threshold, binary_metrics

VALIDATION_SHARE = 0.25
MIN_POSITIVES = 10


def build_datasets(purchases: pd.DataFrame, config: ModelConfig) -> tuple[Dataset, Dataset]:
    horizon = config.horizon_days
    holdout_cutoff = datasets.holdout_cutoff(purchases, config.cutoff, horizon)
    cutoffs = datasets.training_cutoffs(
        purchases, holdout_cutoff, horizon, config.training_snapshots
    )
    train = datasets.stack([_labelled_set(purchases, c, config) for c in cutoffs])
    return train, _labelled_set(purchases, holdout_cutoff, config)


def _labelled_set(purchases: pd.DataFrame, cutoff: date, config: ModelConfig) -> Dataset:
    features = datasets.recently_active(
        customer_features(purchases, cutoff), config.active_within_days
    )
    buyers = datasets.buyers_in_window(purchases, cutoff, config.horizon_days)
    labels = pd.Series(
        features.index.isin(buyers).astype(np.int64), index=features.index, name="will_buy"
    )
    return Dataset(features=features, labels=labels, cutoff=cutoff)


def _labels(dataset: Dataset) -> pd.Series:
    if dataset.labels is None:
        raise ValueError(f"the binary model needs labels; the set as of {dataset.cutoff} has none")
    return dataset.labels


def _make_pipeline(config: ModelConfig) -> Pipeline:
    boosted = HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=100,
        max_depth=3,
        min_samples_leaf=60,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=config.random_state,
    )
    return Pipeline(
        [
            ("features", ColumnTransformer([("behaviour", "passthrough", list(FEATURE_COLUMNS))])),
            # ensemble=False: calibration still comes from 3 out-of-fold predictions, but one
            # booster is kept, so serving scores one model instead of three.
            (
                "classifier",
                CalibratedClassifierCV(boosted, method="sigmoid", cv=3, ensemble=False),
            ),
        ]
    )


def fit(train: Dataset, config: ModelConfig) -> TrainedModel:
    labels = _labels(train)
    positives = int(labels.sum())
    if positives < MIN_POSITIVES or len(labels) - positives < MIN_POSITIVES:
        raise ValueError(
            f"training set as of {train.cutoff} has {positives} buyers among {len(labels)} "
            f"customers; need at least {MIN_POSITIVES} of each class (more data or another cutoff)"
        )
    fit_x, valid_x, fit_y, valid_y = train_test_split(
        train.features,
        labels,
        test_size=VALIDATION_SHARE,
        stratify=labels,
        random_state=config.random_state,
    )
    pipeline = _make_pipeline(config).fit(fit_x, fit_y)
    threshold = best_f1_threshold(valid_y, pipeline.predict_proba(valid_x)[:, 1])
    metadata: dict[str, Any] = {
        "kind": "binary",
        "feature_columns": list(FEATURE_COLUMNS),
        "threshold": threshold,
        "horizon_days": config.horizon_days,
        "cutoff": train.cutoff.isoformat(),
        "active_within_days": config.active_within_days,
        "training_customers": len(labels),
        "training_positive_rate": positives / len(labels),
        "sklearn_version": sklearn.__version__,
    }
    return TrainedModel(kind="binary", estimator=pipeline, metadata=metadata)


def probabilities(model: TrainedModel, features: pd.DataFrame) -> np.ndarray:
    columns = model.metadata["feature_columns"]
    missing = [c for c in columns if c not in features.columns]
    if missing:
        raise ValueError(f"feature frame lacks the model's column(s) {missing}")
    return np.asarray(model.estimator.predict_proba(features[columns])[:, 1], dtype=np.float64)


def score(model: TrainedModel, holdout: Dataset) -> dict[str, float]:
    return binary_metrics(
        _labels(holdout), probabilities(model, holdout.features), model.metadata["threshold"]
    )


def baseline_metrics(train: Dataset, holdout: Dataset, config: ModelConfig) -> dict[str, float]:
    """Recency rule: "will buy" when the last purchase is at most R days old (R tuned on train)."""
    recency_threshold = best_f1_threshold(_labels(train), -train.features["recency_days"])
    return binary_metrics(_labels(holdout), -holdout.features["recency_days"], recency_threshold)


def predict_scored(
    model: TrainedModel, purchases: pd.DataFrame, as_of: date | None
) -> datasets.ScoredCustomers:
    served = datasets.serving_inputs(purchases, as_of, features_from_history)
    probability = probabilities(model, served.inputs)
    threshold = float(model.metadata["threshold"])
    predictions = [
        {"customer_id": customer, "probability": float(p), "will_buy": bool(p >= threshold)}
        for customer, p in zip(served.customers, probability, strict=True)
    ]
    # The model's inputs are the customer-level features themselves.
    return datasets.ScoredCustomers(predictions, served.inputs, served.as_of)


def predict(
    model: TrainedModel, purchases: pd.DataFrame, as_of: date | None
) -> list[dict[str, Any]]:
    return predict_scored(model, purchases, as_of).predictions
