from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from mingo.data import schema
from mingo.features import FEATURE_COLUMNS, customer_features
from tests.features.frames import order, purchases_frame

CUTOFF = date(2024, 2, 1)


@pytest.fixture
def two_customers() -> pd.DataFrame:
    return purchases_frame(
        [
            # c1: Mon 2024-01-01, Thu 2024-01-11 at night, Thu 2024-02-01 (the cutoff day).
            order("o1", "c1", "2024-01-01", "10:00:00", "A", "B", gmv=100.0, company="X"),
            order("o2", "c1", "2024-01-11", "23:30:00", "B", "A", gmv=50.0, tickets=2, company="Y"),
            order(
                "o3",
                "c1",
                "2024-02-01",
                "23:59:59",
                "A",
                "B",
                gmv=200.0,
                tickets=2,
                round_trip=True,
                company="X",
            ),
            # c2: Sat 2024-01-20, then a purchase after the cutoff.
            order("o4", "c2", "2024-01-20", "05:00:00", "C", "D", gmv=80.0),
            order("o5", "c2", "2024-02-02", "00:00:00", "C", "D", gmv=80.0),
        ]
    )


def test_values_match_hand_computation(two_customers: pd.DataFrame) -> None:
    features = customer_features(two_customers, CUTOFF)

    assert list(features.index) == ["c1", "c2"]
    assert list(features.columns) == list(FEATURE_COLUMNS)
    c1, c2 = features.loc["c1"], features.loc["c2"]
    assert c1["frequency"] == 3 and c2["frequency"] == 1
    assert c1["recency_days"] == 0 and c2["recency_days"] == 12
    assert c1["tenure_days"] == 31
    assert c1["monetary_log"] == pytest.approx(np.log1p(350.0))
    assert c1["avg_order_value_log"] == pytest.approx(np.log1p(350.0 / 3))
    assert c1["gap_mean_days"] == pytest.approx(15.5)  # gaps 10 and 21 days
    assert c1["gap_std_days"] == pytest.approx(5.5)
    assert c1["gap_last_days"] == 21 and c1["gap_min_days"] == 10
    assert np.isnan(c2["gap_mean_days"]) and np.isnan(c2["overdue_ratio"])
    assert c1["share_night"] == pytest.approx(2 / 3)  # 23:30 and 23:59:59
    assert c2["share_night"] == 1.0  # 05:00 is before 06:00
    assert c1["share_weekend"] == 0.0 and c2["share_weekend"] == 1.0
    assert c1["share_round_trip"] == pytest.approx(1 / 3)
    assert c1["share_multi_ticket"] == pytest.approx(2 / 3)
    assert c1["n_routes"] == 2 and c1["top_route_share"] == pytest.approx(2 / 3)
    assert c1["last_route_is_top"] == 1.0
    assert c1["n_companies"] == 2 and c1["top_company_share"] == pytest.approx(2 / 3)
    assert c1["orders_last_30d"] == 2 and c1["orders_last_90d"] == 3
    assert c1["activity_trend"] == 1.0
    assert c1["share_holiday_months"] == pytest.approx(2 / 3)  # two January orders


def test_cutoff_day_is_included_and_the_next_day_is_not(two_customers: pd.DataFrame) -> None:
    features = customer_features(two_customers, CUTOFF)
    # o3 at 23:59:59 on the cutoff day counts; c2's o5 (00:00 the day after) does not.
    assert features.loc["c1", "frequency"] == 3
    assert features.loc["c2", "frequency"] == 1
    assert features.loc["c2", "recency_days"] == 12

    day_before = customer_features(two_customers, date(2024, 1, 31))
    assert day_before.loc["c1", "frequency"] == 2


def test_customer_without_history_before_cutoff_is_absent(two_customers: pd.DataFrame) -> None:
    features = customer_features(two_customers, date(2024, 1, 5))
    assert list(features.index) == ["c1"]


def test_empty_history_gives_empty_frame_with_all_columns(two_customers: pd.DataFrame) -> None:
    features = customer_features(two_customers, date(2020, 1, 1))
    assert features.empty
    assert list(features.columns) == list(FEATURE_COLUMNS)


def test_missing_column_is_named(two_customers: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=schema.GMV):
        customer_features(two_customers.drop(columns=[schema.GMV]), CUTOFF)


def test_string_dates_are_rejected_with_the_column_name(two_customers: pd.DataFrame) -> None:
    frame = two_customers.assign(
        **{schema.DATE: two_customers[schema.DATE].dt.strftime("%Y-%m-%d")}
    )
    with pytest.raises(ValueError, match=schema.DATE):
        customer_features(frame, CUTOFF)


def test_malformed_time_names_column_and_row(two_customers: pd.DataFrame) -> None:
    frame = two_customers.copy()
    frame.loc[1, schema.TIME] = "25:00:00"
    frame.loc[3, schema.TIME] = "7h30"
    with pytest.raises(ValueError, match=r"time_purchase.*2 bad value.*row 1: '25:00:00'.*row 3"):
        customer_features(frame, CUTOFF)


def test_rows_after_the_cutoff_are_not_even_validated(two_customers: pd.DataFrame) -> None:
    frame = two_customers.copy()
    frame.loc[4, schema.TIME] = "not a time"  # o5 is dated after the cutoff
    pd.testing.assert_frame_equal(
        customer_features(frame, CUTOFF), customer_features(two_customers, CUTOFF)
    )


def test_python_object_columns_give_the_same_features(two_customers: pd.DataFrame) -> None:
    as_objects = two_customers.astype({c: object for c in schema.STRING_COLUMNS})
    pd.testing.assert_frame_equal(
        customer_features(as_objects, CUTOFF),
        customer_features(two_customers, CUTOFF),
        check_index_type=False,
    )


def test_missing_values_are_named_by_column_and_row(two_customers: pd.DataFrame) -> None:
    frame = two_customers.copy()
    frame.loc[2, schema.CUSTOMER_ID] = None
    with pytest.raises(ValueError, match=r"fk_contact.*1 missing value.*rows 2"):
        customer_features(frame, CUTOFF)


def test_text_gmv_is_rejected_with_the_column_name(two_customers: pd.DataFrame) -> None:
    frame = two_customers.assign(**{schema.GMV: two_customers[schema.GMV].astype(str)})
    with pytest.raises(ValueError, match=schema.GMV):
        customer_features(frame, CUTOFF)
