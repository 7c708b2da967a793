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
    missing = [c for c in REQUIRED_COLUMNS if c not in purchases.columns]
    if missing:
        raise ValueError(f"purchases frame lacks column(s) {missing}; expected the ClickBus schema")
    if not pd.api.types.is_datetime64_any_dtype(purchases[schema.DATE]):
        raise ValueError(
            f"column {schema.DATE!r} must be datetime64 (canonical frame), "
            f"got {purchases[schema.DATE].dtype}"
        )


def _seconds_of_day(times: pd.Series) -> IntArray:
    """Parse "HH:MM:SS" without per-row Python: view the ASCII bytes as digits."""
    raw = np.asarray(times.to_numpy(dtype=object), dtype="S9")
    chars = raw.view(np.uint8).reshape(len(raw), 9).astype(np.int64)
    digits = chars - ord("0")
    digit_positions = [0, 1, 3, 4, 6, 7]
    well_formed = (
        (chars[:, 2] == ord(":"))
        & (chars[:, 5] == ord(":"))
        & (chars[:, 8] == 0)
        & np.all((digits[:, digit_positions] >= 0) & (digits[:, digit_positions] <= 9), axis=1)
    )
    hours = digits[:, 0] * 10 + digits[:, 1]
    minutes = digits[:, 3] * 10 + digits[:, 4]
    seconds = digits[:, 6] * 10 + digits[:, 7]
    well_formed &= (hours < 24) & (minutes < 60) & (seconds < 60)
    if not well_formed.all():
        bad = np.flatnonzero(~well_formed)
        examples = ", ".join(f"row {times.index[i]}: {times.iloc[i]!r}" for i in bad[:5])
        raise ValueError(
            f"column {schema.TIME!r} must be HH:MM:SS; {len(bad)} bad value(s), e.g. {examples}"
        )
    return hours * 3600 + minutes * 60 + seconds


def purchase_history(purchases: pd.DataFrame, as_of: date) -> PurchaseHistory:
    """The purchases on or before `as_of`, in the integer form the feature builders share."""
    check_columns(purchases)
    dates = purchases[schema.DATE].to_numpy().astype("datetime64[D]")
    past = dates <= np.datetime64(as_of, "D")
    frame = purchases.loc[past]
    day = dates[past].astype(np.int64)

    second = _seconds_of_day(frame[schema.TIME])
    customer_codes, customer_ids = pd.factorize(frame[schema.CUSTOMER_ID], sort=True)
    order = np.lexsort((second, day, customer_codes))

    origin_codes, destination_codes, places = _place_codes(frame)
    pair = origin_codes * max(len(places), 1) + destination_codes
    route_codes, route_pairs = pd.factorize(pair)
    n_places = max(len(places), 1)
    company_codes, companies = pd.factorize(frame[schema.COMPANY])

    customer = customer_codes[order].astype(np.int64)
    boundaries = np.flatnonzero(np.diff(customer)) + 1
    starts = np.concatenate([[0], boundaries]).astype(np.int64) if len(customer) else _EMPTY
    ends = (
        np.concatenate([boundaries, [len(customer)]]).astype(np.int64) if len(customer) else _EMPTY
    )
    months = pd.DatetimeIndex(dates[past][order]).month.to_numpy().astype(np.int64)

    return PurchaseHistory(
        as_of=as_of,
        customer_ids=pd.Index(customer_ids, name=schema.CUSTOMER_ID),
        customer=customer,
        day=day[order],
        second=second[order],
        month=months,
        gmv=frame[schema.GMV].to_numpy(dtype=np.float64)[order],
        tickets=frame[schema.TICKETS].to_numpy(dtype=np.float64)[order],
        round_trip=(frame[schema.RETURN_ORIGIN] != schema.NO_RETURN_PLACE).to_numpy()[order],
        origin=origin_codes[order],
        destination=destination_codes[order],
        places=places,
        route=route_codes[order].astype(np.int64),
        route_origin=(np.asarray(route_pairs) // n_places).astype(np.int64),
        route_destination=(np.asarray(route_pairs) % n_places).astype(np.int64),
        company=company_codes[order].astype(np.int64),
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
    one-customer results identical.
    """
    position = np.arange(len(cust), dtype=np.int64)
    pairs = (
        pd.DataFrame({"c": cust, "k": code, "p": position})
        .groupby(["c", "k"], sort=False)["p"]
        .agg(["size", "max"])
        .reset_index()
    )
    distinct = np.bincount(pairs["c"].to_numpy(), minlength=n).astype(np.float64)
    ranked = pairs.sort_values(["c", "size", "max"], ascending=[True, False, False])
    top = ranked.drop_duplicates("c", keep="first")
    top_count = np.zeros(n)
    top_code = np.zeros(n, dtype=np.int64)
    top_count[top["c"].to_numpy()] = top["size"].to_numpy()
    top_code[top["c"].to_numpy()] = top["k"].to_numpy()
    return distinct, top_count, top_code
