"""Validation rules on frames: what is rejected, what is dropped and how it is reported."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from mingo.data import schema
from mingo.data.convert import parse_gmv, parse_times
from mingo.data.errors import DataValidationError
from mingo.data.generate import dirty_row_allocation, generate_purchases
from mingo.data.validate import (
    DROP_RULE_BY_DIRTY_KIND,
    RULE_DATE_PARSES,
    RULE_GMV_POSITIVE,
    RULE_TICKETS_POSITIVE,
    RULE_UNIQUE_ORDER_ID,
    Problem,
    Severity,
    clean_purchases,
    validate_text_frame,
)


@pytest.fixture(scope="module")
def purchases() -> pd.DataFrame:
    return generate_purchases(400, seed=17)


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as a CSV reader yields it: every cell a string."""
    return frame.assign(
        **{
            schema.DATE: frame[schema.DATE].dt.strftime("%Y-%m-%d"),
            schema.GMV: frame[schema.GMV].map(repr),
            schema.TICKETS: frame[schema.TICKETS].map(str),
        }
    ).astype("str")


def rows_of(frame: pd.DataFrame) -> np.ndarray:
    return np.arange(1, len(frame) + 1)


def test_generated_frame_has_no_problem(purchases: pd.DataFrame) -> None:
    report = validate_text_frame(as_text(purchases), rows_of(purchases))
    assert report.problems == []
    assert not report.rejected
    cleaned, clean_report = clean_purchases(purchases)
    assert clean_report.dropped_rows == 0
    pd.testing.assert_frame_equal(cleaned, purchases)


def test_clean_purchases_drops_each_dirty_kind_and_counts_it() -> None:
    dirty = generate_purchases(400, seed=17, dirty_rows=60)
    cleaned, report = clean_purchases(dirty)
    expected = {
        DROP_RULE_BY_DIRTY_KIND[kind]: count for kind, count in dirty_row_allocation(60).items()
    }
    assert report.dropped_by_rule() == expected
    assert report.dropped_rows == 60
    assert len(cleaned) == len(dirty) - 60
    assert (cleaned[schema.ORIGIN] != cleaned[schema.DESTINATION]).all()
    assert (cleaned[schema.GMV] > 0).all()
    assert all(problem.severity is Severity.DROP for problem in report.problems)


def test_negative_gmv_and_zero_tickets_are_dropped_not_rejected(
    purchases: pd.DataFrame,
) -> None:
    frame = purchases.copy()
    frame.loc[[3, 8], schema.GMV] = [-12.5, 0.0]
    frame.loc[[5], schema.TICKETS] = 0
    report = validate_text_frame(as_text(frame), rows_of(frame))
    assert not report.rejected
    assert report.dropped_by_rule() == {RULE_GMV_POSITIVE: 2, RULE_TICKETS_POSITIVE: 1}
    cleaned, _ = clean_purchases(frame)
    assert len(cleaned) == len(frame) - 3


def test_dropping_most_rows_rejects_instead(purchases: pd.DataFrame) -> None:
    frame = purchases.assign(**{schema.DESTINATION: purchases[schema.ORIGIN]})
    with pytest.raises(DataValidationError, match="at most half of the rows dropped"):
        clean_purchases(frame)


def test_problem_rows_are_counted_and_listed(purchases: pd.DataFrame) -> None:
    text = as_text(purchases)
    text.loc[[4, 16, 21], schema.DATE] = ["2020-13-01", "31/02/2020", "yesterday"]
    text.loc[[30, 31], schema.ORDER_ID] = text.loc[10, schema.ORDER_ID]
    report = validate_text_frame(text, rows_of(text))
    by_rule = {problem.rule: problem for problem in report.problems}
    assert by_rule[RULE_DATE_PARSES] == Problem(
        column=schema.DATE,
        rule=RULE_DATE_PARSES,
        severity=Severity.REJECT,
        row_count=3,
        first_rows=[5, 17, 22],
    )
    assert by_rule[RULE_DATE_PARSES].message() == (
        "column 'date_purchase': rule 'date parses as YYYY-MM-DD or DD/MM/YYYY': "
        "3 rows, first rows 5, 17, 22"
    )
    assert by_rule[RULE_UNIQUE_ORDER_ID].first_rows == [11, 31, 32]
    assert report.rejected


def test_future_dates_are_judged_against_today(purchases: pd.DataFrame) -> None:
    report = validate_text_frame(as_text(purchases), rows_of(purchases), today=date(2020, 1, 1))
    future = [problem for problem in report.problems if problem.column == schema.DATE]
    assert len(future) == 1
    assert future[0].row_count == int((purchases[schema.DATE] > "2020-01-01").sum())


def test_time_and_gmv_parsing_accepts_real_variants() -> None:
    times = parse_times(pd.Series(["7:05:09", "23:59:59", "24:00:00", "12:60:00", ""]))
    assert times.tolist()[:2] == ["07:05:09", "23:59:59"]
    assert times.iloc[2:].isna().all()
    gmv = parse_gmv(pd.Series(["113,45", "1.5", "-3", "nan", "inf", "12a"]))
    assert gmv.tolist()[:3] == [113.45, 1.5, -3.0]
    assert gmv.iloc[3:].isna().all()
