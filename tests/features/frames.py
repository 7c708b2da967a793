"""Tiny canonical purchase frames built by hand, with known feature values."""

from __future__ import annotations

import pandas as pd

from mingo.data import schema

Row = tuple[str, str, str, str, str, str, str, str, str, str, float, int]


def purchases_frame(rows: list[Row]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(schema.COLUMNS))
    frame[schema.DATE] = pd.to_datetime(frame[schema.DATE]).astype("datetime64[ns]")
    return frame


def order(
    order_id: str,
    customer: str,
    day: str,
    time: str = "12:00:00",
    origin: str = "A",
    destination: str = "B",
    *,
    gmv: float = 100.0,
    tickets: int = 1,
    round_trip: bool = False,
    company: str = "X",
) -> Row:
    back_origin, back_destination = (destination, origin) if round_trip else ("0", "0")
    back_company = company if round_trip else "1"
    return (
        order_id,
        customer,
        day,
        time,
        origin,
        destination,
        back_origin,
        back_destination,
        company,
        back_company,
        gmv,
        tickets,
    )
