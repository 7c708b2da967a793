"""Request and response bodies of the prediction services (CONTRACT.md, "Prediction services").

These are plain pydantic models: the BentoML services publish them as their OpenAPI schema,
so every rule here (types, limits, date bounds, no unknown columns) is both enforced and
documented, and a rejected request names the offending field by its JSON path.

A request's purchases are judged by the row rules training applies to a file
(`mingo.data.rules`, the one implementation of both):
- what makes training REJECT a file makes the request invalid: HTTP 400, each error naming
  its field by JSON path and, in its message, the customer, the order and the rule (an empty
  or overlong id, a date or time that does not parse or is out of range, gmv outside
  +-`MAX_GMV`, tickets outside +-`MAX_TICKETS`, an order id twice in the request);
- what makes training DROP a row (origin == destination, an inconsistent return leg,
  gmv <= 0, tickets < 1, a single-ticket round trip) is ignored: the purchase is left out of
  the customer's history, the prediction is still answered, and `ignored_purchases` in the
  response (and the `X-Ignored-Purchases` header) lists each one with its rules. A customer
  whose every purchase is ignored has nothing left to score: HTTP 400.
One-way orders whose return company holds a company id (return places "0") are kept, as in
training.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, time, timedelta
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from mingo import ModelKind
from mingo.data import rules
from mingo.data.schema import ORDER_ID

# A request is one batch of customers; anything larger belongs in an offline scoring job,
# and the caps keep one request from pinning a worker for seconds.
MAX_CUSTOMERS_PER_REQUEST: Final = 1_000
MAX_PURCHASES_PER_CUSTOMER: Final = 5_000
MAX_PURCHASES_PER_REQUEST: Final = 100_000

# The bounds of the row rules, shared with training (mingo.data.rules).
EARLIEST_DATE: Final = rules.EARLIEST_PURCHASE_DATE
MAX_ID_LENGTH: Final = rules.MAX_ID_LENGTH
MAX_GMV: Final = rules.MAX_GMV
MAX_TICKETS: Final = rules.MAX_TICKETS
# An `as_of` may look ahead (scoring "as of next Monday"), but not by more than a year.
AS_OF_MAX_LEAD: Final = timedelta(days=366)


def latest_purchase_date() -> date:
    """A purchase cannot be dated after tomorrow (one day of slack for time zones)."""
    return rules.latest_purchase_date()


def _usable_id(value: str) -> str:
    broken = rules.id_value_rule(value)
    if broken is not None:
        raise ValueError(f"breaks rule '{broken}'")
    return value


IdText = Annotated[
    StrictStr, Field(min_length=1, max_length=MAX_ID_LENGTH), AfterValidator(_usable_id)
]


class Purchase(BaseModel):
    """One ClickBus order, with the columns of the purchase file (mingo.data.schema).

    The field names are the file's column names, so `vars(purchase)` is a row the shared
    DROP rules (`mingo.data.rules.DROP_RULES`) read directly.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    nk_ota_localizer_id: IdText
    fk_contact: IdText | None = Field(
        default=None,
        description="Customer id of the order; when given it must equal the customer_id.",
    )
    date_purchase: date = Field(description="YYYY-MM-DD (or DD/MM/YYYY, as in the file)")
    time_purchase: time = Field(description="HH:MM:SS")
    place_origin_departure: IdText
    place_destination_departure: IdText
    place_origin_return: IdText = Field(description='"0" when the order has no return leg')
    place_destination_return: IdText = Field(description='"0" when the order has no return leg')
    fk_departure_ota_bus_company: IdText
    fk_return_ota_bus_company: IdText = Field(
        description='"1" when the order has no return leg (a company id there is ignored '
        'when both return places are "0")'
    )
    gmv_success: float = Field(
        allow_inf_nan=False,
        description="BRL; <= 0 is ignored (as training drops it)",
        json_schema_extra={"minimum": -MAX_GMV, "maximum": MAX_GMV},
    )
    total_tickets_quantity_success: StrictInt = Field(
        description="< 1 is ignored (as training drops it)",
        json_schema_extra={"minimum": -MAX_TICKETS, "maximum": MAX_TICKETS},
    )

    @field_validator("date_purchase", mode="before")
    @classmethod
    def _date_parses(cls, value: Any) -> Any:
        if isinstance(value, date):
            return value
        parsed = rules.parse_date_text(value) if isinstance(value, str) else None
        if parsed is None:
            raise ValueError(f"{value!r} breaks rule '{rules.RULE_DATE_PARSES}'")
        return parsed

    @field_validator("date_purchase")
    @classmethod
    def _date_is_plausible(cls, value: date) -> date:
        broken = rules.date_in_range(value)
        if broken is not None:
            raise ValueError(f"date_purchase {value} breaks rule '{broken}'")
        return value

    @field_validator("time_purchase", mode="before")
    @classmethod
    def _time_parses(cls, value: Any) -> Any:
        if isinstance(value, time):
            return value
        parsed = rules.parse_time_text(value) if isinstance(value, str) else None
        if parsed is None:
            raise ValueError(f"{value!r} breaks rule '{rules.RULE_TIME_PARSES}'")
        return parsed

    @field_validator("gmv_success")
    @classmethod
    def _gmv_in_range(cls, value: float) -> float:
        if not rules.gmv_in_range(value):
            raise ValueError(f"gmv_success {value} breaks rule '{rules.RULE_GMV_IN_RANGE}'")
        return value

    @field_validator("total_tickets_quantity_success")
    @classmethod
    def _tickets_in_range(cls, value: int) -> int:
        if not rules.tickets_in_range(value):
            raise ValueError(
                f"total_tickets_quantity_success {value} breaks rule "
                f"'{rules.RULE_TICKETS_IN_RANGE}'"
            )
        return value

    def broken_drop_rules(self) -> list[str]:
        """The DROP rules of training this purchase breaks (empty: a usable purchase)."""
        return [rule.rule for rule in rules.broken_drop_rules(vars(self))]


class IgnoredPurchase(BaseModel):
    """A purchase left out of its customer's history: training would drop that row."""

    customer_id: str
    nk_ota_localizer_id: str
    position: int = Field(description="Index of the purchase in the customer's purchases")
    rules: list[str] = Field(description="The DROP rules of training it breaks")


class CustomerHistory(BaseModel):
    """A customer's purchases. After validation `purchases` holds the usable ones only; the
    ignored ones (training's DROP rules) are listed by `ignored_purchases()`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    customer_id: IdText
    purchases: list[Purchase] = Field(min_length=1, max_length=MAX_PURCHASES_PER_CUSTOMER)
    # Position in the request of each kept purchase, and the ignored ones with their rules.
    _positions: list[int] | None = PrivateAttr(default=None)
    _ignored: list[tuple[int, Purchase, list[str]]] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _orders_belong_to_customer(self) -> CustomerHistory:
        for row, purchase in enumerate(self.purchases):
            if purchase.fk_contact is not None and purchase.fk_contact != self.customer_id:
                raise ValueError(
                    f"purchases[{row}].fk_contact {purchase.fk_contact!r} differs from "
                    f"customer_id {self.customer_id!r}"
                )
        return self

    @model_validator(mode="wrap")
    @classmethod
    def _apply_row_rules(
        cls, data: Any, handler: ModelWrapValidatorHandler[CustomerHistory]
    ) -> CustomerHistory:
        try:
            history = handler(data)
        except ValidationError as error:
            raise _naming_customer_and_order(error, data) from None
        if history._positions is not None:
            return history  # an instance validated before: its purchases are judged already
        judged = [
            (p, purchase, purchase.broken_drop_rules())
            for p, purchase in enumerate(history.purchases)
        ]
        ignored = [(p, purchase, broken) for p, purchase, broken in judged if broken]
        kept = [(p, purchase) for p, purchase, broken in judged if not broken]
        if not kept:
            counts = _count_by_rule(broken for _, _, broken in ignored)
            raise ValueError(
                f"customer {history.customer_id!r}: every purchase breaks a rule training "
                f"drops ({counts}); nothing is left to score"
            )
        if ignored:
            history = handler(
                {"customer_id": history.customer_id, "purchases": [q for _, q in kept]}
            )
        history._positions = [p for p, _ in kept]
        history._ignored = ignored
        return history

    def received_purchases(self) -> list[tuple[int, Purchase]]:
        """Every purchase the request held for this customer (kept and ignored), with its
        position in the request."""
        positions = self._positions or list(range(len(self.purchases)))
        received = list(zip(positions, self.purchases, strict=True))
        received += [(p, purchase) for p, purchase, _ in self._ignored]
        return sorted(received, key=lambda item: item[0])

    def ignored_purchases(self) -> list[IgnoredPurchase]:
        return [
            IgnoredPurchase(
                customer_id=self.customer_id,
                nk_ota_localizer_id=purchase.nk_ota_localizer_id,
                position=position,
                rules=broken,
            )
            for position, purchase, broken in self._ignored
        ]


def _count_by_rule(broken_lists: Any) -> str:
    counts: dict[str, int] = {}
    for broken in broken_lists:
        for rule in broken:
            counts[rule] = counts.get(rule, 0) + 1
    return ", ".join(f"'{rule}': {count}" for rule, count in counts.items())


def _naming_customer_and_order(error: ValidationError, data: Any) -> ValidationError:
    """`error` with each message prefixed by the customer id and, for a purchase's field, the
    order id: the JSON path alone says "customers.3.purchases.17", a caller wants names."""
    fields = data if isinstance(data, dict) else {}
    customer = fields.get("customer_id")
    purchases = fields.get("purchases")
    details: list[InitErrorDetails] = []
    for item in error.errors():
        names = [f"customer {customer!r}"] if isinstance(customer, str) else []
        loc = item["loc"]
        if (
            len(loc) >= 2
            and loc[0] == "purchases"
            and isinstance(loc[1], int)
            and isinstance(purchases, list)
            and 0 <= loc[1] < len(purchases)
        ):
            raw = purchases[loc[1]]
            order = raw.get(ORDER_ID) if isinstance(raw, dict) else getattr(raw, ORDER_ID, None)
            if isinstance(order, str):
                names.append(f"order {order!r}")
        message = f"{', '.join(names)}: {item['msg']}" if names else item["msg"]
        details.append(
            InitErrorDetails(
                type=PydanticCustomError(item["type"], "{message}", {"message": message}),
                loc=loc,
                input=item.get("input"),
            )
        )
    return ValidationError.from_exception_data(error.title, details)


def ignored_purchases(customers: Sequence[CustomerHistory]) -> list[IgnoredPurchase]:
    """Every purchase of these customers the row rules left out, in request order."""
    return [item for customer in customers for item in customer.ignored_purchases()]


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
            total += len(customer.received_purchases())
        if total > MAX_PURCHASES_PER_REQUEST:
            raise ValueError(
                f"customers hold {total} purchases in total; the limit per request is "
                f"{MAX_PURCHASES_PER_REQUEST}"
            )
        self._check_unique_orders()
        if self.as_of is not None:
            self._check_as_of(self.as_of)
        return self

    def _check_unique_orders(self) -> None:
        """An order id appears once in the request (training rejects a file repeating one)."""
        first_seen: dict[str, str] = {}
        for index, customer in enumerate(self.customers):
            for row, purchase in customer.received_purchases():
                order = purchase.nk_ota_localizer_id
                here = f"customers[{index}].purchases[{row}]"
                if order in first_seen:
                    raise ValueError(
                        f"{here}.nk_ota_localizer_id {order!r} (customer "
                        f"{customer.customer_id!r}) breaks rule '{rules.RULE_UNIQUE_ORDER_ID}': "
                        f"also {first_seen[order]}"
                    )
                first_seen[order] = here

    def _check_as_of(self, as_of: date) -> None:
        latest = date.today() + AS_OF_MAX_LEAD
        if not EARLIEST_DATE <= as_of <= latest:
            raise ValueError(f"as_of {as_of} is outside {EARLIEST_DATE}..{latest}")
        for index, customer in enumerate(self.customers):
            for row, purchase in customer.received_purchases():
                if purchase.date_purchase > as_of:
                    raise ValueError(
                        f"customers[{index}].purchases[{row}].date_purchase "
                        f"{purchase.date_purchase} is after as_of {as_of}"
                    )

    @property
    def purchase_count(self) -> int:
        """Usable purchases (the ignored ones are not counted)."""
        return sum(len(customer.purchases) for customer in self.customers)

    def ignored_purchases(self) -> list[IgnoredPurchase]:
        return ignored_purchases(self.customers)


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
    ignored_purchases: list[IgnoredPurchase] = Field(
        default_factory=list,
        description="Purchases left out because training drops such rows (mingo.data.rules)",
    )


class MulticlassPredictResponse(BaseModel):
    model: str
    model_version: str
    predictions: list[MulticlassPrediction]
    ignored_purchases: list[IgnoredPurchase] = Field(
        default_factory=list,
        description="Purchases left out because training drops such rows (mingo.data.rules)",
    )


class ClusteringPredictResponse(BaseModel):
    model: str
    model_version: str
    predictions: list[ClusteringPrediction]
    ignored_purchases: list[IgnoredPurchase] = Field(
        default_factory=list,
        description="Purchases left out because training drops such rows (mingo.data.rules)",
    )


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
