"""Validation of ClickBus purchase files: which rows break which rule, and what happens then.

The row rules themselves (bounds, patterns, rule names, the DROP rules) live in
`mingo.data.rules`, shared with the prediction services; this module applies them to whole
files, column by column. Every problem names a column, a rule, how many rows break it and the
first offending row numbers (1-based data rows as in the file, header excluded). Its severity
is one of:

REJECT: the file is unusable and nothing is trained on it (`mingo data validate`,
`mingo train` and `mingo evaluate` exit 2):
- a schema column is missing, or a column outside the schema is present;
- a Parquet column holds lists, structs, maps or binary values (`mingo.data.io`);
- the file is empty, or has a header and no data row;
- a row has a different number of fields than the header;
- an id, place or company value is empty or longer than `rules.MAX_ID_LENGTH`;
- `date_purchase` does not parse as YYYY-MM-DD or DD/MM/YYYY;
- `time_purchase` does not parse as HH:MM:SS;
- `gmv_success` is not a finite number or lies outside +-`rules.MAX_GMV` BRL;
- `total_tickets_quantity_success` is not a whole number or lies outside
  +-`rules.MAX_TICKETS`;
- an order id appears more than once;
- a date lies after tomorrow or before 2000-01-01 (a clock or format mix-up: ClickBus sold
  its first tickets in 2013, and nothing else in such a file can be trusted).
These say the export itself is broken: a wrong delimiter, shifted columns, a different file,
values in cents or an overflow.

DROP: the row describes an impossible order; the row is removed and counted per rule, the
rest of the file is used (the real file has a few thousand such rows among 1.74M):
- `place_destination_departure` equals `place_origin_departure` (a trip that goes nowhere);
- an inconsistent return leg: exactly one return place is "0", or both return places are set
  while the return company is the sentinel "1". A one-way order (both return places "0")
  whose return company holds a company id is an ordinary one-way order and is KEPT (about
  1.5% of the real orders);
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

import numpy as np
import pandas as pd

from mingo.data import rules
from mingo.data.convert import parse_purchases
from mingo.data.errors import DataValidationError
from mingo.data.problems import Problem, Severity, ValidationReport
from mingo.data.rules import (
    EARLIEST_PURCHASE_DATE,
    RULE_DATE_PARSES,
    RULE_DESTINATION_DIFFERS,
    RULE_GMV_IN_RANGE,
    RULE_GMV_NUMERIC,
    RULE_GMV_POSITIVE,
    RULE_NOT_ANCIENT,
    RULE_NOT_FUTURE,
    RULE_RETURN_LEG_CONSISTENT,
    RULE_ROUND_TRIP_TICKETS,
    RULE_TICKETS_IN_RANGE,
    RULE_TICKETS_INTEGER,
    RULE_TICKETS_POSITIVE,
    RULE_TIME_PARSES,
    RULE_UNIQUE_ORDER_ID,
    RULE_VALUE_LENGTH,
    RULE_VALUE_PRESENT,
)
from mingo.data.schema import COLUMNS, DATE, GMV, ORDER_ID, TICKETS, TIME

FIRST_ROWS_SHOWN = 5
MAX_DROPPED_SHARE = 0.5

RULE_COLUMN_PRESENT = "column present"
RULE_NO_EXTRA_COLUMN = "column belongs to the schema"
RULE_HAS_ROWS = "file has a header and at least one data row"
RULE_FIELD_COUNT = "row has as many fields as the header"
RULE_DROP_SHARE = "at most half of the rows dropped"
EARLIEST_PLAUSIBLE_DATE = EARLIEST_PURCHASE_DATE

__all__ = [
    "DROP_RULE_BY_DIRTY_KIND",
    "EARLIEST_PLAUSIBLE_DATE",
    "FIRST_ROWS_SHOWN",
    "MAX_DROPPED_SHARE",
    "RULE_COLUMN_PRESENT",
    "RULE_DATE_PARSES",
    "RULE_DESTINATION_DIFFERS",
    "RULE_DROP_SHARE",
    "RULE_FIELD_COUNT",
    "RULE_GMV_IN_RANGE",
    "RULE_GMV_NUMERIC",
    "RULE_GMV_POSITIVE",
    "RULE_HAS_ROWS",
    "RULE_NOT_ANCIENT",
    "RULE_NOT_FUTURE",
    "RULE_NO_EXTRA_COLUMN",
    "RULE_RETURN_LEG_CONSISTENT",
    "RULE_ROUND_TRIP_TICKETS",
    "RULE_TICKETS_INTEGER",
    "RULE_TICKETS_IN_RANGE",
    "RULE_TICKETS_POSITIVE",
    "RULE_TIME_PARSES",
    "RULE_UNIQUE_ORDER_ID",
    "RULE_VALUE_LENGTH",
    "RULE_VALUE_PRESENT",
    "Problem",
    "Severity",
    "ValidationReport",
    "clean_purchases",
    "column_problems",
    "drop_rule_masks",
    "file_problem",
    "problem_for_rows",
    "validate_text_frame",
]

# Which generator dirty kind each DROP rule catches (the generator's names).
DROP_RULE_BY_DIRTY_KIND: dict[str, str] = {
    "origin_equals_destination": RULE_DESTINATION_DIFFERS,
    "inconsistent_return_leg": RULE_RETURN_LEG_CONSISTENT,
    "nonpositive_gmv": RULE_GMV_POSITIVE,
    "single_ticket_round_trip": RULE_ROUND_TRIP_TICKETS,
}


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
    """(column, rule, rows breaking it) for each DROP rule of `rules.DROP_RULES`, on typed
    columns: the very functions serving applies to one purchase."""
    return [
        (rule.column, rule.rule, np.asarray(rule.broken(frame), dtype=bool))
        for rule in rules.DROP_RULES
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

    for column in rules.ID_COLUMNS:
        values = raw[column]
        add(column, RULE_VALUE_PRESENT, (values.str.strip() == "").to_numpy())
        add(column, RULE_VALUE_LENGTH, (values.str.len() > rules.MAX_ID_LENGTH).to_numpy())
    parsed = parse_purchases(raw)
    add(DATE, RULE_DATE_PARSES, parsed.unparseable[DATE])
    add(TIME, RULE_TIME_PARSES, parsed.unparseable[TIME])
    add(GMV, RULE_GMV_NUMERIC, parsed.unparseable[GMV])
    gmv = parsed.frame[GMV]
    add(GMV, RULE_GMV_IN_RANGE, (gmv.notna() & ~rules.gmv_in_range(gmv)).to_numpy())
    add(TICKETS, RULE_TICKETS_INTEGER, parsed.unparseable[TICKETS])
    tickets = parsed.frame[TICKETS]
    add(
        TICKETS,
        RULE_TICKETS_IN_RANGE,
        (tickets.notna() & ~rules.tickets_in_range(tickets)).to_numpy(),
    )
    add(ORDER_ID, RULE_UNIQUE_ORDER_ID, raw[ORDER_ID].duplicated(keep=False).to_numpy())
    latest = pd.Timestamp(rules.latest_purchase_date(today))
    add(DATE, RULE_NOT_FUTURE, (parsed.frame[DATE] > latest).to_numpy())
    earliest = pd.Timestamp(EARLIEST_PURCHASE_DATE)
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
    row_numbers = np.arange(1, len(frame) + 1)
    problems, dropped = _drop_problems(frame, row_numbers)
    if dropped.sum() > MAX_DROPPED_SHARE * len(frame):
        problems.append(file_problem(None, RULE_DROP_SHARE))
    report = ValidationReport(rows=len(frame), problems=problems, dropped_rows=int(dropped.sum()))
    if report.rejected:
        raise DataValidationError("purchases frame", report)
    return frame.loc[~dropped].reset_index(drop=True), report
