from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest

from mingo.features import route_feature_columns, route_features, top_routes
from mingo.features.routes import (
    HISTORY_CANDIDATES,
    SIGNALS,
    candidate_slots,
    route_key_columns,
)
from tests.features.frames import order, purchases_frame

CUTOFF = date(2024, 3, 1)


def candidates(features: pd.DataFrame, customer: str) -> dict[str, dict[str, float]]:
    """Route key -> signals of one customer's non-empty slots."""
    row = {str(k): v for k, v in features.loc[customer].to_dict().items()}
    out: dict[str, dict[str, float]] = {}
    j = 0
    while f"route_{j}" in row:
        key = str(row[f"route_{j}"])
        if key:
            out[key] = {s: float(row[f"route_{j}_{s}"]) for s in SIGNALS}
        j += 1
    return out


def test_vocabulary_is_ordered_by_orders_then_by_place() -> None:
    frame = purchases_frame(
        [
            order("o1", "c1", "2024-01-01", origin="A", destination="B"),
            order("o2", "c2", "2024-01-02", origin="A", destination="B"),
            order("o3", "c2", "2024-01-03", origin="C", destination="D"),
            order("o4", "c3", "2024-01-04", origin="B", destination="A"),
            order("o5", "c3", "2024-06-01", origin="E", destination="F"),  # after the cutoff
        ]
    )
    assert top_routes(frame, CUTOFF, 2) == [("A", "B"), ("B", "A")]
    assert top_routes(frame, CUTOFF, 10) == [("A", "B"), ("B", "A"), ("C", "D")]


def test_candidates_are_own_routes_their_reverses_then_popular_routes() -> None:
    frame = purchases_frame(
        [
            order("o1", "c1", "2024-01-01", origin="A", destination="B"),
            order("o2", "c1", "2024-01-05", origin="A", destination="B"),
            order("o3", "c1", "2024-01-09", origin="C", destination="A"),  # last: C->A
            order("o4", "c2", "2024-02-01", origin="Q", destination="R"),
        ]
    )
    popular = [("A", "B"), ("X", "Y")]
    features = route_features(frame, CUTOFF, popular)

    slots = candidate_slots(len(popular))
    assert slots == HISTORY_CANDIDATES + 2
    assert list(features.columns) == route_key_columns(2) + route_feature_columns(2)
    c1 = candidates(features, "c1")
    # History first (the last trip's routes lead), then the popular routes not already there.
    assert list(c1) == ["C->A", "A->C", "A->B", "B->A", "X->Y"]
    assert c1["A->B"]["share"] == pytest.approx(2 / 3) and c1["A->B"]["is_top"] == 1.0
    assert c1["A->B"]["popularity"] == 1.0  # first in the popular list, not repeated
    assert c1["B->A"]["reverse_share"] == pytest.approx(2 / 3) and c1["B->A"]["share"] == 0.0
    assert c1["C->A"]["is_last"] == 1.0 and c1["C->A"]["recency"] == pytest.approx(
        1 / (1 + 52 / 30)
    )
    assert c1["A->C"]["is_last_reversed"] == 1.0 and c1["A->C"]["open_return"] == 1.0
    assert c1["X->Y"]["popularity"] == pytest.approx(1 - math.log(2) / math.log(3))
    assert c1["X->Y"]["share"] == 0.0
    assert c1["X->Y"]["log_orders"] == pytest.approx(math.log(3))
    assert list(candidates(features, "c2")) == ["Q->R", "R->Q", "A->B", "X->Y"]
    # Empty slots are marked: key "" and present 0.
    row = features.loc["c2"]
    assert row[f"route_{slots - 1}"] == "" and row[f"route_{slots - 1}_present"] == 0.0


def test_top_route_tie_goes_to_the_most_recent() -> None:
    frame = purchases_frame(
        [
            order("o1", "c1", "2024-01-01", origin="A", destination="B"),
            order("o2", "c1", "2024-01-02", origin="C", destination="D"),
        ]
    )
    c1 = candidates(route_features(frame, CUTOFF, []), "c1")
    assert c1["C->D"]["is_top"] == 1.0 and c1["A->B"]["is_top"] == 0.0


def test_open_return_marks_the_way_back_of_an_outbound_leg_not_yet_returned() -> None:
    frame = purchases_frame(
        [
            # c1 went out, came back, went out again: the trip is open.
            order("o1", "c1", "2024-01-01", origin="A", destination="B"),
            order("o2", "c1", "2024-01-05", origin="B", destination="A"),
            order("o3", "c1", "2024-01-09", origin="A", destination="B"),
            # c2 went out and came back: closed.
            order("o4", "c2", "2024-01-01", origin="A", destination="B"),
            order("o5", "c2", "2024-01-05", origin="B", destination="A"),
            # c3 has one one-way order whose way back was never bought: open.
            order("o6", "c3", "2024-01-02", origin="Q", destination="R"),
        ]
    )
    features = route_features(frame, CUTOFF, [("A", "B")])
    open_returns = {
        customer: [k for k, s in candidates(features, customer).items() if s["open_return"]]
        for customer in ("c1", "c2", "c3")
    }
    assert open_returns == {"c1": ["B->A"], "c2": [], "c3": ["R->Q"]}


def test_many_routes_keep_the_last_trip_and_the_most_used_within_the_history_slots() -> None:
    rows = [
        order(f"o{i}", "c1", f"2023-0{1 + i // 3}-1{i % 3}", origin=f"P{i}", destination=f"D{i}")
        for i in range(HISTORY_CANDIDATES + 2)
    ]
    rows.append(order("x1", "c1", "2023-12-01", origin="P0", destination="D0"))  # P0->D0 twice
    rows.append(order("x2", "c1", "2024-01-01", origin="L", destination="M"))  # last trip
    features = route_features(purchases_frame(rows), CUTOFF, [])
    named = list(candidates(features, "c1"))
    assert len(named) == HISTORY_CANDIDATES
    assert named[:3] == ["L->M", "M->L", "P0->D0"]
