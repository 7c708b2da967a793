"""Request validation, the row rules shared with training, and the request -> canonical
purchases frame conversion; one test goes through a real service over HTTP."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from mingo.data import rules, schema
from mingo.data.generate import generate_purchases
from mingo.data.validate import clean_purchases, drop_rule_masks, validate_text_frame
from mingo.models.api import predict
from mingo.serving.payload import purchases_frame
from mingo.serving.schemas import (
    MAX_CUSTOMERS_PER_REQUEST,
    MAX_PURCHASES_PER_REQUEST,
    CustomerHistory,
    PredictRequest,
    Purchase,
)
from tests.serving.conftest import ChampionRegistry, Services, customer_payloads


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
        (request_with(purchase(date_purchase="2023/05/04")), "'date_purchase'"),
        (request_with(purchase(date_purchase=20230504)), "'date_purchase'"),
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


def test_the_day_first_date_of_the_file_is_accepted_as_in_training() -> None:
    request = PredictRequest.model_validate(request_with(purchase(date_purchase="04/05/2023")))
    assert request.customers[0].purchases[0].date_purchase == date(2023, 5, 4)


def frame_to_text(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(
        **{
            schema.DATE: frame[schema.DATE].dt.strftime("%Y-%m-%d"),
            schema.GMV: frame[schema.GMV].map(repr),
            schema.TICKETS: frame[schema.TICKETS].map(str),
        }
    ).astype("str")


TOO_LATE = (date.today() + timedelta(days=2)).isoformat()

# (column, value in a JSON request, the same value in a file, the rule both break)
REJECTED_VALUES = [
    (schema.GMV, 150_000.0, "150000.0", rules.RULE_GMV_IN_RANGE),
    (schema.GMV, -100_000.5, "-100000.5", rules.RULE_GMV_IN_RANGE),
    (schema.TICKETS, 10_001, "10001", rules.RULE_TICKETS_IN_RANGE),
    (schema.ORIGIN, "   ", "   ", rules.RULE_VALUE_PRESENT),
    (schema.RETURN_COMPANY, " ", " ", rules.RULE_VALUE_PRESENT),
    (schema.DATE, "1999-12-31", "1999-12-31", rules.RULE_NOT_ANCIENT),
    (schema.DATE, TOO_LATE, TOO_LATE, rules.RULE_NOT_FUTURE),
    (schema.DATE, "2023-02-30", "2023-02-30", rules.RULE_DATE_PARSES),
    (schema.TIME, "08:09", "08:09", rules.RULE_TIME_PARSES),
]


@pytest.mark.parametrize(("column", "json_value", "text_value", "rule"), REJECTED_VALUES)
def test_what_training_rejects_is_a_400_naming_field_customer_order_and_rule(
    column: str, json_value: object, text_value: str, rule: str
) -> None:
    body = request_with(purchase(nk_ota_localizer_id="o-7"), purchase(**{column: json_value}))
    with pytest.raises(ValidationError) as caught:
        PredictRequest.model_validate(body)
    [error] = caught.value.errors()
    assert error["loc"] == ("customers", 0, "purchases", 1, column)
    assert error["msg"].startswith("customer 'c1', order 'order-1': ")
    assert f"'{rule}'" in error["msg"]

    # Training rejects a file holding the same value, by the same rule.
    text = frame_to_text(generate_purchases(20, seed=3))
    text.loc[[4], column] = text_value
    report = validate_text_frame(text, np.arange(1, len(text) + 1))
    assert [(p.column, p.rule, p.first_rows) for p in report.rejecting_problems()] == [
        (column, rule, [5])
    ]


def test_an_overlong_id_is_refused_as_training_refuses_it() -> None:
    long_id = "x" * (rules.MAX_ID_LENGTH + 1)
    located = error_locations(request_with(purchase(place_destination_departure=long_id)))
    assert "'place_destination_departure')" in located
    assert f"at most {rules.MAX_ID_LENGTH} characters" in located


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (
            request_with(purchase(), purchase()),
            "customers[0].purchases[1].nk_ota_localizer_id 'order-1' (customer 'c1') breaks "
            "rule 'order id is unique': also customers[0].purchases[0]",
        ),
        (
            {
                "customers": [
                    {"customer_id": "c1", "purchases": [purchase()]},
                    {"customer_id": "c2", "purchases": [purchase(nk_ota_localizer_id="x")]},
                    # Repeated by an ignored purchase: still a broken export, still refused.
                    {
                        "customer_id": "c3",
                        "purchases": [purchase(gmv_success=0.0), purchase(nk_ota_localizer_id="y")],
                    },
                ]
            },
            "customers[2].purchases[0].nk_ota_localizer_id 'order-1' (customer 'c3') breaks "
            "rule 'order id is unique': also customers[0].purchases[0]",
        ),
    ],
)
def test_duplicate_order_ids_are_refused_across_the_request(
    body: dict[str, Any], named: str
) -> None:
    assert named in error_locations(body)


@pytest.mark.parametrize(
    ("change", "rules_broken"),
    [
        ({"gmv_success": 0.0}, [rules.RULE_GMV_POSITIVE]),
        ({"gmv_success": -35.9}, [rules.RULE_GMV_POSITIVE]),
        ({"total_tickets_quantity_success": 0}, [rules.RULE_TICKETS_POSITIVE]),
        ({"place_destination_departure": "place-a"}, [rules.RULE_DESTINATION_DIFFERS]),
        ({"place_origin_return": "place-b"}, [rules.RULE_RETURN_LEG_CONSISTENT]),
        (
            {
                "place_origin_return": "place-b",
                "place_destination_return": "place-a",
                "fk_return_ota_bus_company": "company-1",
                "total_tickets_quantity_success": 1,
            },
            [rules.RULE_ROUND_TRIP_TICKETS],
        ),
        (
            {"gmv_success": -1.0, "total_tickets_quantity_success": -1},
            [rules.RULE_GMV_POSITIVE, rules.RULE_TICKETS_POSITIVE],
        ),
    ],
)
def test_what_training_drops_is_ignored_and_reported(
    change: dict[str, Any], rules_broken: list[str]
) -> None:
    body = request_with(
        purchase(),
        purchase(nk_ota_localizer_id="dirty", **change),
        purchase(nk_ota_localizer_id="order-3", date_purchase="2023-06-01"),
    )
    request = PredictRequest.model_validate(body)
    customer = request.customers[0]
    assert [p.nk_ota_localizer_id for p in customer.purchases] == ["order-1", "order-3"]
    assert request.purchase_count == 2
    assert [i.model_dump() for i in request.ignored_purchases()] == [
        {"customer_id": "c1", "nk_ota_localizer_id": "dirty", "position": 1, "rules": rules_broken}
    ]
    assert set(purchases_frame(request)[schema.ORDER_ID]) == {"order-1", "order-3"}


def test_one_way_orders_with_a_return_company_id_are_kept() -> None:
    body = request_with(purchase(fk_return_ota_bus_company="a" * 64))
    request = PredictRequest.model_validate(body)
    assert request.purchase_count == 1
    assert request.ignored_purchases() == []


def test_a_customer_left_without_purchases_is_refused() -> None:
    body = request_with(
        purchase(gmv_success=0.0), purchase(nk_ota_localizer_id="o2", gmv_success=-3.0)
    )
    located = error_locations(body)
    assert "('customers', 0)" in located
    assert "customer 'c1': every purchase breaks a rule training drops ('gmv > 0': 2)" in located


def test_positions_in_messages_are_those_of_the_request_after_ignoring() -> None:
    body = request_with(
        purchase(gmv_success=0.0, date_purchase="2023-01-01"),
        purchase(nk_ota_localizer_id="o2", date_purchase="2023-01-02"),
        purchase(nk_ota_localizer_id="o3", date_purchase="2023-05-04"),
        as_of="2023-03-01",
    )
    assert "purchases[2].date_purchase 2023-05-04 is after as_of" in error_locations(body)


def test_a_history_built_in_python_applies_the_same_rules() -> None:
    history = CustomerHistory(
        customer_id="c1",
        purchases=[
            Purchase.model_validate(purchase()),
            Purchase.model_validate(purchase(nk_ota_localizer_id="o2", gmv_success=0.0)),
        ],
    )
    assert [p.nk_ota_localizer_id for p in history.purchases] == ["order-1"]
    assert [i.position for i in history.ignored_purchases()] == [1]
    # Validating it again (as a service does with a parsed body) keeps the verdict.
    again = PredictRequest.model_validate({"customers": [history]})
    assert [i.nk_ota_localizer_id for i in again.ignored_purchases()] == ["o2"]


def test_purchase_fields_are_the_file_columns_the_rules_read() -> None:
    assert set(schema.COLUMNS) == set(Purchase.model_fields)


def test_a_dirty_generated_history_loses_exactly_the_rows_training_drops() -> None:
    dirty = generate_purchases(300, seed=8, dirty_rows=40)
    dirty.loc[[5, 9], schema.TICKETS] = [0, -2]
    cleaned, report = clean_purchases(dirty)
    dropped = set(dirty[schema.ORDER_ID]) - set(cleaned[schema.ORDER_ID])
    customers = customer_payloads(dirty)
    fully_dropped = {
        c["customer_id"]
        for c in customers
        if {p[schema.ORDER_ID] for p in c["purchases"]} <= dropped
    }
    scorable = [c for c in customers if c["customer_id"] not in fully_dropped]

    request = PredictRequest.model_validate({"customers": scorable})

    ignored = request.ignored_purchases()
    masks = drop_rule_masks(dirty)
    training_rules = {
        order: [rule for _, rule, mask in masks if mask[row]]
        for row, order in enumerate(dirty[schema.ORDER_ID])
        if order in dropped
    }
    reachable = dropped - set(
        dirty.loc[dirty[schema.CUSTOMER_ID].isin(fully_dropped), schema.ORDER_ID]
    )
    assert len(reachable) > 30
    assert {i.nk_ota_localizer_id: i.rules for i in ignored} == {
        order: training_rules[order] for order in reachable
    }
    assert report.dropped_rows == len(dropped)
    served = purchases_frame(request).sort_values(schema.ORDER_ID).reset_index(drop=True)
    trained = (
        cleaned[~cleaned[schema.CUSTOMER_ID].isin(fully_dropped)]
        .sort_values(schema.ORDER_ID)
        .reset_index(drop=True)
    )
    assert list(served[schema.ORDER_ID]) == list(trained[schema.ORDER_ID])
    pd.testing.assert_series_equal(served[schema.GMV], trained[schema.GMV])


def test_the_service_answers_and_reports_ignored_purchases_refuses_rejected_ones(
    services: Services, champion_registry: ChampionRegistry
) -> None:
    """Over real HTTP: a DROP row is left out (200, listed, counted in a header) and the
    answer equals the model's on the clean history; a REJECT row is a 400 naming it."""
    service = services.multiclass
    service.wait_for("/readyz", 200)
    customer = customer_payloads(champion_registry.purchases)[0]
    dirty = {
        **customer["purchases"][0],
        schema.ORDER_ID: "refund-1",
        schema.GMV: -20.0,
    }
    body = {
        "customers": [{**customer, "purchases": [*customer["purchases"], dirty]}],
        "as_of": "2024-04-01",
    }
    response = httpx.post(service.url + "/predict", json=body, timeout=60)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert response.headers["X-Ignored-Purchases"] == "1"
    assert answer["ignored_purchases"] == [
        {
            "customer_id": customer["customer_id"],
            "nk_ota_localizer_id": "refund-1",
            "position": len(customer["purchases"]),
            "rules": [rules.RULE_GMV_POSITIVE],
        }
    ]
    clean = PredictRequest.model_validate({"customers": [customer], "as_of": "2024-04-01"})
    expected = predict(
        champion_registry.models["multiclass"], purchases_frame(clean), date(2024, 4, 1)
    )
    assert [(r["origin"], r["destination"]) for r in answer["predictions"][0]["routes"]] == [
        (r["origin"], r["destination"]) for r in expected[0]["routes"]
    ]

    clean_response = httpx.post(
        service.url + "/predict", json={"customers": [customer]}, timeout=60
    )
    assert clean_response.status_code == 200, clean_response.text
    assert clean_response.headers["X-Ignored-Purchases"] == "0"
    assert clean_response.json()["ignored_purchases"] == []

    huge = {**dirty, schema.ORDER_ID: "typo-1", schema.GMV: 2_500_000.0}
    refused = httpx.post(
        service.url + "/predict",
        json={"customers": [{**customer, "purchases": [*customer["purchases"], huge]}]},
        timeout=60,
    )
    assert refused.status_code == 400, refused.text
    [detail] = refused.json()["detail"]
    assert detail["loc"] == ["customers", 0, "purchases", len(customer["purchases"]), "gmv_success"]
    assert f"customer '{customer['customer_id']}', order 'typo-1'" in detail["msg"]
    assert rules.RULE_GMV_IN_RANGE in detail["msg"]
