"""Real HTTP requests to the prediction services, for a few customers of the demo data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import numpy as np
import pandas as pd

from mingo import ModelKind
from mingo.data import schema

REQUEST_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class ServiceAnswer:
    kind: ModelKind
    url: str
    model: str
    model_version: str
    predictions: list[dict[str, Any]]


class PredictionRequestError(RuntimeError):
    """A service answered a demo request with an error."""


def sample_customers(purchases: pd.DataFrame, as_of: date, count: int) -> list[str]:
    """`count` repeat customers from the most to the least recently active as of `as_of`.

    Spread over recency, so the answers differ (a dormant customer and a regular one).
    """
    visible = purchases[purchases[schema.DATE] <= pd.Timestamp(as_of)]
    per_customer = visible.groupby(schema.CUSTOMER_ID)[schema.DATE].agg(["size", "max"])
    repeat = per_customer[per_customer["size"] >= 2].reset_index()
    if repeat.empty:
        raise ValueError(f"no customer has two or more orders up to {as_of}")
    ranked = repeat.sort_values(["max", schema.CUSTOMER_ID], ascending=[False, True])
    ids = ranked[schema.CUSTOMER_ID].astype(str).tolist()
    picks = np.linspace(0, len(ids) - 1, num=min(count, len(ids))).round().astype(int)
    return [ids[i] for i in dict.fromkeys(picks.tolist())]


def request_body(purchases: pd.DataFrame, customers: list[str], as_of: date) -> dict[str, Any]:
    """A /predict body with each customer's purchase history up to `as_of`."""
    visible = purchases[
        purchases[schema.CUSTOMER_ID].isin(customers)
        & (purchases[schema.DATE] <= pd.Timestamp(as_of))
    ].copy()
    visible[schema.DATE] = visible[schema.DATE].dt.strftime("%Y-%m-%d")
    by_customer: dict[str, list[dict[str, Any]]] = {customer: [] for customer in customers}
    for record in visible.to_dict("records"):
        by_customer[str(record[schema.CUSTOMER_ID])].append({str(k): v for k, v in record.items()})
    return {
        "customers": [
            {"customer_id": customer, "purchases": rows} for customer, rows in by_customer.items()
        ],
        "as_of": as_of.isoformat(),
    }


def ask(kind: ModelKind, url: str, body: dict[str, Any]) -> ServiceAnswer:
    try:
        response = httpx.post(f"{url}/predict", json=body, timeout=REQUEST_TIMEOUT_SECONDS)
    except httpx.HTTPError as error:
        raise PredictionRequestError(f"POST {url}/predict ({kind}) failed: {error!r}") from error
    if response.status_code != 200:
        raise PredictionRequestError(
            f"POST {url}/predict ({kind}) answered HTTP {response.status_code}: "
            f"{response.text[:500]}"
        )
    payload = response.json()
    return ServiceAnswer(
        kind=kind,
        url=url,
        model=str(payload["model"]),
        model_version=str(payload["model_version"]),
        predictions=list(payload["predictions"]),
    )
