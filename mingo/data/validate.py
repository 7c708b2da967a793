"""Validation of ClickBus purchases: which rows break which rule, and what happens then.

Every problem names a column, a rule, how many rows break it and the first offending row
numbers (1-based data rows as in the file, header excluded). Its severity is one of:

REJECT: the file is unusable and nothing is trained on it (`mingo data validate` exits 2):
- a schema column is missing, or a column outside the schema is present;
- the file is empty, or has a header and no data row;
- a row has a different number of fields than the header;
- an id or place value is empty;
- `date_purchase` does not parse as YYYY-MM-DD or DD/MM/YYYY;
- `time_purchase` does not parse as HH:MM:SS;
- `gmv_success` is not a finite number, `total_tickets_quantity_success` not a whole number;
- an order id appears more than once;
- a date lies after today or before 2000-01-01 (a clock or format mix-up: ClickBus sold
  its first tickets in 2013, and nothing else in such a file can be trusted).
These say the export itself is broken: a wrong delimiter, shifted columns, a different file.

DROP: the row describes an impossible order; the row is removed and counted per rule, the
rest of the file is used (the real file has a few thousand such rows among 1.74M):
- `place_destination_departure` equals `place_origin_departure` (a trip that goes nowhere);
- the return-leg fields are neither all sentinels ("0", "0", "1") nor all set;
- `gmv_success` <= 0. Negative values are dropped, not rejected: they are single refunded
  or mis-keyed orders (the real file has 185 rows with gmv <= 0), not a broken export, and
  an order without revenue would distort the value features either way;
- `total_tickets_quantity_success` < 1;
- a round trip (return leg set) with a single ticket: each leg needs its own ticket.
A file in which DROP rules would remove more than half of the rows is rejected instead
(rule "at most half of the rows dropped"): so much damage means a broken export.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from enum import StrEnum

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from mingo.data.convert import parse_purchases
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

FIRST_ROWS_SHOWN = 5
MAX_DROPPED_SHARE = 0.5

RULE_COLUMN_PRESENT = "column present"
RULE_NO_EXTRA_COLUMN = "column belongs to the schema"
RULE_HAS_ROWS = "file has a header and at least one data row"
RULE_FIELD_COUNT = "row has as many fields as the header"
RULE_VALUE_PRESENT = "value present"
RULE_DATE_PARSES = "date parses as YYYY-MM-DD or DD/MM/YYYY"
RULE_TIME_PARSES = "time parses as HH:MM:SS"
RULE_GMV_NUMERIC = "gmv is a number"
RULE_TICKETS_INTEGER = "tickets is a whole number"
RULE_UNIQUE_ORDER_ID = "order id is unique"
RULE_NOT_FUTURE = "date is not in the future"
RULE_NOT_ANCIENT = "date is on or after 2000-01-01"
EARLIEST_PLAUSIBLE_DATE = date(2000, 1, 1)
RULE_DROP_SHARE = "at most half of the rows dropped"

RULE_DESTINATION_DIFFERS = "destination differs from origin"
RULE_RETURN_LEG_CONSISTENT = "return leg all sentinels ('0', '0', '1') or all set"
RULE_GMV_POSITIVE = "gmv > 0"
RULE_TICKETS_POSITIVE = "tickets >= 1"
RULE_ROUND_TRIP_TICKETS = "round trip has at least 2 tickets"

# Which generator dirty kind each DROP rule catches (the generator's names).
DROP_RULE_BY_DIRTY_KIND: dict[str, str] = {
    "origin_equals_destination": RULE_DESTINATION_DIFFERS,
    "inconsistent_return_leg": RULE_RETURN_LEG_CONSISTENT,
    "nonpositive_gmv": RULE_GMV_POSITIVE,
    "single_ticket_round_trip": RULE_ROUND_TRIP_TICKETS,
}


class Severity(StrEnum):
    REJECT = "reject"
    DROP = "drop"


class Problem(BaseModel):
    """One broken rule; `column` is None for problems of the file as a whole."""

    model_config = ConfigDict(frozen=True)

    column: str | None
    rule: str
    severity: Severity
    row_count: int
    first_rows: list[int]

    def message(self) -> str:
        where = f"column '{self.column}'" if self.column is not None else "file"
        text = f"{where}: rule '{self.rule}'"
        if self.row_count:
            rows = ", ".join(str(row) for row in self.first_rows)
            noun = "row" if self.row_count == 1 else "rows"
            text += f": {self.row_count} {noun}, first rows {rows}"
        return text


class ValidationReport(BaseModel):
    """Every problem found in a purchases file or frame."""

    model_config = ConfigDict(frozen=True)

    rows: int
    problems: list[Problem]
    dropped_rows: int  # distinct rows removed by DROP rules (a row may break several)

    @property
    def rejected(self) -> bool:
        return any(problem.severity is Severity.REJECT for problem in self.problems)

    def rejecting_problems(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.REJECT]

    def dropping_problems(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.DROP]

    def dropped_by_rule(self) -> dict[str, int]:
        return {p.rule: p.row_count for p in self.dropping_problems()}


def problem_for_rows(
    column: str | None, rule: str, severity: Severity, mask: np.ndarray, row_numbers: np.ndarray
) -> Problem | None:
    """A problem for the rows where `mask` is true, or None when no row breaks the rule."""
    count = int(mask.sum())
    if count == 0:
        return None
    first = row_numbers[mask][:FIRST_ROWS_SHOWN]
    return Problem(
        column=column,
        rule=rule,
        severity=severity,
        row_count=count,
        first_rows=[int(row) for row in first],
    )


def file_problem(column: str | None, rule: str) -> Problem:
    return Problem(column=column, rule=rule, severity=Severity.REJECT, row_count=0, first_rows=[])


def column_problems(header: Sequence[str]) -> list[Problem]:
    """Missing and extra columns (REJECT)."""
    missing = [file_problem(c, RULE_COLUMN_PRESENT) for c in COLUMNS if c not in header]
    extra = [file_problem(c, RULE_NO_EXTRA_COLUMN) for c in header if c not in COLUMNS]
    return missing + extra


def drop_rule_masks(frame: pd.DataFrame) -> list[tuple[str, str, np.ndarray]]:
    """(column, rule, rows breaking it) for each DROP rule, on typed columns."""
    origin_return_set = (frame[RETURN_ORIGIN] != NO_RETURN_PLACE).to_numpy()
    destination_return_set = (frame[RETURN_DESTINATION] != NO_RETURN_PLACE).to_numpy()
    company_return_set = (frame[RETURN_COMPANY] != NO_RETURN_COMPANY).to_numpy()
    all_set = origin_return_set & destination_return_set & company_return_set
    none_set = ~origin_return_set & ~destination_return_set & ~company_return_set
    gmv = frame[GMV].to_numpy(dtype=np.float64, na_value=np.nan)
    tickets = frame[TICKETS].to_numpy(dtype=np.float64, na_value=np.nan)
    return [
        (
            DESTINATION,
            RULE_DESTINATION_DIFFERS,
            (frame[ORIGIN] == frame[DESTINATION]).to_numpy(),
        ),
        (RETURN_ORIGIN, RULE_RETURN_LEG_CONSISTENT, ~(all_set | none_set)),
        (GMV, RULE_GMV_POSITIVE, gmv <= 0),
        (TICKETS, RULE_TICKETS_POSITIVE, tickets < 1),
        (TICKETS, RULE_ROUND_TRIP_TICKETS, all_set & (tickets == 1)),
    ]


def _drop_problems(
    frame: pd.DataFrame, row_numbers: np.ndarray
) -> tuple[list[Problem], np.ndarray]:
    masks = drop_rule_masks(frame)
    problems = [
        problem
        for column, rule, mask in masks
        if (problem := problem_for_rows(column, rule, Severity.DROP, mask, row_numbers))
    ]
    dropped = np.zeros(len(frame), dtype=bool)
    for _, _, mask in masks:
        dropped |= mask
    return problems, dropped


def validate_text_frame(
    raw: pd.DataFrame, row_numbers: np.ndarray, *, today: date | None = None
) -> ValidationReport:
    """Validates a frame read as text (every cell a string), with its file row numbers."""
    problems = column_problems(list(raw.columns))
    if len(raw) == 0:
        problems.append(file_problem(None, RULE_HAS_ROWS))
    if problems:
        return ValidationReport(rows=len(raw), problems=problems, dropped_rows=0)

    def add(column: str | None, rule: str, mask: np.ndarray) -> None:
        problem = problem_for_rows(column, rule, Severity.REJECT, mask, row_numbers)
        if problem:
            problems.append(problem)

    for column in (ORDER_ID, CUSTOMER_ID, ORIGIN, DESTINATION, COMPANY):
        add(column, RULE_VALUE_PRESENT, (raw[column].str.strip() == "").to_numpy())
    parsed = parse_purchases(raw)
    add(DATE, RULE_DATE_PARSES, parsed.unparseable[DATE])
    add(TIME, RULE_TIME_PARSES, parsed.unparseable[TIME])
    add(GMV, RULE_GMV_NUMERIC, parsed.unparseable[GMV])
    add(TICKETS, RULE_TICKETS_INTEGER, parsed.unparseable[TICKETS])
    add(ORDER_ID, RULE_UNIQUE_ORDER_ID, raw[ORDER_ID].duplicated(keep=False).to_numpy())
    limit = pd.Timestamp(today or date.today())
    add(DATE, RULE_NOT_FUTURE, (parsed.frame[DATE] > limit).to_numpy())
    earliest = pd.Timestamp(EARLIEST_PLAUSIBLE_DATE)
    add(DATE, RULE_NOT_ANCIENT, (parsed.frame[DATE] < earliest).to_numpy())

    drop_problems, dropped = _drop_problems(parsed.frame, row_numbers)
    problems.extend(drop_problems)
    if dropped.sum() > MAX_DROPPED_SHARE * len(raw):
        problems.append(file_problem(None, RULE_DROP_SHARE))
    return ValidationReport(rows=len(raw), problems=problems, dropped_rows=int(dropped.sum()))


def clean_purchases(frame: pd.DataFrame) -> tuple[pd.DataFrame, ValidationReport]:
    """Removes the rows that break a DROP rule from a canonical frame; counts them per rule.

    Row numbers in the report are 1-based positions in `frame`. Raises
    `DataValidationError` when more than half of the rows would go.
    """
    from mingo.data.errors import DataValidationError

    row_numbers = np.arange(1, len(frame) + 1)
    problems, dropped = _drop_problems(frame, row_numbers)
    if dropped.sum() > MAX_DROPPED_SHARE * len(frame):
        problems.append(file_problem(None, RULE_DROP_SHARE))
    report = ValidationReport(rows=len(frame), problems=problems, dropped_rows=int(dropped.sum()))
    if report.rejected:
        raise DataValidationError("purchases frame", report)
    return frame.loc[~dropped].reset_index(drop=True), report
