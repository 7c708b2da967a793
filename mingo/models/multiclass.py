"""Multiclass model: the route of the customer's next trip, among their own candidates.

Label: the route key of the customer's first purchase in (C, C + W] after a cutoff C
(W = `ModelConfig.route_window_days`); customers without a purchase in that window, or without
any purchase on or before C, are not in the set. Training stacks the snapshots T - W, T - 2W,
... (at most `MAX_TRAIN_CUSTOMERS_PER_SNAPSHOT` customers each); the holdout is the snapshot at
T, every customer, with its raw history kept so any model can recompute its own inputs.

Candidates (`mingo.features.routes`): each customer's history routes, their reverses (the open
return leg of the last trip among them) and the P most ordered routes as of the snapshot's
cutoff (P = `ModelConfig.top_k_routes`; the model keeps the list of its latest training
cutoff to serve with). A conditional-logit ranker (`route_ranker`) scores them; probabilities
are a softmax over the customer's candidates.

What is scored is what is served: `serve` is the one ranking function of `predict`, `score`
and `baseline_metrics`. Every metric counts every holdout customer; a next route outside the
served list is a miss. The baseline ranks the customer's most frequent route first (ties: the
most recent), then their other routes by share, then popular routes, and is served and scored
by the same function.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from mingo.data import schema
from mingo.features import (
    PurchaseHistory,
    Route,
    features_from_history,
    purchase_history,
    route_features_from_history,
    top_routes,
)
from mingo.features.routes import (
    HISTORY_CANDIDATES,
    ROUTE_KEY_SEPARATOR,
    SIGNALS,
    route_feature_columns,
    route_key_columns,
)
from mingo.models import datasets
from mingo.models.base import Dataset, ModelConfig, TrainedModel
from mingo.models.metrics import multiclass_metrics
from mingo.models.route_ranker import RouteRanker, softmax_over_present

ROUTES_PER_PREDICTION = 5
MAX_POPULAR_ROUTES = 250  # bounds the candidate slots per customer (history + popular)
MAX_TRAIN_CUSTOMERS_PER_SNAPSHOT = 5_000  # bounds the training set at full scale

StrArray = npt.NDArray[np.object_]


def candidate_policy(popular_count: int) -> str:
    """The candidate policy, as recorded on the model (champion and candidate must match)."""
    return f"history:{HISTORY_CANDIDATES}+reverse+open_return+popular:{popular_count}"


def model_inputs(purchases: pd.DataFrame, as_of: date, popular: list[Route]) -> pd.DataFrame:
    """Candidates and signals as of `as_of` (the one function of training and serving)."""
    return model_inputs_from_history(purchase_history(purchases, as_of), popular)


def model_inputs_from_history(history: PurchaseHistory, popular: list[Route]) -> pd.DataFrame:
    """`model_inputs` from a purchase history already cut at the as-of date."""
    return route_features_from_history(history, popular)


def build_datasets(purchases: pd.DataFrame, config: ModelConfig) -> tuple[Dataset, Dataset]:
    if config.top_k_routes > MAX_POPULAR_ROUTES:
        raise ValueError(
            f"top_k_routes={config.top_k_routes} exceeds the maximum {MAX_POPULAR_ROUTES}"
        )
    window = config.route_window_days
    holdout_cutoff = datasets.holdout_cutoff(purchases, config.cutoff, window)
    cutoffs = datasets.training_cutoffs(
        purchases, holdout_cutoff, window, config.training_snapshots
    )
    snapshots = [
        _labelled_set(
            purchases,
            cutoff,
            window,
            top_routes(purchases, cutoff, config.top_k_routes),
            sample=(MAX_TRAIN_CUSTOMERS_PER_SNAPSHOT, config.random_state + i),
        )
        for i, cutoff in enumerate(cutoffs)
    ]
    train = datasets.stack(snapshots)
    # The model serves with its latest training cutoff's popular list: so is the holdout built.
    popular = train.route_vocabulary or []
    holdout = _labelled_set(purchases, holdout_cutoff, window, popular, keep_history=True)
    return train, holdout


def _labelled_set(
    purchases: pd.DataFrame,
    cutoff: date,
    window: int,
    popular: list[Route],
    keep_history: bool = False,
    sample: tuple[int, int] | None = None,
) -> Dataset:
    next_route = datasets.first_route_in_window(purchases, cutoff, window)
    history = datasets.history_mask(purchases, cutoff)
    with_history = pd.Index(purchases.loc[history, schema.CUSTOMER_ID].unique())
    customers = next_route.index.intersection(with_history)
    if sample is not None and len(customers) > sample[0]:
        rng = np.random.default_rng(sample[1])
        customers = customers[np.sort(rng.choice(len(customers), sample[0], replace=False))]
    relevant = purchases.loc[history & purchases[schema.CUSTOMER_ID].isin(customers).to_numpy()]
    features = model_inputs(relevant, cutoff, popular)
    return Dataset(
        features=features,
        labels=next_route.reindex(features.index),
        cutoff=cutoff,
        route_vocabulary=popular,
        history=relevant if keep_history else None,
    )


def popular_routes(model: TrainedModel) -> list[Route]:
    return [(r["origin"], r["destination"]) for r in model.metadata["popular_routes"]]


def inputs_for(model: TrainedModel, dataset: Dataset) -> pd.DataFrame:
    """The dataset's features, recomputed from its history when built with another list."""
    popular = popular_routes(model)
    if dataset.route_vocabulary == popular:
        return dataset.features
    if dataset.history is None:
        raise ValueError(
            "this set's candidates use another popular-route list and it carries no history "
            "to recompute them; score on a holdout built by build_datasets"
        )
    return model_inputs(dataset.history, dataset.cutoff, popular).loc[dataset.features.index]


def target_slots(features: pd.DataFrame, labels: pd.Series, popular_count: int) -> np.ndarray:
    """Slot of each customer's next route among their candidates, -1 when it is none."""
    keys = features[route_key_columns(popular_count)].to_numpy(dtype=object)
    hits = keys == labels.to_numpy(dtype=object)[:, None]
    return np.where(hits.any(axis=1), hits.argmax(axis=1), -1).astype(np.int64)


def fit(train: Dataset, config: ModelConfig) -> TrainedModel:
    if train.labels is None or train.route_vocabulary is None:
        raise ValueError("the multiclass model needs labels and a popular-route list")
    if len(train.labels) == 0:
        raise ValueError(f"no customer bought in the label window after {train.cutoff}")
    popular = train.route_vocabulary
    slots = target_slots(train.features, train.labels, len(popular))
    columns = route_feature_columns(len(popular))
    select = ColumnTransformer([("signals", "passthrough", columns)])
    ranker = RouteRanker(n_signals=len(SIGNALS), random_state=config.random_state)
    pipeline = Pipeline([("features", select), ("ranker", ranker)]).fit(train.features, slots)
    metadata: dict[str, Any] = {
        "kind": "multiclass",
        "popular_routes": [{"origin": o, "destination": d} for o, d in popular],
        # The requested size, not the count found: small data with fewer routes must not make
        # two models of one policy look incomparable.
        "candidate_policy": candidate_policy(config.top_k_routes),
        "history_candidates": HISTORY_CANDIDATES,
        "signals": list(SIGNALS),
        "route_window_days": config.route_window_days,
        "horizon_days": config.route_window_days,
        "cutoff": train.cutoff.isoformat(),
        "training_customers": len(slots),
        "training_next_route_among_candidates": float(np.mean(slots >= 0)),
        "sklearn_version": sklearn.__version__,
    }
    return TrainedModel(kind="multiclass", estimator=pipeline, metadata=metadata)


@dataclass(frozen=True)
class ServedRoutes:
    """What the service answers per customer, and what it could have named."""

    customers: pd.Index
    routes: StrArray  # (customers, ROUTES_PER_PREDICTION) route keys, best first; "" = none
    probabilities: npt.NDArray[np.float64]  # same shape; 0 where there is no route
    candidates: StrArray  # (customers, slots) keys the ranking could name; "" = not nameable


def serve(features: pd.DataFrame, scores: npt.NDArray[np.float64]) -> ServedRoutes:
    """The one ranking of serving and scoring: softmax over the nameable candidates, top 5.

    `scores[i, j]` rates slot j of customer i; -inf marks a candidate the ranking cannot name.
    """
    slots = scores.shape[1]
    keys = features[[f"route_{j}" for j in range(slots)]].to_numpy(dtype=object)
    nameable = np.isfinite(scores) & (keys != "")
    proba = softmax_over_present(np.where(nameable, scores, 0.0), nameable)
    order = np.argsort(-np.where(nameable, scores, -np.inf), axis=1, kind="stable")
    order = order[:, :ROUTES_PER_PREDICTION]
    chosen = np.take_along_axis(nameable, order, axis=1)
    routes = np.where(chosen, np.take_along_axis(keys, order, axis=1), "")
    return ServedRoutes(
        customers=features.index,
        routes=routes.astype(object),
        probabilities=np.where(chosen, np.take_along_axis(proba, order, axis=1), 0.0),
        candidates=np.where(nameable, keys, "").astype(object),
    )


def model_scores(model: TrainedModel, features: pd.DataFrame) -> npt.NDArray[np.float64]:
    return np.asarray(model.estimator.decision_function(features), dtype=np.float64)


def baseline_scores(features: pd.DataFrame, popular_count: int) -> npt.NDArray[np.float64]:
    """Most frequent route (ties: most recent), other own routes by share, popular routes."""
    columns = route_feature_columns(popular_count)
    signals = features[columns].to_numpy(dtype=np.float64).reshape(len(features), -1, len(SIGNALS))

    def s(name: str) -> npt.NDArray[np.float64]:
        return signals[:, :, SIGNALS.index(name)]

    own = (s("present") > 0) & (s("share") > 0)
    popular = (s("present") > 0) & (s("popularity") > 0)
    own_score = 10.0 + 10.0 * s("is_top") + s("share") + 1e-3 * s("recency")
    return np.where(own, own_score, np.where(popular, s("popularity"), -np.inf))


def served_metrics(served: ServedRoutes, labels: pd.Series) -> dict[str, float]:
    truth = labels.reindex(served.customers).to_numpy(dtype=object)
    covered = (served.candidates == truth[:, None]).any(axis=1)
    return multiclass_metrics(truth, served.routes, covered)


def score(model: TrainedModel, holdout: Dataset) -> dict[str, float]:
    if holdout.labels is None:
        raise ValueError("the multiclass holdout needs labels")
    features = inputs_for(model, holdout)
    return served_metrics(serve(features, model_scores(model, features)), holdout.labels)


def baseline_metrics(train: Dataset, holdout: Dataset, config: ModelConfig) -> dict[str, float]:
    """The most-frequent-route rule, served and scored like the model on the same holdout."""
    if holdout.labels is None or holdout.route_vocabulary is None:
        raise ValueError("the multiclass holdout needs labels and a popular-route list")
    scores = baseline_scores(holdout.features, len(holdout.route_vocabulary))
    return served_metrics(serve(holdout.features, scores), holdout.labels)


def predict_scored(
    model: TrainedModel, purchases: pd.DataFrame, as_of: date | None
) -> datasets.ScoredCustomers:
    """Up to 5 routes per customer, best first, with their softmax probability."""
    popular = popular_routes(model)
    served_inputs = datasets.serving_inputs(
        purchases, as_of, lambda history: model_inputs_from_history(history, popular)
    )
    inputs = served_inputs.inputs
    served = serve(inputs, model_scores(model, inputs))
    predictions: list[dict[str, Any]] = []
    for i, customer in enumerate(served_inputs.customers):
        routes = []
        for key, probability in zip(served.routes[i], served.probabilities[i], strict=True):
            if key == "":
                continue
            origin, destination = str(key).split(ROUTE_KEY_SEPARATOR, 1)
            routes.append(
                {"origin": origin, "destination": destination, "probability": float(probability)}
            )
        predictions.append({"customer_id": customer, "routes": routes})
    # The ranker's inputs are per route candidate; the customer-level features (what input
    # drift compares) come from the same purchase history, not from a second pass over it.
    customer_level = features_from_history(served_inputs.history)
    return datasets.ScoredCustomers(
        predictions, customer_level.loc[served_inputs.customers], served_inputs.as_of
    )


def predict(
    model: TrainedModel, purchases: pd.DataFrame, as_of: date | None
) -> list[dict[str, Any]]:
    """Up to 5 routes per customer, best first, with their softmax probability."""
    return predict_scored(model, purchases, as_of).predictions
