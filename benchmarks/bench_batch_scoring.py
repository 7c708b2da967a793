"""Batch scores at full scale: `mingo score` against one HTTP call per customer to the service.

Full ClickBus scale (the generated 1.74M orders of ~580k customers of `bench_features`). For
each KIND one model is registered as champion in a throw-away SQLite registry, then, in one
run:

- batch: `mingo score KIND --data purchases.parquet --out scores.parquet` as a process of its
  own, exactly as a user runs it; wall time, CPU time and peak resident memory of that
  process (its whole life: imports, model and data loading, scoring, writing);
- HTTP: the real BentoML service (`mingo serve KIND`, one worker, as `bench_serving` starts
  it) on the same champion; one `POST /predict` per customer (that customer's purchases up to
  the as-of date, `as_of` set) for a random sample of customers, serially and with several
  calls in flight. The time for every customer is extrapolated from the sample (per-customer
  time x customers), and said so; the ratio uses the faster of the two HTTP modes.

The sample's HTTP answers are compared with the batch's rows for the same customers (the
parity column). Models are trained on a subset of the customers: training cost is not what is
measured here, and scoring cost does not depend on how many customers a model was trained on
(fixed tree count and depth, fixed popular-route list, k centroids).

`python -m benchmarks.bench_batch_scoring [KIND ...]` (default: all three).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from benchmarks.bench_features import SCALES, load_average, scaled_purchases
from mingo import MODEL_KINDS, ModelKind, registered_model_name

RESULTS = Path(__file__).parent / "results" / "batch_scoring.md"
FULL_SCALE = "1.74M orders"
TRAIN_CUSTOMERS = 60_000  # the first customers by id; see the module docstring
HTTP_SAMPLE = 2_000  # calls per KIND: half one after the other, half with several in flight
HTTP_CONCURRENCY = 8
SAMPLE_SEED = 11
GOAL_SECONDS = 60.0
VENV_BIN = Path(sys.executable).parent
PIP_REQUIREMENTS = ["scikit-learn==1.9.1", "skops==0.16.0", "pandas", "numpy"]
SMALL_CONFIGS: dict[str, dict[str, Any]] = {"binary": {}, "multiclass": {}, "clustering": {}}
PROBABILITY_TOLERANCE = 1e-9
NOTES_MARKER = "<!-- notes -->"


@dataclass
class BatchRun:
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    summary: dict[str, Any]


@dataclass
class HttpRun:
    serial_calls: int
    serial_s: float
    concurrent_calls: int
    concurrent_s: float
    failures: int
    mismatches: int

    @property
    def calls(self) -> int:
        return self.serial_calls + self.concurrent_calls

    @property
    def serial_per_customer_s(self) -> float:
        return self.serial_s / self.serial_calls

    @property
    def concurrent_per_customer_s(self) -> float:
        return self.concurrent_s / self.concurrent_calls

    @property
    def best_per_customer_s(self) -> float:
        return min(self.serial_per_customer_s, self.concurrent_per_customer_s)


@dataclass
class KindResult:
    kind: ModelKind
    train_s: float
    batch: BatchRun
    http: HttpRun

    @property
    def http_all_s(self) -> float:
        return self.http.best_per_customer_s * int(self.batch.summary["customers"])


def register(kind: ModelKind, purchases: pd.DataFrame, tracking_uri: str, work: Path) -> float:
    """Train KIND on the first TRAIN_CUSTOMERS customers, make it the champion; seconds."""
    import mlflow
    import mlflow.sklearn
    from mlflow import MlflowClient

    from mingo.data import schema
    from mingo.models.api import SKOPS_TRUSTED_TYPES, ModelConfig, build_datasets, fit

    started = time.perf_counter()
    ids = np.sort(purchases[schema.CUSTOMER_ID].unique())[:TRAIN_CUSTOMERS]
    subset = purchases.loc[purchases[schema.CUSTOMER_ID].isin(ids)]
    config = ModelConfig(kind=kind, **SMALL_CONFIGS[kind])
    with threadpool_limits(limits=1):
        train, _ = build_datasets(subset, config)
        model = fit(train, config)
    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("bench-batch")
    experiment_id = (
        experiment.experiment_id
        if experiment is not None
        else client.create_experiment("bench-batch", artifact_location=(work / "art").as_uri())
    )
    name = registered_model_name(kind)
    with mlflow.start_run(experiment_id=experiment_id):
        info = mlflow.sklearn.log_model(
            model.estimator,
            name=kind,
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
            metadata=model.metadata,
            pip_requirements=PIP_REQUIREMENTS,
            registered_model_name=name,
        )
    client.set_registered_model_alias(name, "champion", str(info.registered_model_version))
    return time.perf_counter() - started


def environment(work: Path, tracking_uri: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MLFLOW_", "MINGO_", "AWS_"))
    }
    env.update(
        MLFLOW_TRACKING_URI=tracking_uri,
        MINGO_HOME=str(work / "home"),
        BENTOML_HOME=str(work / "bentoml"),
        BENTOML_DO_NOT_TRACK="true",
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


def run_batch(kind: ModelKind, data: Path, out: Path, env: dict[str, str], log: Path) -> BatchRun:
    """`mingo score` as its own process; wall, CPU and peak RSS from wait4 (that process)."""
    command = [str(VENV_BIN / "mingo"), "score", kind, "--data", str(data), "--out", str(out)]
    stdout = log.with_suffix(".stdout")
    started = time.perf_counter()
    with stdout.open("wb") as out_file, log.open("wb") as err_file:
        process = subprocess.Popen(command, env=env, stdout=out_file, stderr=err_file)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"mingo score {kind} exited {process.returncode}:\n{log.read_text()}")
    lines = [line for line in stdout.read_text().splitlines() if line.strip()]
    return BatchRun(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mib=usage.ru_maxrss / 1024,  # Linux: KiB
        summary=json.loads(lines[-1]),
    )


def request_bodies(
    purchases: pd.DataFrame, customers: list[str], as_of: date
) -> list[dict[str, Any]]:
    """One /predict body per customer: their purchases up to `as_of`, `as_of` set."""
    from mingo.data import schema

    day = purchases[schema.DATE].to_numpy().astype("datetime64[D]")
    mask = purchases[schema.CUSTOMER_ID].isin(customers).to_numpy() & (
        day <= np.datetime64(as_of, "D")
    )
    frame = purchases.loc[mask].copy()
    frame[schema.DATE] = frame[schema.DATE].dt.strftime("%Y-%m-%d")
    by_customer: dict[str, list[dict[str, Any]]] = {c: [] for c in customers}
    for record in frame.to_dict("records"):
        by_customer[str(record.pop(schema.CUSTOMER_ID))].append(
            {str(k): v for k, v in record.items()}
        )
    return [
        {"customers": [{"customer_id": c, "purchases": by_customer[c]}], "as_of": str(as_of)}
        for c in customers
    ]


async def post_concurrently(
    url: str, bodies: list[bytes], concurrency: int
) -> tuple[list[dict[str, Any]], int]:
    """(the 200 answers, the number of other answers)."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    answers: list[dict[str, Any]] = []
    failures = 0
    queue = list(range(len(bodies)))
    headers = {"Content-Type": "application/json"}
    async with httpx.AsyncClient(limits=limits, timeout=120, headers=headers) as client:

        async def worker() -> None:
            nonlocal failures
            while queue:
                response = await client.post(url, content=bodies[queue.pop()])
                if response.status_code == 200:
                    answers.append(response.json())
                else:
                    failures += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return answers, failures


def mismatches(kind: ModelKind, answers: list[dict[str, Any]], batch_rows: pd.DataFrame) -> int:
    """Customers whose HTTP answer differs from their batch row."""
    from mingo.scoring import prediction_table

    indexed = batch_rows.set_index("customer_id")
    wrong = 0
    for answer in answers:
        served = prediction_table(
            kind,
            answer["model"],
            answer["model_version"],
            indexed["as_of"].iloc[0],
            answer["predictions"],
        ).to_pylist()[0]
        stored = indexed.loc[served["customer_id"]].to_dict()
        stored["customer_id"] = served["customer_id"]
        wrong += not rows_equal(served, stored)
    return wrong


def rows_equal(served: dict[str, Any], stored: dict[str, Any]) -> bool:
    for column, value in served.items():
        other = stored[column]
        if isinstance(value, float) or isinstance(other, float):
            both_missing = (value is None or value != value) and (other is None or other != other)
            if not both_missing and (
                value is None or other is None or abs(value - other) > PROBABILITY_TOLERANCE
            ):
                return False
        elif value != other and not (value is None and other is None):
            return False
    return True


def run_http(
    kind: ModelKind,
    purchases: pd.DataFrame,
    scores: pd.DataFrame,
    env: dict[str, str],
    work: Path,
) -> HttpRun:
    from mingo.serving.process import LocalService, free_local_port, wait_until_ready

    as_of = date.fromisoformat(str(scores["as_of"].iloc[0]))
    rng = np.random.default_rng(SAMPLE_SEED)
    sample = sorted(rng.choice(scores["customer_id"].to_numpy(), HTTP_SAMPLE, replace=False))
    bodies = [json.dumps(b).encode() for b in request_bodies(purchases, sample, as_of)]
    service = LocalService(kind=kind, port=free_local_port(), log_path=work / f"{kind}-serve.log")
    service.start({**env, "OMP_NUM_THREADS": "1"})
    url = f"{service.url}/predict"
    headers = {"Content-Type": "application/json"}
    try:
        wait_until_ready([service], timeout_s=300)
        answers: list[dict[str, Any]] = []
        failures = 0
        half = len(bodies) // 2
        with httpx.Client(timeout=120, headers=headers) as client:
            for body in bodies[:20]:  # warm-up
                client.post(url, content=body).raise_for_status()
            started = time.perf_counter()
            for body in bodies[:half]:
                response = client.post(url, content=body)
                if response.status_code == 200:
                    answers.append(response.json())
                else:
                    failures += 1
            serial = time.perf_counter() - started
        started = time.perf_counter()
        concurrent_answers, concurrent_failures = asyncio.run(
            post_concurrently(url, bodies[half:], HTTP_CONCURRENCY)
        )
        concurrent = time.perf_counter() - started
    finally:
        service.stop()
    answers += concurrent_answers
    failures += concurrent_failures
    rows = scores.loc[scores["customer_id"].isin(sample)]
    return HttpRun(
        serial_calls=half,
        serial_s=serial,
        concurrent_calls=len(bodies) - half,
        concurrent_s=concurrent,
        failures=failures,
        mismatches=mismatches(kind, answers, rows) + failures,
    )


def report(results: list[KindResult], orders: int, customers: int, loads: list[str]) -> str:
    lines = [
        "# Batch scores at full scale",
        "",
        f"{orders:,} generated orders of {customers:,} customers (`bench_features` full scale, "
        f"seed of `scaled_purchases`), Parquet; Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} cores shared with other work (load average "
        f"1/5/15 min: {loads[0]} at the start, {loads[1]} at the end; wall times include "
        "waiting for the cores, CPU times do not).",
        "",
        "Command: `python -m benchmarks.bench_batch_scoring` (also run by `make bench`). Batch: "
        "`mingo score KIND --data purchases.parquet --out scores.parquet`, one process, its "
        "whole life (imports, model and data loading, validation, scoring, writing), default "
        "threads. HTTP: `mingo serve KIND`, one worker, OMP_NUM_THREADS=1; one `POST /predict` "
        f"per customer for {HTTP_SAMPLE:,} random customers (their purchases up to the as-of "
        f"date, `as_of` set), half of them one call after the other, half {HTTP_CONCURRENCY} "
        "calls in flight; **the HTTP time for "
        "every customer is extrapolated** from the faster mode's time per customer. Parity: "
        "sampled customers whose HTTP answer differs from their batch row (probabilities to "
        f"{PROBABILITY_TOLERANCE:g}).",
        "",
        "| KIND | customers scored | not scored | batch wall s | batch CPU s | batch peak RSS "
        "MiB | HTTP ms/customer serial | HTTP ms/customer, "
        f"{HTTP_CONCURRENCY} in flight | HTTP s for all (extrapolated) | HTTP / batch (wall) "
        f"| under {GOAL_SECONDS:.0f} s | parity |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in results:
        summary = r.batch.summary
        http = r.http
        lines.append(
            f"| {r.kind} | {summary['customers']:,} | {summary['unscored_customers']:,} "
            f"| {r.batch.wall_s:.1f} | {r.batch.cpu_s:.1f} | {r.batch.peak_rss_mib:,.0f} "
            f"| {1000 * http.serial_per_customer_s:.1f} "
            f"| {1000 * http.concurrent_per_customer_s:.1f} | {r.http_all_s:,.0f} "
            f"| **{r.http_all_s / r.batch.wall_s:.0f}x** "
            f"| {'yes' if r.batch.wall_s < GOAL_SECONDS else 'no'} "
            f"| {http.mismatches} of {http.calls} differ, {http.failures} non-200 |"
        )
    lines += [
        "",
        "Inside the batch process, the summary's `seconds` (from the start of the command's "
        "work, after Python's imports): "
        + ", ".join(f"{r.kind} {r.batch.summary['seconds']:.1f} s" for r in results)
        + ". As of: "
        + ", ".join(f"{r.kind} {r.batch.summary['as_of']}" for r in results)
        + ". Models trained on the first "
        f"{TRAIN_CUSTOMERS:,} customers (training s: "
        + ", ".join(f"{r.kind} {r.train_s:.0f}" for r in results)
        + ").",
        "",
    ]
    return "\n".join(lines)


def main(kinds: list[ModelKind] | None = None) -> None:
    from mingo.data import schema
    from mingo.data.io import save_purchases

    chosen = kinds or list(MODEL_KINDS)
    loads = [load_average()]
    purchases = scaled_purchases(SCALES[FULL_SCALE])
    customers = int(purchases[schema.CUSTOMER_ID].nunique())
    results: list[KindResult] = []
    with tempfile.TemporaryDirectory(prefix="mingo-bench-batch-") as tmp:
        work = Path(tmp)
        data = work / "purchases.parquet"
        save_purchases(purchases, str(data))
        tracking_uri = f"sqlite:///{work / 'mlflow.db'}"
        env = environment(work, tracking_uri)
        for kind in chosen:
            train_s = register(kind, purchases, tracking_uri, work)
            out = work / f"{kind}-scores.parquet"
            batch = run_batch(kind, data, out, env, work / f"{kind}-score.log")
            print(f"{kind}: batch {batch.wall_s:.1f} s wall, {batch.summary}", flush=True)
            scores = pd.read_parquet(out)
            http = run_http(kind, purchases, scores, env, work)
            print(f"{kind}: {http}", flush=True)
            results.append(KindResult(kind, train_s, batch, http))
    loads.append(load_average())
    text = report(results, len(purchases), customers, loads)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    # Keep the hand-written analysis (profiles) below the marker across runs.
    previous = RESULTS.read_text() if RESULTS.exists() else ""
    notes = previous.partition(NOTES_MARKER)[2]
    RESULTS.write_text(text + (f"\n{NOTES_MARKER}{notes}" if notes else ""))


if __name__ == "__main__":
    main([k for k in MODEL_KINDS if k in sys.argv[1:]] or None)
