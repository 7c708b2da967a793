"""`generate_purchases(..., shift_after=DATE)` and `mingo data generate --shift-after`: the
customers' rhythm changes after the date, and only then."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mingo.cli.app import app
from mingo.data import schema
from mingo.data.generate import SHIFT_MIN_GAP_DAYS, generate_purchases
from mingo.data.io import load_purchases

CUSTOMERS = 4000
SEED = 21
SHIFT = date(2023, 6, 1)
HORIZON = pd.Timedelta(days=30)


@pytest.fixture(scope="module")
def unshifted() -> pd.DataFrame:
    return generate_purchases(CUSTOMERS, SEED)


@pytest.fixture(scope="module")
def shifted() -> pd.DataFrame:
    return generate_purchases(CUSTOMERS, SEED, shift_after=SHIFT)


def _days_per_customer(frame: pd.DataFrame) -> pd.Series:
    return frame.groupby(schema.CUSTOMER_ID)[schema.DATE].apply(lambda d: sorted(d))


def _gaps_ending(frame: pd.DataFrame, after: bool) -> pd.Series:
    """Days between consecutive purchases of a customer, for gaps ending after SHIFT (or not)."""
    ordered = frame.sort_values([schema.CUSTOMER_ID, schema.DATE])
    gaps = ordered.groupby(schema.CUSTOMER_ID)[schema.DATE].diff().dt.days
    ends_after = ordered[schema.DATE] > pd.Timestamp(SHIFT)
    return gaps[gaps.notna() & (ends_after if after else ~ends_after)]


def _recent_buyers_buying_again(frame: pd.DataFrame, cutoff: pd.Timestamp) -> float:
    """Share of the customers who bought in the 30 days up to `cutoff` who buy in the next 30."""
    dates = frame[schema.DATE]
    recent = frame.loc[(dates > cutoff - HORIZON) & (dates <= cutoff), schema.CUSTOMER_ID]
    next_buyers = frame.loc[(dates > cutoff) & (dates <= cutoff + HORIZON), schema.CUSTOMER_ID]
    return float(np.isin(recent.unique(), next_buyers.unique()).mean())


def test_after_the_shift_no_customer_buys_again_within_the_minimum_gap(
    shifted: pd.DataFrame, unshifted: pd.DataFrame
) -> None:
    after = _gaps_ending(shifted, after=True)
    assert len(after) > 500
    assert after.min() >= SHIFT_MIN_GAP_DAYS
    # Without the shift (and before it) short gaps are common: the shift is what removes them.
    assert (_gaps_ending(unshifted, after=True) < SHIFT_MIN_GAP_DAYS).mean() > 0.3
    assert (_gaps_ending(shifted, after=False) < SHIFT_MIN_GAP_DAYS).mean() > 0.3


def test_a_recent_purchase_stops_predicting_the_next_one(
    shifted: pd.DataFrame, unshifted: pd.DataFrame
) -> None:
    """What the binary model learns before the shift is wrong after it."""
    before = pd.Timestamp(SHIFT) - 2 * HORIZON
    after = pd.Timestamp(SHIFT) + 3 * HORIZON
    assert _recent_buyers_buying_again(shifted, before) > 0.1
    assert _recent_buyers_buying_again(unshifted, after) > 0.1
    assert _recent_buyers_buying_again(shifted, after) == 0.0


def test_purchase_days_up_to_the_shift_are_unchanged(
    shifted: pd.DataFrame, unshifted: pd.DataFrame
) -> None:
    cut = pd.Timestamp(SHIFT)
    assert shifted[schema.CUSTOMER_ID].nunique() == CUSTOMERS
    pd.testing.assert_series_equal(
        _days_per_customer(shifted[shifted[schema.DATE] <= cut]),
        _days_per_customer(unshifted[unshifted[schema.DATE] <= cut]),
    )
    # Later purchases move later, so fewer of them fit before the end of the file.
    assert (shifted[schema.DATE] > cut).sum() < (unshifted[schema.DATE] > cut).sum()


def test_shift_is_deterministic_by_seed(shifted: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(shifted, generate_purchases(CUSTOMERS, SEED, shift_after=SHIFT))
    other = generate_purchases(300, SEED + 1, shift_after=SHIFT)
    assert not set(other[schema.CUSTOMER_ID]) & set(shifted[schema.CUSTOMER_ID])


def test_no_shift_is_the_default(unshifted: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(unshifted, generate_purchases(CUSTOMERS, SEED, shift_after=None))


def test_shift_outside_the_date_range_is_refused() -> None:
    with pytest.raises(ValueError, match="shift_after"):
        generate_purchases(10, SEED, shift_after=date(2030, 1, 1))


def test_cli_shift_after_writes_the_shifted_data(tmp_path: Path) -> None:
    runner = CliRunner()
    target = tmp_path / "shifted.parquet"
    result = runner.invoke(
        app,
        [
            *("data", "generate", "--customers", "300", "--seed", "3"),
            *("--shift-after", "2023-06-01", "--out", str(target)),
        ],
    )
    assert result.exit_code == 0, result.output
    expected = generate_purchases(300, 3, shift_after=SHIFT)
    pd.testing.assert_frame_equal(
        load_purchases(str(target)).reset_index(drop=True), expected.reset_index(drop=True)
    )
    bad = runner.invoke(
        app,
        ["data", "generate", "--customers", "30", "--shift-after", "June", "--out", str(target)],
    )
    assert bad.exit_code == 2
    assert "--shift-after" in bad.output
