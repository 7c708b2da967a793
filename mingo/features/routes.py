"""Route-history features against a fixed route vocabulary (the multiclass model's classes).

A vocabulary is the list of the K most bought (origin, destination) routes in the training
history; every route outside it is class K, "other". Encoding a customer's history against it
keeps the width at K + 6 columns whatever the number of routes in the data (29k in ClickBus):
- `top_route_class`, `last_route_class`, `last_route_reversed_class`: class codes 0..K of the
  customer's most used route (ties: the most recent), last route, and last route's way back;
- `open_trip`: 1 when the customer bought their last route more often than its way back (an
  outbound leg whose return is still to come), else 0;
- `route_share_<i>` for each vocabulary route and `route_share_other`: shares of the
  customer's orders.
The same point-in-time boundary as `mingo.features.history` applies.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd

from mingo.features.history import IntArray, PurchaseHistory, most_used_codes, purchase_history

Route = tuple[str, str]

# Places are ids (64-hex in ClickBus), so this separator cannot occur inside one.
ROUTE_KEY_SEPARATOR = "->"


def route_key(origin: str, destination: str) -> str:
    """The string naming one (origin, destination) route, as used in multiclass labels."""
    return f"{origin}{ROUTE_KEY_SEPARATOR}{destination}"


def route_keys(origins: pd.Series, destinations: pd.Series) -> pd.Series:
    return origins.astype(str) + ROUTE_KEY_SEPARATOR + destinations.astype(str)


ROUTE_CODE_COLUMNS: tuple[str, ...] = (
    "top_route_class",
    "last_route_class",
    "last_route_reversed_class",
)


# 1 when the last route was bought more often than its way back: a trip not yet returned from.
OPEN_TRIP_COLUMN = "open_trip"


def route_share_columns(k: int) -> list[str]:
    return [f"route_share_{i}" for i in range(k)] + ["route_share_other"]


def route_feature_columns(k: int) -> list[str]:
    return [*ROUTE_CODE_COLUMNS, OPEN_TRIP_COLUMN, *route_share_columns(k)]


def top_routes(purchases: pd.DataFrame, as_of: date, k: int) -> list[Route]:
    """The `k` routes with most orders on or before `as_of` (ties: by origin, destination)."""
    return top_routes_from_history(purchase_history(purchases, as_of), k)


def top_routes_from_history(history: PurchaseHistory, k: int) -> list[Route]:
    counts = np.bincount(history.route, minlength=len(history.route_origin))
    table = pd.DataFrame(
        {
            "origin": history.places[history.route_origin].astype(str),
            "destination": history.places[history.route_destination].astype(str),
            "orders": counts,
        }
    )
    table = table.sort_values(
        ["orders", "origin", "destination"], ascending=[False, True, True], kind="stable"
    )
    return list(zip(table["origin"].head(k), table["destination"].head(k), strict=True))


def route_classes(history: PurchaseHistory, vocabulary: list[Route]) -> IntArray:
    """Class (0..K, K = other) of each route code of `history`."""
    return _classes_of_pairs(history, history.route_origin, history.route_destination, vocabulary)


def _classes_of_pairs(
    history: PurchaseHistory, origin: IntArray, destination: IntArray, vocabulary: list[Route]
) -> IntArray:
    k = len(vocabulary)
    if len(origin) == 0:
        return np.zeros(0, dtype=np.int64)
    known = pd.MultiIndex.from_tuples(vocabulary, names=["origin", "destination"])
    asked = pd.MultiIndex.from_arrays(
        [history.places[origin].astype(str), history.places[destination].astype(str)]
    )
    found = np.asarray(known.get_indexer(asked), dtype=np.int64)
    return np.where(found >= 0, found, k)


def route_features(purchases: pd.DataFrame, as_of: date, vocabulary: list[Route]) -> pd.DataFrame:
    """One row per customer with a purchase on or before `as_of`, sorted by customer id."""
    return route_features_from_history(purchase_history(purchases, as_of), vocabulary)


def route_features_from_history(history: PurchaseHistory, vocabulary: list[Route]) -> pd.DataFrame:
    k = len(vocabulary)
    n = history.n_customers
    columns = route_feature_columns(k)
    if n == 0:
        return pd.DataFrame(
            {c: pd.Series(dtype=np.float64) for c in columns}, index=history.customer_ids
        )
    order_class = route_classes(history, vocabulary)[history.route]
    ends = history.ends
    _, _, top_route = most_used_codes(history.customer, history.route, n)
    class_of_route = route_classes(history, vocabulary)
    last = ends - 1
    reversed_last = _classes_of_pairs(
        history, history.destination[last], history.origin[last], vocabulary
    )
    counts = np.zeros((n, k + 1))
    np.add.at(counts, (history.customer, order_class), 1.0)
    shares = counts / history.counts[:, None]

    frame = pd.DataFrame(shares, index=history.customer_ids, columns=route_share_columns(k))
    frame.insert(0, "top_route_class", class_of_route[top_route].astype(np.float64))
    frame.insert(1, "last_route_class", order_class[last].astype(np.float64))
    frame.insert(2, "last_route_reversed_class", reversed_last.astype(np.float64))
    frame.insert(3, OPEN_TRIP_COLUMN, _open_trip(history, last))
    return frame[columns]


def _open_trip(history: PurchaseHistory, last: IntArray) -> npt.NDArray[np.float64]:
    """Per customer: was the last route bought more often than the same route reversed?"""
    n_places = max(len(history.places), 1)
    n_routes = len(history.route_origin)
    route_pair = pd.Index(history.route_origin * n_places + history.route_destination)
    way_back = route_pair.get_indexer(history.destination[last] * n_places + history.origin[last])
    bought = pd.Series(history.customer * n_routes + history.route).value_counts()
    customers = np.arange(history.n_customers, dtype=np.int64)
    out_count = bought.reindex(customers * n_routes + history.route[last]).to_numpy()
    back_count = bought.reindex(customers * n_routes + np.maximum(way_back, 0)).fillna(0).to_numpy()
    back_count = np.where(way_back >= 0, back_count, 0)
    return (out_count > back_count).astype(np.float64)
