"""Purchase history as of a cutoff, in integer form: the shared first step of every feature.

Point-in-time boundary: a purchase belongs to the history as of `as_of` when its
`date_purchase` is on or before `as_of` (the whole cutoff day counts, whatever its time).
Everything dated after `as_of` is dropped before any feature is computed, so a later purchase
can never change a feature as of the cutoff. Labels use the complementary interval: dates
strictly after `as_of`.

Rows are ordered by customer, date, then time of day; orders of one customer in the same second
keep their input order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from mingo.data import schema

REQUIRED_COLUMNS: tuple[str, ...] = (
    schema.CUSTOMER_ID,
    schema.DATE,
    schema.TIME,
    schema.ORIGIN,
    schema.DESTINATION,
    schema.RETURN_ORIGIN,
    schema.COMPANY,
    schema.GMV,
    schema.TICKETS,
)

CLOCK_WIDTH = 8  # HH:MM:SS

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PurchaseHistory:
    """Purchases on or before `as_of`, sorted by customer then time, as numpy columns.

    `customer` holds positions into `customer_ids` (sorted ids); `starts`/`ends` delimit each
    customer's rows. Places, routes and companies are codes into the string tables beside them.
    """

    as_of: date
    customer_ids: pd.Index
    customer: IntArray
    day: IntArray  # days since 1970-01-01
    second: IntArray  # seconds since midnight
    month: IntArray  # 1..12
    gmv: FloatArray
    tickets: FloatArray
    round_trip: npt.NDArray[np.bool_]
    origin: IntArray
    destination: IntArray
    places: pd.Index
    route: IntArray  # code of the (origin, destination) pair, into route_origin/route_destination
    route_origin: IntArray
    route_destination: IntArray
    company: IntArray
    companies: pd.Index
    starts: IntArray
    ends: IntArray

    @property
    def cutoff_day(self) -> int:
        return date_to_day(self.as_of)

    @property
    def n_customers(self) -> int:
        return len(self.customer_ids)

    @property
    def counts(self) -> IntArray:
        return self.ends - self.starts


def date_to_day(value: date) -> int:
    return int(np.datetime64(value, "D").astype(np.int64))


def check_columns(purchases: pd.DataFrame) -> None:
    """The columns features read exist, hold no missing value and have the canonical types."""
    missing = [c for c in REQUIRED_COLUMNS if c not in purchases.columns]
    if missing:
        raise ValueError(f"purchases frame lacks column(s) {missing}; expected the ClickBus schema")
    for column in REQUIRED_COLUMNS:
        empty = np.flatnonzero(purchases[column].isna().to_numpy())
        if len(empty):
            rows = ", ".join(str(purchases.index[i]) for i in empty[:5])
            raise ValueError(f"column {column!r} has {len(empty)} missing value(s), rows {rows}")
    if not pd.api.types.is_datetime64_any_dtype(purchases[schema.DATE]):
        raise ValueError(
            f"column {schema.DATE!r} must be datetime64 (canonical frame), "
            f"got {purchases[schema.DATE].dtype}"
        )
    for column in (schema.GMV, schema.TICKETS):
        if not pd.api.types.is_numeric_dtype(purchases[column]):
            raise ValueError(
                f"column {column!r} must be numeric (canonical frame), "
                f"got {purchases[column].dtype}"
            )


def _clock_bytes(times: pd.Series) -> npt.NDArray[np.uint8]:
    """Times as an (n, 8) byte matrix; malformed lengths show up as a NUL in column 8."""
    arrow = pa.array(times, from_pandas=True)
    if isinstance(arrow, pa.ChunkedArray):
        arrow = arrow.combine_chunks()
    if (
        arrow.null_count == 0
        and len(arrow) > 0
        and (pa.types.is_string(arrow.type) or pa.types.is_large_string(arrow.type))
    ):
        # Fast path, no Python object per row: read Arrow's offset and data buffers directly.
        arrow = arrow.cast(pa.large_string())
        offsets = np.frombuffer(arrow.buffers()[1], dtype=np.int64)
        offsets = offsets[arrow.offset : arrow.offset + len(arrow) + 1]
        if np.all(np.diff(offsets) == CLOCK_WIDTH):
            data = np.frombuffer(arrow.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
            padded = np.zeros((len(arrow), CLOCK_WIDTH + 1), dtype=np.uint8)
            padded[:, :CLOCK_WIDTH] = data.reshape(len(arrow), CLOCK_WIDTH)
            return padded
    raw = np.asarray(times.to_numpy(dtype=object).astype(str), dtype=f"S{CLOCK_WIDTH + 1}")
    return raw.view(np.uint8).reshape(len(raw), CLOCK_WIDTH + 1)


def _seconds_of_day(times: pd.Series, checked: npt.NDArray[np.bool_]) -> IntArray:
    """Parse "HH:MM:SS" without per-row Python: view the ASCII bytes as digits.

    Only rows in `checked` must be well formed (rows after the cutoff are ignored entirely).
    """
    chars = _clock_bytes(times)
    digits = chars[:, [0, 1, 3, 4, 6, 7]].astype(np.int16) - ord("0")
    well_formed = (
        (chars[:, 2] == ord(":"))
        & (chars[:, 5] == ord(":"))
        & (chars[:, 8] == 0)
        & np.all((digits >= 0) & (digits <= 9), axis=1)
    )
    hours = digits[:, 0] * 10 + digits[:, 1]
    minutes = digits[:, 2] * 10 + digits[:, 3]
    seconds = digits[:, 4] * 10 + digits[:, 5]
    well_formed &= (hours < 24) & (minutes < 60) & (seconds < 60)
    bad = np.flatnonzero(checked & ~well_formed)
    if len(bad):
        examples = ", ".join(f"row {times.index[i]}: {times.iloc[i]!r}" for i in bad[:5])
        raise ValueError(
            f"column {schema.TIME!r} must be HH:MM:SS; {len(bad)} bad value(s), e.g. {examples}"
        )
    return hours.astype(np.int64) * 3600 + minutes * 60 + seconds


def _sorted_customer_codes(
    customers: pd.Series, past: npt.NDArray[np.bool_]
) -> tuple[IntArray, pd.Index]:
    """Codes of the customers of `past` rows, numbered in customer-id order."""
    codes, uniques = pd.factorize(customers)
    codes = codes[past]
    present = np.unique(codes)
    present_ids = pd.Index(uniques.take(present), name=schema.CUSTOMER_ID)
    by_id = present_ids.argsort()
    rank = np.zeros(len(uniques), dtype=np.int64)
    rank[present[by_id]] = np.arange(len(present), dtype=np.int64)
    return rank[codes], present_ids[by_id]


def purchase_history(purchases: pd.DataFrame, as_of: date) -> PurchaseHistory:
    """The purchases on or before `as_of`, in the integer form the feature builders share.

    Columns are encoded whole and filtered as integer arrays: cheaper than copying the
    string columns of the past rows.
    """
    check_columns(purchases)
    dates = purchases[schema.DATE].to_numpy().astype("datetime64[D]")
    past = np.asarray(dates <= np.datetime64(as_of, "D"))
    day = dates[past].astype(np.int64)

    second = _seconds_of_day(purchases[schema.TIME], past)[past]
    customer_codes, customer_ids = _sorted_customer_codes(purchases[schema.CUSTOMER_ID], past)
    order = np.lexsort((second, day, customer_codes))

    origin_codes, destination_codes, places = _place_codes(purchases)
    origin_codes, destination_codes = origin_codes[past], destination_codes[past]
    n_places = max(len(places), 1)
    route_codes, route_pairs = pd.factorize(origin_codes * n_places + destination_codes)
    company_codes, companies = pd.factorize(purchases[schema.COMPANY])
    round_trip = (purchases[schema.RETURN_ORIGIN] != schema.NO_RETURN_PLACE).to_numpy(dtype=bool)

    customer = customer_codes[order]
    boundaries = np.flatnonzero(np.diff(customer)) + 1
    starts = np.concatenate([[0], boundaries]).astype(np.int64) if len(customer) else _EMPTY
    ends = (
        np.concatenate([boundaries, [len(customer)]]).astype(np.int64) if len(customer) else _EMPTY
    )
    months = pd.DatetimeIndex(dates[past][order]).month.to_numpy().astype(np.int64)

    return PurchaseHistory(
        as_of=as_of,
        customer_ids=customer_ids,
        customer=customer,
        day=day[order],
        second=second[order],
        month=months,
        gmv=purchases[schema.GMV].to_numpy(dtype=np.float64)[past][order],
        tickets=purchases[schema.TICKETS].to_numpy(dtype=np.float64)[past][order],
        round_trip=round_trip[past][order],
        origin=origin_codes[order],
        destination=destination_codes[order],
        places=places,
        route=route_codes[order].astype(np.int64),
        route_origin=(np.asarray(route_pairs) // n_places).astype(np.int64),
        route_destination=(np.asarray(route_pairs) % n_places).astype(np.int64),
        company=company_codes[past][order].astype(np.int64),
        companies=pd.Index(companies),
        starts=starts,
        ends=ends,
    )


_EMPTY: IntArray = np.zeros(0, dtype=np.int64)


def _place_codes(frame: pd.DataFrame) -> tuple[IntArray, IntArray, pd.Index]:
    """Origin and destination codes into one shared place table (so A->B and B->A line up)."""
    both = pd.concat([frame[schema.ORIGIN], frame[schema.DESTINATION]], ignore_index=True)
    codes, places = pd.factorize(both)
    n = len(frame)
    return codes[:n].astype(np.int64), codes[n:].astype(np.int64), pd.Index(places)


def most_used_codes(
    cust: IntArray, code: IntArray, n: int
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Per customer: number of distinct codes, count of the most used code, and that code.

    Ties between equally used codes go to the one used most recently: codes are numbered by
    appearance in the whole frame, so only the customer's own order keeps batch and
    one-customer results identical. Plain numpy (sort + run lengths): as cheap for the
    one-customer requests of serving as for the whole file.
    """
    distinct = np.zeros(n)
    top_count = np.zeros(n)
    top_code = np.zeros(n, dtype=np.int64)
    if len(cust) == 0:
        return distinct, top_count, top_code
    order = np.lexsort((code, cust))
    sorted_cust, sorted_code = cust[order], code[order]
    starts = np.flatnonzero(
        np.r_[True, (sorted_cust[1:] != sorted_cust[:-1]) | (sorted_code[1:] != sorted_code[:-1])]
    )
    group_cust, group_code = sorted_cust[starts], sorted_code[starts]
    size = np.diff(np.r_[starts, len(order)])
    last_use = np.maximum.reduceat(order, starts)  # rows are in time order per customer
    distinct[:] = np.bincount(group_cust, minlength=n)
    ranked = np.lexsort((-last_use, -size, group_cust))
    first = ranked[np.r_[True, group_cust[ranked][1:] != group_cust[ranked][:-1]]]
    top_count[group_cust[first]] = size[first]
    top_code[group_cust[first]] = group_code[first]
    return distinct, top_count, top_code
