"""What happened after a prediction: logged predictions joined with the purchases that followed.

A prediction made as of date A by a version whose label window is W days has a known outcome
once the data reaches A + W (its window (A, A + W] is closed); until then it is left out, never
counted as "did not buy". The label is computed by the very functions training labels with
(`mingo.models.datasets`): binary, whether the customer has a purchase dated in (A, A + W];
multiclass, the route of their first purchase in that window (a customer who did not travel has
no label and is left out, as in training). Clustering has no outcome to wait for: its live
metrics are the quality of the served segments on the logged features, so every prediction
counts as soon as it is logged.

The same customer asked about several times for one as-of date by one version counts once (the
latest answer). Live metrics are computed with `mingo.models.metrics` on what the service
returned (binary `will_buy` and `probability`, multiclass the served routes in order,
clustering the served segment), under the names the gate uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, cast

import numpy as np
import pandas as pd

from mingo import ModelKind
from mingo.features.routes import route_key
from mingo.models import datasets
from mingo.models.base import Dataset
from mingo.models.clustering import CLUSTER_COLUMNS, SCORE_SAMPLE, SCORE_SEED, evaluation_space
from mingo.models.metrics import binary_metrics, clustering_metrics, multiclass_metrics
from mingo.models.multiclass import ROUTES_PER_PREDICTION

PREDICTION_COLUMNS: tuple[str, ...] = (
    "kind",
    "model_version",
    "customer_id",
    "as_of",
    "served_at",
    "prediction",
    "features",
)
LABEL = "label"
WEEK = "week"
OUTCOMES = "outcomes"
# Multiclass `coverage` needs the candidates the ranking could name, which the answer does not
# carry: it is not a live metric.
NOT_LIVE: frozenset[str] = frozenset({"coverage"})


class PredictionLogError(ValueError):
    """The prediction log's content is unusable; the message names the column and rows."""


def week_of(day: date) -> date:
    """The Monday of `day`'s week (the as-of week predictions are grouped by)."""
    return day - timedelta(days=day.weekday())


def normalize_predictions(predictions: pd.DataFrame) -> pd.DataFrame:
    """The log's frame with typed columns (as_of a date, model_version a str), one row per
    (version, customer, as_of): the latest answer."""
    missing = [c for c in PREDICTION_COLUMNS if c not in predictions.columns]
    if missing:
        raise PredictionLogError(f"the prediction log lacks the column(s) {missing}")
    frame = predictions.loc[:, list(PREDICTION_COLUMNS)].copy()
    as_of = pd.to_datetime(frame["as_of"], errors="coerce")
    bad = frame.index[as_of.isna()]
    if len(bad):
        raise PredictionLogError(
            f"as_of is not a date in {len(bad)} row(s) of the prediction log, e.g. row {bad[0]}"
        )
    frame["as_of"] = as_of.dt.date
    frame["served_at"] = pd.to_datetime(frame["served_at"], utc=True, errors="coerce")
    frame["model_version"] = frame["model_version"].astype(str)
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame = frame.sort_values("served_at", kind="stable").drop_duplicates(
        ["model_version", "customer_id", "as_of"], keep="last"
    )
    frame[WEEK] = frame["as_of"].map(week_of)
    return frame.reset_index(drop=True)


def in_population(frame: pd.DataFrame, max_recency: Mapping[str, int | None]) -> pd.DataFrame:
    """Binary: the rows whose customer the version's holdout would have counted, i.e. whose
    logged `recency_days` is at most the version's `active_within_days` (None: everyone).

    Long-lapsed customers are left out of the binary holdout (scoring them is trivial); live
    metrics and drift leave them out too, so the live numbers compare with the holdout's.
    """
    recency = pd.to_numeric(
        frame["features"].map(lambda f: f.get("recency_days") if isinstance(f, Mapping) else None),
        errors="coerce",
    )
    limit = pd.to_numeric(frame["model_version"].map(lambda v: max_recency.get(v)))
    keep = limit.isna() | recency.isna() | (recency <= limit)
    return frame.loc[keep.to_numpy()].reset_index(drop=True)


def closed(as_of: date, window_days: int, last_date: date) -> bool:
    """Whether the label window (as_of, as_of + W] lies inside data ending at `last_date`."""
    return as_of + timedelta(days=window_days) <= last_date


def join_outcomes(
    predictions: pd.DataFrame,
    purchases: pd.DataFrame,
    kind: ModelKind,
    window_days: int | Mapping[str, int],
) -> pd.DataFrame:
    """Logged predictions whose outcome window has closed, with their label (column `label`).

    `window_days` is the label window (one for all, or per model version: the version's own
    `mingo.target.label_window_days`); the data's last purchase date closes windows.
    Clustering rows carry no label and are all kept.
    """
    frame = normalize_predictions(predictions)
    if frame.empty:
        return frame.assign(**{LABEL: pd.Series(dtype=object)})
    _, last = datasets.date_range_of(purchases)

    def window_of(version: str) -> int:
        if isinstance(window_days, int):
            return window_days
        if version not in window_days:
            raise KeyError(f"no label window given for model version {version}")
        return int(window_days[version])

    if kind == "clustering":
        kept = frame.loc[frame["as_of"] <= last].copy()
        kept[LABEL] = None
        return kept.reset_index(drop=True)
    windows = frame["model_version"].map(window_of)
    is_closed = [closed(a, int(w), last) for a, w in zip(frame["as_of"], windows, strict=True)]
    frame = frame.loc[is_closed].assign(_window=windows[is_closed])
    labelled: list[pd.DataFrame] = []
    for key, group in frame.groupby(["as_of", "_window"], sort=True):
        as_of, window = cast(tuple[date, int], key)
        labelled.append(_label(group, purchases, kind, as_of, int(window)))
    if not labelled:
        return frame.drop(columns="_window").assign(**{LABEL: pd.Series(dtype=object)})
    return pd.concat(labelled).drop(columns="_window").reset_index(drop=True)


def _label(
    group: pd.DataFrame, purchases: pd.DataFrame, kind: ModelKind, as_of: date, window: int
) -> pd.DataFrame:
    if kind == "binary":
        buyers = datasets.buyers_in_window(purchases, as_of, window)
        labels = group["customer_id"].isin(buyers.astype(str)).astype(np.int64)
        return group.assign(**{LABEL: labels})
    next_route = datasets.first_route_in_window(purchases, as_of, window)
    next_route.index = next_route.index.astype(str)
    labels = group["customer_id"].map(next_route)
    return group.assign(**{LABEL: labels}).loc[labels.notna()]


# -- live metrics --------------------------------------------------------------------------


def _field(prediction: Any, name: str, row: int) -> Any:
    if not isinstance(prediction, Mapping) or name not in prediction:
        raise PredictionLogError(f"prediction of row {row} has no {name!r}: {prediction!r}")
    return prediction[name]


def _fields(outcomes: pd.DataFrame, name: str) -> list[Any]:
    """`name` of every row's prediction; a row without it is named in the error."""
    return [_field(p, name, r) for p, r in zip(outcomes["prediction"], outcomes.index, strict=True)]


def _served_routes(routes: Any) -> list[str]:
    keys = [route_key(str(r["origin"]), str(r["destination"])) for r in routes]
    keys = keys[:ROUTES_PER_PREDICTION]
    return keys + [""] * (ROUTES_PER_PREDICTION - len(keys))


def _binary(outcomes: pd.DataFrame) -> dict[str, float]:
    labels = outcomes[LABEL].to_numpy(np.int64)
    probability = np.array([float(p) for p in _fields(outcomes, "probability")])
    will_buy = np.array([float(bool(w)) for w in _fields(outcomes, "will_buy")])
    if len(np.unique(labels)) < 2:
        # roc_auc and pr_auc are undefined on one class; accuracy and f1 of `will_buy` are not.
        hits = will_buy.astype(np.int64) == labels
        positives = int(labels.sum() + will_buy.sum())
        true_pos = float(np.sum((will_buy == 1) & (labels == 1)))
        return {
            "accuracy": float(hits.mean()),
            "f1": 2 * true_pos / positives if positives else 0.0,
        }
    # The served answer decides accuracy, balanced accuracy and F1 (`will_buy` >= 1 is the
    # served threshold applied); the probabilities decide the ranking metrics.
    served = binary_metrics(labels, will_buy, threshold=1.0)
    ranking = binary_metrics(labels, probability, threshold=1.0)
    return {
        "accuracy": served["accuracy"],
        "balanced_accuracy": served["balanced_accuracy"],
        "roc_auc": ranking["roc_auc"],
        "pr_auc": ranking["pr_auc"],
        "f1": served["f1"],
    }


def _multiclass(outcomes: pd.DataFrame) -> dict[str, float]:
    served = np.array(
        [_served_routes(routes) for routes in _fields(outcomes, "routes")], dtype=object
    ).reshape(len(outcomes), ROUTES_PER_PREDICTION)
    labels = outcomes[LABEL].to_numpy(dtype=object)
    covered = np.zeros(len(outcomes), dtype=bool)  # unknown from the answer; dropped below
    metrics = multiclass_metrics(labels, served, covered)
    return {k: v for k, v in metrics.items() if k not in NOT_LIVE}


def logged_features(outcomes: pd.DataFrame) -> pd.DataFrame:
    """The logged `features` dicts as a frame (one row per outcome, index kept)."""
    rows = [f if isinstance(f, Mapping) else {} for f in outcomes["features"]]
    return pd.DataFrame.from_records(rows, index=outcomes.index)


def _clustering(outcomes: pd.DataFrame) -> dict[str, float]:
    features = logged_features(outcomes)
    missing = [c for c in CLUSTER_COLUMNS if c not in features.columns]
    if missing:
        raise PredictionLogError(f"the logged features lack the clustering column(s) {missing}")
    segments = np.array([int(s) for s in _fields(outcomes, "segment")])
    # One space for the served segments, scaled on these customers, as the holdout is scored.
    points = evaluation_space(
        Dataset(
            features=features[list(CLUSTER_COLUMNS)].astype(np.float64),
            labels=None,
            cutoff=date.min,
        )
    )
    return clustering_metrics(points, segments, SCORE_SAMPLE, SCORE_SEED)


def live_metrics(kind: ModelKind, outcomes: pd.DataFrame) -> dict[str, float]:
    """The gate's metrics on these outcomes ({} when they are undefined: too few, one segment)."""
    if outcomes.empty:
        return {}
    try:
        if kind == "binary":
            return _binary(outcomes)
        if kind == "multiclass":
            return _multiclass(outcomes)
        return _clustering(outcomes)
    except PredictionLogError:
        raise
    except ValueError:
        return {}


def live_metrics_table(kind: ModelKind, outcomes: pd.DataFrame) -> pd.DataFrame:
    """One row per (model_version, week): the number of outcomes and the live metrics."""
    rows: list[dict[str, Any]] = []
    for (version, week), group in outcomes.groupby(["model_version", WEEK], sort=True):
        rows.append(
            {
                "model_version": version,
                WEEK: week,
                OUTCOMES: len(group),
                **live_metrics(kind, group),
            }
        )
    if not rows:
        return pd.DataFrame(columns=["model_version", WEEK, OUTCOMES])
    return pd.DataFrame(rows)
