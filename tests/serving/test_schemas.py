"""Request validation and the request -> canonical purchases frame conversion (no server)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from mingo.data import schema
from mingo.data.generate import generate_purchases
from mingo.serving.payload import purchases_frame
from mingo.serving.schemas import (
    MAX_CUSTOMERS_PER_REQUEST,
    MAX_PURCHASES_PER_REQUEST,
    PredictRequest,
)


def purchase(**change: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "nk_ota_localizer_id": "order-1",
        "date_purchase": "2023-05-04",
        "time_purchase": "08:09:10",
        "place_origin_departure": "place-a",
        "place_destination_departure": "place-b",
        "place_origin_return": "0",
        "place_destination_return": "0",
        "fk_departure_ota_bus_company": "company-1",
        "fk_return_ota_bus_company": "1",
        "gmv_success": 120.5,
        "total_tickets_quantity_success": 2,
    }
    row.update(change)
    return row


def request_with(*purchases: dict[str, Any], as_of: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"customers": [{"customer_id": "c1", "purchases": list(purchases)}]}
    if as_of is not None:
        body["as_of"] = as_of
    return body


def error_locations(body: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        PredictRequest.model_validate(body)
    return " | ".join(f"{e['loc']} {e['msg']}" for e in caught.value.errors())


def test_a_valid_request_parses() -> None:
    request = PredictRequest.model_validate(request_with(purchase(), as_of="2024-01-01"))
    assert request.as_of == date(2024, 1, 1)
    assert request.purchase_count == 1


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (request_with(purchase(bogus=1)), "'bogus'"),
        (request_with(purchase(gmv_success="abc")), "'gmv_success'"),
        (request_with(purchase(gmv_success=float("nan"))), "'gmv_success'"),
        (
            request_with(purchase(total_tickets_quantity_success="2")),
            "'total_tickets_quantity_success'",
        ),
        (request_with(purchase(time_purchase="8h")), "'time_purchase'"),
        (request_with(purchase(date_purchase="04/05/2023")), "'date_purchase'"),
        (request_with(purchase(date_purchase="1970-01-01")), "date_purchase 1970-01-01"),
        (request_with(purchase(place_origin_departure="")), "'place_origin_departure'"),
        (request_with(purchase(fk_contact="c2")), "purchases[0].fk_contact"),
        (
            request_with(purchase(), as_of="2023-05-03"),
            "purchases[0].date_purchase 2023-05-04 is after as_of",
        ),
        (request_with(purchase(), as_of="1999-12-31"), "as_of 1999-12-31"),
        (request_with(), "'purchases'"),
        ({"customers": []}, "'customers'"),
        ({"as_of": "2024-01-01"}, "'customers'"),
        ({"customers": [{"purchases": [purchase()]}]}, "'customer_id'"),
    ],
)
def test_bad_requests_name_the_field(body: dict[str, Any], named: str) -> None:
    assert named in error_locations(body)


def test_missing_column_is_named() -> None:
    row = purchase()
    del row["place_destination_return"]
    assert "'place_destination_return'" in error_locations(request_with(row))


def test_duplicate_customers_are_refused() -> None:
    customer = {"customer_id": "c1", "purchases": [purchase()]}
    assert "customers[1].customer_id 'c1' appears twice" in error_locations(
        {"customers": [customer, customer]}
    )


def test_size_limits() -> None:
    too_many = [
        {"customer_id": f"c{i}", "purchases": [purchase()]}
        for i in range(MAX_CUSTOMERS_PER_REQUEST + 1)
    ]
    assert "'customers'" in error_locations({"customers": too_many})

    per_customer = MAX_PURCHASES_PER_REQUEST // 50 + 1
    heavy = [{"customer_id": f"c{i}", "purchases": [purchase()] * per_customer} for i in range(50)]
    assert f"limit per request is {MAX_PURCHASES_PER_REQUEST}" in error_locations(
        {"customers": heavy}
    )


def test_purchases_frame_is_canonical_and_round_trips_generated_data() -> None:
    generated = generate_purchases(30, seed=5)
    frame = generated.copy()
    frame["date_purchase"] = frame["date_purchase"].dt.strftime("%Y-%m-%d")
    customers: dict[str, list[dict[str, Any]]] = {}
    for record in frame.to_dict("records"):
        customers.setdefault(record["fk_contact"], []).append(record)
    request = PredictRequest.model_validate(
        {"customers": [{"customer_id": c, "purchases": rows} for c, rows in customers.items()]}
    )

    rebuilt = purchases_frame(request)

    assert tuple(rebuilt.columns) == schema.COLUMNS
    assert rebuilt[schema.DATE].dtype == "datetime64[ns]"
    assert rebuilt[schema.GMV].dtype == "float64"
    assert rebuilt[schema.TICKETS].dtype == "int64"
    order = [schema.CUSTOMER_ID, schema.ORDER_ID]
    expected = generated.sort_values(order).reset_index(drop=True)
    actual = rebuilt.sort_values(order).reset_index(drop=True)
    for name in schema.STRING_COLUMNS:
        assert list(actual[name].astype(str)) == list(expected[name].astype(str)), name
    pd.testing.assert_series_equal(
        actual[schema.DATE], expected[schema.DATE].astype("datetime64[ns]")
    )
    pd.testing.assert_series_equal(actual[schema.GMV], expected[schema.GMV])
    pd.testing.assert_series_equal(actual[schema.TICKETS], expected[schema.TICKETS].astype("int64"))
