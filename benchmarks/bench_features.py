"""Feature build time at 100k and 1.74M orders (ClickBus scale), on generated purchases.

Prints a markdown table and writes it to benchmarks/results/features_training.md (section
"Feature build"); `bench_training` adds the "Training" section to the same file.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pandas as pd

from mingo.data import schema
from mingo.data.generate import generate_purchases
from mingo.features import customer_features, purchase_history, route_features, top_routes

RESULTS = Path(__file__).parent / "results" / "features_training.md"
# Customers giving ~100k and ~1.74M orders with the generator's ~3 orders per customer.
SCALES: dict[str, int] = {"100k orders": 33_500, "1.74M orders": 581_817}
SEED = 2024


def scaled_purchases(customers: int) -> pd.DataFrame:
    return generate_purchases(customers, SEED)


def write_section(title: str, table: str) -> None:
    """Replace (or add) one `## title` section of the results file, keeping the others."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    sections: dict[str, str] = {}
    if RESULTS.exists():
        for chunk in RESULTS.read_text().split("\n## ")[1:]:
            heading, _, body = chunk.partition("\n")
            sections[heading.strip()] = body.strip()
    sections[title] = table.strip()
    text = "# Feature build and training times\n\n" + "\n\n".join(
        f"## {heading}\n\n{body}" for heading, body in sections.items()
    )
    RESULTS.write_text(text + "\n")


def _seconds(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def load_average() -> str:
    """1/5/15-minute load averages: timings on shared cores mean little without them."""
    return "/".join(f"{value:.1f}" for value in os.getloadavg())


def main() -> None:
    lines = [
        "| data | orders | customers | history (s) | customer features (s) | top-50 routes (s) "
        "| route features (s) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, customers in SCALES.items():
        purchases = scaled_purchases(customers)
        as_of = purchases[schema.DATE].max().date() - timedelta(days=30)
        vocabulary = top_routes(purchases, as_of, 50)
        history_s = _seconds(lambda: purchase_history(purchases, as_of))  # noqa: B023
        features_s = _seconds(lambda: customer_features(purchases, as_of))  # noqa: B023
        vocabulary_s = _seconds(lambda: top_routes(purchases, as_of, 50))  # noqa: B023
        routes_s = _seconds(lambda: route_features(purchases, as_of, vocabulary))  # noqa: B023
        lines.append(
            f"| {label} | {len(purchases):,} | {purchases[schema.CUSTOMER_ID].nunique():,} "
            f"| {history_s:.2f} | {features_s:.2f} | {vocabulary_s:.2f} | {routes_s:.2f} |"
        )
        print(lines[-1], flush=True)
    table = "\n".join(lines) + (
        "\n\nOne call each, as of the last date minus 30 days; `customer features` includes "
        f"its own history step. 2 shared cores; load average at the end {load_average()}."
    )
    print(table)
    write_section("Feature build", table)


if __name__ == "__main__":
    main()
