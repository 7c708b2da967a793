"""Synthetic purchases at ClickBus scale (580,000 customers, ~1.74M orders).

Measures generation (seconds, rows/s, peak RSS), writing Parquet and CSV with the
project's writer (pyarrow), loading the CSV back with validation, and, as the
alternative a user would reach for, writing the same CSV with `pandas.DataFrame.to_csv`.
Prints a markdown table and writes it to benchmarks/results/generate.md.
"""

from __future__ import annotations

import os
import platform
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from mingo.data.generate import generate_purchases
from mingo.data.io import load_purchases, save_purchases

RESULTS = Path(__file__).parent / "results" / "generate.md"
FULL_SCALE_CUSTOMERS = 580_000
SEED = 42

Value = TypeVar("Value")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass(frozen=True)
class Timing:
    wall_s: float
    cpu_s: float  # this process's CPU time: stable when other work shares the cores


def timed(action: Callable[[], Value]) -> tuple[Value, Timing]:
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    value = action()
    return value, Timing(time.perf_counter() - wall_start, time.process_time() - cpu_start)


def row(step: str, timing: Timing, rows: int, notes: str = "") -> str:
    return (
        f"| {step} | {timing.wall_s:.1f} | {timing.cpu_s:.1f} "
        f"| {rows / timing.wall_s:,.0f} | {notes} |"
    )


def main() -> None:
    frame, generate_s = timed(lambda: generate_purchases(FULL_SCALE_CUSTOMERS, SEED))
    rows = len(frame)
    generate_peak_mb = peak_rss_mb()
    with tempfile.TemporaryDirectory(prefix="mingo-bench-generate-") as directory:
        parquet_path = Path(directory) / "purchases.parquet"
        csv_path = Path(directory) / "purchases.csv"
        pandas_csv_path = Path(directory) / "purchases-pandas.csv"
        _, parquet_s = timed(lambda: save_purchases(frame, str(parquet_path)))
        _, csv_s = timed(lambda: save_purchases(frame, str(csv_path)))
        # pandas writes midnight-only datetimes as YYYY-MM-DD: the same file content.
        _, pandas_csv_s = timed(lambda: frame.to_csv(pandas_csv_path, index=False))
        csv_mb = csv_path.stat().st_size / 2**20
        parquet_mb = parquet_path.stat().st_size / 2**20
        _, load_csv_s = timed(lambda: load_purchases(str(csv_path)))
        _, load_parquet_s = timed(lambda: load_purchases(str(parquet_path)))
    customers = FULL_SCALE_CUSTOMERS
    table = "\n".join(
        [
            f"Generated {rows:,} orders for {customers:,} customers "
            f"({rows / customers:.2f} orders per customer), seed {SEED}; "
            f"Python {platform.python_version()}, {platform.machine()}, "
            f"{os.cpu_count()} cores (shared: wall time includes waiting for them).",
            "",
            "| step | wall s | CPU s | rows/s (wall) | notes |",
            "|---|---:|---:|---:|---|",
            row("generate (in memory)", generate_s, rows, f"peak RSS {generate_peak_mb:,.0f} MB"),
            row("write Parquet (zstd)", parquet_s, rows, f"{parquet_mb:,.0f} MB"),
            row("write CSV (pyarrow writer, ours)", csv_s, rows, f"{csv_mb:,.0f} MB"),
            row(
                "write CSV (pandas `to_csv`, alternative)",
                pandas_csv_s,
                rows,
                f"{pandas_csv_s.wall_s / csv_s.wall_s:.1f}x the wall time of ours, "
                f"{pandas_csv_s.cpu_s / csv_s.cpu_s:.1f}x the CPU",
            ),
            row("load + validate CSV", load_csv_s, rows),
            row("load + validate Parquet", load_parquet_s, rows),
            "",
            f"Peak RSS of the whole run: {peak_rss_mb():,.0f} MB.",
        ]
    )
    print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("# Synthetic purchases at ClickBus scale\n\n" + table + "\n")


if __name__ == "__main__":
    main()
