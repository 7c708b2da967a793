"""Prediction log: what it costs the request path.

Two measurements, in one run, on this machine:

1. `PredictionLogWriter.submit` alone (what a request adds): p50/p99/max over many calls,
   with the writer thread writing to a file store, to a PostgreSQL URL where nothing listens
   (every batch fails, counted as store_error) and with a full queue (every call drops).
2. `ChampionPredictor.predict` (the service's request path minus HTTP: purchases -> features ->
   model -> answer, then the hand-off to the log) on a binary champion trained on generated
   data, with and without the log, requests interleaved A/B so machine noise hits both alike;
   1-customer and 100-customer requests. The background thread's own work (JSON, Parquet)
   shares the GIL with requests, so this is the overhead a request really sees.

`python -m benchmarks bench_prediction_log` rewrites benchmarks/results/prediction_log.md.
"""

from __future__ import annotations

import os
import socket
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

CUSTOMERS = 1_500
SEED = 7
AS_OF = date(2024, 4, 1)
SUBMITS = 20_000
PREDICT_ROUNDS = 200  # per variant and request size
REQUEST_SIZES = (1, 100)
RESULTS = Path(__file__).resolve().parent / "results" / "prediction_log.md"


def percentiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "p50": ordered[len(ordered) // 2] * 1e6,
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e6,
        "max": ordered[-1] * 1e6,
        "mean": statistics.fmean(ordered) * 1e6,
    }


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def time_submits(writer: Any, entry: Any, count: int) -> list[float]:
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        writer.submit(entry)
        timings.append(time.perf_counter() - started)
    return timings


def bench_submit(work: Path) -> list[tuple[str, dict[str, float], str]]:
    from mingo.monitoring.prediction_log import (
        FilePredictionStore,
        PostgresPredictionStore,
        PredictionLogWriter,
        ServedPredictions,
    )

    features = pd.DataFrame({"recency_days": [3.0], "frequency": [2.0]}, index=["c1"])
    entry = ServedPredictions(
        kind="binary",
        model_version="1",
        as_of=AS_OF,
        served_at=datetime.now(UTC),
        predictions=[{"customer_id": "c1", "probability": 0.4, "will_buy": False}],
        features=features,
    )
    rows = []
    cases: list[tuple[str, Callable[[], Any], int]] = [
        ("file store", lambda: FilePredictionStore(work / "submit"), 20_000),
        (
            "PostgreSQL down (closed port)",
            lambda: PostgresPredictionStore(f"postgresql://u:p@127.0.0.1:{closed_port()}/db"),
            20_000,
        ),
        ("queue full (every call drops)", lambda: FilePredictionStore(work / "full"), 100),
    ]
    for name, store, queue in cases:
        writer = PredictionLogWriter(store(), queue_records=queue, retry_pause_seconds=0.05)
        if queue == 100:
            time_submits(writer, entry, queue)  # fill it
        timings = time_submits(writer, entry, SUBMITS)
        writer.flush(20)
        writer.close(5)
        rows.append((name, percentiles(timings), f"written {writer.written}, {writer.dropped}"))
    return rows


def customer_payloads(purchases: pd.DataFrame) -> list[dict[str, Any]]:
    """The request's `customers` items, one per customer of a canonical purchases frame."""
    frame = purchases.copy()
    frame["date_purchase"] = frame["date_purchase"].dt.strftime("%Y-%m-%d")
    customers: dict[str, list[dict[str, Any]]] = {}
    for record in frame.to_dict("records"):
        customers.setdefault(str(record.pop("fk_contact")), []).append(
            {str(k): v for k, v in record.items()}
        )
    return [{"customer_id": cid, "purchases": rows} for cid, rows in customers.items()]


def bench_predict(work: Path) -> list[tuple[int, dict[str, float], dict[str, float], str]]:
    from mingo.data.generate import generate_purchases
    from mingo.models.api import ModelConfig, build_datasets, fit
    from mingo.monitoring.prediction_log import FilePredictionStore, PredictionLogWriter
    from mingo.serving.champion import LoadedChampion
    from mingo.serving.predictor import ChampionPredictor
    from mingo.serving.schemas import PredictRequest

    purchases = generate_purchases(CUSTOMERS, SEED)
    config = ModelConfig(kind="binary")
    model = fit(build_datasets(purchases, config)[0], config)
    champion = LoadedChampion("binary", "mingo-binary", "1", model)
    plain = ChampionPredictor("binary", lambda: champion)
    logged = ChampionPredictor("binary", lambda: champion)
    assert plain.try_load() and logged.try_load()
    store = FilePredictionStore(work / "predict")
    writer = PredictionLogWriter(store)
    logged.prediction_log = writer
    customers = customer_payloads(purchases)
    results = []
    for size in REQUEST_SIZES:
        requests = [
            PredictRequest.model_validate(
                {"customers": customers[i * size % len(customers) :][:size], "as_of": AS_OF}
            )
            for i in range(PREDICT_ROUNDS)
        ]
        for request in requests[:10]:  # warm-up
            plain.predict(request)
            logged.predict(request)
        without: list[float] = []
        with_log: list[float] = []
        for i, request in enumerate(requests):
            order = [(plain, without), (logged, with_log)]
            for predictor, timings in order if i % 2 == 0 else order[::-1]:
                started = time.perf_counter()
                predictor.predict(request)
                timings.append(time.perf_counter() - started)
        results.append((size, percentiles(without), percentiles(with_log), ""))
    writer.flush(60)
    writer.close(10)
    written = len(store.read("binary"))
    return [(s, a, b, f"{written} records written") for s, a, b, _ in results]


def main() -> None:
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-prediction-log-") as tmp:
        work = Path(tmp)
        submit_rows = bench_submit(work)
        predict_rows = bench_predict(work)
    lines = [
        "# Prediction log: cost on the request path",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load average "
        f"{load:.1f} at start (other test suites ran beside it). "
        "`python -m benchmarks bench_prediction_log`.",
        "",
        f"## `PredictionLogWriter.submit` ({SUBMITS:,} calls, 1-customer answers), microseconds",
        "",
        "| store | p50 | p99 | max | mean | outcome |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, p, outcome in submit_rows:
        lines.append(
            f"| {name} | {p['p50']:.1f} | {p['p99']:.1f} | {p['max']:.0f} | {p['mean']:.1f} | "
            f"{outcome} |"
        )
    lines += [
        "",
        f"## `ChampionPredictor.predict` with and without the log ({PREDICT_ROUNDS} requests "
        "each, interleaved), milliseconds",
        "",
        "| customers per request | p50 without | p50 with | p99 without | p99 with | "
        "mean without | mean with | mean overhead |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, a, b, _ in predict_rows:
        overhead = (b["mean"] - a["mean"]) / a["mean"] * 100
        lines.append(
            f"| {size} | {a['p50'] / 1e3:.2f} | {b['p50'] / 1e3:.2f} | {a['p99'] / 1e3:.2f} | "
            f"{b['p99'] / 1e3:.2f} | {a['mean'] / 1e3:.2f} | {b['mean'] / 1e3:.2f} | "
            f"{overhead:+.1f}% |"
        )
    lines += ["", f"File store: {predict_rows[-1][3]}.", ""]
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
