"""Validation rules on frames: what is rejected, what is dropped and how it is reported."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from mingo.data import rules, schema
from mingo.data.convert import parse_gmv, parse_times
from mingo.data.errors import DataValidationError
from mingo.data.generate import dirty_row_allocation, generate_purchases
from mingo.data.rules import (
    RULE_GMV_IN_RANGE,
    RULE_RETURN_LEG_CONSISTENT,
    RULE_ROUND_TRIP_TICKETS,
    RULE_TICKETS_IN_RANGE,
    RULE_VALUE_LENGTH,
    RULE_VALUE_PRESENT,
    broken_drop_rules,
)
from mingo.data.validate import (
    DROP_RULE_BY_DIRTY_KIND,
    RULE_DATE_PARSES,
    RULE_GMV_POSITIVE,
    RULE_TICKETS_POSITIVE,
    RULE_UNIQUE_ORDER_ID,
    Problem,
    Severity,
    clean_purchases,
    drop_rule_masks,
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


def test_future_dates_are_judged_against_today_with_a_day_of_slack(
    purchases: pd.DataFrame,
) -> None:
    report = validate_text_frame(as_text(purchases), rows_of(purchases), today=date(2020, 1, 1))
    future = [problem for problem in report.problems if problem.column == schema.DATE]
    assert len(future) == 1
    assert future[0].rule == rules.RULE_NOT_FUTURE
    assert future[0].row_count == int((purchases[schema.DATE] > "2020-01-02").sum())
    frame = purchases.head(5).copy()
    frame.loc[[1], schema.DATE] = pd.Timestamp("2020-01-02")
    frame.loc[[2], schema.DATE] = pd.Timestamp("2020-01-03")
    tomorrow = validate_text_frame(as_text(frame), rows_of(frame), today=date(2020, 1, 1))
    assert [(p.rule, p.first_rows) for p in tomorrow.problems] == [(rules.RULE_NOT_FUTURE, [3])]


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        (schema.GMV, "100000.01", RULE_GMV_IN_RANGE),
        (schema.GMV, "-250000", RULE_GMV_IN_RANGE),
        (schema.GMV, "1e300", RULE_GMV_IN_RANGE),
        (schema.TICKETS, "10001", RULE_TICKETS_IN_RANGE),
        (schema.TICKETS, "99999999999999999999999", RULE_TICKETS_IN_RANGE),
        (schema.ORDER_ID, "a" * (rules.MAX_ID_LENGTH + 1), RULE_VALUE_LENGTH),
        (schema.RETURN_COMPANY, "", RULE_VALUE_PRESENT),
        (schema.RETURN_ORIGIN, "  ", RULE_VALUE_PRESENT),
    ],
)
def test_out_of_range_values_reject_the_file_naming_column_rule_and_row(
    purchases: pd.DataFrame, column: str, value: str, rule: str
) -> None:
    text = as_text(purchases)
    text.loc[[6], column] = value
    report = validate_text_frame(text, rows_of(text))
    assert report.rejected
    assert [(p.column, p.rule, p.first_rows) for p in report.rejecting_problems()] == [
        (column, rule, [7])
    ]


def test_the_largest_plausible_order_is_accepted(purchases: pd.DataFrame) -> None:
    text = as_text(purchases)
    text.loc[[6], schema.GMV] = repr(rules.MAX_GMV)
    text.loc[[7], schema.TICKETS] = str(rules.MAX_TICKETS)
    text.loc[[8], schema.ORDER_ID] = "b" * rules.MAX_ID_LENGTH
    assert validate_text_frame(text, rows_of(text)).problems == []


def test_one_way_orders_with_a_return_company_id_are_kept(purchases: pd.DataFrame) -> None:
    one_way_with_company = (purchases[schema.RETURN_ORIGIN] == schema.NO_RETURN_PLACE) & (
        purchases[schema.RETURN_COMPANY] != schema.NO_RETURN_COMPANY
    )
    assert one_way_with_company.sum() >= 3  # the generator makes ~1.5% of them
    report = validate_text_frame(as_text(purchases), rows_of(purchases))
    assert report.problems == []
    cleaned, clean_report = clean_purchases(purchases)
    assert clean_report.dropped_rows == 0
    kept = set(cleaned[schema.ORDER_ID])
    assert set(purchases.loc[one_way_with_company, schema.ORDER_ID]) <= kept


COMPANY_ID = "c" * 64
PLACE_A, PLACE_B = "a" * 64, "b" * 64


@pytest.mark.parametrize(
    ("return_origin", "return_destination", "return_company", "tickets", "broken"),
    [
        ("0", "0", "1", 1, []),
        ("0", "0", COMPANY_ID, 1, []),  # one-way, the return company is noise: kept
        (PLACE_B, PLACE_A, COMPANY_ID, 2, []),
        (PLACE_B, "0", "1", 2, [RULE_RETURN_LEG_CONSISTENT]),
        ("0", PLACE_A, COMPANY_ID, 2, [RULE_RETURN_LEG_CONSISTENT]),
        (PLACE_B, PLACE_A, "1", 2, [RULE_RETURN_LEG_CONSISTENT]),
        (PLACE_B, PLACE_A, COMPANY_ID, 1, [RULE_ROUND_TRIP_TICKETS]),
    ],
)
def test_return_leg_rules_on_a_frame_and_on_one_purchase_agree(
    purchases: pd.DataFrame,
    return_origin: str,
    return_destination: str,
    return_company: str,
    tickets: int,
    broken: list[str],
) -> None:
    frame = purchases.head(1).copy()
    frame[schema.ORIGIN] = PLACE_A
    frame[schema.DESTINATION] = PLACE_B
    frame[schema.RETURN_ORIGIN] = return_origin
    frame[schema.RETURN_DESTINATION] = return_destination
    frame[schema.RETURN_COMPANY] = return_company
    frame[schema.TICKETS] = tickets
    on_frame = [rule for _, rule, mask in drop_rule_masks(frame) if mask[0]]
    on_row = [rule.rule for rule in broken_drop_rules(frame.iloc[0].to_dict())]
    assert on_frame == on_row == broken


def test_every_dirty_row_breaks_the_same_rules_row_by_row_as_column_wise() -> None:
    dirty = generate_purchases(300, seed=3, dirty_rows=40)
    dirty.loc[[5, 9], schema.TICKETS] = [0, -2]
    masks = drop_rule_masks(dirty)
    records = dirty.to_dict("records")
    for index, record in enumerate(records):
        row_wise = [rule.rule for rule in broken_drop_rules(record)]
        column_wise = [rule for _, rule, mask in masks if mask[index]]
        assert row_wise == column_wise, (index, record)
    assert sum(1 for record in records if broken_drop_rules(record)) == 40 + 2


def test_time_and_gmv_parsing_accepts_real_variants() -> None:
    times = parse_times(pd.Series(["7:05:09", "23:59:59", "24:00:00", "12:60:00", ""]))
    assert times.tolist()[:2] == ["07:05:09", "23:59:59"]
    assert times.iloc[2:].isna().all()
    gmv = parse_gmv(pd.Series(["113,45", "1.5", "-3", "nan", "inf", "12a"]))
    assert gmv.tolist()[:3] == [113.45, 1.5, -3.0]
    assert gmv.iloc[3:].isna().all()
