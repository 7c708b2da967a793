"""Out-of-time building blocks shared by the three models: cutoffs, populations, labels.

Boundaries: features as of a cutoff use purchases dated on or before it; a label window of W
days after a cutoff C is the interval (C, C + W] of purchase dates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from mingo.data import schema
from mingo.features import route_keys
from mingo.features.history import PurchaseHistory, check_columns, purchase_history
from mingo.models.base import Dataset


def date_range_of(purchases: pd.DataFrame) -> tuple[date, date]:
    check_columns(purchases)
    if purchases.empty:
        raise ValueError("purchases frame is empty: nothing to train or evaluate on")
    dates = purchases[schema.DATE]
    return dates.min().date(), dates.max().date()


def holdout_cutoff(purchases: pd.DataFrame, cutoff: date | None, window_days: int) -> date:
    """The holdout cutoff T: `cutoff`, or the last date minus the label window.

    Checks that the holdout's label window (T, T + W] lies inside the data, so no label is
    silently cut short.
    """
    first, last = date_range_of(purchases)
    chosen = cutoff if cutoff is not None else last - timedelta(days=window_days)
    if chosen + timedelta(days=window_days) > last:
        raise ValueError(
            f"cutoff {chosen} + {window_days} days = {chosen + timedelta(days=window_days)} is "
            f"after the last purchase date {last}: the label window would be incomplete"
        )
    if chosen - timedelta(days=window_days) < first:
        raise ValueError(
            f"cutoff {chosen} leaves no training window: the training cutoff "
            f"{chosen - timedelta(days=window_days)} is before the first purchase date {first}"
        )
    return chosen


def training_cutoffs(
    purchases: pd.DataFrame, holdout_cutoff: date, window_days: int, snapshots: int
) -> list[date]:
    """T - W, T - 2W, ... (at most `snapshots`, latest first), none before the first date.

    Every training label window (C, C + W] ends on or before T, so no training label overlaps
    the holdout's label window.
    """
    first, _ = date_range_of(purchases)
    cutoffs = [holdout_cutoff - timedelta(days=window_days * i) for i in range(1, snapshots + 1)]
    return [c for c in cutoffs if c >= first]


def stack(sets: list[Dataset]) -> Dataset:
    """Training snapshots as one set (a customer may appear once per snapshot).

    The stacked set keeps the latest snapshot's cutoff and route vocabulary.
    """
    latest = sets[0]
    labels = [s.labels for s in sets if s.labels is not None]
    return Dataset(
        features=pd.concat([s.features for s in sets]),
        labels=pd.concat(labels) if len(labels) == len(sets) else None,
        cutoff=latest.cutoff,
        route_vocabulary=latest.route_vocabulary,
    )


def window_mask(purchases: pd.DataFrame, cutoff: date, window_days: int) -> np.ndarray:
    """Rows dated in (cutoff, cutoff + window_days]."""
    day = purchases[schema.DATE].to_numpy().astype("datetime64[D]")
    start = np.datetime64(cutoff, "D")
    return (day > start) & (day <= start + np.timedelta64(window_days, "D"))


def history_mask(purchases: pd.DataFrame, cutoff: date) -> np.ndarray:
    """Rows dated on or before the cutoff."""
    day = purchases[schema.DATE].to_numpy().astype("datetime64[D]")
    return np.asarray(day <= np.datetime64(cutoff, "D"))


def buyers_in_window(purchases: pd.DataFrame, cutoff: date, window_days: int) -> pd.Index:
    """Customers with at least one purchase dated in (cutoff, cutoff + window_days]."""
    window = purchases.loc[window_mask(purchases, cutoff, window_days), schema.CUSTOMER_ID]
    return pd.Index(window.unique())


def first_route_in_window(purchases: pd.DataFrame, cutoff: date, window_days: int) -> pd.Series:
    """Route key of each customer's first purchase in (cutoff, cutoff + window_days].

    "First" is by date, then time of day, then order id (a total order).
    """
    window = purchases.loc[
        window_mask(purchases, cutoff, window_days),
        [
            schema.CUSTOMER_ID,
            schema.DATE,
            schema.TIME,
            schema.ORDER_ID,
            schema.ORIGIN,
            schema.DESTINATION,
        ],
    ]
    first = window.sort_values(
        [schema.CUSTOMER_ID, schema.DATE, schema.TIME, schema.ORDER_ID]
    ).drop_duplicates(schema.CUSTOMER_ID, keep="first")
    keys = route_keys(first[schema.ORIGIN], first[schema.DESTINATION])
    return pd.Series(keys.to_numpy(), index=pd.Index(first[schema.CUSTOMER_ID]), name="next_route")


def recently_active(features: pd.DataFrame, within_days: int | None) -> pd.DataFrame:
    """Customers whose last purchase is at most `within_days` before the cutoff (None: all)."""
    if within_days is None:
        return features
    return features.loc[features["recency_days"] <= within_days]


def customers_in_order(purchases: pd.DataFrame) -> list[str]:
    """Customer ids in order of first appearance (the order predictions are returned in)."""
    return [str(c) for c in pd.unique(purchases[schema.CUSTOMER_ID])]


def serving_cutoff(purchases: pd.DataFrame, as_of: date | None) -> date:
    """`as_of`, or else the latest purchase date in the given purchases."""
    if as_of is not None:
        return as_of
    return date_range_of(purchases)[1]


def require_history(features: pd.DataFrame, customers: list[str], as_of: date) -> None:
    missing = [c for c in customers if c not in features.index]
    if missing:
        shown = ", ".join(missing[:5])
        raise ValueError(
            f"{len(missing)} customer(s) have no purchase on or before as_of={as_of}: {shown}"
        )


@dataclass(frozen=True)
class ServingInputs:
    """What a request is scored on: its customers in order of first appearance, their model
    inputs, the date those were computed at and the purchase history they came from."""

    customers: list[str]
    inputs: pd.DataFrame
    as_of: date
    history: PurchaseHistory


@dataclass(frozen=True)
class ScoredCustomers:
    """A model's answer to a request, with what it scored (for the prediction log).

    `features` are the customer-level features (`FEATURE_COLUMNS`, the training feature
    function's output) of the answered customers, indexed by customer id; `as_of` is the date
    they were computed at (the request's, or its latest purchase date when it gave none).
    """

    predictions: list[dict[str, Any]]
    features: pd.DataFrame
    as_of: date


def serving_inputs(
    purchases: pd.DataFrame,
    as_of: date | None,
    build: Callable[[PurchaseHistory], pd.DataFrame],
) -> ServingInputs:
    """The customers and their model inputs as of the serving cutoff.

    `build` is the same feature function training uses, applied to the purchase history as
    of the cutoff (built once, so a caller may derive other features from it); a customer with
    no purchase on or before the cutoff is named in a ValueError.
    """
    cutoff = serving_cutoff(purchases, as_of)
    customers = customers_in_order(purchases)
    history = purchase_history(purchases, cutoff)
    features = build(history)
    require_history(features, customers, cutoff)
    return ServingInputs(customers, features.loc[customers], cutoff, history)
