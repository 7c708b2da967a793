"""Point-in-time properties on generated data: no look-ahead, and one path for batch/serving."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from mingo.data import schema
from mingo.data.generate import generate_purchases
from mingo.features import customer_features, route_features, top_routes

CUTOFF = date(2023, 6, 30)


@pytest.fixture(scope="module")
def purchases() -> pd.DataFrame:
    return generate_purchases(1500, seed=5)


def test_purchases_after_the_cutoff_never_change_features(purchases: pd.DataFrame) -> None:
    past = purchases.loc[purchases[schema.DATE] <= pd.Timestamp(CUTOFF)]
    future = purchases.loc[purchases[schema.DATE] > pd.Timestamp(CUTOFF)]
    assert len(future) > 100

    # Extra late purchases by existing customers, including at 00:00 the day after.
    late = past.sample(200, random_state=1).copy()
    late[schema.DATE] = pd.Timestamp(CUTOFF + timedelta(days=1))
    late[schema.TIME] = "00:00:00"
    late[schema.ORDER_ID] = late[schema.ORDER_ID] + "-late"
    with_future = pd.concat([past, future, late], ignore_index=True)

    expected = customer_features(past, CUTOFF)
    pd.testing.assert_frame_equal(customer_features(with_future, CUTOFF), expected)
    vocabulary = top_routes(past, CUTOFF, 20)
    assert top_routes(with_future, CUTOFF, 20) == vocabulary
    pd.testing.assert_frame_equal(
        route_features(with_future, CUTOFF, vocabulary), route_features(past, CUTOFF, vocabulary)
    )


def test_one_customer_at_a_time_equals_the_batch(purchases: pd.DataFrame) -> None:
    batch = customer_features(purchases, CUTOFF)
    vocabulary = top_routes(purchases, CUTOFF, 20)
    batch_routes = route_features(purchases, CUTOFF, vocabulary)
    repeat_buyers = batch.index[batch["frequency"] >= 3]
    chosen = list(repeat_buyers[:15]) + list(batch.index[batch["frequency"] == 1][:5])

    rng = np.random.default_rng(0)
    for customer in chosen:
        own = purchases.loc[purchases[schema.CUSTOMER_ID] == customer]
        shuffled = own.iloc[rng.permutation(len(own))]  # serving may send any row order
        single = customer_features(shuffled, CUTOFF)
        pd.testing.assert_frame_equal(single, batch.loc[[customer]])
        pd.testing.assert_frame_equal(
            route_features(shuffled, CUTOFF, vocabulary), batch_routes.loc[[customer]]
        )
