"""Multiclass model: the customer's next route among the top-K routes, or "other".

Label: the route of the customer's first purchase in (C, C + W] after a cutoff C
(W = `ModelConfig.route_window_days`); customers without a purchase in that window, or without
any purchase on or before C, are not in the set. Classes: the K routes with most orders on or
before the latest training cutoff (the vocabulary) plus class K, "other". Training stacks the
snapshots T - W, T - 2W, ...; the holdout is the snapshot at T, encoded with the training
vocabulary. Features: the customer's route history against the vocabulary
(`mingo.features.routes`), scored by a class-agnostic ranker (`route_ranker`). The baseline
predicts the customer's most frequent route (then their other routes by share, then global
popularity, for top-3/top-5).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from mingo.data import schema
from mingo.features import (
    Route,
    route_feature_columns,
    route_features,
    route_key,
    top_routes,
)
from mingo.features.routes import route_share_columns
from mingo.models import datasets
from mingo.models.base import Dataset, ModelConfig, TrainedModel
from mingo.models.metrics import multiclass_metrics
from mingo.models.route_ranker import RouteRanker

ROUTES_PER_PREDICTION = 5
MAX_TOP_K = 250  # bounds the ranker's candidate rows (customers x (K + 1)) and its output


def model_inputs(purchases: pd.DataFrame, as_of: date, vocabulary: list[Route]) -> pd.DataFrame:
    """Route-history features as of `as_of` (the one function of training and serving)."""
    return route_features(purchases, as_of, vocabulary)


def build_datasets(purchases: pd.DataFrame, config: ModelConfig) -> tuple[Dataset, Dataset]:
    if config.top_k_routes > MAX_TOP_K:
        raise ValueError(f"top_k_routes={config.top_k_routes} exceeds the maximum {MAX_TOP_K}")
    window = config.route_window_days
    holdout_cutoff = datasets.holdout_cutoff(purchases, config.cutoff, window)
    cutoffs = datasets.training_cutoffs(
        purchases, holdout_cutoff, window, config.training_snapshots
    )
    vocabulary = top_routes(purchases, cutoffs[0], config.top_k_routes)
    train = datasets.stack([_labelled_set(purchases, c, window, vocabulary) for c in cutoffs])
    holdout = _labelled_set(purchases, holdout_cutoff, window, vocabulary, keep_history=True)
    return train, holdout


def _labelled_set(
    purchases: pd.DataFrame,
    cutoff: date,
    window: int,
    vocabulary: list[Route],
    keep_history: bool = False,
) -> Dataset:
    next_route = datasets.first_route_in_window(purchases, cutoff, window)
    customers = purchases[schema.CUSTOMER_ID].isin(next_route.index).to_numpy()
    relevant = purchases.loc[customers & datasets.history_mask(purchases, cutoff)]
    features = model_inputs(relevant, cutoff, vocabulary)
    labels = next_route.loc[next_route.index.isin(features.index)].reindex(features.index)
    return Dataset(
        features=features,
        labels=labels,
        cutoff=cutoff,
        route_vocabulary=vocabulary,
        history=relevant if keep_history else None,
    )


def class_of(keys: pd.Series, vocabulary: list[Route]) -> np.ndarray:
    """Class of each route key: its vocabulary position, or K ("other") when absent."""
    known = pd.Index([route_key(o, d) for o, d in vocabulary])
    found = known.get_indexer(pd.Index(keys.astype(str)))
    return np.where(found >= 0, found, len(vocabulary)).astype(np.int64)


def _vocabulary(model: TrainedModel) -> list[Route]:
    return [(r["origin"], r["destination"]) for r in model.metadata["route_classes"]]


def inputs_for(model: TrainedModel, dataset: Dataset) -> pd.DataFrame:
    """The dataset's features, re-encoded from its history when its vocabulary differs."""
    vocabulary = _vocabulary(model)
    if dataset.route_vocabulary == vocabulary:
        return dataset.features
    if dataset.history is None:
        raise ValueError(
            "this set's route features use another vocabulary and it carries no history to "
            "re-encode them; score on a holdout built by build_datasets"
        )
    return model_inputs(dataset.history, dataset.cutoff, vocabulary).loc[dataset.features.index]


def _make_pipeline(k: int, config: ModelConfig) -> Pipeline:
    select = ColumnTransformer([("route_history", "passthrough", route_feature_columns(k))])
    ranker = RouteRanker(random_state=config.random_state)
    return Pipeline([("features", select), ("classifier", ranker)])


def fit(train: Dataset, config: ModelConfig) -> TrainedModel:
    if train.labels is None or train.route_vocabulary is None:
        raise ValueError("the multiclass model needs labels and a route vocabulary")
    if len(train.labels) == 0:
        raise ValueError(f"no customer bought in the label window after {train.cutoff}")
    vocabulary = train.route_vocabulary
    k = len(vocabulary)
    classes = class_of(train.labels, vocabulary)
    if len(np.unique(classes)) < 2:
        raise ValueError("training labels hold a single route class: more data or a larger top_k")
    columns = route_feature_columns(k)
    pipeline = _make_pipeline(k, config).fit(train.features[columns], classes)
    metadata: dict[str, Any] = {
        "kind": "multiclass",
        "feature_columns": columns,
        "route_classes": [{"origin": o, "destination": d} for o, d in vocabulary],
        "other_class": k,
        "top_k": k,
        "route_window_days": config.route_window_days,
        "horizon_days": config.route_window_days,
        "cutoff": train.cutoff.isoformat(),
        "training_customers": len(classes),
        "sklearn_version": sklearn.__version__,
    }
    return TrainedModel(kind="multiclass", estimator=pipeline, metadata=metadata)


def probabilities(model: TrainedModel, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities per known class, class ids of the columns)."""
    columns = model.metadata["feature_columns"]
    proba = np.asarray(model.estimator.predict_proba(features[columns]), dtype=np.float64)
    return proba, np.asarray(model.estimator.classes_, dtype=np.int64)


def score(model: TrainedModel, holdout: Dataset) -> dict[str, float]:
    if holdout.labels is None:
        raise ValueError("the multiclass holdout needs labels")
    proba, classes = probabilities(model, inputs_for(model, holdout))
    return multiclass_metrics(class_of(holdout.labels, _vocabulary(model)), proba, classes)


def baseline_metrics(train: Dataset, holdout: Dataset, config: ModelConfig) -> dict[str, float]:
    """The customer's most frequent route, then their other routes, then global popularity."""
    if holdout.labels is None or holdout.route_vocabulary is None:
        raise ValueError("the multiclass holdout needs labels and a route vocabulary")
    k = len(holdout.route_vocabulary)
    shares = holdout.features[route_share_columns(k)].to_numpy()
    # Vocabulary order is popularity order; "other" ranks after every named route.
    popularity = np.r_[np.linspace(1.0, 0.5, k), 0.0] * 1e-6
    scores = shares + popularity
    top = holdout.features["top_route_class"].to_numpy().astype(np.int64)
    scores[np.arange(len(top)), top] += 1.0  # the most frequent route (ties: most recent) first
    labels = class_of(holdout.labels, holdout.route_vocabulary)
    return multiclass_metrics(labels, scores, np.arange(k + 1))


def predict(
    model: TrainedModel, purchases: pd.DataFrame, as_of: date | None
) -> list[dict[str, Any]]:
    """Top routes per customer; "other" is skipped, probabilities are the model's own."""
    vocabulary = _vocabulary(model)
    customers, inputs = datasets.serving_inputs(
        purchases, as_of, lambda history, cutoff: model_inputs(history, cutoff, vocabulary)
    )
    proba, classes = probabilities(model, inputs)
    routes = model.metadata["route_classes"]
    other = int(model.metadata["other_class"])
    named = classes != other
    proba, classes = proba[:, named], classes[named]
    ranked = np.argsort(-proba, axis=1, kind="stable")[:, :ROUTES_PER_PREDICTION]
    return [
        {
            "customer_id": customer,
            "routes": [
                {
                    "origin": routes[classes[j]]["origin"],
                    "destination": routes[classes[j]]["destination"],
                    "probability": float(proba[i, j]),
                }
                for j in ranked[i]
            ],
        }
        for i, customer in enumerate(customers)
    ]
