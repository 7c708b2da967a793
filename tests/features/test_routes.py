from __future__ import annotations

from datetime import date

import pytest

from mingo.features import route_feature_columns, route_features, top_routes
from tests.features.frames import order, purchases_frame

CUTOFF = date(2024, 3, 1)


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


def test_route_history_is_encoded_against_the_vocabulary() -> None:
    frame = purchases_frame(
        [
            order("o1", "c1", "2024-01-01", origin="A", destination="B"),
            order("o2", "c1", "2024-01-05", origin="A", destination="B"),
            order("o3", "c1", "2024-01-09", origin="C", destination="A"),  # last: C->A
            order("o4", "c2", "2024-01-02", origin="Q", destination="R"),
        ]
    )
    vocabulary = [("A", "B"), ("A", "C")]
    features = route_features(frame, CUTOFF, vocabulary)

    assert list(features.columns) == route_feature_columns(2)
    c1, c2 = features.loc["c1"], features.loc["c2"]
    assert c1["top_route_class"] == 0  # A->B, twice
    assert c1["last_route_class"] == 2  # C->A is not in the vocabulary: "other"
    assert c1["last_route_reversed_class"] == 1  # the way back, A->C, is
    assert c1["route_share_0"] == pytest.approx(2 / 3)
    assert c1["route_share_1"] == 0.0
    assert c1["route_share_other"] == pytest.approx(1 / 3)
    assert c2["top_route_class"] == 2 and c2["route_share_other"] == 1.0


def test_top_route_tie_goes_to_the_most_recent() -> None:
    frame = purchases_frame(
        [
            order("o1", "c1", "2024-01-01", origin="A", destination="B"),
            order("o2", "c1", "2024-01-02", origin="C", destination="D"),
        ]
    )
    features = route_features(frame, CUTOFF, [("A", "B"), ("C", "D")])
    assert features.loc["c1", "top_route_class"] == 1


def test_open_trip_marks_an_outbound_leg_not_yet_returned() -> None:
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
    assert features["open_trip"].to_dict() == {"c1": 1.0, "c2": 0.0, "c3": 1.0}
