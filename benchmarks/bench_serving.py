"""Serving benchmark: MinGo's BentoML service against `mlflow models serve`, same champion.

Both servers run on this machine with one worker each, serve the same registered binary
champion, and are driven by the same load generator (asyncio + httpx, in this process) in
one run, so the ratio is meaningful even where absolute numbers drift between runs.

Payloads differ in kind, not in customers: MinGo's `/predict` takes a customer's raw
ClickBus purchases and computes the features itself (the training feature code); MLflow's
pyfunc endpoint only accepts the model's input frame, so it receives the same customers'
features precomputed here with that same code. MLflow's time therefore excludes feature
computation, which MinGo's includes.

Load is bounded and local: 127.0.0.1 only, a few thousand requests per server.

`python -m benchmarks.bench_serving burst` measures memory instead: one MinGo worker receives
a burst of concurrent largest-allowed bodies (just under the 16 MiB cap, 1,000 customers), the
resident memory of the service's whole process tree is sampled while it runs, and the answers
are counted, with and without the in-flight limit and with glibc's arenas capped. It rewrites
the burst section of the results file only.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx

CUSTOMERS = 1_500
SEED = 7
AS_OF = date(2024, 4, 1)
SERIAL_REQUESTS = 300
SATURATION_REQUESTS = 1_000  # per concurrency level
CONCURRENCY_LEVELS = (8, 16, 32)
BATCH_CUSTOMERS = 1_000
BATCH_REPEATS = 5
RESULTS = Path(__file__).resolve().parent / "results" / "serving.md"
# Burst: bodies just under RequestGuard's 16 MiB cap, 1,000 customers each (the schema's max).
BURST_SECTION = "<!-- burst -->"
BURST_BODY_BYTES = 16 * 1024 * 1024 - 64 * 1024
BURST_BODY_CUSTOMERS = 1_000
BURST_CONCURRENCY = 16
BURST_SOURCE_CUSTOMERS = 9_000  # ~27,000 generated purchases to spread over the body
RSS_SAMPLE_SECONDS = 0.05
SETTLE_SECONDS = 5.0
MIB = 1024 * 1024
VENV_BIN = Path(sys.executable).parent
JSON = {"Content-Type": "application/json"}


@dataclass
class Measured:
    p50_ms: float
    p99_ms: float
    throughput_by_concurrency: dict[int, float]
    saturation_errors: int
    batch_ms: float

    @property
    def throughput_rps(self) -> float:
        """Throughput at saturation: the best of the concurrency levels tried."""
        return max(self.throughput_by_concurrency.values())


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def register_champion(work: Path) -> tuple[str, Any, Any]:
    """Train the binary model on generated purchases and make it the champion; (uri, purchases,
    model)."""
    import mlflow
    import mlflow.sklearn
    from mlflow import MlflowClient

    from mingo.data.generate import generate_purchases
    from mingo.models.api import SKOPS_TRUSTED_TYPES, ModelConfig, build_datasets, fit

    purchases = generate_purchases(CUSTOMERS, SEED)
    config = ModelConfig(kind="binary")
    train, _ = build_datasets(purchases, config)
    model = fit(train, config)
    uri = f"sqlite:///{work / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    experiment = client.create_experiment("bench", artifact_location=(work / "art").as_uri())
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.sklearn.log_model(
            model.estimator,
            name="binary",
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
            metadata=model.metadata,
            pip_requirements=["scikit-learn==1.9.1", "skops==0.16.0"],
            registered_model_name="mingo-binary",
        )
    client.set_registered_model_alias(
        "mingo-binary", "champion", str(info.registered_model_version)
    )
    return uri, purchases, model


def payloads(purchases: Any, model: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per customer: MinGo's raw-purchases body and MLflow's precomputed-features body."""
    from mingo.features import customer_features

    frame = purchases.copy()
    frame["date_purchase"] = frame["date_purchase"].dt.strftime("%Y-%m-%d")
    by_customer: dict[str, list[dict[str, Any]]] = {}
    for record in frame.to_dict("records"):
        by_customer.setdefault(str(record.pop("fk_contact")), []).append(record)
    features = customer_features(purchases, AS_OF)
    columns = list(model.metadata["feature_columns"])
    ids = [c for c in by_customer if c in features.index]
    mingo_bodies = [
        {"customers": [{"customer_id": c, "purchases": by_customer[c]}], "as_of": str(AS_OF)}
        for c in ids
    ]
    mlflow_bodies = [
        {"dataframe_split": {"columns": columns, "data": [features.loc[c, columns].tolist()]}}
        for c in ids
    ]
    return mingo_bodies, mlflow_bodies


def merge_bodies(bodies: list[dict[str, Any]], count: int) -> dict[str, Any]:
    if "customers" in bodies[0]:
        customers = [
            {**b["customers"][0], "customer_id": f"{b['customers'][0]['customer_id']}-{i}"}
            for i, b in enumerate(bodies[i % len(bodies)] for i in range(count))
        ]
        return {"customers": customers, "as_of": str(AS_OF)}
    rows = [bodies[i % len(bodies)]["dataframe_split"]["data"][0] for i in range(count)]
    return {"dataframe_split": {"columns": bodies[0]["dataframe_split"]["columns"], "data": rows}}


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_ready(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 180
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} not ready:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def saturate(url: str, bodies: list[bytes], concurrency: int) -> tuple[float, int]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    errors = 0
    queue = list(range(SATURATION_REQUESTS))
    async with httpx.AsyncClient(limits=limits, timeout=60, headers=JSON) as client:

        async def worker() -> None:
            nonlocal errors
            while queue:
                i = queue.pop()
                response = await client.post(url, content=bodies[i % len(bodies)])
                errors += response.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return SATURATION_REQUESTS / elapsed, errors


def encoded(body: dict[str, Any]) -> bytes:
    # Encoded once, up front, so the load generator spends the same on both servers; MLflow's
    # parser accepts the NaN that some features (gaps of one-purchase customers) hold.
    return json.dumps(body, allow_nan=True).encode()


def measure(url: str, bodies: list[dict[str, Any]]) -> Measured:
    encoded_bodies = [encoded(b) for b in bodies]
    batch = encoded(merge_bodies(bodies, BATCH_CUSTOMERS))
    latencies: list[float] = []
    with httpx.Client(timeout=60, headers=JSON) as client:
        for body in encoded_bodies[:20]:  # warm-up
            client.post(url, content=body).raise_for_status()
        for i in range(SERIAL_REQUESTS):
            started = time.perf_counter()
            client.post(url, content=encoded_bodies[i % len(bodies)]).raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)
        batch_times = []
        for _ in range(BATCH_REPEATS):
            started = time.perf_counter()
            client.post(url, content=batch).raise_for_status()
            batch_times.append((time.perf_counter() - started) * 1000)
    throughput: dict[int, float] = {}
    errors = 0
    for concurrency in CONCURRENCY_LEVELS:
        throughput[concurrency], failed = asyncio.run(saturate(url, encoded_bodies, concurrency))
        errors += failed
    return Measured(
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        throughput_by_concurrency=throughput,
        saturation_errors=errors,
        batch_ms=statistics.median(batch_times),
    )


def table(mingo: Measured, mlflow: Measured) -> str:
    def row(name: str, m: Measured) -> str:
        levels = " | ".join(f"{m.throughput_by_concurrency[c]:.0f}" for c in CONCURRENCY_LEVELS)
        return (
            f"| {name} | {m.p50_ms:.1f} | {m.p99_ms:.1f} | {levels} | **{m.throughput_rps:.0f}** "
            f"| {m.saturation_errors} | {m.batch_ms:.0f} |"
        )

    level_headers = " | ".join(f"req/s, {c} in flight" for c in CONCURRENCY_LEVELS)
    return "\n".join(
        [
            f"| server (1 worker) | p50 ms, 1 customer | p99 ms, 1 customer | {level_headers} "
            f"| req/s at saturation | non-200 | {BATCH_CUSTOMERS}-customer batch ms |",
            "|---|---|---|" + "---|" * len(CONCURRENCY_LEVELS) + "---|---|---|",
            row("MinGo BentoML `/predict` (raw purchases)", mingo),
            row("`mlflow models serve` `/invocations` (precomputed features)", mlflow),
            "",
            "Throughput ratio MinGo / MLflow: "
            f"**{mingo.throughput_rps / mlflow.throughput_rps:.2f}x**; "
            f"p99 ratio: {mingo.p99_ms / mlflow.p99_ms:.2f}x.",
        ]
    )


def largest_body(seed: int = SEED) -> bytes:
    """A valid /predict body of 1,000 customers filled with purchases up to BURST_BODY_BYTES."""
    from mingo.data.generate import generate_purchases

    frame = generate_purchases(BURST_SOURCE_CUSTOMERS, seed).drop(columns=["fk_contact"])
    frame["date_purchase"] = frame["date_purchase"].dt.strftime("%Y-%m-%d")
    customers: list[dict[str, Any]] = [
        {"customer_id": f"burst-{i}", "purchases": []} for i in range(BURST_BODY_CUSTOMERS)
    ]
    size = len(json.dumps({"customers": customers}))
    for i, record in enumerate(frame.to_dict("records")):
        cost = len(json.dumps(record)) + 2
        if size + cost > BURST_BODY_BYTES:
            break
        customers[i % BURST_BODY_CUSTOMERS]["purchases"].append(record)
        size += cost
    body = json.dumps({"customers": customers}).encode()
    assert len(body) <= BURST_BODY_BYTES, len(body)
    return body


@dataclass
class RssSampler:
    """Samples the resident memory of a process tree in a thread; keeps the peak."""

    pid: int
    peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> RssSampler:
        from mingo.serving.process import process_tree_rss

        def sample() -> None:
            while not self._stop.is_set():
                self.peak = max(self.peak, process_tree_rss(self.pid))
                self._stop.wait(RSS_SAMPLE_SECONDS)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


@dataclass
class BurstAnswer:
    status: int | None  # None: the connection failed (reset, refused, timeout)
    retry_after: str | None
    error: str = ""


async def burst(
    url: str, body: bytes, concurrency: int, headers: dict[str, str] | None = None
) -> list[BurstAnswer]:
    """POST `body` `concurrency` times at once; every answer or transport failure."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=0)
    async with httpx.AsyncClient(
        limits=limits, timeout=300, headers={**JSON, **(headers or {})}
    ) as client:

        async def one() -> BurstAnswer:
            try:
                response = await client.post(url, content=body)
            except httpx.HTTPError as error:
                return BurstAnswer(None, None, f"{type(error).__name__}: {error}")
            return BurstAnswer(response.status_code, response.headers.get("retry-after"))

        return list(await asyncio.gather(*(one() for _ in range(concurrency))))


@dataclass
class BurstResult:
    label: str
    base_mib: float
    peak_mib: float
    after_mib: float
    seconds: float
    codes: Counter[str]


def codes_of(answers: list[BurstAnswer]) -> Counter[str]:
    return Counter(
        "reset" if a.status is None else f"{a.status}{' +Retry-After' if a.retry_after else ''}"
        for a in answers
    )


def measure_burst(
    label: str, uri: str, work: Path, body: bytes, extra: dict[str, str]
) -> BurstResult:
    from mingo.serving.process import process_tree_rss

    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": uri,
        "MINGO_HOME": str(work / "home"),
        "BENTOML_HOME": str(work / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        **extra,
    }
    env.pop("MINGO_API_KEY", None)
    port = free_port()
    log = work / f"burst-{len(list(work.glob('burst-*.log')))}.log"
    server = start([str(VENV_BIN / "mingo"), "serve", "binary", "--port", str(port)], env, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{url}/readyz", server, log)
        # Warm: one small request, so the base includes the first-request allocations.
        small = json.loads(body)
        small["customers"] = small["customers"][:5]
        httpx.post(f"{url}/predict", json=small, timeout=60).raise_for_status()
        time.sleep(1)
        base = process_tree_rss(server.pid)
        started = time.perf_counter()
        with RssSampler(server.pid) as sampler:
            answers = asyncio.run(burst(f"{url}/predict", body, BURST_CONCURRENCY))
        seconds = time.perf_counter() - started
        time.sleep(SETTLE_SECONDS)
        after = process_tree_rss(server.pid)
    finally:
        stop(server)
    return BurstResult(
        label, base / MIB, sampler.peak / MIB, after / MIB, seconds, codes_of(answers)
    )


def burst_table(results: list[BurstResult], body_bytes: int) -> str:
    lines = [
        BURST_SECTION,
        "## Bursts of the largest bodies",
        "",
        f"One binary worker (`mingo serve binary`, 1 worker), {BURST_CONCURRENCY} concurrent "
        f"bodies of {body_bytes / MIB:.1f} MiB ({BURST_BODY_CUSTOMERS} customers each, just "
        "under the 16 MiB cap). Memory: resident set of the service's whole process tree "
        f"(BentoML's supervisor and the worker), sampled every {RSS_SAMPLE_SECONDS * 1000:.0f} "
        f"ms; 'after' is {SETTLE_SECONDS:.0f} s after the last answer.",
        "",
        "| setting | base MiB | peak MiB | after MiB | burst s | answers |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        answers = ", ".join(f"{count} x {code}" for code, count in sorted(r.codes.items()))
        lines.append(
            f"| {r.label} | {r.base_mib:.0f} | {r.peak_mib:.0f} | {r.after_mib:.0f} "
            f"| {r.seconds:.1f} | {answers} |"
        )
    return "\n".join(lines) + "\n"


BURST_VARIANTS: dict[str, dict[str, str]] = {
    "no in-flight limit (MINGO_MAX_REQUESTS_IN_FLIGHT=64)": {"MINGO_MAX_REQUESTS_IN_FLIGHT": "64"},
    "default limit (MINGO_MAX_REQUESTS_IN_FLIGHT unset)": {},
    "default limit, MALLOC_ARENA_MAX=2": {"MALLOC_ARENA_MAX": "2"},
}


def main_burst() -> None:
    with tempfile.TemporaryDirectory(prefix="mingo-bench-burst-") as tmp:
        work = Path(tmp)
        uri, _, _ = register_champion(work)
        body = largest_body()
        results = [
            measure_burst(label, uri, work, body, extra) for label, extra in BURST_VARIANTS.items()
        ]
    section = burst_table(results, len(body))
    print(section)
    previous = RESULTS.read_text() if RESULTS.exists() else ""
    kept = previous.split(BURST_SECTION)[0].rstrip("\n")
    RESULTS.write_text(f"{kept}\n\n{section}" if kept else section)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="mingo-bench-serving-") as tmp:
        work = Path(tmp)
        uri, purchases, model = register_champion(work)
        mingo_bodies, mlflow_bodies = payloads(purchases, model)
        env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": uri,
            "MINGO_HOME": str(work / "home"),
            "BENTOML_HOME": str(work / "bentoml"),
            "BENTOML_DO_NOT_TRACK": "true",
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "OMP_NUM_THREADS": "1",
        }
        env.pop("MINGO_API_KEY", None)
        mingo_port, mlflow_port = free_port(), free_port()
        servers = [
            start(
                [str(VENV_BIN / "mingo"), "serve", "binary", "--port", str(mingo_port)],
                env,
                work / "mingo.log",
            ),
            start(
                [
                    str(VENV_BIN / "mlflow"),
                    "models",
                    "serve",
                    "-m",
                    "models:/mingo-binary@champion",
                    "-p",
                    str(mlflow_port),
                    "-h",
                    "127.0.0.1",
                    "--env-manager",
                    "local",
                    "-w",
                    "1",
                ],
                env,
                work / "mlflow.log",
            ),
        ]
        try:
            wait_ready(f"http://127.0.0.1:{mingo_port}/readyz", servers[0], work / "mingo.log")
            wait_ready(f"http://127.0.0.1:{mlflow_port}/ping", servers[1], work / "mlflow.log")
            mlflow_result = measure(f"http://127.0.0.1:{mlflow_port}/invocations", mlflow_bodies)
            mingo_result = measure(f"http://127.0.0.1:{mingo_port}/predict", mingo_bodies)
        finally:
            for server in servers:
                stop(server)
    report = "\n".join(
        [
            "# Serving benchmark",
            "",
            f"Same binary champion ({CUSTOMERS} generated customers, calibrated gradient "
            "boosting), "
            f"same machine ({os.cpu_count()} cores), one worker each, OMP_NUM_THREADS=1, same "
            "asyncio+httpx load generator in one run. MinGo receives raw purchases and computes "
            "features; MLflow receives the same customers' features precomputed.",
            f"Latency: {SERIAL_REQUESTS} serial single-customer requests. Throughput: "
            f"{SATURATION_REQUESTS} single-customer requests at each concurrency level; "
            f"saturation is the best level. Batch: median of {BATCH_REPEATS}.",
            f"Load average when the run ended: {os.getloadavg()[0]:.1f} (other work on the "
            "machine inflates both servers' numbers; compare the ratio).",
            "",
            table(mingo_result, mlflow_result),
            "",
        ]
    )
    print(report)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    # Keep the burst section, which `burst` measures separately.
    previous = RESULTS.read_text() if RESULTS.exists() else ""
    burst_section = previous.partition(BURST_SECTION)[2]
    RESULTS.write_text(report + (f"\n{BURST_SECTION}{burst_section}" if burst_section else ""))


if __name__ == "__main__":
    main_burst() if sys.argv[1:] == ["burst"] else main()
