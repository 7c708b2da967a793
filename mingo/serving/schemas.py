"""Request and response bodies of the prediction services (CONTRACT.md, "Prediction services").

These are plain pydantic models: the BentoML services publish them as their OpenAPI schema,
so every rule here (types, limits, date bounds, no unknown columns) is both enforced and
documented, and a rejected request names the offending field by its JSON path.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, model_validator

from mingo import ModelKind

# A request is one batch of customers; anything larger belongs in an offline scoring job,
# and the caps keep one request from pinning a worker for seconds.
MAX_CUSTOMERS_PER_REQUEST: Final = 1_000
MAX_PURCHASES_PER_CUSTOMER: Final = 5_000
MAX_PURCHASES_PER_REQUEST: Final = 100_000

# ClickBus's history starts in 2013; anything before 2000 is a typo or an epoch default.
EARLIEST_DATE: Final = date(2000, 1, 1)
# An `as_of` may look ahead (scoring "as of next Monday"), but not by more than a year.
AS_OF_MAX_LEAD: Final = timedelta(days=366)

MAX_ID_LENGTH: Final = 128
MAX_GMV: Final = 10_000_000.0
MAX_TICKETS: Final = 10_000

IdText = Annotated[StrictStr, Field(min_length=1, max_length=MAX_ID_LENGTH)]


def latest_purchase_date() -> date:
    """A purchase cannot be dated after tomorrow (one day of slack for time zones)."""
    return date.today() + timedelta(days=1)


class Purchase(BaseModel):
    """One ClickBus order, with the columns of the purchase file (mingo.data.schema)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    nk_ota_localizer_id: IdText
    fk_contact: IdText | None = Field(
        default=None,
        description="Customer id of the order; when given it must equal the customer_id.",
    )
    date_purchase: date = Field(description="YYYY-MM-DD")
    time_purchase: time = Field(description="HH:MM:SS")
    place_origin_departure: IdText
    place_destination_departure: IdText
    place_origin_return: IdText = Field(description='"0" when the order has no return leg')
    place_destination_return: IdText = Field(description='"0" when the order has no return leg')
    fk_departure_ota_bus_company: IdText
    fk_return_ota_bus_company: IdText = Field(description='"1" when the order has no return leg')
    gmv_success: float = Field(ge=-MAX_GMV, le=MAX_GMV, allow_inf_nan=False)
    total_tickets_quantity_success: StrictInt = Field(ge=0, le=MAX_TICKETS)

    @model_validator(mode="after")
    def _date_is_plausible(self) -> Purchase:
        latest = latest_purchase_date()
        if not EARLIEST_DATE <= self.date_purchase <= latest:
            raise ValueError(
                f"date_purchase {self.date_purchase} is outside {EARLIEST_DATE}..{latest}"
            )
        return self


class CustomerHistory(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    customer_id: IdText
    purchases: list[Purchase] = Field(min_length=1, max_length=MAX_PURCHASES_PER_CUSTOMER)

    @model_validator(mode="after")
    def _orders_belong_to_customer(self) -> CustomerHistory:
        for row, purchase in enumerate(self.purchases):
            if purchase.fk_contact is not None and purchase.fk_contact != self.customer_id:
                raise ValueError(
                    f"purchases[{row}].fk_contact {purchase.fk_contact!r} differs from "
                    f"customer_id {self.customer_id!r}"
                )
        return self


class PredictRequest(BaseModel):
    """Body of `POST /predict`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    customers: list[CustomerHistory] = Field(min_length=1, max_length=MAX_CUSTOMERS_PER_REQUEST)
    as_of: date | None = Field(
        default=None,
        description="Score as of this date (YYYY-MM-DD); default: the model's own rule.",
    )

    @model_validator(mode="after")
    def _request_is_consistent(self) -> PredictRequest:
        seen: set[str] = set()
        total = 0
        for index, customer in enumerate(self.customers):
            if customer.customer_id in seen:
                raise ValueError(
                    f"customers[{index}].customer_id {customer.customer_id!r} appears twice"
                )
            seen.add(customer.customer_id)
            total += len(customer.purchases)
        if total > MAX_PURCHASES_PER_REQUEST:
            raise ValueError(
                f"customers hold {total} purchases in total; the limit per request is "
                f"{MAX_PURCHASES_PER_REQUEST}"
            )
        if self.as_of is not None:
            self._check_as_of(self.as_of)
        return self

    def _check_as_of(self, as_of: date) -> None:
        latest = date.today() + AS_OF_MAX_LEAD
        if not EARLIEST_DATE <= as_of <= latest:
            raise ValueError(f"as_of {as_of} is outside {EARLIEST_DATE}..{latest}")
        for index, customer in enumerate(self.customers):
            for row, purchase in enumerate(customer.purchases):
                if purchase.date_purchase > as_of:
                    raise ValueError(
                        f"customers[{index}].purchases[{row}].date_purchase "
                        f"{purchase.date_purchase} is after as_of {as_of}"
                    )

    @property
    def purchase_count(self) -> int:
        return sum(len(customer.purchases) for customer in self.customers)


Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class BinaryPrediction(BaseModel):
    customer_id: str
    probability: Probability
    will_buy: bool


class RouteProbability(BaseModel):
    origin: str
    destination: str
    probability: Probability


class MulticlassPrediction(BaseModel):
    customer_id: str
    routes: list[RouteProbability]


class ClusteringPrediction(BaseModel):
    customer_id: str
    segment: int
    segment_name: str


class BinaryPredictResponse(BaseModel):
    model: str
    model_version: str
    predictions: list[BinaryPrediction]


class MulticlassPredictResponse(BaseModel):
    model: str
    model_version: str
    predictions: list[MulticlassPrediction]


class ClusteringPredictResponse(BaseModel):
    model: str
    model_version: str
    predictions: list[ClusteringPrediction]


PredictResponse = BinaryPredictResponse | MulticlassPredictResponse | ClusteringPredictResponse

RESPONSE_MODELS: Final[dict[ModelKind, type[PredictResponse]]] = {
    "binary": BinaryPredictResponse,
    "multiclass": MulticlassPredictResponse,
    "clustering": ClusteringPredictResponse,
}


class ErrorBody(BaseModel):
    """Body of every 4xx/5xx the services produce themselves."""

    error: str
    detail: list[dict[str, object]] = Field(default_factory=list)


class ReloadResponse(BaseModel):
    model: str
    model_version: str
    previous_version: str | None
    reloaded: bool
