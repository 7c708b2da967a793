"""Smoke test of a running prediction service: ready, answers, and serves the expected version.

It goes through the same door as users (the Service URL, or a local `mingo serve`), sends
one small ClickBus-shaped customer and checks the answer's shape and `model_version`.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import httpx

from mingo import ModelKind, registered_model_name
from mingo.data import schema

API_KEY_HEADER = "X-API-Key"
SMOKE_CUSTOMER_ID = hashlib.sha256(b"mingo-smoke-test-customer").hexdigest()


class SmokeTestError(RuntimeError):
    """The service is not ready, answered wrongly, or serves another version than expected."""


@dataclass(frozen=True)
class SmokeTestResult:
    base_url: str
    model: str
    model_version: str
    predictions: list[dict[str, Any]]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def smoke_request() -> dict[str, Any]:
    """A valid /predict body: one customer with two one-way orders on the same route."""
    purchases = [
        {
            schema.ORDER_ID: _digest(f"smoke-order-{day}"),
            schema.CUSTOMER_ID: SMOKE_CUSTOMER_ID,
            schema.DATE: f"2024-01-{day:02d}",
            schema.TIME: "10:30:00",
            schema.ORIGIN: _digest("smoke-origin"),
            schema.DESTINATION: _digest("smoke-destination"),
            schema.RETURN_ORIGIN: schema.NO_RETURN_PLACE,
            schema.RETURN_DESTINATION: schema.NO_RETURN_PLACE,
            schema.COMPANY: _digest("smoke-company"),
            schema.RETURN_COMPANY: schema.NO_RETURN_COMPANY,
            schema.GMV: 120.0,
            schema.TICKETS: 1,
        }
        for day in (5, 19)
    ]
    return {
        "customers": [{"customer_id": SMOKE_CUSTOMER_ID, "purchases": purchases}],
        "as_of": "2024-02-01",
    }


def _wait_until_ready(client: httpx.Client, base_url: str, ready_timeout_s: float) -> None:
    deadline = time.monotonic() + ready_timeout_s
    last_problem = "no answer yet"
    while True:
        try:
            response = client.get("/readyz")
            if response.status_code == 200:
                return
            last_problem = f"/readyz answered HTTP {response.status_code}: {response.text[:200]}"
        except httpx.HTTPError as error:
            last_problem = f"/readyz unreachable: {error!r}"
        if time.monotonic() >= deadline:
            raise SmokeTestError(
                f"{base_url} was not ready within {ready_timeout_s:g} s ({last_problem})"
            )
        time.sleep(1.0)


def smoke_test(
    base_url: str,
    *,
    kind: ModelKind,
    expected_version: str,
    api_key: str | None = None,
    ready_timeout_s: float = 60.0,
    request_timeout_s: float = 30.0,
) -> SmokeTestResult:
    """Check that the service at base_url is ready and serves `expected_version` of KIND."""
    headers = {API_KEY_HEADER: api_key} if api_key else {}
    with httpx.Client(base_url=base_url, headers=headers, timeout=request_timeout_s) as client:
        _wait_until_ready(client, base_url, ready_timeout_s)
        try:
            response = client.post("/predict", json=smoke_request())
        except httpx.HTTPError as error:
            raise SmokeTestError(f"POST {base_url}/predict failed: {error!r}") from error
    if response.status_code != 200:
        raise SmokeTestError(
            f"POST {base_url}/predict answered HTTP {response.status_code}: {response.text[:500]}"
        )
    try:
        body = response.json()
    except ValueError as error:
        raise SmokeTestError(
            f"POST {base_url}/predict answered non-JSON: {response.text[:200]}"
        ) from error
    model = body.get("model")
    version = body.get("model_version")
    predictions = body.get("predictions")
    expected_model = registered_model_name(kind)
    if model != expected_model:
        raise SmokeTestError(f"{base_url} serves model {model!r}, expected {expected_model!r}")
    if str(version) != expected_version:
        raise SmokeTestError(
            f"{base_url} serves {expected_model} version {version!r}, but version "
            f"{expected_version!r} was expected"
        )
    if not isinstance(predictions, list) or len(predictions) != 1:
        raise SmokeTestError(
            f"{base_url}/predict returned {predictions!r}, expected one prediction"
        )
    if predictions[0].get("customer_id") != SMOKE_CUSTOMER_ID:
        raise SmokeTestError(
            f"{base_url}/predict answered for customer {predictions[0].get('customer_id')!r}, "
            f"expected {SMOKE_CUSTOMER_ID}"
        )
    return SmokeTestResult(base_url, expected_model, str(version), predictions)
