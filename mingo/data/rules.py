"""The row rules of a ClickBus purchase: one definition for training and serving.

Training judges whole files (`mingo.data.validate`, column by column on pandas frames); the
prediction services judge the purchases of a request (`mingo.serving.schemas`, one purchase
at a time). Both take every bound, pattern, rule name and DROP rule from this module, so a
row that training drops is ignored by serving, and a row that makes training reject a file
makes serving refuse the request. The DROP rules are written with operators that mean the
same on a scalar and on a pandas Series (`==`, `!=`, `<`, `<=`, `&`, `|`), and both callers
run these very functions: a `Row` is a pandas DataFrame in training and a purchase's field
dict (`vars(purchase)`) in serving.

REJECT: training rejects the file (`mingo data validate`, `mingo train`, `mingo evaluate`
exit 2, naming column, rule and rows); serving answers HTTP 400 naming the field, the
customer and the order.
- an id, place or company value (`ID_COLUMNS`) is empty or longer than `MAX_ID_LENGTH`;
- a date that does not parse (YYYY-MM-DD or DD/MM/YYYY), before `EARLIEST_PURCHASE_DATE`, or
  after `latest_purchase_date()` (today plus a day of slack for time zones);
- a time that does not parse as HH:MM:SS;
- a gmv that is not a finite number or lies outside +-`MAX_GMV` BRL;
- a ticket count that is not a whole number or lies outside +-`MAX_TICKETS`;
- an order id that appears twice (in the file; in the request, across its customers).

DROP: training removes the row and counts it per rule; serving ignores the purchase, still
answers, and reports each ignored purchase with its rules (`ignored_purchases` in the body,
`X-Ignored-Purchases` header). A customer of a request left with no purchase is refused (400);
a file that would lose more than half of its rows is rejected.
- the destination equals the origin;
- an inconsistent return leg: exactly one return place is "0", or both return places are
  set but the return company is the no-return sentinel "1";
- gmv <= 0 (refunded or mis-keyed orders, 185 rows in the real file);
- tickets < 1;
- a round trip with a single ticket.

KEPT, not dropped: a one-way order (both return places "0") whose return company holds a
company id instead of "1". The real file has about 1.5% of them; the company is noise.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final, Protocol

from mingo.data.schema import (
    COMPANY,
    CUSTOMER_ID,
    DESTINATION,
    GMV,
    NO_RETURN_COMPANY,
    NO_RETURN_PLACE,
    ORDER_ID,
    ORIGIN,
    RETURN_COMPANY,
    RETURN_DESTINATION,
    RETURN_ORIGIN,
    TICKETS,
)

# -- bounds ---------------------------------------------------------------------------------

# ClickBus sold its first tickets in 2013: a date before 2000 is a clock or format mix-up.
EARLIEST_PURCHASE_DATE: Final = date(2000, 1, 1)
# One day of slack after today, for clocks in another time zone.
FUTURE_SLACK: Final = timedelta(days=1)
# The largest order of the public sample is R$ 2,710; an order above R$ 100,000 (dozens of
# full coaches) is a mis-keyed value or a unit mix-up, not a sale.
MAX_GMV: Final = 100_000.0
MAX_TICKETS: Final = 10_000
# Real ids are 64-hex digests; the sentinels are one character.
MAX_ID_LENGTH: Final = 128

# Columns holding an id, a place or a company: present and at most MAX_ID_LENGTH long.
ID_COLUMNS: Final[tuple[str, ...]] = (
    ORDER_ID,
    CUSTOMER_ID,
    ORIGIN,
    DESTINATION,
    RETURN_ORIGIN,
    RETURN_DESTINATION,
    COMPANY,
    RETURN_COMPANY,
)

# -- text formats ---------------------------------------------------------------------------

ISO_DATE_PATTERN: Final = r"\d{4}-\d{2}-\d{2}"
DAY_FIRST_DATE_PATTERN: Final = r"\d{2}/\d{2}/\d{4}"
TIME_PATTERN: Final = r"([01]?\d|2[0-3]):[0-5]\d:[0-5]\d"

# -- rule names (what a user reads) ---------------------------------------------------------

RULE_VALUE_PRESENT: Final = "value present"
RULE_VALUE_LENGTH: Final = f"value at most {MAX_ID_LENGTH} characters"
RULE_DATE_PARSES: Final = "date parses as YYYY-MM-DD or DD/MM/YYYY"
RULE_TIME_PARSES: Final = "time parses as HH:MM:SS"
RULE_GMV_NUMERIC: Final = "gmv is a number"
RULE_GMV_IN_RANGE: Final = f"gmv within -{MAX_GMV:,.0f}..{MAX_GMV:,.0f} BRL"
RULE_TICKETS_INTEGER: Final = "tickets is a whole number"
RULE_TICKETS_IN_RANGE: Final = f"tickets within -{MAX_TICKETS:,}..{MAX_TICKETS:,}"
RULE_UNIQUE_ORDER_ID: Final = "order id is unique"
RULE_NOT_FUTURE: Final = "date is not in the future"
RULE_NOT_ANCIENT: Final = f"date is on or after {EARLIEST_PURCHASE_DATE.isoformat()}"

RULE_DESTINATION_DIFFERS: Final = "destination differs from origin"
RULE_RETURN_LEG_CONSISTENT: Final = (
    "return leg: both places '0' (one-way) or both set with a company (round trip)"
)
RULE_GMV_POSITIVE: Final = "gmv > 0"
RULE_TICKETS_POSITIVE: Final = "tickets >= 1"
RULE_ROUND_TRIP_TICKETS: Final = "round trip has at least 2 tickets"

# -- scalar checks of the REJECT rules (training applies the same bounds column-wise) -------


def latest_purchase_date(today: date | None = None) -> date:
    """The latest plausible purchase date: today plus FUTURE_SLACK."""
    return (today or date.today()) + FUTURE_SLACK


def date_in_range(value: date, today: date | None = None) -> str | None:
    """The REJECT rule a parsed purchase date breaks, None when it is plausible."""
    if value < EARLIEST_PURCHASE_DATE:
        return RULE_NOT_ANCIENT
    if value > latest_purchase_date(today):
        return RULE_NOT_FUTURE
    return None


def parse_date_text(text: str) -> date | None:
    """A date from YYYY-MM-DD or DD/MM/YYYY text; None when it is neither or not a real day."""
    stripped = text.strip()
    for pattern, layout in ((ISO_DATE_PATTERN, "%Y-%m-%d"), (DAY_FIRST_DATE_PATTERN, "%d/%m/%Y")):
        if re.fullmatch(pattern, stripped):
            try:
                return datetime.strptime(stripped, layout).date()
            except ValueError:
                return None
    return None


def parse_time_text(text: str) -> time | None:
    """A time of day from H:MM:SS or HH:MM:SS text; None otherwise."""
    stripped = text.strip()
    if not re.fullmatch(TIME_PATTERN, stripped):
        return None
    hours, minutes, seconds = (int(part) for part in stripped.split(":"))
    return time(hours, minutes, seconds)


def id_value_rule(text: str) -> str | None:
    """The REJECT rule an id, place or company value breaks, None when it is usable."""
    if not text.strip():
        return RULE_VALUE_PRESENT
    if len(text) > MAX_ID_LENGTH:
        return RULE_VALUE_LENGTH
    return None


def gmv_in_range(gmv: Any) -> Any:
    """True where |gmv| <= MAX_GMV (a scalar or a Series; NaN is False)."""
    return (gmv >= -MAX_GMV) & (gmv <= MAX_GMV)


def tickets_in_range(tickets: Any) -> Any:
    """True where |tickets| <= MAX_TICKETS (a scalar or a Series; NaN is False)."""
    return (tickets >= -MAX_TICKETS) & (tickets <= MAX_TICKETS)


# -- DROP rules -----------------------------------------------------------------------------


class Row(Protocol):
    """Column name -> value: a purchase's field dict (serving) or a DataFrame (training)."""

    def __getitem__(self, column: str, /) -> Any: ...


def return_places_set(row: Row) -> tuple[Any, Any]:
    return row[RETURN_ORIGIN] != NO_RETURN_PLACE, row[RETURN_DESTINATION] != NO_RETURN_PLACE


def is_round_trip(row: Row) -> Any:
    """Both return places set and a return company: the order has a return leg."""
    origin_set, destination_set = return_places_set(row)
    return origin_set & destination_set & (row[RETURN_COMPANY] != NO_RETURN_COMPANY)


def return_leg_inconsistent(row: Row) -> Any:
    """Neither one-way (both return places "0", whatever the company) nor a round trip.

    One-way orders whose return company holds a company id are one-way orders: kept.
    """
    origin_set, destination_set = return_places_set(row)
    both_set_without_company = (
        origin_set & destination_set & (row[RETURN_COMPANY] == NO_RETURN_COMPANY)
    )
    return (origin_set != destination_set) | both_set_without_company


@dataclass(frozen=True)
class DropRule:
    """A rule whose breaking rows are removed (training) or ignored (serving)."""

    column: str  # the column a report names
    rule: str
    broken: Callable[[Row], Any]  # True where the row breaks the rule


DROP_RULES: Final[tuple[DropRule, ...]] = (
    DropRule(DESTINATION, RULE_DESTINATION_DIFFERS, lambda row: row[ORIGIN] == row[DESTINATION]),
    DropRule(RETURN_ORIGIN, RULE_RETURN_LEG_CONSISTENT, return_leg_inconsistent),
    DropRule(GMV, RULE_GMV_POSITIVE, lambda row: row[GMV] <= 0),
    DropRule(TICKETS, RULE_TICKETS_POSITIVE, lambda row: row[TICKETS] < 1),
    DropRule(
        TICKETS, RULE_ROUND_TRIP_TICKETS, lambda row: is_round_trip(row) & (row[TICKETS] == 1)
    ),
)


def broken_drop_rules(row: Row) -> list[DropRule]:
    """The DROP rules one purchase (column -> scalar value) breaks, in DROP_RULES order."""
    return [rule for rule in DROP_RULES if bool(rule.broken(row))]
