"""Synthetic ClickBus-shaped purchases, deterministic by seed.

The generator reproduces the shape and the published statistics of the real file
(see the project's data notes): 64-hex SHA-256 ids, ~3 orders per customer with ~58%
one-time buyers, Zipf-like place, route and company popularity, the ticket mix, a
lognormal price per route, ~0.7% round trips with "0"/"1" sentinels otherwise (and, as in
the real file, ~1.5% one-way orders whose return company holds a company id instead of
"1": ordinary one-way orders the validator keeps), hour and weekday profiles and yearly
growth.

Behaviour is learnable but not trivial, so the three models have something to find:
- each customer has a personal rhythm (mean gap between purchases, gamma-distributed
  gaps) and a finite activity span (a number of planned orders), so some churn;
- a home place and 1-3 favourite destinations used with high but not total probability;
  an outbound trip is often followed by its return (the same pair reversed), so the last
  route reversed predicts the next one better than the most frequent route alone;
- a favourite bus company;
- a share of customers travel mostly in the holiday months (December, January, July).

With `shift_after`, behaviour changes after that date (for monitoring and retraining
tests): from then on, every gap between two purchases of a customer lasts at least
`SHIFT_MIN_GAP_DAYS` (as if a fare rule made travellers space their trips): frequent
travellers slow down to a trip every two months or so, and a recent purchase, the strongest
sign of a next one before the shift, now means none within the next 30 days. A repurchase
model trained before the shift ranks customers the wrong way round after it; one retrained
on post-shift purchases learns the new rhythm. Without it, the output is byte for byte what
it was.

Everything is vectorised numpy; SHA-256 digests are computed once per entity (customer,
place, company) and once per order, and hex-encoded in bulk, so 580,000 customers
(~1.74M orders) take seconds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mingo.data.schema import (
    COLUMNS,
    COMPANY,
    CUSTOMER_ID,
    DATE,
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
    TIME,
)

DEFAULT_START: Final = date(2013, 9, 12)
DEFAULT_END: Final = date(2024, 4, 1)

PLACE_COUNT: Final = 2992
COMPANY_COUNT: Final = 200
# Unordered place pairs with a bus line; both directions give ~29,000 routes.
ROUTE_PAIR_COUNT: Final = 14700

# Zipf-like popularity: the top route takes ~2-3% of orders and ~2,200 routes cover 80%;
# the top company takes ~11% of orders.
PLACE_ZIPF_EXPONENT: Final = 1.0
ROUTE_ZIPF_EXPONENT: Final = 1.15
ROUTE_ZIPF_OFFSET: Final = 3.0
COMPANY_ZIPF_EXPONENT: Final = 0.83

# Share of each year in the first purchases of customers; later years are busier.
# Tuned so the orders per year rise from ~1% (2014) to ~20% (2022).
FIRST_PURCHASE_YEAR_WEIGHT: Final[dict[int, float]] = {
    2013: 0.6,
    2014: 1.4,
    2015: 2.6,
    2016: 4.0,
    2017: 5.8,
    2018: 8.0,
    2019: 10.5,
    2020: 8.5,
    2021: 13.0,
    2022: 20.0,
    2023: 24.0,
    2024: 32.0,
}

# Relative order volume per hour of day (few at night, a plateau 10h-19h).
HOUR_WEIGHTS: Final = np.array(
    [2.0, 0.9, 0.5, 0.3, 0.3, 0.5, 1.0, 2.0, 3.5, 5.0] + [6.5] * 10 + [5.5, 4.5, 3.8, 2.8]
)

# Tickets per order 1, 2, 3, 4, 5+ (5+ is spread over 5..8).
TICKET_SHARES: Final = np.array([0.786, 0.173, 0.023, 0.014, 0.004])

ROUND_TRIP_SHARE: Final = 0.007
# One-way orders (return places "0") whose return company is a company id, not "1".
ONE_WAY_WITH_RETURN_COMPANY_SHARE: Final = 0.015
# Drawn from their own stream, so adding them left every other generated value unchanged.
_RETURN_COMPANY_NOISE_STREAM: Final = 0x1C

# Dirty-row kinds in the proportions seen in the real file (rows per kind).
DIRTY_KIND_FREQUENCY: Final[dict[str, int]] = {
    "origin_equals_destination": 14742,
    "inconsistent_return_leg": 2350,
    "nonpositive_gmv": 185,
    "single_ticket_round_trip": 31,
}

_HEX_ALPHABET: Final = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_ORDER_DIGEST_CHUNK: Final = 250_000

# After the shift nobody buys again within this many days of a purchase: more than twice the
# binary model's 30-day horizon, so "bought recently" (its strongest sign of a next purchase
# before the shift) now means "will not buy in the next 30 days".
SHIFT_MIN_GAP_DAYS: Final = 60


def sha256_hex_array(labels: Iterable[bytes]) -> pa.StringArray:
    """SHA-256 hex digests of `labels` as one contiguous Arrow string array.

    Digests are hex-encoded in numpy rather than via `hexdigest()`, which avoids one
    Python string object per row.
    """
    raw = b"".join(hashlib.sha256(label).digest() for label in labels)
    digests = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 32)
    count = digests.shape[0]
    hex_bytes = np.empty((count, 64), dtype=np.uint8)
    hex_bytes[:, 0::2] = _HEX_ALPHABET[digests >> 4]
    hex_bytes[:, 1::2] = _HEX_ALPHABET[digests & 0x0F]
    offsets = np.arange(0, 64 * (count + 1), 64, dtype=np.int32)
    return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(hex_bytes))


def place_ids() -> pa.StringArray:
    """Digests of the place universe; places are the same for every seed (real cities)."""
    return sha256_hex_array(b"place:%d" % i for i in range(PLACE_COUNT))


def company_ids() -> pa.StringArray:
    return sha256_hex_array(b"company:%d" % i for i in range(COMPANY_COUNT))


def customer_ids(customers: int, seed: int) -> pa.StringArray:
    return sha256_hex_array(b"customer:%d:%d" % (seed, i) for i in range(customers))


def order_ids(orders: int, seed: int) -> pa.Array:
    chunks = [
        sha256_hex_array(
            b"order:%d:%d" % (seed, i)
            for i in range(first, min(first + _ORDER_DIGEST_CHUNK, orders))
        )
        for first in range(0, orders, _ORDER_DIGEST_CHUNK)
    ]
    if not chunks:
        return pa.array([], type=pa.string())
    return pa.concat_arrays(chunks)


def dirty_row_allocation(dirty_rows: int) -> dict[str, int]:
    """How many rows of each dirty kind `dirty_rows` yields.

    Every kind gets at least one row once there are enough rows for all kinds; the
    rest follows the real file's proportions (largest remainder).
    """
    if dirty_rows < 0:
        raise ValueError(f"dirty_rows must be >= 0, got {dirty_rows}")
    kinds = list(DIRTY_KIND_FREQUENCY)
    allocation = dict.fromkeys(kinds, 0)
    remaining = dirty_rows
    if dirty_rows >= len(kinds):
        for kind in kinds:
            allocation[kind] = 1
        remaining -= len(kinds)
    weights = np.array([DIRTY_KIND_FREQUENCY[k] for k in kinds], dtype=float)
    exact = remaining * weights / weights.sum()
    floors = np.floor(exact).astype(int)
    leftover = remaining - int(floors.sum())
    order = np.argsort(-(exact - floors), kind="stable")
    floors[order[:leftover]] += 1
    for kind, extra in zip(kinds, floors, strict=True):
        allocation[kind] += int(extra)
    return allocation


@dataclass(frozen=True)
class _Orders:
    """Integer codes of the generated orders, before ids become strings."""

    customer: np.ndarray
    day: np.ndarray  # days since 1970-01-01
    second: np.ndarray  # second of the day
    origin: np.ndarray
    destination: np.ndarray
    return_origin: np.ndarray  # PLACE_COUNT encodes the "0" sentinel
    return_destination: np.ndarray
    company: np.ndarray
    return_company: np.ndarray  # COMPANY_COUNT encodes the "1" sentinel
    gmv: np.ndarray
    tickets: np.ndarray


def _zipf_probabilities(count: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, count + 1, dtype=float) ** exponent
    return weights / weights.sum()


def _day_number(value: date) -> int:
    return int(np.datetime64(value, "D").astype(np.int64))


def _first_purchase_days(
    rng: np.random.Generator, customers: int, start_day: int, end_day: int
) -> np.ndarray:
    days = np.arange(start_day, end_day + 1)
    years = days.astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970
    known = sorted(FIRST_PURCHASE_YEAR_WEIGHT)
    weight_by_year = np.array([FIRST_PURCHASE_YEAR_WEIGHT[year] for year in known])
    # Every day carries its year's weight, so a partial year (2013, 2024) keeps the
    # intensity of a full one instead of squeezing a year's customers into a few months.
    per_day = weight_by_year[np.clip(years, known[0], known[-1]) - known[0]]
    probabilities = per_day / per_day.sum()
    return rng.choice(days, size=customers, p=probabilities)


def _pick_by_shares(rng: np.random.Generator, size: int, shares: np.ndarray) -> np.ndarray:
    cumulative = np.cumsum(shares / shares.sum())
    return np.searchsorted(cumulative, rng.random(size), side="right").clip(0, len(shares) - 1)


def _avoid_same_place(origin: np.ndarray, destination: np.ndarray) -> np.ndarray:
    """Moves a destination equal to its origin to the next place (clean rows never loop)."""
    return np.where(destination == origin, (destination + 1) % PLACE_COUNT, destination)


def _route_price(origin: np.ndarray, destination: np.ndarray, seed: int) -> np.ndarray:
    """A fixed lognormal price per unordered place pair (A->B costs what B->A costs)."""
    low = np.minimum(origin, destination).astype(np.uint64)
    high = np.maximum(origin, destination).astype(np.uint64)
    key = low * np.uint64(PLACE_COUNT) + high + np.uint64(seed & 0xFFFF) * np.uint64(1 << 32)
    first = _splitmix64(key)
    second = _splitmix64(key ^ np.uint64(0x5851F42D4C957F2D))
    uniform_a = (first >> np.uint64(11)).astype(float) / float(1 << 53)
    uniform_b = (second >> np.uint64(11)).astype(float) / float(1 << 53)
    normal = np.sqrt(-2.0 * np.log1p(-uniform_a)) * np.cos(2.0 * np.pi * uniform_b)
    return np.exp(4.53 + 0.62 * normal)


def _splitmix64(values: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = values + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _planned_order_counts(
    rng: np.random.Generator, customers: int, mean_gap_days: np.ndarray
) -> np.ndarray:
    """Orders a customer would place if the file never ended (activity span).

    Frequent travellers (short gaps) plan more orders, so their activity lasts long
    enough to be seen: frequency is a signal of future purchases, as in the real data.
    """
    one_time = rng.random(customers) < 0.56
    mean_extra = 3.9 * np.sqrt(38.0 / mean_gap_days)
    repeat_extra = rng.negative_binomial(0.8, 0.8 / (0.8 + mean_extra))
    return np.where(one_time, 1, 2 + repeat_extra)


def _shift_rhythm(
    day: np.ndarray, customer: np.ndarray, shift_day: int
) -> tuple[np.ndarray, np.ndarray]:
    """Orders (day, customer) with every gap ending after `shift_day` at least
    `SHIFT_MIN_GAP_DAYS` long, sorted by customer then day.

    Later orders move by as much as the earlier ones did; orders up to `shift_day` keep their
    day. No random draw is used.
    """
    order = np.lexsort((day, customer))
    day, customer = day[order], customer[order]
    first_row = np.concatenate(([True], customer[1:] != customer[:-1]))
    step = np.diff(day, prepend=0)
    step = np.where(day > shift_day, np.maximum(step, SHIFT_MIN_GAP_DAYS), step)
    step = np.where(first_row, day, step)
    running = np.cumsum(step)
    # Subtract, per customer, the running total before the customer's first row.
    before = np.maximum.accumulate(np.where(first_row, running - day, 0))
    return running - before, customer


def _simulate_orders(
    customers: int,
    seed: int,
    start_day: int,
    end_day: int,
    rng: np.random.Generator,
    shift_day: int | None = None,
) -> _Orders:
    mean_gap_days = np.clip(rng.lognormal(np.log(38.0), 0.9, size=customers), 3.0, 900.0)
    planned = _planned_order_counts(rng, customers, mean_gap_days)
    first_day = _first_purchase_days(rng, customers, start_day, end_day)
    seasonal = rng.random(customers) < 0.35

    customer = np.repeat(np.arange(customers), planned)
    group_start = np.concatenate(([0], np.cumsum(planned)[:-1]))
    position = np.arange(customer.size) - np.repeat(group_start, planned)
    # Gamma gaps with shape 2: a rhythm with some regularity, not a Poisson process.
    gaps = rng.gamma(2.0, 0.5, size=customer.size) * mean_gap_days[customer]
    gaps[position == 0] = 0.0
    elapsed = np.cumsum(gaps)
    elapsed -= np.repeat(elapsed[group_start], planned)
    day = first_day[customer] + np.floor(elapsed).astype(np.int64)

    keep = day <= end_day
    customer, day = customer[keep], day[keep]

    day = _pull_to_holiday_months(rng, day, seasonal[customer], start_day, end_day)
    day = _shift_some_saturdays_to_friday(rng, day, start_day)
    if shift_day is not None:
        day, customer = _shift_rhythm(day, customer, shift_day)
        keep = day <= end_day
        customer, day = customer[keep], day[keep]
    second = _pick_by_shares(rng, day.size, HOUR_WEIGHTS) * 3600 + rng.integers(
        0, 3600, size=day.size
    )

    by_customer_time = np.lexsort((second, day, customer))
    customer, day, second = (
        customer[by_customer_time],
        day[by_customer_time],
        second[by_customer_time],
    )
    counts = np.bincount(customer, minlength=customers)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    position = np.arange(customer.size) - np.repeat(starts, counts)

    origin, destination = _routes(rng, customers, customer, position)
    company = _companies(rng, customers, customer)
    tickets = _pick_by_shares(rng, customer.size, TICKET_SHARES) + 1
    five_plus = tickets == 5
    tickets[five_plus] = rng.integers(5, 9, size=int(five_plus.sum()))

    round_trip = rng.random(customer.size) < ROUND_TRIP_SHARE
    return_origin = np.where(round_trip, destination, PLACE_COUNT)
    return_destination = np.where(round_trip, origin, PLACE_COUNT)
    return_company = np.where(round_trip, company, COMPANY_COUNT)
    # Each traveller needs a ticket per leg, so a round trip has at least two tickets.
    tickets = np.where(round_trip, np.maximum(tickets, 2), tickets)

    price = _route_price(origin, destination, seed)
    legs = np.where(round_trip, 2.0, 1.0)
    noise = rng.lognormal(0.0, 0.22, size=customer.size)
    gmv = np.round(price * legs * tickets**0.9 * noise, 2)
    gmv = np.maximum(gmv, 5.0)

    return _Orders(
        customer=customer,
        day=day,
        second=second,
        origin=origin,
        destination=destination,
        return_origin=return_origin,
        return_destination=return_destination,
        company=company,
        return_company=return_company,
        gmv=gmv,
        tickets=tickets.astype(np.int64),
    )


def _pull_to_holiday_months(
    rng: np.random.Generator, day: np.ndarray, seasonal: np.ndarray, start_day: int, end_day: int
) -> np.ndarray:
    """Moves most orders of holiday travellers from a month next to a holiday month into it.

    February -> January, June and August -> July, November -> December (same year);
    orders in other months stay, so the customer's rhythm survives outside the holidays.
    """
    month_start = day.astype("datetime64[D]").astype("datetime64[M]")
    month_of_year = month_start.astype(np.int64) % 12 + 1
    holiday_month_by_month = np.array([0, 1, 1, 3, 4, 5, 7, 7, 7, 9, 10, 12, 12])
    target_month = holiday_month_by_month[month_of_year]
    move = seasonal & (target_month != month_of_year) & (rng.random(day.size) < 0.7)
    target_start = month_start + (target_month - month_of_year).astype("timedelta64[M]")
    target_day = target_start.astype("datetime64[D]").astype(np.int64) + rng.integers(
        0, 28, size=day.size
    )
    in_range = (target_day >= start_day) & (target_day <= end_day)
    return np.where(move & in_range, target_day, day)


def _shift_some_saturdays_to_friday(
    rng: np.random.Generator, day: np.ndarray, start_day: int
) -> np.ndarray:
    # 1970-01-01 was a Thursday: (day + 3) % 7 gives Monday=0 .. Sunday=6.
    saturday = (day + 3) % 7 == 5
    move = saturday & (rng.random(day.size) < 0.10) & (day - 1 >= start_day)
    return np.where(move, day - 1, day)


def _route_catalogue(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Place pairs served by buses, with Zipf popularity by rank (most popular first).

    Pair endpoints are drawn by place popularity, so hubs take part in many pairs and
    the first pairs drawn (the most popular) tend to join hubs.
    """
    place_probabilities = _zipf_probabilities(PLACE_COUNT, PLACE_ZIPF_EXPONENT)
    draws = ROUTE_PAIR_COUNT * 4
    first = _pick_by_shares(rng, draws, place_probabilities)
    second = _avoid_same_place(first, _pick_by_shares(rng, draws, place_probabilities))
    low, high = np.minimum(first, second), np.maximum(first, second)
    _, first_seen = np.unique(low * PLACE_COUNT + high, return_index=True)
    kept = np.sort(first_seen)[:ROUTE_PAIR_COUNT]
    weights = 1.0 / (np.arange(1, kept.size + 1) + ROUTE_ZIPF_OFFSET) ** ROUTE_ZIPF_EXPONENT
    return first[kept], second[kept], weights / weights.sum()


def _routes(
    rng: np.random.Generator, customers: int, customer: np.ndarray, position: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Origin and destination per order, following each customer's travel habits.

    Each customer has 1-3 favourite place pairs, each with a home end. Even positions
    are outbound trips (home -> the other end of a favourite, or a random popular
    route); an odd position returns from the previous trip (the same pair reversed)
    with the customer's return probability, else it is a new outbound trip.
    """
    pair_a, pair_b, pair_probabilities = _route_catalogue(rng)
    favourite_pairs = _pick_by_shares(rng, customers * 3, pair_probabilities).reshape(customers, 3)
    home_is_a = rng.random((customers, 3)) < 0.5
    favourite_count = _pick_by_shares(rng, customers, np.array([0.5, 0.3, 0.2])) + 1
    loyalty = rng.beta(8.0, 2.0, size=customers)
    return_probability = rng.beta(4.0, 5.0, size=customers)

    size = customer.size
    choice_draw = rng.random(size)
    count = favourite_count[customer]
    # First favourite dominates: 1 -> always, 2 -> 70/30, 3 -> 60/25/15.
    favourite_slot = np.where(
        count == 1,
        0,
        np.where(
            count == 2,
            (choice_draw >= 0.7).astype(np.int64),
            (choice_draw >= 0.6).astype(np.int64) + (choice_draw >= 0.85).astype(np.int64),
        ),
    )
    uses_favourite = rng.random(size) < loyalty[customer]
    pair = np.where(
        uses_favourite,
        favourite_pairs[customer, favourite_slot],
        _pick_by_shares(rng, size, pair_probabilities),
    )
    from_a = np.where(uses_favourite, home_is_a[customer, favourite_slot], rng.random(size) < 0.5)
    outbound_origin = np.where(from_a, pair_a[pair], pair_b[pair])
    outbound_destination = np.where(from_a, pair_b[pair], pair_a[pair])

    previous = np.maximum(np.arange(size) - 1, 0)
    returns = (position % 2 == 1) & (rng.random(size) < return_probability[customer])
    origin = np.where(returns, outbound_destination[previous], outbound_origin)
    destination = np.where(returns, outbound_origin[previous], outbound_destination)
    return origin, destination


def _companies(rng: np.random.Generator, customers: int, customer: np.ndarray) -> np.ndarray:
    company_probabilities = _zipf_probabilities(COMPANY_COUNT, COMPANY_ZIPF_EXPONENT)
    favourite = _pick_by_shares(rng, customers, company_probabilities)
    random_company = _pick_by_shares(rng, customer.size, company_probabilities)
    loyal = rng.random(customer.size) < 0.7
    return np.where(loyal, favourite[customer], random_company)


def _inject_dirty_rows(rng: np.random.Generator, orders: _Orders, dirty_rows: int) -> None:
    """Corrupts `dirty_rows` distinct one-way orders in place, per `dirty_row_allocation`."""
    allocation = dirty_row_allocation(dirty_rows)
    one_way = np.flatnonzero(orders.return_origin == PLACE_COUNT)
    if dirty_rows > one_way.size:
        raise ValueError(
            f"dirty_rows={dirty_rows} exceeds the {one_way.size} one-way orders generated; "
            "generate more customers or fewer dirty rows"
        )
    chosen = rng.permutation(one_way)[:dirty_rows]
    first = 0
    for kind, count in allocation.items():
        rows = chosen[first : first + count]
        first += count
        if kind == "origin_equals_destination":
            orders.destination[rows] = orders.origin[rows]
        elif kind == "inconsistent_return_leg":
            orders.return_origin[rows] = orders.destination[rows]
        elif kind == "nonpositive_gmv":
            # Half zero (as in the public sample), half negative (refund-like).
            orders.gmv[rows] = np.where(np.arange(rows.size) % 2 == 0, 0.0, -orders.gmv[rows])
        elif kind == "single_ticket_round_trip":
            orders.return_origin[rows] = orders.destination[rows]
            orders.return_destination[rows] = orders.origin[rows]
            orders.return_company[rows] = orders.company[rows]
            orders.tickets[rows] = 1


def _add_return_company_noise(rng: np.random.Generator, orders: _Orders) -> None:
    """Gives ~1.5% of one-way orders their departure company as return company, as the
    real file has them (return places "0", return company an id): still one-way orders."""
    one_way = np.flatnonzero(
        (orders.return_origin == PLACE_COUNT)
        & (orders.return_destination == PLACE_COUNT)
        & (orders.return_company == COMPANY_COUNT)
    )
    noisy = one_way[rng.random(one_way.size) < ONE_WAY_WITH_RETURN_COMPANY_SHARE]
    orders.return_company[noisy] = orders.company[noisy]


def generate_purchases(
    customers: int,
    seed: int,
    *,
    dirty_rows: int = 0,
    start: date = DEFAULT_START,
    end: date = DEFAULT_END,
    shift_after: date | None = None,
) -> pd.DataFrame:
    """A canonical purchases frame for `customers` customers, sorted by date then time.

    Every customer has at least one order; the same arguments give the same frame.
    `dirty_rows` corrupts that many one-way orders with the kinds of
    `DIRTY_KIND_FREQUENCY` (counts per kind: `dirty_row_allocation`). `shift_after` changes
    the customers' rhythm after that date (module doc): each customer's orders dated up to
    it fall on the days they fall on without it (their hours, routes and prices are dealt
    again, since the number of orders changes).
    """
    if customers < 1:
        raise ValueError(f"customers must be >= 1, got {customers}")
    if end < start:
        raise ValueError(f"end ({end}) is before start ({start})")
    if shift_after is not None and not start <= shift_after < end:
        raise ValueError(f"shift_after ({shift_after}) must be in [{start}, {end})")
    rng = np.random.default_rng(seed)
    start_day, end_day = _day_number(start), _day_number(end)
    shift_day = None if shift_after is None else _day_number(shift_after)
    orders = _simulate_orders(customers, seed, start_day, end_day, rng, shift_day)
    _inject_dirty_rows(rng, orders, dirty_rows)
    _add_return_company_noise(np.random.default_rng([seed, _RETURN_COMPANY_NOISE_STREAM]), orders)
    table = _orders_table(orders, customers, seed)
    frame = table.to_pandas()
    frame[DATE] = frame[DATE].astype("datetime64[ns]")
    return frame


def _orders_table(orders: _Orders, customers: int, seed: int) -> pa.Table:
    chronological = np.lexsort((orders.customer, orders.second, orders.day))
    places = place_ids()
    companies = company_ids()
    places_or_sentinel = pa.concat_arrays([places, pa.array([NO_RETURN_PLACE])])
    companies_or_sentinel = pa.concat_arrays([companies, pa.array([NO_RETURN_COMPANY])])

    def take(dictionary: pa.Array, codes: np.ndarray) -> pa.Array:
        return pc.take(dictionary, pa.array(codes[chronological]))

    day = orders.day[chronological]
    columns: dict[str, pa.Array] = {
        ORDER_ID: order_ids(day.size, seed),
        CUSTOMER_ID: take(customer_ids(customers, seed), orders.customer),
        DATE: pa.array(day.astype("datetime64[D]").astype("datetime64[ns]")),
        TIME: _clock_strings(orders.second[chronological]),
        ORIGIN: take(places, orders.origin),
        DESTINATION: take(places, orders.destination),
        RETURN_ORIGIN: take(places_or_sentinel, orders.return_origin),
        RETURN_DESTINATION: take(places_or_sentinel, orders.return_destination),
        COMPANY: take(companies, orders.company),
        RETURN_COMPANY: take(companies_or_sentinel, orders.return_company),
        GMV: pa.array(orders.gmv[chronological].astype(np.float64)),
        TICKETS: pa.array(orders.tickets[chronological].astype(np.int64)),
    }
    return pa.table([columns[name] for name in COLUMNS], names=list(COLUMNS))


def _clock_strings(seconds: np.ndarray) -> pa.StringArray:
    """'HH:MM:SS' for each second of the day, built as fixed-width bytes."""
    count = seconds.size
    hours, remainder = np.divmod(seconds.astype(np.int64), 3600)
    minutes, secs = np.divmod(remainder, 60)
    text = np.empty((count, 8), dtype=np.uint8)
    zero = ord("0")
    for offset, value in ((0, hours), (3, minutes), (6, secs)):
        text[:, offset] = zero + value // 10
        text[:, offset + 1] = zero + value % 10
    text[:, 2] = text[:, 5] = ord(":")
    offsets = np.arange(0, 8 * (count + 1), 8, dtype=np.int32)
    return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(text))
