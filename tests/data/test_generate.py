"""The synthetic generator keeps the promises of its docstring at small scale."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from mingo.data import schema
from mingo.data.generate import DIRTY_KIND_FREQUENCY, dirty_row_allocation, generate_purchases

CUSTOMERS = 6000
HEX64 = r"^[0-9a-f]{64}$"


@pytest.fixture(scope="module")
def purchases() -> pd.DataFrame:
    return generate_purchases(CUSTOMERS, seed=11)


def test_frame_is_canonical_and_sorted(purchases: pd.DataFrame) -> None:
    assert tuple(purchases.columns) == schema.COLUMNS
    assert purchases[schema.DATE].dtype == np.dtype("datetime64[ns]")
    assert purchases[schema.GMV].dtype == np.float64
    assert purchases[schema.TICKETS].dtype == np.int64
    for column in schema.STRING_COLUMNS:
        assert pd.api.types.is_string_dtype(purchases[column]), column
    moments = purchases[schema.DATE].astype("int64") + pd.to_timedelta(
        purchases[schema.TIME]
    ).astype("int64")
    assert moments.is_monotonic_increasing
    assert purchases[schema.DATE].min() >= pd.Timestamp("2013-09-12")
    assert purchases[schema.DATE].max() <= pd.Timestamp("2024-04-01")
    assert purchases[schema.TIME].str.fullmatch(r"([01]\d|2[0-3]):[0-5]\d:[0-5]\d").all()


def test_ids_are_sha256_hex_and_orders_unique(purchases: pd.DataFrame) -> None:
    for column in (
        schema.ORDER_ID,
        schema.CUSTOMER_ID,
        schema.ORIGIN,
        schema.DESTINATION,
        schema.COMPANY,
    ):
        assert purchases[column].str.fullmatch(HEX64).all(), column
    assert purchases[schema.ORDER_ID].is_unique
    assert purchases[schema.CUSTOMER_ID].nunique() == CUSTOMERS


def test_customer_statistics(purchases: pd.DataFrame) -> None:
    orders_per_customer = purchases.groupby(schema.CUSTOMER_ID).size()
    assert 2.6 <= orders_per_customer.mean() <= 3.4
    assert 0.53 <= (orders_per_customer == 1).mean() <= 0.63


def test_order_statistics(purchases: pd.DataFrame) -> None:
    tickets = purchases[schema.TICKETS].clip(upper=5).value_counts(normalize=True)
    assert tickets[1] == pytest.approx(0.786, abs=0.025)
    assert tickets[2] == pytest.approx(0.173, abs=0.02)
    assert tickets[5] < 0.015
    gmv = purchases[schema.GMV]
    assert 95 <= gmv.median() <= 130
    assert 130 <= gmv.mean() <= 175
    round_trips = (purchases[schema.RETURN_ORIGIN] != schema.NO_RETURN_PLACE).mean()
    assert 0.003 <= round_trips <= 0.012
    one_way = purchases[purchases[schema.RETURN_ORIGIN] == schema.NO_RETURN_PLACE]
    assert (one_way[schema.RETURN_DESTINATION] == schema.NO_RETURN_PLACE).all()
    # As in the real file, ~1.5% of orders are one-way with a company id as return company.
    company_noise = one_way[schema.RETURN_COMPANY] != schema.NO_RETURN_COMPANY
    assert 0.008 <= company_noise.sum() / len(purchases) <= 0.025
    assert set(one_way.loc[company_noise, schema.RETURN_COMPANY]) <= set(purchases[schema.COMPANY])


def test_popularity_is_heavy_tailed(purchases: pd.DataFrame) -> None:
    routes = purchases[schema.ORIGIN] + ">" + purchases[schema.DESTINATION]
    route_shares = routes.value_counts(normalize=True)
    assert 0.012 <= route_shares.iloc[0] <= 0.04
    # A small head of routes carries most orders (real file: 2,209 of 29,326 cover 80%).
    routes_for_80_percent = int((route_shares.cumsum() < 0.8).sum()) + 1
    assert routes_for_80_percent < 0.35 * route_shares.size
    company_shares = purchases[schema.COMPANY].value_counts(normalize=True)
    assert 0.07 <= company_shares.iloc[0] <= 0.16
    assert (purchases[schema.ORIGIN] != purchases[schema.DESTINATION]).all()


def test_time_profiles(purchases: pd.DataFrame) -> None:
    years = purchases[schema.DATE].dt.year.value_counts(normalize=True)
    assert years[2014] < 0.03
    assert 0.14 <= years[2022] <= 0.26
    assert set(purchases.loc[purchases[schema.DATE].dt.year == 2024, schema.DATE].dt.month) <= {
        1,
        2,
        3,
        4,
    }
    hours = purchases[schema.TIME].str[:2].astype(int).value_counts(normalize=True).sort_index()
    assert hours.loc[1:5].max() < 0.015
    assert hours.loc[10:19].min() > 0.05
    weekdays = purchases[schema.DATE].dt.day_of_week.value_counts(normalize=True)
    assert weekdays.between(0.11, 0.17).all()
    months = purchases[schema.DATE].dt.month.value_counts(normalize=True)
    assert months[7] > months[6] and months[7] > months[8]
    assert months[12] > months[11]


def test_repurchase_within_30_days_is_a_minority_class(purchases: pd.DataFrame) -> None:
    cutoff = purchases[schema.DATE].max() - pd.Timedelta(days=30)
    seen = purchases.loc[purchases[schema.DATE] <= cutoff, schema.CUSTOMER_ID].unique()
    bought_after = purchases.loc[purchases[schema.DATE] > cutoff, schema.CUSTOMER_ID].unique()
    positive_share = np.isin(seen, bought_after).mean()
    assert 0.025 <= positive_share <= 0.10


def test_last_route_reversed_predicts_next_route(purchases: pd.DataFrame) -> None:
    """The return of the previous trip is a signal the most frequent route misses."""
    frame = purchases.assign(
        route=purchases[schema.ORIGIN] + ">" + purchases[schema.DESTINATION],
        reversed_route=purchases[schema.DESTINATION] + ">" + purchases[schema.ORIGIN],
    )
    previous_reversed = frame.groupby(schema.CUSTOMER_ID)["reversed_route"].shift(1)
    has_previous = previous_reversed.notna()
    hits = (previous_reversed[has_previous] == frame.loc[has_previous, "route"]).mean()
    unrelated = frame.loc[has_previous, "route"].value_counts(normalize=True).iloc[0]
    assert hits > 0.25
    assert hits > 5 * unrelated


def test_same_seed_same_frame_other_seed_differs() -> None:
    first = generate_purchases(300, seed=5)
    again = generate_purchases(300, seed=5)
    other = generate_purchases(300, seed=6)
    pd.testing.assert_frame_equal(first, again)
    assert not set(first[schema.ORDER_ID]) & set(other[schema.ORDER_ID])
    assert not set(first[schema.CUSTOMER_ID]) & set(other[schema.CUSTOMER_ID])


def test_custom_date_range_is_respected() -> None:
    frame = generate_purchases(500, seed=3, start=date(2020, 1, 1), end=date(2020, 12, 31))
    assert frame[schema.DATE].min() >= pd.Timestamp("2020-01-01")
    assert frame[schema.DATE].max() <= pd.Timestamp("2020-12-31")
    assert frame[schema.CUSTOMER_ID].nunique() == 500


def test_dirty_rows_are_injected_per_kind() -> None:
    allocation = dirty_row_allocation(40)
    assert sum(allocation.values()) == 40
    assert set(allocation) == set(DIRTY_KIND_FREQUENCY)
    assert min(allocation.values()) >= 1
    clean = generate_purchases(800, seed=9)
    dirty = generate_purchases(800, seed=9, dirty_rows=40)
    assert len(dirty) == len(clean)
    loops = dirty[schema.ORIGIN] == dirty[schema.DESTINATION]
    assert loops.sum() == allocation["origin_equals_destination"]
    no_return_origin = dirty[schema.RETURN_ORIGIN] == schema.NO_RETURN_PLACE
    no_return_destination = dirty[schema.RETURN_DESTINATION] == schema.NO_RETURN_PLACE
    assert (no_return_origin != no_return_destination).sum() == allocation[
        "inconsistent_return_leg"
    ]
    assert (dirty[schema.GMV] <= 0).sum() == allocation["nonpositive_gmv"]
    single_ticket_round_trips = (~no_return_origin & ~no_return_destination) & (
        dirty[schema.TICKETS] == 1
    )
    assert single_ticket_round_trips.sum() == allocation["single_ticket_round_trip"]


def test_invalid_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="customers"):
        generate_purchases(0, seed=1)
    with pytest.raises(ValueError, match="dirty_rows"):
        generate_purchases(5, seed=1, dirty_rows=10_000)
