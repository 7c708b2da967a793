"""Training time per model at 100k and 1.74M orders, on generated purchases.

For each scale and model kind: time to build the out-of-time datasets, to fit, and to score
the holdout, plus the holdout metrics next to the baseline's. Prints a markdown table and
writes it to benchmarks/results/features_training.md (section "Training").
"""

from __future__ import annotations

import time
from typing import Any

from threadpoolctl import threadpool_limits

from benchmarks.bench_features import SCALES, load_average, scaled_purchases, write_section
from mingo import MODEL_KINDS
from mingo.models import ModelConfig, baseline_metrics, build_datasets, fit, score

HEADLINE_METRIC = {"binary": "roc_auc", "multiclass": "top_3_accuracy", "clustering": "silhouette"}


def _timed(action: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def main() -> None:
    # One OpenMP thread: on 2 cores shared with other jobs, the boosted trees' threads spin
    # and fit/score run several times slower than single-threaded (seen: 79 s vs ~10 s).
    with threadpool_limits(limits=1):
        _run()


def _run() -> None:
    lines = [
        "| data | orders | model | train rows | holdout rows | datasets (s) | fit (s) | score (s) "
        "| accuracy / silhouette | headline metric | model | baseline |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for label, customers in SCALES.items():
        purchases = scaled_purchases(customers)
        for kind in MODEL_KINDS:
            config = ModelConfig(kind=kind)
            (train, holdout), datasets_s = _timed(lambda: build_datasets(purchases, config))  # noqa: B023
            model, fit_s = _timed(lambda: fit(train, config))  # noqa: B023
            metrics, score_s = _timed(lambda: score(model, holdout))  # noqa: B023
            baseline = baseline_metrics(train, holdout, config)
            first = "silhouette" if kind == "clustering" else "accuracy"
            headline = HEADLINE_METRIC[kind]
            lines.append(
                f"| {label} | {len(purchases):,} | {kind} | {len(train.features):,} "
                f"| {len(holdout.features):,} | {datasets_s:.1f} | {fit_s:.1f} | {score_s:.1f} "
                f"| {metrics[first]:.3f} | {headline} | {metrics[headline]:.3f} "
                f"| {baseline[headline]:.3f} |"
            )
            print(lines[-1], flush=True)
            print(f"    {kind} model {metrics}\n    {kind} baseline {baseline}", flush=True)
    table = "\n".join(lines) + (
        "\n\nDefault `ModelConfig` per kind (binary H=30 with 6 stacked training snapshots, "
        "multiclass: each customer's history routes, their reverses and 50 popular routes as "
        "candidates, a 180-day window, at most 5,000 customers per training snapshot, metrics on "
        "the served routes; clustering k by silhouette over 3..8). "
        "Rows are customers (binary and multiclass: one per customer and training snapshot). "
        "One OpenMP thread; 2 shared cores; timings between runs vary by ~25% or more when "
        f"other jobs run; load average at the end {load_average()}."
    )
    print(table)
    write_section("Training", table)


if __name__ == "__main__":
    main()
