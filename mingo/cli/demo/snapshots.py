"""The demo's data: one synthetic purchase history, seen at two scheduled runs.

The first run sees the history up to an earlier date, the next run the same history a few
weeks later, as a scheduled retraining would: every order of the first snapshot is also in
the second, and the second adds the orders placed since.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from mingo.data import schema
from mingo.data.generate import DEFAULT_END, generate_purchases


@dataclass(frozen=True)
class Snapshot:
    """One data file the demo trains on."""

    path: Path
    end: date
    rows: int
    customers: int

    @property
    def uri(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class DemoData:
    purchases: pd.DataFrame
    first: Snapshot
    second: Snapshot


def write_snapshot(purchases: pd.DataFrame, end: date, path: Path) -> Snapshot:
    """Orders on or before `end`, as a ClickBus-shaped CSV (`YYYY-MM-DD` dates)."""
    visible = purchases[purchases[schema.DATE] <= pd.Timestamp(end)]
    path.parent.mkdir(parents=True, exist_ok=True)
    visible.to_csv(path, index=False, date_format="%Y-%m-%d")
    return Snapshot(
        path=path, end=end, rows=len(visible), customers=int(visible[schema.CUSTOMER_ID].nunique())
    )


def make_demo_data(customers: int, seed: int, directory: Path, weeks_between_runs: int) -> DemoData:
    """Generate the history once and write the two snapshots the scheduled runs see."""
    if weeks_between_runs < 1:
        raise ValueError(f"weeks_between_runs must be >= 1, got {weeks_between_runs}")
    purchases = generate_purchases(customers, seed)
    second_end = min(DEFAULT_END, purchases[schema.DATE].max().date())
    first_end = second_end - timedelta(weeks=weeks_between_runs)
    first = write_snapshot(purchases, first_end, directory / f"purchases-{first_end}.csv")
    second = write_snapshot(purchases, second_end, directory / f"purchases-{second_end}.csv")
    return DemoData(purchases=purchases, first=first, second=second)
