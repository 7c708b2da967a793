"""The prediction log of a running service (`mingo serve binary`), logging to PostgreSQL.

One service per module, on the serving tests' registry, with `MINGO_PREDICTION_LOG_URI` set to
a fresh database of the session's PostgreSQL server. Its answers are read back from the
database with the served version, the as-of date the features were computed at and the
features themselves. Then the database stops taking connections (its sessions are
terminated): /predict keeps answering 200 without slowing down, and the lost answers are
counted in /metrics with reason store_error; once the database is back, answers are written
again.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import httpx
import pandas as pd
import pytest

from mingo.features import FEATURE_COLUMNS, customer_features
from mingo.monitoring.prediction_log import PostgresPredictionStore
from mingo.serving.payload import purchases_frame
from mingo.serving.schemas import PredictRequest
from tests.fixtures.services import PostgresServer
from tests.serving.conftest import ChampionRegistry, customer_payloads, service_env
from tests.serving.running_service import RunningService

AS_OF = "2024-04-01"
MODEL = "mingo-binary"


@pytest.fixture(scope="module")
def database(postgres_server: PostgresServer) -> str:
    return postgres_server.create_database("prediction_log_service")


@pytest.fixture(scope="module")
def service(
    champion_registry: ChampionRegistry,
    database: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningService]:
    work = tmp_path_factory.mktemp("prediction-log-service")
    env = service_env(
        work / "home",
        champion_registry.tracking_uri,
        extra={"MINGO_PREDICTION_LOG_URI": database},
    )
    running = RunningService("binary", env, work / "service.log").start()
    try:
        # A loaded machine (other suites run beside this one) starts a service slowly.
        running.wait_for("/readyz", 200, timeout_s=300)
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def customers(champion_registry: ChampionRegistry) -> list[dict[str, Any]]:
    return customer_payloads(champion_registry.purchases)


def renamed(customers: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """The same histories under ids no other request of this module uses."""
    return [{**c, "customer_id": f"{prefix}-{c['customer_id']}"} for c in customers]


def predict(service: RunningService, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(service.url + "/predict", json=body, timeout=30)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def counter(service: RunningService, name: str, **labels: str) -> float:
    """The value of one Prometheus series on /metrics (0 when absent)."""
    text = httpx.get(service.url + "/metrics", timeout=10).text
    for line in text.splitlines():
        match = re.match(r"^([a-zA-Z_:][\w:]*)\{([^}]*)\}\s+(\S+)$", line)
        if match is None or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2)))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(3))
    return 0.0


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s:g} s")
        time.sleep(0.2)


def logged(database: str, prefix: str) -> pd.DataFrame:
    frame = PostgresPredictionStore(database).read("binary")
    return frame.loc[frame["customer_id"].str.startswith(prefix + "-")]


def set_database_reachable(postgres_server: PostgresServer, database: str, reachable: bool) -> None:
    """Let the database take connections, or refuse them and end the ones it has."""
    import psycopg2

    name = urlsplit(database).path.lstrip("/")
    connection = psycopg2.connect(postgres_server.url("postgres"))
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(reachable).upper()}')
            if not reachable:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (name,),
                )
    finally:
        connection.close()


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9, abs=1e-12)


def test_answers_are_logged_with_version_as_of_and_features(
    service: RunningService,
    database: str,
    champion_registry: ChampionRegistry,
    customers: list[dict[str, Any]],
) -> None:
    dated = renamed(customers[:3], "dated")
    undated = renamed(customers[3:5], "undated")
    dated_answer = predict(service, {"customers": dated, "as_of": AS_OF})
    undated_answer = predict(service, {"customers": undated})
    version = champion_registry.versions["binary"]
    assert dated_answer["model_version"] == version

    wait_until(
        lambda: len(logged(database, "dated")) == 3 and len(logged(database, "undated")) == 2,
        "the 5 answers in mingo_predictions",
    )
    for prefix, body, answer, as_of in (
        ("dated", dated, dated_answer, date.fromisoformat(AS_OF)),
        # Without as_of the features are computed as of the request's latest purchase.
        ("undated", undated, undated_answer, None),
    ):
        frame = purchases_frame(PredictRequest.model_validate({"customers": body}))
        used = as_of or frame["date_purchase"].max().date()
        expected = customer_features(frame, used)
        rows = logged(database, prefix).set_index("customer_id")
        assert set(rows["model_version"]) == {version}
        assert set(rows["kind"]) == {"binary"}
        assert set(rows["as_of"]) == {pd.Timestamp(used)}
        for item in answer["predictions"]:
            row = rows.loc[item["customer_id"]]
            assert row["prediction"] == item
            assert list(row["features"]) == list(FEATURE_COLUMNS)
            wanted = expected.loc[item["customer_id"]]
            assert all(same(row["features"][c], float(wanted[c])) for c in FEATURE_COLUMNS)
    assert counter(service, "mingo_prediction_log_written_total", model=MODEL) >= 5


def test_a_store_that_is_down_never_fails_a_request_and_is_counted(
    service: RunningService,
    database: str,
    postgres_server: PostgresServer,
    customers: list[dict[str, Any]],
) -> None:
    body = {"customers": renamed(customers[:2], "warm"), "as_of": AS_OF}
    before = []
    for _ in range(5):
        started = time.perf_counter()
        predict(service, body)
        before.append(time.perf_counter() - started)
    wait_until(lambda: len(logged(database, "warm")) == 10, "the warm-up answers written")
    dropped_before = counter(
        service, "mingo_prediction_log_dropped_total", model=MODEL, reason="store_error"
    )

    set_database_reachable(postgres_server, database, False)
    try:
        during = []
        for i in range(10):
            started = time.perf_counter()
            predict(service, {"customers": renamed(customers[:2], f"down{i}"), "as_of": AS_OF})
            during.append(time.perf_counter() - started)
        # The request path never waits for the store: no slower than with the store up
        # (plus noise), far below the store's connect timeout and retry pause.
        assert max(during) < max(before) + 0.5, (before, during)
        wait_until(
            lambda: (
                counter(
                    service, "mingo_prediction_log_dropped_total", model=MODEL, reason="store_error"
                )
                == dropped_before + 20
            ),
            "20 answers counted as dropped (store_error) on /metrics",
        )
    finally:
        set_database_reachable(postgres_server, database, True)

    predict(service, {"customers": renamed(customers[:1], "back"), "as_of": AS_OF})
    wait_until(lambda: len(logged(database, "back")) == 1, "an answer written once it is back")
    assert logged(database, "down0").empty
