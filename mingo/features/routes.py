"""Per-customer route candidates and their signals: the next-route model's inputs.

The next route of a customer is mostly one of their own (their usual route, the way back from
their last trip), sometimes a popular route they never took. So each customer gets their own
candidate set, as of the cutoff:
- history candidates: every route the customer travelled and the reverse of each (the open
  return leg of the last trip is the last route reversed), at most `HISTORY_CANDIDATES` of
  them, the most relevant first (own orders, then orders of the way back, the last trip's
  routes first);
- popular candidates: the routes of a global popularity list (most ordered first; computed
  by `top_routes` on the training history and kept with the model), in list order, minus those
  already among the customer's history candidates.
The candidate set has at most `candidate_slots(P)` = `HISTORY_CANDIDATES` + P routes (P the
length of the popular list), laid out in slots, history candidates first; empty slots have the
key "" and `present` 0. One row per customer (sorted by customer id):
- `route_<j>`: the route key of slot j (`route_key`), "" when the slot is empty;
- `route_<j>_<signal>` for each of `SIGNALS`: the customer's share of orders on the route and
  on its way back, whether it is their most frequent route (ties: the most recent), their last
  route or its way back, the open return (the last route reversed while the customer bought
  the last route more often than its way back), how recently they used it or its way back
  (1 / (1 + days / 30), 0 when never), its popularity (1 - log(rank) / log(P + 1) in the list,
  0 when not in it) and log of the customer's number of orders.
The same point-in-time boundary as `mingo.features.history` applies; the popular list is an
input, so a customer's features depend on their own history only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd

from mingo.features.history import IntArray, PurchaseHistory, most_used_codes, purchase_history

Route = tuple[str, str]

# Places are ids (64-hex in ClickBus), so this separator cannot occur inside one.
ROUTE_KEY_SEPARATOR = "->"

HISTORY_CANDIDATES = 10  # history slots; more distinct routes than this are rare
RECENCY_SCALE_DAYS = 30.0

SIGNALS: tuple[str, ...] = (
    "present",
    "share",
    "reverse_share",
    "is_top",
    "is_last",
    "is_last_reversed",
    "open_return",
    "recency",
    "reverse_recency",
    "popularity",
    "log_orders",
)
SIGNAL_DTYPE = np.float32

FloatMatrix = npt.NDArray[np.float32]


def route_key(origin: str, destination: str) -> str:
    """The string naming one (origin, destination) route, as used in multiclass labels."""
    return f"{origin}{ROUTE_KEY_SEPARATOR}{destination}"


def route_keys(origins: pd.Series, destinations: pd.Series) -> pd.Series:
    return origins.astype(str) + ROUTE_KEY_SEPARATOR + destinations.astype(str)


def candidate_slots(popular_count: int) -> int:
    """Width of the candidate layout for a popular list of `popular_count` routes."""
    return HISTORY_CANDIDATES + popular_count


def route_key_columns(popular_count: int) -> list[str]:
    return [f"route_{j}" for j in range(candidate_slots(popular_count))]


def route_feature_columns(popular_count: int) -> list[str]:
    """The numeric signal columns, slot by slot (what the ranker reads)."""
    return [f"route_{j}_{s}" for j in range(candidate_slots(popular_count)) for s in SIGNALS]


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


def route_features(purchases: pd.DataFrame, as_of: date, popular: Sequence[Route]) -> pd.DataFrame:
    """One row per customer with a purchase on or before `as_of`, sorted by customer id."""
    return route_features_from_history(purchase_history(purchases, as_of), popular)


def popularity_signal(rank: npt.NDArray[np.int64], popular_count: int) -> FloatMatrix:
    """1 for the most popular route, falling with log(rank); 0 for rank 0 (not popular)."""
    scale = np.log(popular_count + 1.0) if popular_count > 0 else 1.0
    value = 1.0 - np.log(np.maximum(rank, 1)) / scale
    return np.where(rank > 0, value, 0.0).astype(SIGNAL_DTYPE)


def route_features_from_history(history: PurchaseHistory, popular: Sequence[Route]) -> pd.DataFrame:
    popular = list(popular)
    p = len(popular)
    slots = candidate_slots(p)
    n = history.n_customers
    keys = np.full((n, slots), "", dtype=object)
    signals = np.zeros((n, slots, len(SIGNALS)), dtype=SIGNAL_DTYPE)
    if n > 0:
        own = _history_candidates(history, popular)
        kept = own.loc[own["slot"] < HISTORY_CANDIDATES]
        customer, slot = kept["customer"].to_numpy(), kept["slot"].to_numpy()
        keys[customer, slot] = kept["key"].to_numpy()
        signals[customer, slot, :] = kept[list(SIGNALS)].to_numpy(dtype=SIGNAL_DTYPE)
        _add_popular(history, popular, own, keys, signals)
    frame = pd.DataFrame(keys, index=history.customer_ids, columns=route_key_columns(p))
    numbers = pd.DataFrame(
        signals.reshape(n, slots * len(SIGNALS)),
        index=history.customer_ids,
        columns=route_feature_columns(p),
    )
    return pd.concat([frame, numbers], axis=1)


def _pair_code(origin: IntArray, destination: IntArray, n_places: int) -> IntArray:
    return origin * n_places + destination


def _history_candidates(history: PurchaseHistory, popular: list[Route]) -> pd.DataFrame:
    """Every history candidate of every customer, with its signals and its slot (priority)."""
    n = history.n_customers
    n_places = max(len(history.places), 1)
    origin, destination = history.origin, history.destination
    rows = pd.DataFrame(
        {
            "customer": history.customer,
            "pair": _pair_code(origin, destination, n_places),
            "day": history.day,
        }
    )
    used = rows.groupby(["customer", "pair"], sort=False).agg(
        orders=("day", "size"), last_day=("day", "max")
    )
    used = used.reset_index()
    used_pair = used["pair"].to_numpy(dtype=np.int64)
    reverse = used.assign(
        pair=_pair_code(used_pair % n_places, used_pair // n_places, n_places)
    ).rename(columns={"orders": "reverse_orders", "last_day": "reverse_last_day"})
    table = pd.merge(used, reverse, on=["customer", "pair"], how="outer")
    table = table.fillna({"orders": 0, "reverse_orders": 0})
    customer = table["customer"].to_numpy(dtype=np.int64)
    pair = table["pair"].to_numpy(dtype=np.int64)
    orders = history.counts[customer].astype(np.float64)

    last = history.ends - 1
    last_pair = _pair_code(origin[last], destination[last], n_places)
    last_reversed = _pair_code(destination[last], origin[last], n_places)
    _, _, top_route = most_used_codes(history.customer, history.route, n)
    top_pair = _pair_code(
        history.route_origin[top_route], history.route_destination[top_route], n_places
    )
    is_last = pair == last_pair[customer]
    is_last_reversed = pair == last_reversed[customer]
    open_trip = _open_trip(history, last)[customer] > 0
    cutoff = history.cutoff_day

    def recency(last_day: pd.Series) -> npt.NDArray[np.float64]:
        days = cutoff - last_day.to_numpy(dtype=np.float64)
        return np.where(np.isnan(days), 0.0, 1.0 / (1.0 + days / RECENCY_SCALE_DAYS))

    place = history.places.astype(str).to_numpy()
    key = (
        pd.Series(place[pair // n_places]) + ROUTE_KEY_SEPARATOR + pd.Series(place[pair % n_places])
    )
    rank = _popular_rank(key, popular)
    table = table.assign(
        key=key.to_numpy(),
        present=1.0,
        share=table["orders"].to_numpy() / orders,
        reverse_share=table["reverse_orders"].to_numpy() / orders,
        is_top=(pair == top_pair[customer]).astype(np.float64),
        is_last=is_last.astype(np.float64),
        is_last_reversed=is_last_reversed.astype(np.float64),
        open_return=(is_last_reversed & open_trip).astype(np.float64),
        recency=recency(table["last_day"]),
        reverse_recency=recency(table["reverse_last_day"]),
        popular_rank=rank,
        popularity=popularity_signal(rank, len(popular)),
        log_orders=np.log(orders),
        priority=table["orders"]
        + 0.5 * table["reverse_orders"]
        + 1e6 * (is_last | is_last_reversed),
        latest=np.fmax(table["last_day"].to_numpy(), table["reverse_last_day"].to_numpy()),
    )
    table = table.sort_values(
        ["customer", "priority", "latest", "key"],
        ascending=[True, False, False, True],
        kind="stable",
    )
    table["slot"] = table.groupby("customer").cumcount().to_numpy()
    return table


def _popular_rank(keys: pd.Series, popular: list[Route]) -> npt.NDArray[np.int64]:
    """1-based rank of each key in the popular list, 0 when absent."""
    if not popular:
        return np.zeros(len(keys), dtype=np.int64)
    index = pd.Index([route_key(o, d) for o, d in popular])
    found = np.asarray(index.get_indexer(pd.Index(keys.astype(str))), dtype=np.int64)
    return found + 1


def _add_popular(
    history: PurchaseHistory,
    popular: list[Route],
    own: pd.DataFrame,
    keys: npt.NDArray[np.object_],
    signals: FloatMatrix,
) -> None:
    """Popular routes after each customer's history candidates, skipping the customer's own."""
    p = len(popular)
    if p == 0:
        return
    n = history.n_customers
    taken = np.zeros((n, p), dtype=bool)
    rank = own["popular_rank"].to_numpy()
    found = rank > 0
    taken[own["customer"].to_numpy()[found], rank[found] - 1] = True
    history_count = np.minimum(
        np.bincount(own["customer"].to_numpy(), minlength=n), HISTORY_CANDIDATES
    )
    slot = history_count[:, None] + np.cumsum(~taken, axis=1) - 1
    customer, position = np.nonzero(~taken)
    slot = slot[customer, position]
    popular_keys = np.array([route_key(o, d) for o, d in popular], dtype=object)
    keys[customer, slot] = popular_keys[position]
    present = SIGNALS.index("present")
    popularity = SIGNALS.index("popularity")
    signals[customer, slot, present] = 1.0
    signals[customer, slot, popularity] = popularity_signal(position + 1, p)
    log_orders = SIGNALS.index("log_orders")
    signals[customer, slot, log_orders] = np.log(history.counts[customer]).astype(SIGNAL_DTYPE)


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
