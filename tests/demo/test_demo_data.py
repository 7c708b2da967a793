"""The demo's two snapshots and the requests it sends, checked against the real loader and the
services' own request schema."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd

from mingo.cli.demo.predictions import request_body, sample_customers
from mingo.cli.demo.snapshots import make_demo_data
from mingo.data import load_purchases, schema
from mingo.serving.schemas import PredictRequest

CUSTOMERS = 400
SEED = 5


def test_next_run_sees_the_first_runs_orders_and_newer_ones(tmp_path: Path) -> None:
    data = make_demo_data(CUSTOMERS, SEED, tmp_path, weeks_between_runs=8)
    assert data.second.end - data.first.end == timedelta(weeks=8)
    first = load_purchases(data.first.uri)
    second = load_purchases(data.second.uri)
    assert len(first) == data.first.rows and len(second) == data.second.rows
    assert first[schema.DATE].max() <= pd.Timestamp(data.first.end)
    assert second[schema.DATE].max() > pd.Timestamp(data.first.end)
    assert set(first[schema.ORDER_ID]) < set(second[schema.ORDER_ID])


def test_requests_hold_each_customers_history_up_to_as_of_and_fit_the_service_schema(
    tmp_path: Path,
) -> None:
    data = make_demo_data(CUSTOMERS, SEED, tmp_path, weeks_between_runs=8)
    customers = sample_customers(data.purchases, data.first.end, 3)
    assert len(customers) == 3 == len(set(customers))
    body = request_body(data.purchases, customers, data.first.end)
    request = PredictRequest.model_validate(body)
    assert [c.customer_id for c in request.customers] == customers
    visible = data.purchases[data.purchases[schema.DATE] <= pd.Timestamp(data.first.end)]
    for customer in body["customers"]:
        expected = visible[visible[schema.CUSTOMER_ID] == customer["customer_id"]]
        assert len(customer["purchases"]) == len(expected) >= 2
        assert max(p[schema.DATE] for p in customer["purchases"]) <= data.first.end.isoformat()
    # Spread over recency: the first pick bought most recently.
    last_seen = visible.groupby(schema.CUSTOMER_ID)[schema.DATE].max()
    assert last_seen[customers[0]] >= last_seen[customers[1]] >= last_seen[customers[2]]
    assert last_seen[customers[0]] == last_seen.max()
