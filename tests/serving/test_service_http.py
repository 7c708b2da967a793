"""The three services over real HTTP: answers, versions, health, metrics, bad input, API key."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import httpx
import pytest

from mingo import MODEL_KINDS, ModelKind, registered_model_name
from mingo.models.api import predict
from mingo.serving.payload import purchases_frame
from mingo.serving.schemas import MAX_CUSTOMERS_PER_REQUEST, PredictRequest
from tests.serving.conftest import API_KEY, ChampionRegistry, Services, customer_payloads

AS_OF = "2024-04-01"
KEY = {"X-API-Key": API_KEY}


def headers_for(kind: ModelKind) -> dict[str, str]:
    return KEY if kind == "binary" else {}


@pytest.fixture(scope="module")
def customers(champion_registry: ChampionRegistry) -> list[dict[str, Any]]:
    return customer_payloads(champion_registry.purchases)


@pytest.fixture(scope="module")
def ready(services: Services) -> Services:
    for kind in MODEL_KINDS:
        services.by_kind(kind).wait_for("/readyz", 200)
    return services


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_predict_answers_like_the_model_with_name_and_version(
    kind: ModelKind,
    ready: Services,
    champion_registry: ChampionRegistry,
    customers: list[dict[str, Any]],
) -> None:
    body = {"customers": customers[:5], "as_of": AS_OF}
    response = httpx.post(
        ready.by_kind(kind).url + "/predict", json=body, headers=headers_for(kind), timeout=30
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    version = champion_registry.versions[kind]
    assert answer["model"] == registered_model_name(kind)
    assert answer["model_version"] == version
    assert response.headers["X-Model-Version"] == version
    assert response.headers["X-Model-Name"] == registered_model_name(kind)

    request = PredictRequest.model_validate(body)
    expected = predict(
        champion_registry.models[kind], purchases_frame(request), date.fromisoformat(AS_OF)
    )
    assert [p["customer_id"] for p in answer["predictions"]] == [
        c["customer_id"] for c in body["customers"]
    ]
    by_id = {str(e["customer_id"]): e for e in expected}
    for served in answer["predictions"]:
        wanted = by_id[served["customer_id"]]
        if kind == "binary":
            assert served["probability"] == pytest.approx(wanted["probability"], abs=1e-9)
            assert served["will_buy"] == wanted["will_buy"]
        elif kind == "multiclass":
            assert [(r["origin"], r["destination"]) for r in served["routes"]] == [
                (r["origin"], r["destination"]) for r in wanted["routes"]
            ]
        else:
            assert served["segment"] == wanted["segment"]
            assert served["segment_name"] == wanted["segment_name"]


def test_a_thousand_customer_batch_is_answered(
    ready: Services, champion_registry: ChampionRegistry, customers: list[dict[str, Any]]
) -> None:
    # Copies of the customers under new ids, with their orders renamed too: an order id is
    # unique within a request, as within a training file.
    many = [
        {
            "customer_id": f"{c['customer_id']}-{i}",
            "purchases": [
                {**p, "nk_ota_localizer_id": f"{p['nk_ota_localizer_id']}-{i}"}
                for p in c["purchases"]
            ],
        }
        for i in range(MAX_CUSTOMERS_PER_REQUEST // len(customers) + 1)
        for c in customers
    ][:MAX_CUSTOMERS_PER_REQUEST]
    response = httpx.post(
        ready.clustering.url + "/predict", json={"customers": many, "as_of": AS_OF}, timeout=60
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == MAX_CUSTOMERS_PER_REQUEST


def test_health_and_metrics(ready: Services, customers: list[dict[str, Any]]) -> None:
    service = ready.multiclass
    assert service.status("/livez") == 200
    assert service.status("/readyz") == 200
    httpx.post(service.url + "/predict", json={"customers": customers[:1]}, timeout=30)
    metrics = httpx.get(service.url + "/metrics", timeout=10)
    assert metrics.status_code == 200
    assert "bentoml_service_request_total" in metrics.text
    assert 'endpoint="/predict"' in metrics.text


def one_purchase(customers: list[dict[str, Any]]) -> dict[str, Any]:
    return copy.deepcopy(customers[0]["purchases"][0])


def bad_bodies(customers: list[dict[str, Any]]) -> list[tuple[str, Any, str]]:
    """(case, body, text the error must contain)."""
    good = one_purchase(customers)
    cid = customers[0]["customer_id"]

    def with_purchase(**change: Any) -> dict[str, Any]:
        purchase = {**good, **change}
        return {"customers": [{"customer_id": cid, "purchases": [purchase]}]}

    missing = {k: v for k, v in good.items() if k != "gmv_success"}
    return [
        ("not json", "{not json", "json_invalid"),
        ("not an object", [1, 2], "object"),
        ("no customers", {}, "customers"),
        ("empty customers", {"customers": []}, "customers"),
        ("empty purchases", {"customers": [{"customer_id": cid, "purchases": []}]}, "purchases"),
        ("unknown top-level field", {"customers": customers[:1], "limit": 3}, "limit"),
        ("unknown column", with_purchase(seat_number="12A"), "seat_number"),
        (
            "missing column",
            {"customers": [{"customer_id": cid, "purchases": [missing]}]},
            "gmv_success",
        ),
        ("gmv as text", with_purchase(gmv_success="cheap"), "gmv_success"),
        ("tickets as float", with_purchase(total_tickets_quantity_success=1.5), "total_tickets"),
        ("time not a time", with_purchase(time_purchase="25:61:00"), "time_purchase"),
        ("date not a date", with_purchase(date_purchase="2023-02-30"), "date_purchase"),
        ("absurd past date", with_purchase(date_purchase="1899-01-01"), "date_purchase"),
        ("future date", with_purchase(date_purchase="2999-01-01"), "date_purchase"),
        ("absurd as_of", {"customers": customers[:1], "as_of": "3000-01-01"}, "as_of"),
        ("purchase after as_of", {"customers": customers[:1], "as_of": "2000-01-02"}, "as_of"),
        ("other customer's order", with_purchase(fk_contact="someone-else"), "fk_contact"),
        ("duplicate customer", {"customers": [customers[0], customers[0]]}, "appears twice"),
        (
            "too many customers",
            {"customers": [{**customers[0], "customer_id": str(i)} for i in range(1001)]},
            "customers",
        ),
    ]


def test_malformed_requests_get_a_4xx_naming_the_field(
    ready: Services, customers: list[dict[str, Any]]
) -> None:
    url = ready.multiclass.url + "/predict"
    with httpx.Client(timeout=30) as client:
        for case, body, named in bad_bodies(customers):
            if isinstance(body, str):
                response = client.post(
                    url, content=body, headers={"Content-Type": "application/json"}
                )
            else:
                response = client.post(url, json=body)
            assert 400 <= response.status_code < 500, (case, response.status_code, response.text)
            assert named in response.text, (case, response.text)


def test_non_json_bodies_are_refused(ready: Services) -> None:
    form = httpx.post(
        ready.clustering.url + "/predict", files={"customers": ("c.json", b"[]")}, timeout=30
    )
    assert form.status_code == 415
    assert "application/json" in form.json()["error"]


def test_oversized_body_is_refused_before_parsing(ready: Services) -> None:
    huge = b'{"customers": [' + b" " * (17 * 1024 * 1024) + b"]}"
    response = httpx.post(
        ready.clustering.url + "/predict",
        content=huge,
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 413
    assert "limit" in response.json()["error"]


def test_api_key_is_required_when_configured(
    ready: Services, customers: list[dict[str, Any]]
) -> None:
    url = ready.binary.url + "/predict"
    body = {"customers": customers[:1], "as_of": AS_OF}
    without = httpx.post(url, json=body, timeout=30)
    wrong = httpx.post(url, json=body, headers={"X-API-Key": "guess"}, timeout=30)
    header = httpx.post(url, json=body, headers=KEY, timeout=30)
    bearer = httpx.post(url, json=body, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30)
    assert without.status_code == 401 and "API key" in without.json()["error"]
    assert wrong.status_code == 401
    assert header.status_code == 200, header.text
    assert bearer.status_code == 200, bearer.text
    # Probes and scrapes carry no key.
    assert ready.binary.status("/readyz") == 200
    assert ready.binary.status("/metrics") == 200
