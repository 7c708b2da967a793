"""Conversion of raw purchase text (every column a string) into the canonical frame.

Loaders read every column as text first, so ids such as "0" and "1" stay strings and a
value that does not convert is reported by the validator with its row, instead of
failing inside a parser. `parse_purchases` converts what it can and marks what it
cannot; `to_canonical` is the strict version for data that passed validation. The date and
time patterns are those of `mingo.data.rules`, which the prediction services apply too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mingo.data.rules import DAY_FIRST_DATE_PATTERN, ISO_DATE_PATTERN, TIME_PATTERN
from mingo.data.schema import COLUMNS, DATE, GMV, STRING_COLUMNS, TICKETS, TIME

INTEGER_PATTERN = r"[+-]?\d+"
# A decimal comma ("113,45") appears in the ';'-separated copies of the file.
DECIMAL_COMMA_PATTERN = r"[+-]?\d+,\d+"


@dataclass(frozen=True)
class ParsedPurchases:
    """Typed columns of a raw frame and, per converted column, the rows that failed."""

    frame: pd.DataFrame
    unparseable: dict[str, np.ndarray]  # column -> boolean mask of rows that did not convert


def parse_dates(text: pd.Series) -> pd.Series:
    """`YYYY-MM-DD` or `DD/MM/YYYY` per value; NaT where neither parses to a real date.

    The result keeps microsecond resolution, so any year parses; the validator rejects
    implausible years before the canonical (nanosecond) conversion.
    """
    stripped = text.str.strip()
    iso = stripped.str.fullmatch(ISO_DATE_PATTERN)
    day_first = stripped.str.fullmatch(DAY_FIRST_DATE_PATTERN)
    iso_dates = pd.to_datetime(stripped.where(iso), format="%Y-%m-%d", errors="coerce")
    day_first_dates = pd.to_datetime(stripped.where(day_first), format="%d/%m/%Y", errors="coerce")
    return iso_dates.fillna(day_first_dates).astype("datetime64[us]")


def parse_times(text: pd.Series) -> pd.Series:
    """'HH:MM:SS' zero-padded; missing (NaN) where the value is not a time of day."""
    stripped = text.str.strip()
    valid = stripped.str.fullmatch(TIME_PATTERN)
    padded = stripped.where(~stripped.str.match(r"\d:"), "0" + stripped)
    return padded.where(valid)


def parse_gmv(text: pd.Series) -> pd.Series:
    """Finite floats; NaN where the value is not a number (NaN and inf included)."""
    stripped = text.str.strip()
    decimal_comma = stripped.str.fullmatch(DECIMAL_COMMA_PATTERN)
    normalised = stripped.where(~decimal_comma, stripped.str.replace(",", ".", regex=False))
    numbers = pd.to_numeric(normalised, errors="coerce").astype(np.float64)
    return numbers.where(np.isfinite(numbers))


def parse_tickets(text: pd.Series) -> pd.Series:
    """Whole numbers as float64 (NaN where not a whole number), ready for an int cast."""
    stripped = text.str.strip()
    whole = stripped.str.fullmatch(INTEGER_PATTERN)
    return pd.to_numeric(stripped.where(whole), errors="coerce").astype(np.float64)


def parse_purchases(raw: pd.DataFrame) -> ParsedPurchases:
    """Converts the typed columns of a raw text frame that has every schema column."""
    dates = parse_dates(raw[DATE])
    times = parse_times(raw[TIME])
    gmv = parse_gmv(raw[GMV])
    tickets = parse_tickets(raw[TICKETS])
    unparseable = {
        DATE: dates.isna().to_numpy(),
        TIME: times.isna().to_numpy(),
        GMV: gmv.isna().to_numpy(),
        TICKETS: tickets.isna().to_numpy(),
    }
    frame = pd.DataFrame(
        {
            **{column: raw[column] for column in STRING_COLUMNS if column != TIME},
            DATE: dates,
            TIME: times,
            GMV: gmv,
            TICKETS: tickets,
        }
    )[list(COLUMNS)]
    return ParsedPurchases(frame=frame, unparseable=unparseable)


def to_canonical(raw: pd.DataFrame) -> pd.DataFrame:
    """The canonical purchases frame of a raw text frame whose values all convert."""
    parsed = parse_purchases(raw)
    failed = [column for column, mask in parsed.unparseable.items() if mask.any()]
    if failed:
        raise ValueError(f"columns {failed} have values that do not convert; validate first")
    frame = parsed.frame.reset_index(drop=True)
    frame[DATE] = frame[DATE].astype("datetime64[ns]")
    frame[TICKETS] = frame[TICKETS].astype(np.int64)
    for column in STRING_COLUMNS:
        frame[column] = frame[column].astype("str")
    return frame
